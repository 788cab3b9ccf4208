"""The processes' entry points: the contact service (the HTTP app that composes the core, the channels, the console and the staff API) and its production check."""
