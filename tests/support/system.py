"""The system as the tests run it: Rasa, the action server and the contact service
(``python -m bot.server``) as real processes on free loopback ports."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, Iterator, Optional

from bot.launcher import Assistant, _wait_until_up
from channels.web.identity import sign_identity_token
from tests.support.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "models" / "current.tar.gz"
ROOT_ENV = {"PYTHONPATH": str(ROOT)}  # for the commands run as subprocesses
CUSTOMER_SECRET = "test-customer-token-secret-of-at-least-32-bytes"
IN_HOURS = "2026-11-30T10:00:00+08:00"  # a Monday morning: agents on duty, branches open
AFTER_HOURS = "2026-11-30T22:30:00+08:00"  # a Monday evening; agents are back the next morning


def service_env(database_url: str) -> Dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "CUSTOMER_TOKEN_SECRET": CUSTOMER_SECRET,
        "SESSION_SECRET": "test-session-secret-of-at-least-32-bytes",
        "CONTACT_DEMO": "1",
        "CONTACT_RETRY_INTERVAL": "1",
        "CONTACT_SESSIONS_PER_MINUTE": "1000",
    }


def identity_token(customer_id: str, **kwargs) -> str:
    return sign_identity_token(customer_id, CUSTOMER_SECRET, **kwargs)


@contextlib.contextmanager
def running_assistant(database_url: str, logs: Path, clock: Optional[str] = None, **env: str) -> Iterator[Assistant]:
    """The whole system on ``database_url`` (``service_env``), its logs in ``logs``, the clock
    frozen at ``clock`` (``EVERGREEN_CLOCK``) if given, ``env`` added to the service's environment."""
    service = {**service_env(database_url), **({"EVERGREEN_CLOCK": clock} if clock else {}), **env}
    with Assistant(MODEL, free_port(), free_port(), logs, contact_port=free_port(), service_env=service) as assistant:
        yield assistant


@contextlib.contextmanager
def rasa_and_actions(work: Path, clock: str = IN_HOURS) -> Iterator[Assistant]:
    """Rasa and the action server alone (no contact service: Rasa's REST channel is the way in),
    their SQLite database and logs in ``work``, the clock frozen at ``clock``."""
    env = {"DATABASE_URL": f"sqlite:///{work / 'contact.db'}", "EVERGREEN_CLOCK": clock}
    with Assistant(MODEL, free_port(), free_port(), work, service_env=env) as running:
        yield running


@contextlib.contextmanager
def contact_service_alone(tmp_path: Path, rasa_port: int, **extra_env: Optional[str]):
    """The contact service by itself, its Rasa expected on ``rasa_port``; yields its base URL.
    ``extra_env`` changes the environment (``None`` removes a variable)."""
    port = free_port()
    env = {**os.environ, **service_env(f"sqlite:///{tmp_path / 'contact.db'}"), "CONTACT_HOST": "127.0.0.1",
           "CONTACT_PORT": str(port), "RASA_URL": f"http://127.0.0.1:{rasa_port}", "PYTHONPATH": str(ROOT), **extra_env}
    env = {name: value for name, value in env.items() if value is not None}
    with open(tmp_path / "contact.log", "wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "bot.server"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_until_up(f"http://127.0.0.1:{port}/health", process, 60)
            yield f"http://127.0.0.1:{port}"
        finally:
            process.terminate()
            process.wait(timeout=15)
