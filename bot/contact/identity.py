"""Who is talking: identity tokens signed by the firm's website/app backend, and the
service's own session and visitor tokens (all JWT HS256)."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Optional

import jwt

MAX_IDENTITY_TOKEN_LIFETIME = 15 * 60  # seconds between iat and exp
SESSION_LIFETIME = 12 * 3600
VISITOR_LIFETIME = 90 * 24 * 3600
ALGORITHM = "HS256"


class InvalidToken(Exception):
    """A token that is forged, expired, or not of the expected kind."""


@dataclass(frozen=True)
class Session:
    conversation_id: str
    customer_id: Optional[str]  # None for an anonymous visitor
    visitor_id: Optional[str]


def verify_identity_token(token: str, secret: str) -> str:
    """The customer id vouched for by the firm's backend, or InvalidToken."""
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], options={"require": ["sub", "exp", "iat"]})
    except jwt.PyJWTError as error:
        raise InvalidToken(str(error)) from error
    if claims["exp"] - claims["iat"] > MAX_IDENTITY_TOKEN_LIFETIME:
        raise InvalidToken("identity token lives longer than 15 minutes")
    return str(claims["sub"])


def sign_identity_token(customer_id: str, secret: str, lifetime: int = 300) -> str:
    """What the firm's backend does (used by the demo page and by tests)."""
    now = int(time.time())
    return jwt.encode({"sub": customer_id, "iat": now, "exp": now + lifetime}, secret, algorithm=ALGORITHM)


def conversation_id_for(customer_id: Optional[str], visitor_id: Optional[str]) -> str:
    """Derived on the server: one conversation per customer across channels, or per visitor."""
    subject = f"customer:{customer_id}" if customer_id else f"visitor:{visitor_id}"
    return "conv-" + hashlib.sha256(subject.encode()).hexdigest()[:24]


def new_visitor_id() -> str:
    return secrets.token_hex(16)


def issue_visitor_token(visitor_id: str, secret: str) -> str:
    now = int(time.time())
    return jwt.encode({"sub": visitor_id, "typ": "visitor", "iat": now, "exp": now + VISITOR_LIFETIME}, secret, algorithm=ALGORITHM)


def read_visitor_token(token: str, secret: str) -> str:
    claims = _decode(token, secret, "visitor")
    return claims["sub"]


def issue_session_token(session: Session, secret: str) -> str:
    now = int(time.time())
    claims = {"typ": "session", "conv": session.conversation_id, "iat": now, "exp": now + SESSION_LIFETIME}
    if session.customer_id:
        claims["cus"] = session.customer_id
    if session.visitor_id:
        claims["vis"] = session.visitor_id
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def read_session_token(token: str, secret: str) -> Session:
    claims = _decode(token, secret, "session")
    return Session(claims["conv"], claims.get("cus"), claims.get("vis"))


def _decode(token: str, secret: str, kind: str) -> dict:
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], options={"require": ["exp", "typ"]})
    except jwt.PyJWTError as error:
        raise InvalidToken(str(error)) from error
    if claims["typ"] != kind:
        raise InvalidToken(f"not a {kind} token")
    return claims
