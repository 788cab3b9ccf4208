"""The contact service: owns customer channels and conversations, and puts Rasa behind them."""
