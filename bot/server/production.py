"""The production check: what a production instance (``CONTACT_DEMO`` other than ``1``) must be
given, checked before anything listens by ``python -m bot.server`` and ``python -m bot.launcher``.

Demo mode runs with nothing set: identity tokens from the secret published in the source (for
the demo customers only), session secret and personal-data key generated into ``var/``, demo
staff accounts. Production accepts none of that. Each secret must be set explicitly and be at
least 32 bytes; the check names every problem at once, so an operator fixes them in one go:

- ``CUSTOMER_TOKEN_SECRET``: set, not the demo secret, unless the firm's backend signs with a
  private key instead (``CUSTOMER_TOKEN_PUBLIC_KEY_FILE`` or ``CUSTOMER_TOKEN_JWKS_FILE``, which
  must be readable and hold a usable key).
- ``SESSION_SECRET`` and ``PERSONAL_DATA_KEY``: set explicitly. The ones demo mode generates live
  in one host's ``var/``: a second host behind the same load balancer would refuse the first
  one's sessions, and a rebuilt host would log everyone out and could no longer read a single
  mobile number sealed before (the key must be kept with the database backups).
  ``SESSION_SECRET`` must differ from ``CUSTOMER_TOKEN_SECRET``, or whoever holds the firm's
  signing secret could issue the service's own sessions.
- ``METRICS_TOKEN``, ``RASA_API_TOKEN``, ``TELEGRAM_WEBHOOK_SECRET``: optional (the launcher makes
  a Rasa token per run and hands it to both sides), at least 32 bytes when set.
- The Telegram and email settings the channels would refuse at start anyway, and email passwords
  that would travel in clear (``EMAIL_*_TLS=none`` to a host other than this one).
"""

from __future__ import annotations

import os
import sys
from typing import List, Mapping, Optional

from cryptography.fernet import Fernet

from channels.web.identity import IdentityKeyError, IdentityVerifier
from bot.core.settings import VAR
from bot.http.settings import DEMO_CUSTOMER_TOKEN_SECRET, HttpSettings
from channels import registry

MIN_SECRET_BYTES = 32
MAKE_SECRET = "python -c \"import secrets; print(secrets.token_urlsafe(32))\""
MAKE_FERNET_KEY = "python -c \"from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())\""


def problems(settings: HttpSettings, environ: Mapping[str, str] = os.environ) -> List[str]:
    """Every reason these settings are unsafe for production, each naming its variable; none in
    demo mode. ``environ`` holds what ``HttpSettings`` does not (metrics, the channels')."""
    if settings.demo:
        return []
    found = _identity(settings)
    if not settings.session_secret:
        found.append(f"SESSION_SECRET is not set: production needs it explicitly, at least {MIN_SECRET_BYTES} bytes (it signs "
                     "customers' sessions; one generated per host would log customers out on every other host and on a "
                     f"rebuilt one; make one with {MAKE_SECRET})")
    elif settings.session_secret == settings.customer_token_secret:
        found.append("SESSION_SECRET must differ from CUSTOMER_TOKEN_SECRET: whoever holds the firm's signing secret "
                     "could issue the service's own sessions")
    found += _short("SESSION_SECRET", settings.session_secret)
    found += _personal_data_key(settings.personal_data_key)
    found += _short("METRICS_TOKEN", environ.get("METRICS_TOKEN", ""))
    found += _short("RASA_API_TOKEN", settings.rasa_token)
    for channel in registry.CHANNELS:  # settings each channel would refuse at start, and its secrets' length
        found += channel.problems(environ)
        for name, value in channel.secrets(environ).items():
            found += _short(name, value)
    return found


def refuse_unsafe_start(settings: Optional[HttpSettings] = None) -> None:
    """In production, exit with status 2 naming every problem, before anything starts or listens."""
    found = problems(settings or HttpSettings())
    if found:
        print("Refusing to start in production mode (CONTACT_DEMO is not 1); fix these settings:",
              *(f"  - {problem}" for problem in found), sep="\n", file=sys.stderr)
        sys.exit(2)


def _short(name: str, value: str) -> List[str]:
    if value and len(value.encode()) < MIN_SECRET_BYTES:
        return [f"{name} is shorter than {MIN_SECRET_BYTES} bytes (make one with {MAKE_SECRET})"]
    return []


def _identity(settings: HttpSettings) -> List[str]:
    """A usable key file if one is named; the HS256 secret unless a public key replaces it, and
    never the published one (with a public key it is optional, but if set it is accepted too)."""
    found = []
    try:
        IdentityVerifier.from_settings(settings)
    except IdentityKeyError as error:
        found.append(str(error))
    secret = settings.customer_token_secret
    if not secret and not (settings.customer_token_public_key_file or settings.customer_token_jwks_file):
        found.append(f"CUSTOMER_TOKEN_SECRET is not set: set the HS256 secret the firm's backend signs identity tokens "
                     f"with, at least {MIN_SECRET_BYTES} bytes (make one with {MAKE_SECRET}), or CUSTOMER_TOKEN_PUBLIC_KEY_FILE "
                     "or CUSTOMER_TOKEN_JWKS_FILE for RS256/ES256 tokens instead")
    elif secret == DEMO_CUSTOMER_TOKEN_SECRET:
        found.append("CUSTOMER_TOKEN_SECRET is the demo secret published in the source: anyone could sign in as any customer")
    else:
        found += _short("CUSTOMER_TOKEN_SECRET", secret)
    return found


def _personal_data_key(key: str) -> List[str]:
    if not key:
        kept = VAR / "personal-data-key"
        hint = (f"; this host has one in {kept}: set PERSONAL_DATA_KEY to it, or the numbers sealed with it can no longer be read"
                if kept.exists() else f"; make one with {MAKE_FERNET_KEY}")
        return ["PERSONAL_DATA_KEY is not set: production needs the key sealing customers' mobile numbers set explicitly "
                "and kept with the database backups (one generated per host cannot read numbers sealed on another host or "
                f"before a rebuild){hint}"]
    try:
        Fernet(key.encode())
    except ValueError:
        return [f"PERSONAL_DATA_KEY is not a Fernet key (32 url-safe base64-encoded bytes; make one with {MAKE_FERNET_KEY})"]
    return []
