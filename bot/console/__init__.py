"""The agent console's server side: staff login, sessions and the audit log (docs/console.md)."""
