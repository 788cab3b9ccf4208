"""Evergreen Wealth contact assistant: business logic shared by the Rasa actions and services."""
