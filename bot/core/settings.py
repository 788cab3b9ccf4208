"""Settings of the contact service, from the environment (defaults: the embedded demo)."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import Callable, Tuple

from cryptography.fernet import Fernet

from bot import service_hours


ROOT = Path(__file__).resolve().parents[2]
VAR = ROOT / "var"


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


def wait_service_level() -> float:
    """CONTACT_WAIT_SERVICE_LEVEL: seconds a customer should wait for an agent at most (default 120)."""
    return float(os.environ.get("CONTACT_WAIT_SERVICE_LEVEL", "120"))


@dataclass
class Settings:
    """The conversation core's settings (the front ends' own: bot/http/settings.py)."""

    database_url: str = field(default_factory=lambda: database_url())
    rasa_url: str = field(default_factory=lambda: os.environ.get("RASA_URL", "http://127.0.0.1:5005"))
    rasa_token: str = field(default_factory=lambda: os.environ.get("RASA_API_TOKEN", ""))  # for Rasa's HTTP API (bot/launcher.py)
    # The action server, asked whether it is up when Rasa gives no answer (an outage, or a failure of that message).
    actions_url: str = field(default_factory=lambda: os.environ.get("ACTIONS_URL", ""))
    session_secret: str = field(default_factory=lambda: _kept_secret("SESSION_SECRET", "session-secret", lambda: secrets.token_urlsafe(48)))
    # Fernet key sealing customers' mobile numbers (bot/core/vault.py).
    personal_data_key: str = field(default_factory=lambda: _kept_secret("PERSONAL_DATA_KEY", "personal-data-key", lambda: Fernet.generate_key().decode()))
    demo: bool = field(default_factory=demo_mode)
    max_message_chars: int = 2000
    # per conversation, per rate_limit_window seconds (CONTACT_MESSAGES_PER_MINUTE; the benchmark raises it)
    rate_limit_messages: int = field(default_factory=lambda: int(os.environ.get("CONTACT_MESSAGES_PER_MINUTE", "20")))
    rate_limit_window: float = 60.0
    rasa_timeout: float = 30.0
    agent_capacity: int = field(default_factory=lambda: int(os.environ.get("CONSOLE_AGENT_CAPACITY", "3")))  # conversations per agent
    retry_interval: float = field(default_factory=lambda: float(os.environ.get("CONTACT_RETRY_INTERVAL", "10")))
    # A message the assistant fails on (not an outage) is tried again after retry_interval, doubling
    # up to 5 minutes, and parked for supervisors after this many failures (docs/architecture.md).
    max_answer_attempts: int = field(default_factory=lambda: int(os.environ.get("CONTACT_MAX_ANSWER_ATTEMPTS", "5")))
    # The term of a lease (bot/core/leases.py): a job one process of several runs (the mailbox
    # reader, a Telegram chat's sending) moves to another within it when its process dies (seconds).
    lease_seconds: float = field(default_factory=lambda: float(os.environ.get("CONTACT_LEASE_SECONDS", "15")))
    # How often (seconds) complaints past a deadline are looked for and escalated.
    overdue_interval: float = field(default_factory=lambda: float(os.environ.get("CONTACT_OVERDUE_INTERVAL", "60")))
    # Honest waiting for an agent (docs/architecture.md, "Honest waiting"): the service level a
    # wait should stay under (seconds; the console marks and the dashboard counts waits beyond it),
    # the wait after which a customer no agent took is offered a callback, once (seconds), and how
    # often waiting customers are checked for that offer and for the agents' closing time (seconds).
    wait_service_level: float = field(default_factory=lambda: wait_service_level())
    callback_offer_after: float = field(default_factory=lambda: float(os.environ.get("CONTACT_CALLBACK_OFFER_AFTER", "600")))
    waiting_interval: float = field(default_factory=lambda: float(os.environ.get("CONTACT_WAITING_INTERVAL", "30")))
    # The agents' hours (AGENT_HOURS, "09:00-21:00"), read here so that a bad value stops the
    # service at start; bot/service_hours.py reads the same variable in every process.
    agent_hours: Tuple[time, time] = field(default_factory=service_hours.agent_hours)
    # Redis shared by several contact-service processes (limits, live events, agents online:
    # bot/core/shared_state.py); unset, each process keeps them in memory (one process).
    redis_url: str = field(default_factory=lambda: os.environ.get("REDIS_URL", ""))
