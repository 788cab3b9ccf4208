"""Custom Rasa NLU components of the assistant (referenced by module path in config.yml)."""
