"""A real SMTP server for the email tests (aiosmtpd), run as its own process on loopback:

    python -m tests.support.smtp_server --port 2525 --dir /tmp/smtp [--auth user:secret]
                                      [--cert cert.pem --key key.pem [--implicit-tls]]

Every accepted message is written to ``<dir>/messages/<n>.eml`` (and its envelope to
``<n>.json``); every transaction's end (accepted, refused, deferred) is a line in
``<dir>/log.jsonl``. ``<dir>/control.json``, read at each command, changes its answers:
``{"tempfail_first": 2}`` answers ``451 4.3.0 try later`` to DATA for the first 2 messages;
``{"reject": ["nobody@example.com"]}`` answers ``550 5.1.1 no such user`` to that RCPT;
``{"data_delay": 5}`` waits before answering DATA. ``<dir>/ready`` appears once it listens.

Tests start and stop it through :class:`SmtpServer`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import ssl
import subprocess
import sys
import threading
import time
from email import message_from_bytes, policy
from pathlib import Path
from typing import List

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.support.ports import free_port


class Recorder:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.messages = directory / "messages"
        self.messages.mkdir(parents=True, exist_ok=True)
        self.tempfailed = 0
        self.lock = threading.Lock()

    def control(self) -> dict:
        try:
            return json.loads((self.directory / "control.json").read_text())
        except (FileNotFoundError, ValueError):
            return {}

    def log(self, **event) -> None:
        with self.lock, open(self.directory / "log.jsonl", "a") as f:
            f.write(json.dumps(event) + "\n")

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in [a.lower() for a in self.control().get("reject", [])]:
            self.log(event="rcpt_refused", rcpt=address)
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        control = self.control()
        if control.get("data_delay"):
            await asyncio.sleep(float(control["data_delay"]))
        with self.lock:
            if self.tempfailed < int(control.get("tempfail_first", 0)):
                self.tempfailed += 1
                deferred = True
            else:
                deferred = False
        if deferred:
            self.log(event="data_tempfail", rcpt=envelope.rcpt_tos)
            return "451 4.3.0 try later"
        with self.lock:
            number = len(list(self.messages.glob("*.eml"))) + 1
            (self.messages / f"{number:04d}.eml").write_bytes(envelope.original_content)
            (self.messages / f"{number:04d}.json").write_text(json.dumps({
                "mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos,
                "login": session.auth_data if session.authenticated else None,
                "tls": session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None,
            }))
        self.log(event="accepted", rcpt=envelope.rcpt_tos, number=number)
        return "250 2.0.0 queued as %04d" % number


ROOT = Path(__file__).resolve().parents[2]


class SmtpServer:
    """The test SMTP server as a separate process; stopped and started at will."""

    def __init__(self, directory: Path, *extra: str) -> None:
        self.directory = directory
        self.port = free_port()
        self.extra = extra
        self.process = None
        directory.mkdir(parents=True, exist_ok=True)

    def start(self) -> "SmtpServer":
        (self.directory / "ready").unlink(missing_ok=True)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.support.smtp_server", "--port", str(self.port), "--dir", str(self.directory),
             *self.extra], cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
        deadline = time.monotonic() + 15
        while not (self.directory / "ready").exists():
            assert self.process.poll() is None, "the SMTP server exited"
            assert time.monotonic() < deadline, "the SMTP server did not start"
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None

    def control(self, **settings) -> None:
        (self.directory / "control.json").write_text(json.dumps(settings))

    def messages(self):
        return [message_from_bytes(p.read_bytes(), policy=policy.default)
                for p in sorted((self.directory / "messages").glob("*.eml"))]

    def envelopes(self) -> List[dict]:
        return [json.loads(p.read_text()) for p in sorted((self.directory / "messages").glob("*.json"))]

    def log(self) -> List[dict]:
        path = self.directory / "log.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--auth", help="user:password; then AUTH is required")
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--implicit-tls", action="store_true", help="TLS from the first byte (port 465 style)")
    args = parser.parse_args()
    recorder = Recorder(args.dir)
    kwargs = {}
    if args.auth:
        user, password = args.auth.split(":", 1)

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user \
                and auth_data.password.decode() == password
            return AuthResult(success=ok, auth_data=user if ok else None, handled=False)

        kwargs.update(authenticator=authenticator, auth_required=True, auth_require_tls=bool(args.cert) and not args.implicit_tls)
    if args.cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.cert, args.key)
        if args.implicit_tls:
            kwargs.update(ssl_context=context)
        else:
            kwargs.update(tls_context=context, require_starttls=True)
    controller = Controller(recorder, hostname="127.0.0.1", port=args.port, ready_timeout=10, **kwargs)
    controller.start()
    (args.dir / "ready").write_text(str(args.port))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()
