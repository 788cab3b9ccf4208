"""A real IMAP server for the email tests: Debian's dovecot (``dovecot-imapd``, 2.3), run in the
foreground as its own process (``dovecot -F -c <config>``) on a free loopback port, with a
throw-away configuration, passwd-file, maildir, state and log in one temporary directory.

    with DovecotServer() as server:          # or the ``dovecot`` fixture in a test module
        server.append(raw_bytes)             # IMAP APPEND with imaplib, as any client would
        server.flags()                       # {uid: flags} of every message in INBOX

Configuration essentials (see ``CONFIG``): ``listen = 127.0.0.1`` and only ``imap`` on the
chosen port (imaps off), ``ssl = no`` with ``disable_plaintext_auth = no`` (2.3's name; 2.4 calls
it ``auth_allow_cleartext``) so LOGIN works in clear on loopback, one user
(``service@evergreen.example`` / ``PASSWORD``) in a passwd-file with a ``{PLAIN}`` password and a
static userdb, ``mail_location = maildir:~/Maildir`` under the temporary directory, ``base_dir``
and ``state_dir`` there too (nothing of the system's dovecot, if any, is touched), logs in
``dovecot.log``.

Users: dovecot's master has to be able to drop privileges for its login and internal
processes, and refuses to give mail access to UID 0 unless ``first_valid_uid = 0``.
- Run as root (this machine, CI containers): the master runs as root (it must, to switch
  users), login and internal processes as ``dovenull`` (the unprivileged user the Debian package
  creates for exactly that), mail access as ``nobody``/``nogroup`` (dovecot refuses UID 0 for
  mail: "userdb returned 0 as uid", whatever ``first_valid_uid`` says), which owns
  ``home/``. For that the directory is our own ``mkdtemp`` made 0755, not pytest's
  ``tmp_path`` (0700 root, unreachable for ``nobody``). Login chroot is switched off, so nothing
  has to be set up inside the temp dir for it.
- Run as an ordinary user: every one of these is that user (dovecot supports a non-root master
  as long as the ports are unprivileged and it never has to switch users).
"""

from __future__ import annotations

import getpass
import grp
import imaplib
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Dict, Optional, Tuple

from tests.support.ports import free_port

USER = "service@evergreen.example"
PASSWORD = "imap-test-secret"
DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"

CONFIG = """\
# Throw-away configuration written by tests/support/imap_server.py
protocols = imap
listen = 127.0.0.1
base_dir = {base}/run
state_dir = {base}/state
instance_name = evergreen-test-{port}
log_path = {base}/dovecot.log
info_log_path = {base}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
# No 2 s delay (and anvil's growing penalty, up to 15 s) after a wrong password.
auth_failure_delay = 0
default_internal_user = {internal_user}
default_internal_group = {internal_group}
default_login_user = {login_user}
first_valid_uid = {uid}
last_valid_uid = {uid}
first_valid_gid = {gid}
last_valid_gid = {gid}
mail_uid = {uid}
mail_gid = {gid}
mail_location = maildir:~/Maildir
mail_privileged_group =
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {base}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={base}/home/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
service auth {{
  unix_listener auth-userdb {{
    mode = 0666
  }}
}}
"""


def _descendants(pid: int) -> list:
    children: Dict[int, list] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _users() -> Dict[str, object]:
    if os.geteuid() == 0:
        # dovenull: Debian's unprivileged user for login processes; root for mail (see above).
        try:
            pwd.getpwnam("dovenull")
            login = "dovenull"
        except KeyError:
            login = "nobody"
        internal_group = grp.getgrgid(pwd.getpwnam(login).pw_gid).gr_name
        mail = pwd.getpwnam("nobody")
        return dict(internal_user=login, internal_group=internal_group, login_user=login,
                    uid=mail.pw_uid, gid=mail.pw_gid)
    me = getpass.getuser()
    return dict(internal_user=me, internal_group=grp.getgrgid(os.getegid()).gr_name, login_user=me,
                uid=os.geteuid(), gid=os.getegid())


