"""Who is talking: identity tokens signed by the firm's website/app backend, and the
service's own session and visitor tokens (JWT HS256 with SESSION_SECRET).

An identity token names the customer in ``sub`` and lives at most 15 minutes (``iat`` to
``exp``). The firm's backend signs it either

- HS256 with a secret it shares with the service (``CUSTOMER_TOKEN_SECRET``), or
- RS256 or ES256 with its private key; the service holds only the public key, as one PEM file
  (``CUSTOMER_TOKEN_PUBLIC_KEY_FILE``) or as a JWKS file (``CUSTOMER_TOKEN_JWKS_FILE``, where the
  token's ``kid`` picks the key), so nothing on the service can sign.

A token is checked only with keys of the algorithm its header names, and a public key only with
the algorithm of its type: an HS256 token is never checked against a public key (whose text is
no secret), and ``none`` or any other algorithm is refused. With a public key configured, HS256
is accepted only if ``CUSTOMER_TOKEN_SECRET`` is set too. ``CUSTOMER_TOKEN_ISSUER`` and
``CUSTOMER_TOKEN_AUDIENCE``, when set, are required in every token.

The secret published in the source (``DEMO_CUSTOMER_TOKEN_SECRET``) is accepted in demo mode
only, and only for the demo customers (``demo_customers.json``): customers imported into a demo
instance cannot be signed in by whoever read the source.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, FrozenSet, List, Optional, Tuple, Union

import jwt
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from bot.core import customers
from bot.http.settings import DEMO_CUSTOMER_TOKEN_SECRET, HttpSettings

MAX_IDENTITY_TOKEN_LIFETIME = 15 * 60  # seconds between iat and exp
SESSION_LIFETIME = 12 * 3600
VISITOR_LIFETIME = 90 * 24 * 3600
ALGORITHM = "HS256"
PUBLIC_KEY_ALGORITHMS = ("RS256", "ES256")
MIN_RSA_BITS = 2048


class InvalidToken(Exception):
    """A token that is forged, expired, or not of the expected kind."""


class IdentityKeyError(ValueError):
    """A public key or JWKS file that cannot be used: the service refuses to start."""


@dataclass(frozen=True)
class Session:
    conversation_id: str
    customer_id: Optional[str]  # None for an anonymous visitor
    visitor_id: Optional[str]


@dataclass(frozen=True)
class PublicKey:
    algorithm: str  # RS256 or ES256, the only one this key checks
    key: Union[rsa.RSAPublicKey, ec.EllipticCurvePublicKey]


def _public_key(key: object, where: str) -> PublicKey:
    """RS256 for a public RSA key of at least 2048 bits, ES256 for a public P-256 key."""
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            raise IdentityKeyError(f"{where}: an RSA key needs at least {MIN_RSA_BITS} bits")
        return PublicKey("RS256", key)
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        return PublicKey("ES256", key)
    raise IdentityKeyError(f"{where}: only public RSA keys (RS256) and public P-256 keys (ES256) are accepted")


def read_public_key_file(path: str) -> PublicKey:
    """The public key of a PEM file (``-----BEGIN PUBLIC KEY-----``)."""
    where = f"CUSTOMER_TOKEN_PUBLIC_KEY_FILE ({path})"
    try:
        key = load_pem_public_key(Path(path).read_bytes())
    except OSError as error:
        raise IdentityKeyError(f"{where} cannot be read: {error.strerror}") from None
    except (ValueError, UnsupportedAlgorithm):
        raise IdentityKeyError(f"{where} holds no PEM public key (-----BEGIN PUBLIC KEY-----)") from None
    return _public_key(key, where)


def read_jwks_file(path: str) -> Dict[str, PublicKey]:
    """The signing keys of a JWKS file (``{"keys": [JWK, ...]}``) by their ``kid``. Keys marked
    for encryption (``"use": "enc"``) are left out; anything else unusable is an error, so that a
    wrong file is noticed at start rather than by customers who cannot sign in."""
    where = f"CUSTOMER_TOKEN_JWKS_FILE ({path})"
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise IdentityKeyError(f"{where} cannot be read: {error.strerror}") from None
    except ValueError:
        raise IdentityKeyError(f"{where} is not JSON") from None
    entries = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise IdentityKeyError(f'{where} is not a JWKS: expected {{"keys": [...]}}')
    keys: Dict[str, PublicKey] = {}
    for number, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
            continue
        kid = entry.get("kid")
        if not isinstance(kid, str) or not kid:
            raise IdentityKeyError(f"{where}: key {number} has no kid (tokens name their key with it)")
        if kid in keys:
            raise IdentityKeyError(f"{where}: two keys have the kid {kid!r}")
        if "alg" in entry and entry["alg"] not in PUBLIC_KEY_ALGORITHMS:
            raise IdentityKeyError(f"{where}: key {kid!r} is for {entry.get('alg')!r}; only RS256 and ES256 are accepted")
        try:
            jwk = jwt.PyJWK(entry)
        except jwt.PyJWTError as error:
            raise IdentityKeyError(f"{where}: key {kid!r} is not a usable JWK ({error})") from None
        keys[kid] = _public_key(jwk.key, f"{where}: key {kid!r}")  # an "alg" that does not fit kty failed in PyJWK
    if not keys:
        raise IdentityKeyError(f"{where} holds no signing key")
    return keys


class IdentityVerifier:
    """Checks identity tokens with the keys of the settings (see the module's docstring)."""

    def __init__(self, secret: str = "", public_key: Optional[PublicKey] = None, jwks: Optional[Dict[str, PublicKey]] = None,
                 demo_customers: FrozenSet[str] = frozenset(), issuer: str = "", audience: str = ""):
        # HS256 secrets, each with the customers it may vouch for (None: everyone). The published
        # demo secret vouches for the demo customers only, even where an operator set it.
        self.secrets: List[Tuple[str, Optional[FrozenSet[str]]]] = []
        if secret and secret != DEMO_CUSTOMER_TOKEN_SECRET:
            self.secrets.append((secret, None))
        if demo_customers:
            self.secrets.append((DEMO_CUSTOMER_TOKEN_SECRET, demo_customers))
        self.public_key, self.jwks = public_key, jwks or {}
        self.demo_customers = demo_customers
        self.issuer, self.audience = issuer, audience

    @classmethod
    def from_settings(cls, settings: HttpSettings) -> "IdentityVerifier":
        """Raises IdentityKeyError for a key file that cannot be used."""
        key_file, jwks_file = settings.customer_token_public_key_file, settings.customer_token_jwks_file
        if key_file and jwks_file:
            raise IdentityKeyError("set CUSTOMER_TOKEN_PUBLIC_KEY_FILE or CUSTOMER_TOKEN_JWKS_FILE, not both")
        demo = frozenset(row["id"] for row in customers.read_export(customers.DEMO_CUSTOMERS)) if settings.demo else frozenset()
        return cls(settings.customer_token_secret, read_public_key_file(key_file) if key_file else None,
                   read_jwks_file(jwks_file) if jwks_file else None, demo,
                   settings.customer_token_issuer, settings.customer_token_audience)

    def verify(self, token: str) -> str:
        """The customer id the token vouches for, or InvalidToken."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as error:
            raise InvalidToken(str(error)) from error
        algorithm = header.get("alg")
        if algorithm == ALGORITHM:
            return self._verify_hs256(token)
        if algorithm in PUBLIC_KEY_ALGORITHMS:
            return self._subject(token, self._key_for(algorithm, header.get("kid")), algorithm)
        raise InvalidToken(f"identity tokens signed with {algorithm!r} are not accepted")

    def _verify_hs256(self, token: str) -> str:
        failure = InvalidToken("HS256 identity tokens are not accepted: CUSTOMER_TOKEN_SECRET is not set")
        for secret, only_for in self.secrets:
            try:
                subject = self._subject(token, secret, ALGORITHM)
            except InvalidToken as error:
                failure = error
                continue
            if only_for is not None and subject not in only_for:
                raise InvalidToken("the published demo secret vouches for the demo customers only")
            return subject
        raise failure

    def _key_for(self, algorithm: str, kid: object) -> PublicKey:
        if self.jwks:
            if not isinstance(kid, str) or kid not in self.jwks:
                raise InvalidToken("the token's kid names no key of the JWKS")
            key = self.jwks[kid]
        elif self.public_key:
            key = self.public_key
        else:
            raise InvalidToken(f"{algorithm} identity tokens are not accepted: no public key is configured")
        if key.algorithm != algorithm:
            raise InvalidToken(f"a {algorithm} token cannot be checked with a {key.algorithm} key")
        return key

    def _subject(self, token: str, key: Union[str, PublicKey], algorithm: str) -> str:
        required = ["sub", "exp", "iat", *(["iss"] if self.issuer else []), *(["aud"] if self.audience else [])]
        try:
            claims = jwt.decode(token, key.key if isinstance(key, PublicKey) else key, algorithms=[algorithm],
                                issuer=self.issuer or None, audience=self.audience or None, options={"require": required})
        except jwt.PyJWTError as error:
            raise InvalidToken(str(error)) from error
        if claims["exp"] - claims["iat"] > MAX_IDENTITY_TOKEN_LIFETIME:
            raise InvalidToken("identity token lives longer than 15 minutes")
        return str(claims["sub"])

    def sign_for_demo(self, customer_id: str) -> Optional[str]:
        """A token from the published demo secret for a demo customer; ``None`` for any other
        id, whether it exists or not (the demo signer tells nobody who the customers are)."""
        if customer_id not in self.demo_customers:
            return None
        return sign_identity_token(customer_id, DEMO_CUSTOMER_TOKEN_SECRET, issuer=self.issuer, audience=self.audience)


def sign_identity_token(customer_id: str, secret: str, lifetime: int = 300, issuer: str = "", audience: str = "") -> str:
    """What the firm's backend does with a shared secret (used by the demo signer and by tests)."""
    now = int(time.time())
    claims = {"sub": customer_id, "iat": now, "exp": now + lifetime}
    claims.update({name: value for name, value in (("iss", issuer), ("aud", audience)) if value})
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


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
