"""Rasa custom actions of the Evergreen Wealth assistant, one module per capability."""