class DovecotServer:
    """dovecot as a separate process; ``stop()``/``start()`` keep the port and the mailbox."""

    def __init__(self) -> None:
        # Its own temp dir, not pytest's tmp_path: those are 0700 root, out of reach of the
        # unprivileged mail user.
        self.directory = Path(tempfile.mkdtemp(prefix="evergreen-dovecot-"))
        os.chmod(self.directory, 0o755)
        self.port = free_port()
        self.process: Optional[subprocess.Popen] = None
        users = _users()
        for sub in ("run", "state", "home"):
            (self.directory / sub).mkdir(exist_ok=True)
        if os.geteuid() == 0:
            os.chown(self.directory / "home", users["uid"], users["gid"])
        (self.directory / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}::::::\n")
        self.config = self.directory / "dovecot.conf"
        self.config.write_text(CONFIG.format(base=self.directory, port=self.port, **users))

    @property
    def log_path(self) -> Path:
        return self.directory / "dovecot.log"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def start(self, timeout: float = 15.0) -> "DovecotServer":
        assert self.process is None or self.process.poll() is not None, "already running"
        # After a kill, the dead instance's sockets are still there and the master refuses
        # to start ("Socket already exists"): base_dir is ours alone, so start it afresh.
        shutil.rmtree(self.directory / "run", ignore_errors=True)
        (self.directory / "run").mkdir()
        self.process = subprocess.Popen([DOVECOT, "-F", "-c", str(self.config)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode(errors="replace")
                raise RuntimeError(f"dovecot exited ({self.process.returncode}): {err}\n{self.log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.settimeout(2)
                    if s.recv(100).startswith(b"* OK"):
                        return self
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"dovecot did not start listening on {self.port}\n{self.log()}")
            time.sleep(0.05)

    def stop(self, kill: bool = False) -> None:
        """Stop dovecot (SIGTERM, or SIGKILL of the master with ``kill=True``: a crash)."""
        if self.process is not None and self.process.poll() is None:
            if kill:
                # A crash: every process of this instance dies at once, so live client
                # connections drop (a SIGKILLed master alone leaves its imap processes serving).
                for pid in _descendants(self.process.pid):
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
            self.process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        if self.process is not None and self.process.stderr:
            self.process.stderr.close()
        self.process = None
        if kill:
            # The master's children (imap, imap-login, auth...) notice the master is gone and
            # exit by themselves; wait until nothing listens on the port so a restart can bind.
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                except OSError:
                    break
                time.sleep(0.05)

    def restart(self) -> "DovecotServer":
        self.stop()
        return self.start()

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> "DovecotServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.cleanup()

    # -- a test's own IMAP client ---------------------------------------------------------

    def client(self) -> imaplib.IMAP4:
        conn = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        conn.login(USER, PASSWORD)
        return conn

    def append(self, raw: bytes, folder: str = "INBOX", flags: str = "") -> int:
        """APPEND a message; returns its UID (dovecot answers APPENDUID)."""
        conn = self.client()
        try:
            typ, data = conn.append(folder, flags or None, None, raw)
            assert typ == "OK", data
            match = re.search(rb"APPENDUID \d+ (\d+)", data[0] or b"")
            return int(match.group(1)) if match else 0
        finally:
            conn.logout()

    def flags(self, folder: str = "INBOX") -> Dict[int, Tuple[str, ...]]:
        conn = self.client()
        try:
            conn.select(folder, readonly=True)
            typ, data = conn.uid("FETCH", "1:*", "(UID FLAGS)")
            result: Dict[int, Tuple[str, ...]] = {}
            for item in data:
                if not item:
                    continue
                text = item.decode() if isinstance(item, bytes) else item[0].decode()
                uid = re.search(r"UID (\d+)", text)
                flags = re.search(r"FLAGS \(([^)]*)\)", text)
                if uid:
                    result[int(uid.group(1))] = tuple(flags.group(1).split()) if flags else ()
            return result
        finally:
            conn.logout()
