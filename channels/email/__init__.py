"""Email channel: reading incoming mail (``reading``, ``text``) and deciding on automatic replies (``autoreply``)."""
