"""The web toolkit the HTTP front ends share: the error body, request inputs, client addresses, security headers."""
