"""Start the assistant's processes on loopback, wait until they answer, and print the URLs.

``python -m bot.launcher`` runs the action server (127.0.0.1:5055), Rasa with its REST channel
(127.0.0.1:5005) and the contact service (127.0.0.1:8080, the only one customers reach) until
interrupted. Tests use :class:`Assistant` to run the same processes on free ports.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Callable, List, Optional

from bot.core import staff
from bot.core.db import make_engine
from channels.registry import migrate
from bot.server.production import refuse_unsafe_start
from bot.core.settings import database_url

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
TRACKER_STORE = "bot.tracker_store.CompactingTrackerStore"  # keeps long conversations fast (bot/tracker_store.py)


def _wait_until_up(url: str, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process for {url} exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f}s")


def rasa_token(service_env: dict) -> str:
    """The token Rasa's HTTP API answers to: ``RASA_API_TOKEN``, or a new one for this run."""
    return service_env.get("RASA_API_TOKEN") or os.environ.get("RASA_API_TOKEN") or secrets.token_hex(32)


class Assistant:
    """The action server, the Rasa server and (with ``contact_port``) the contact service, as
    child processes. ``stop()`` then ``start()`` restarts them all on the same ports."""

    def __init__(
        self,
        model: Path,
        rasa_port: int = 5005,
        actions_port: int = 5055,
        log_dir: Optional[Path] = None,
        contact_port: Optional[int] = None,
        service_env: Optional[dict] = None,
        tracker_store: Optional[str] = TRACKER_STORE,
        contact_module: str = "bot.server",
    ):
        self.model = model
        self.rasa_port = rasa_port
        self.actions_port = actions_port
        self.log_dir = log_dir
        self.contact_port = contact_port
        self.service_env = service_env or {}  # database and secrets, for the actions and the contact service
        self.tracker_store = tracker_store  # None: Rasa's default (the benchmark's stock assistant)
        self.contact_module = contact_module  # what `python -m` runs as the contact service
        # Rasa's HTTP API (the contact service asks /model/parse to classify mail) answers only
        # with this token; one per Assistant, kept across restarts.
        self.rasa_token = rasa_token(self.service_env)
        self.processes: List[subprocess.Popen] = []
        self.action_server: Optional[subprocess.Popen] = None
        self.rasa: Optional[subprocess.Popen] = None
        self._endpoints: Optional[Path] = None  # Rasa's endpoints file, while the processes run

    @property
    def rasa_url(self) -> str:
        return f"http://{HOST}:{self.rasa_port}"

    @property
    def actions_url(self) -> str:
        return f"http://{HOST}:{self.actions_port}"

    @property
    def contact_url(self) -> str:
        return f"http://{HOST}:{self.contact_port}"

    def _spawn(self, name: str, args: List[str], env: dict) -> subprocess.Popen:
        output = None
        if self.log_dir:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            output = open(self.log_dir / f"{name}.log", "ab")
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", *args], cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT if output else None
            )
        finally:
            if output:
                output.close()  # the child has its own copy; restarts would pile up open files
        self.processes.append(process)
        return process

    def start(self, timeout: float = 180) -> "Assistant":
        """Start the processes; after :meth:`stop` this starts them again (same ports, database)."""
        if self.processes:
            raise RuntimeError("the assistant is already running; stop() it first")
        env = self._environment()
        migrate(make_engine(env.get("DATABASE_URL") or database_url()))
        try:
            self._endpoints = self._write_endpoints()
            actions = self._spawn_action_server(env)
            rasa = self._spawn_rasa(env)
            _wait_until_up(f"{self.actions_url}/health", actions, timeout)
            _wait_until_up(f"{self.rasa_url}/", rasa, timeout)
            if self.contact_port:  # last, so customers never find the assistant still loading
                # Loopback unless the operator publishes it (CONTACT_HOST=0.0.0.0 behind a proxy).
                contact_env = {**env, "CONTACT_HOST": env.get("CONTACT_HOST", HOST), "CONTACT_PORT": str(self.contact_port),
                               "RASA_URL": self.rasa_url, "RASA_API_TOKEN": self.rasa_token,
                               "ACTIONS_URL": self.actions_url}
                contact = self._spawn("contact", [self.contact_module], contact_env)
                _wait_until_up(f"{self.contact_url}/health", contact, timeout)
        except Exception:
            self.stop()
            raise
        return self

    def _write_endpoints(self) -> Path:
        """A new endpoints file telling Rasa where the action server is and which tracker store to
        use (stop() removes it)."""
        with tempfile.NamedTemporaryFile("w", prefix="endpoints-", suffix=".yml", delete=False) as file:
            file.write(f'action_endpoint:\n  url: "{self.actions_url}/webhook"\n')
            if self.tracker_store:
                file.write(f"tracker_store:\n  type: {self.tracker_store}\n")
        return Path(file.name)

    def _environment(self) -> dict:
        # The action server files complaints and bookings in the contact service's database.
        return {**os.environ, "SANIC_HOST": HOST, "PYTHONPATH": str(ROOT), **self.service_env}

    def _spawn_action_server(self, env: dict) -> subprocess.Popen:
        # rasa_sdk's server with /metrics added (bot/action_server.py)
        self.action_server = self._spawn("actions", ["bot.action_server", "--actions", "actions", "--port", str(self.actions_port)], env)
        return self.action_server

    def _spawn_rasa(self, env: dict) -> subprocess.Popen:
        self.rasa = self._spawn(
            "rasa",
            ["rasa", "run", "--model", str(self.model), "--endpoints", str(self._endpoints),
             "--credentials", "credentials.yml", "--interface", HOST, "--port", str(self.rasa_port),
             "--enable-api", f"--auth-token={self.rasa_token}"],  # "=": a token may start with "-"
            env,
        )
        return self.rasa

    def restart_action_server(self, while_down: Callable[[], None], timeout: float = 120) -> None:
        """Stop the action server, call ``while_down``, start it again (for fault tests)."""
        self._restart(self.action_server, while_down, self._spawn_action_server, f"{self.actions_url}/health", timeout)

    def restart_rasa(self, while_down: Callable[[], None], timeout: float = 180) -> None:
        """Kill the Rasa server (no clean shutdown), call ``while_down``, start it again (for fault tests)."""
        self._restart(self.rasa, while_down, self._spawn_rasa, f"{self.rasa_url}/", timeout, kill=True)

    def _restart(self, old: subprocess.Popen, while_down: Callable[[], None], spawn: Callable[[dict], subprocess.Popen],
                 url: str, timeout: float, kill: bool = False) -> None:
        old.kill() if kill else old.terminate()
        old.wait(timeout=15)
        self.processes.remove(old)
        try:
            while_down()
        finally:
            _wait_until_up(url, spawn(self._environment()), timeout)

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()  # gone, so its port is free for a start() again
        self.processes.clear()
        self.action_server = self.rasa = None
        if self._endpoints is not None:
            self._endpoints.unlink(missing_ok=True)
            self._endpoints = None

    def __enter__(self) -> "Assistant":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def banner(assistant: Assistant) -> str:
    """Where everything is, printed by ``make run``."""
    url = assistant.contact_url
    lines = [
        "", "Evergreen Wealth assistant is running:",
        f"  demo website with the chat widget   {url}/",
        f"    as a verified demo customer        {url}/?as=demo-standard  (C2; also demo-private, demo-premier, demo-english)",
        f"  app API (OpenAPI)                    {url}/api/v1/openapi.yaml",
        f"  staff API (complaints, bookings)     {url}/api/v1/staff/complaints  (docs/staff-api.md)",
        f"  operations metrics (Prometheus)      {url}/metrics  (loopback only, or with METRICS_TOKEN)",
    ]
    if os.environ.get("CONTACT_DEMO", "1") == "1":
        lines += [
            f"    demo supervisor token              {staff.demo_token()}",
            f"  agent console                        {url}/console/  (docs/console.md)",
            f"    demo-agent / demo-supervisor       {staff.demo_password(staff.DEMO_AGENT)} / {staff.demo_password(staff.DEMO_SUPERVISOR)}",
        ]
    lines += [
        f"  Rasa REST channel (loopback only)    {assistant.rasa_url}/webhooks/rest/webhook",
        f"  action server (loopback only)        {assistant.actions_url}/webhook",
        "Talk to Rasa directly:",
        f"  curl -s {assistant.rasa_url}/webhooks/rest/webhook -H 'Content-Type: application/json' \\",
        "       -d '{\"sender\": \"me\", \"message\": \"长青货币宝起购金额是多少\"}'",
        "  or `make shell` in another terminal for a terminal chat. Ctrl-C stops everything.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "current.tar.gz")
    parser.add_argument("--rasa-port", type=int, default=5005)
    parser.add_argument("--actions-port", type=int, default=5055)
    parser.add_argument("--contact-port", type=int, default=int(os.environ.get("CONTACT_PORT", 8080)))
    args = parser.parse_args()
    refuse_unsafe_start()  # production: every unsafe setting named before anything starts
    assistant = Assistant(args.model, args.rasa_port, args.actions_port, contact_port=args.contact_port).start()
    print(banner(assistant), flush=True)
    run_until_stopped(lambda: assistant.processes, assistant.stop)


def run_until_stopped(running: Callable[[], List[subprocess.Popen]], stop: Callable[[], None]) -> None:
    """Wait for Ctrl-C, SIGTERM or the end of one of the ``running()`` processes; then ``stop()``
    them all (``make run``, ``make cluster``)."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        while all(p.poll() is None for p in running()):
            time.sleep(1)
        print("A process exited; stopping.", file=sys.stderr)
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        stop()


if __name__ == "__main__":
    main()
