"""What the core refuses, by kind. Each error names itself to clients by ``code``; the web layer
turns each kind into one HTTP status (bot/http/errors.py), so no domain code knows HTTP."""


class DomainError(Exception):
    code = "invalid_change"


class InvalidChange(DomainError):
    """A missing or invalid value."""


class NotFound(DomainError):
    code = "not_found"


class Forbidden(DomainError):
    """The staff member's role may not do this."""

    code = "forbidden"


class Conflict(DomainError):
    """Not possible in the current state."""

    code = "conflict"
