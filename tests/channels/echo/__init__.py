"""A channel that lives only in the tests: it shows that a new channel is a package and one line in
channels/registry.py (here added at start-up by serve.py, as the line would be)."""
