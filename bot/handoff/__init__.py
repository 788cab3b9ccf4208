"""Handing conversations from the assistant to human agents and back (manual 4.2.1, 5.2.1, 6.2.2)."""
