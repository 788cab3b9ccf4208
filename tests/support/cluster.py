"""Several contact services (``python -m bot.server``) on one database, as behind a load balancer
(issue #18): each a real process on its own loopback port, which a test may kill with SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Dict, Optional

from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from bot.core.leases import Lease
from bot.core.models import utcnow
from bot.core.time import as_aware
from bot.launcher import Assistant, _wait_until_up
from tests.support.ports import free_port

ROOT = Path(__file__).resolve().parents[2]


def beside(assistant: Assistant) -> Dict[str, str]:
    """The environment of ``assistant``'s own contact service, for another one beside it."""
    return {**assistant.service_env, "RASA_URL": assistant.rasa_url, "RASA_API_TOKEN": assistant.rasa_token,
            "ACTIONS_URL": assistant.actions_url}


class ContactService:
    """One contact-service process with ``env`` (database, secrets, channels), its output in ``log``."""

    def __init__(self, env: Dict[str, str], log: Path):
        self.port = free_port()
        self.env = {**os.environ, "PYTHONPATH": str(ROOT), **env, "CONTACT_HOST": "127.0.0.1", "CONTACT_PORT": str(self.port)}
        self.log = log
        self.process: Optional[subprocess.Popen] = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def start(self, timeout: float = 90) -> "ContactService":
        with open(self.log, "ab") as output:
            self.process = subprocess.Popen([sys.executable, "-m", "bot.server"], cwd=ROOT, env=self.env,
                                            stdout=output, stderr=subprocess.STDOUT)
        _wait_until_up(f"{self.url}/health", self.process, timeout)
        return self

    def kill(self) -> None:
        """SIGKILL: no clean stop, nothing released."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=15)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> "ContactService":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def lease_holder(database_url: str, name: str) -> Optional[int]:
    """The process id holding the lease ``name`` now (holders are ``host:pid:random``), if any."""
    engine = create_engine(database_url)
    try:
        with Session(engine) as session:
            lease = session.execute(select(Lease).where(Lease.name == name)).scalar_one_or_none()
    finally:
        engine.dispose()
    if lease is None or as_aware(lease.expires_at) <= utcnow():
        return None
    return int(lease.holder.split(":")[1])


def connections_to(pid: int, port: int) -> int:
    """How many TCP connections the process ``pid`` has open to ``port`` on loopback (Linux /proc)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:  # closed meanwhile
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        remote_port, state, inode = int(fields[2].split(":")[1], 16), fields[3], fields[9]
        if remote_port == port and state == "01" and inode in inodes:  # 01: established
            count += 1
    return count
