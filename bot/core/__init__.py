"""The conversation core: conversations and messages, the one way a customer message enters,
the assistant's answers and their delivery through whichever channels are installed, the
database and its migrations. It knows no web framework and no channel (docs/architecture.md)."""
