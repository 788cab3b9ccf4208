"""Settings of the HTTP front ends (the web channel, the console, the staff API) beside the core's:
where the service listens, who may embed the widget, how customers' identity tokens are checked,
limits per address, the console's sessions, and the reverse proxies trusted to name the client."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from typing import Optional, Tuple, Union

from bot.core.settings import Settings

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


@dataclass
class HttpSettings(Settings):
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
    # Websites allowed to embed the widget (comma-separated origins, or * for any: the API uses
    # bearer tokens, not cookies, so another site cannot act for a customer).
    allowed_origins: str = field(default_factory=lambda: os.environ.get("CONTACT_ALLOWED_ORIGINS", "*"))
    rate_limit_sessions: int = field(default_factory=lambda: int(os.environ.get("CONTACT_SESSIONS_PER_MINUTE", "60")))  # per address
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
