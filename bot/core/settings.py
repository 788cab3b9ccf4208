"""Settings of the contact service, from the environment (defaults: the embedded demo)."""

from __future__ import annotations

import ipaddress
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Tuple, Union

from cryptography.fernet import Fernet


ROOT = Path(__file__).resolve().parents[2]
VAR = ROOT / "var"
# Published in the source: signs the demo customers' identity tokens in demo mode, and is
# accepted for them only (channels/web/identity.py); production refuses it (bot/server/production.py).
DEMO_CUSTOMER_TOKEN_SECRET = "evergreen-demo-customer-token-secret-change-me"


Network = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]
TrustedProxies = Tuple[Network, ...]


def trusted_proxies(setting: str) -> TrustedProxies:
    """``TRUSTED_PROXIES``: comma-separated addresses or networks (``10.0.0.5, 172.16.0.0/12``)."""
    networks = []
    for item in filter(None, (part.strip() for part in setting.split(","))):
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"TRUSTED_PROXIES: {item!r} is not an IP address or network (e.g. 10.0.0.5 or 10.0.0.0/8)") from None
    return tuple(networks)


def demo_mode() -> bool:
    """CONTACT_DEMO=1 (the default): the embedded demo; any other value is production."""
    return os.environ.get("CONTACT_DEMO", "1") == "1"


def kept_file_secret(filename: str, make: Callable[[], str]) -> str:
    """A secret generated once and kept in ``var/`` (mode 600), so that it survives restarts.

    Several processes may ask at once (the launcher, the contact service), so the file is created
    atomically: the first to link its draft wins and everyone reads that one.
    """
    path = VAR / filename
    if not path.exists():
        VAR.mkdir(exist_ok=True)
        draft = VAR / f".{filename}.{os.getpid()}"
        draft.write_text(make())
        draft.chmod(0o600)
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text().strip()


def _kept_secret(variable: str, filename: str, make: Callable[[], str]) -> str:
    """The environment variable, or else, in demo mode only, a secret kept in ``var/`` (sessions
    stay valid and sealed numbers stay readable across restarts). Production requires the
    variable (bot/server/production.py), so nothing is generated there: ``""``."""
    return os.environ.get(variable) or (kept_file_secret(filename, make) if demo_mode() else "")


def database_url() -> str:
    """DATABASE_URL: shared by the contact service and the action server (default: SQLite in var/)."""
    return os.environ.get("DATABASE_URL", f"sqlite:///{VAR / 'contact.db'}")


@dataclass
class Settings:
    database_url: str = field(default_factory=lambda: database_url())
    rasa_url: str = field(default_factory=lambda: os.environ.get("RASA_URL", "http://127.0.0.1:5005"))
    rasa_token: str = field(default_factory=lambda: os.environ.get("RASA_API_TOKEN", ""))  # for Rasa's HTTP API (bot/launcher.py)
    # The action server, asked whether it is up when Rasa gives no answer (an outage, or a failure of that message).
    actions_url: str = field(default_factory=lambda: os.environ.get("ACTIONS_URL", ""))
    host: str = field(default_factory=lambda: os.environ.get("CONTACT_HOST", "127.0.0.1"))
    port: int = field(default_factory=lambda: int(os.environ.get("CONTACT_PORT", "8080")))
    # Identity tokens (channels/web/identity.py): the HS256 secret shared with the firm's backend
    # and/or its public key for RS256/ES256 (a PEM file, or a JWKS file), the iss and aud they
    # must carry when set. In demo mode the published demo secret signs in the demo customers too (only them).
    customer_token_secret: str = field(default_factory=lambda: os.environ.get("CUSTOMER_TOKEN_SECRET", ""))
    customer_token_public_key_file: str = field(default_factory=lambda: os.environ.get("CUSTOMER_TOKEN_PUBLIC_KEY_FILE", ""))
    customer_token_jwks_file: str = field(default_factory=lambda: os.environ.get("CUSTOMER_TOKEN_JWKS_FILE", ""))
    customer_token_issuer: str = field(default_factory=lambda: os.environ.get("CUSTOMER_TOKEN_ISSUER", ""))
    customer_token_audience: str = field(default_factory=lambda: os.environ.get("CUSTOMER_TOKEN_AUDIENCE", ""))
    session_secret: str = field(default_factory=lambda: _kept_secret("SESSION_SECRET", "session-secret", lambda: secrets.token_urlsafe(48)))
    # Fernet key sealing customers' mobile numbers (bot/core/vault.py).
    personal_data_key: str = field(default_factory=lambda: _kept_secret("PERSONAL_DATA_KEY", "personal-data-key", lambda: Fernet.generate_key().decode()))
    demo: bool = field(default_factory=demo_mode)
    # Websites allowed to embed the widget (comma-separated origins, or * for any: the API uses
    # bearer tokens, not cookies, so another site cannot act for a customer).
    allowed_origins: str = field(default_factory=lambda: os.environ.get("CONTACT_ALLOWED_ORIGINS", "*"))
    max_message_chars: int = 2000
    rate_limit_messages: int = 20  # per client, per rate_limit_window seconds
    rate_limit_sessions: int = field(default_factory=lambda: int(os.environ.get("CONTACT_SESSIONS_PER_MINUTE", "60")))  # per address
    rate_limit_window: float = 60.0
    rasa_timeout: float = 30.0
    agent_capacity: int = field(default_factory=lambda: int(os.environ.get("CONSOLE_AGENT_CAPACITY", "3")))  # conversations per agent
    retry_interval: float = field(default_factory=lambda: float(os.environ.get("CONTACT_RETRY_INTERVAL", "10")))
    # A message the assistant fails on (not an outage) is tried again after retry_interval, doubling
    # up to 5 minutes, and parked for supervisors after this many failures (docs/architecture.md).
    max_answer_attempts: int = field(default_factory=lambda: int(os.environ.get("CONTACT_MAX_ANSWER_ATTEMPTS", "5")))
    # How often (seconds) complaints past a deadline are looked for and escalated.
    overdue_interval: float = field(default_factory=lambda: float(os.environ.get("CONTACT_OVERDUE_INTERVAL", "60")))
    # The agent console (docs/console.md): minutes without a request that end a session (fractions
    # allowed), and whether its cookie is marked Secure: unset (or "auto") when the request came over
    # HTTPS (TLS here, or X-Forwarded-Proto from a trusted proxy); CONSOLE_SECURE_COOKIES=1 always, 0 never.
    console_idle_minutes: float = field(default_factory=lambda: float(os.environ.get("CONSOLE_IDLE_MINUTES", "30")))
    console_secure_cookies: Optional[bool] = field(
        default_factory=lambda: {"1": True, "0": False}.get(os.environ.get("CONSOLE_SECURE_COOKIES", "auto")))
    # Reverse proxies whose X-Forwarded-For names the client (bot/http/client_address.py): comma-
    # separated addresses or networks; none by default, so the peer is the client.
    trusted_proxies: TrustedProxies = field(default_factory=lambda: trusted_proxies(os.environ.get("TRUSTED_PROXIES", "")))
    # Open customer WebSockets per client address (a household or office behind one address has several).
    sockets_per_address: int = field(default_factory=lambda: int(os.environ.get("CONTACT_SOCKETS_PER_ADDRESS", "20")))
