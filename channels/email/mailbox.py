"""Reading the service mailbox over IMAP (the standard library's ``imaplib``, run in a thread).

**Nothing is lost, re-reading is harmless.** A round asks the server for the messages to look at
(``UID SEARCH``), their sizes (``RFC822.SIZE``), then fetches each one with ``BODY.PEEK[]`` (which
never sets ``\\Seen``) and hands the raw bytes with the UID to ``store(raw, uid)``. Only after
``store`` returns is the message flagged ``\\Seen`` (and moved to ``EMAIL_IMAP_DONE_FOLDER`` when
one is set). If ``store`` raises, the message stays unseen and the next round fetches it again;
if the connection drops anywhere in between (before the flag is set), the same. The caller's
store is therefore idempotent (unique on Message-ID): a message may be handed over twice, never
skipped.

**What a round looks at.** On the first round of a process: every ``UNSEEN`` message. Then the
reader remembers the folder's ``UIDVALIDITY`` and the highest UID it has dealt with, and asks for
``UNSEEN`` or newer than that (so a new message a person read in webmail before us is still
taken). A changed ``UIDVALIDITY`` (the folder was recreated) starts over from ``UNSEEN``.

**Too large.** A message over ``max_message_bytes`` (25 MB, ``EMAIL_IMAP_MAX_MB``) is not
downloaded: a warning is logged once per process and it stays unseen in the mailbox for a person.

**Waiting for mail.** When the server announces ``IDLE`` (RFC 2177) the reader idles between
rounds (re-issued every ``idle_seconds``, below the 29 minutes servers allow); otherwise, or with
``EMAIL_IMAP_IDLE=no``, it polls every ``poll_seconds``. ``imaplib`` in 3.10 has no ``idle()``,
so IDLE is written here with its raw command/continuation/``DONE`` exchange.

**Faults.** A dropped connection, a timeout or a refused connection → the reader reconnects
with backoff (1 s doubling to 5 min) and carries on; the unseen flag is the guarantee. A refused
login is a configuration error (``MailboxLoginError``) and ends ``run()``.
"""

from __future__ import annotations

import asyncio
import imaplib
import logging
import os
import re
import select
import socket
import ssl
import threading
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Mapping, Optional, Set

from channels.email.outbox import EmailConfigError

log = logging.getLogger(__name__)

TLS_MODES = ("none", "starttls", "tls")
DEFAULT_PORTS = {"none": 143, "starttls": 143, "tls": 993}
MAX_MESSAGE_BYTES = 25 * 1024 * 1024

Store = Callable[[bytes, int], None]


class MailboxError(Exception):
    """The mailbox could not be read this round (connection, protocol); worth retrying."""


class MailboxLoginError(MailboxError):
    """The server refused our login (or the folder): a setting to fix, not worth retrying."""


@dataclass(frozen=True)
class ImapConfig:
    """The service mailbox.

    Environment: ``EMAIL_IMAP_HOST`` (unset: no mailbox is read), ``EMAIL_IMAP_PORT`` (default
    143, or 993 with ``tls``), ``EMAIL_IMAP_TLS`` (``none`` | ``starttls`` | ``tls``, default
    ``tls``), ``EMAIL_IMAP_USERNAME``, ``EMAIL_IMAP_PASSWORD``, ``EMAIL_IMAP_FOLDER`` (``INBOX``),
    ``EMAIL_IMAP_DONE_FOLDER`` (optional: stored messages are moved there),
    ``EMAIL_IMAP_POLL_SECONDS`` (60), ``EMAIL_IMAP_IDLE`` (``yes``/``no``, default yes),
    ``EMAIL_IMAP_MAX_MB`` (25), ``EMAIL_IMAP_TIMEOUT`` (seconds per command, 30) and
    ``EMAIL_IMAP_CA_FILE``.
    """

    host: str
    port: int
    tls: str
    username: str
    password: str
    folder: str = "INBOX"
    done_folder: Optional[str] = None
    poll_seconds: float = 60.0
    idle: bool = True
    idle_seconds: float = 25 * 60.0
    max_message_bytes: int = MAX_MESSAGE_BYTES
    timeout: float = 30.0
    ca_file: Optional[str] = None

    @classmethod
    def from_env(cls, environ: Optional[Mapping[str, str]] = None) -> Optional["ImapConfig"]:
        env = os.environ if environ is None else environ
        host = env.get("EMAIL_IMAP_HOST", "").strip()
        if not host:
            return None
        tls = env.get("EMAIL_IMAP_TLS", "tls").strip().lower() or "tls"
        if tls not in TLS_MODES:
            raise EmailConfigError("EMAIL_IMAP_TLS must be none, starttls or tls")

        def number(name: str, default: float, kind=float):
            text = env.get(name, "").strip()
            try:
                value = kind(text) if text else default
            except ValueError:
                raise EmailConfigError(f"{name} must be a number") from None
            if value <= 0:
                raise EmailConfigError(f"{name} must be positive")
            return value

        port = number("EMAIL_IMAP_PORT", DEFAULT_PORTS[tls], int)
        if not 0 < port < 65536:
            raise EmailConfigError("EMAIL_IMAP_PORT must be 1–65535")
        username = env.get("EMAIL_IMAP_USERNAME", "").strip()
        password = env.get("EMAIL_IMAP_PASSWORD", "")
        if not username or not password:
            raise EmailConfigError("EMAIL_IMAP_USERNAME and EMAIL_IMAP_PASSWORD are required with EMAIL_IMAP_HOST")
        idle = env.get("EMAIL_IMAP_IDLE", "yes").strip().lower() not in ("no", "false", "0", "off")
        return cls(host=host, port=port, tls=tls, username=username, password=password,
                   folder=env.get("EMAIL_IMAP_FOLDER", "").strip() or "INBOX",
                   done_folder=env.get("EMAIL_IMAP_DONE_FOLDER", "").strip() or None,
                   poll_seconds=number("EMAIL_IMAP_POLL_SECONDS", 60.0), idle=idle,
                   max_message_bytes=int(number("EMAIL_IMAP_MAX_MB", 25.0) * 1024 * 1024),
                   timeout=number("EMAIL_IMAP_TIMEOUT", 30.0),
                   ca_file=env.get("EMAIL_IMAP_CA_FILE", "").strip() or None)


@dataclass
class RoundResult:
    stored: List[int] = field(default_factory=list)
    failed: List[int] = field(default_factory=list)
    too_large: List[int] = field(default_factory=list)


_CONNECTION_ERRORS = (imaplib.IMAP4.abort, OSError, EOFError, ssl.SSLError)
_UID = re.compile(rb"UID (\d+)")
_SIZE = re.compile(rb"RFC822\.SIZE (\d+)")
_FLAGS = re.compile(rb"FLAGS \(([^)]*)\)")


def _quote(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


class MailboxReader:
    """Reads one folder. ``fetch_round()`` is blocking (call it in a thread); ``run()`` is the
    asyncio loop around it. One reader per folder: of several contact-service processes, the one
    holding the mailbox lease runs one (processing.py), a new one for each time it takes the lease."""

    def __init__(self, config: ImapConfig, store: Store) -> None:
        self.config = config
        self.store = store
        self._conn: Optional[imaplib.IMAP4] = None
        self._uidvalidity: Optional[int] = None
        self._last_uid = 0
        self._too_large: Set[int] = set()
        self._lock = threading.Lock()
        self._stopping = False

    # -- connection -----------------------------------------------------------------------

    def _context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.config.ca_file)

    def _connect(self) -> imaplib.IMAP4:
        c = self.config
        try:
            if c.tls == "tls":
                conn = imaplib.IMAP4_SSL(c.host, c.port, ssl_context=self._context(), timeout=c.timeout)
            else:
                conn = imaplib.IMAP4(c.host, c.port, timeout=c.timeout)
                if c.tls == "starttls":
                    conn.starttls(self._context())
        except imaplib.IMAP4.error as exc:
            raise MailboxError(f"IMAP {c.host}:{c.port}: {exc}") from exc
        except _CONNECTION_ERRORS as exc:
            raise MailboxError(f"IMAP {c.host}:{c.port} unreachable: {exc}") from exc
        try:
            conn.login(c.username, c.password)
        except imaplib.IMAP4.abort as exc:
            raise MailboxError(f"IMAP {c.host}:{c.port} dropped the connection at login: {exc}") from exc
        except imaplib.IMAP4.error as exc:
            self._close(conn)
            raise MailboxLoginError(
                f"IMAP login refused for {c.username!r} at {c.host}:{c.port}: {_text(exc)} "
                "(check EMAIL_IMAP_USERNAME / EMAIL_IMAP_PASSWORD)") from exc
        typ, data = conn.select(_quote(c.folder))
        if typ != "OK":
            self._close(conn)
            raise MailboxLoginError(f"IMAP folder {c.folder!r} cannot be opened: {_text(data)}")
        typ, data = conn.response("UIDVALIDITY")
        uidvalidity = int(data[0]) if data and data[0] else None
        if uidvalidity != self._uidvalidity:
            if self._uidvalidity is not None:
                log.warning("IMAP %s: UIDVALIDITY changed (%s → %s); looking at all unseen mail again",
                            c.folder, self._uidvalidity, uidvalidity)
            self._uidvalidity, self._last_uid = uidvalidity, 0
            self._too_large.clear()
        return conn

    @staticmethod
    def _close(conn: Optional[imaplib.IMAP4]) -> None:
        if conn is None:
            return
        try:
            conn.shutdown()
        except Exception:  # noqa: BLE001 - closing a connection that may already be gone
            pass

    def close(self) -> None:
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.sock.settimeout(2)
                conn.logout()
            except Exception:  # noqa: BLE001
                self._close(conn)

    def _connection(self) -> imaplib.IMAP4:
        if self._conn is None:
            conn = self._connect()
            with self._lock:
                self._conn = conn
        return self._conn

    def _drop(self) -> None:
        with self._lock:
            conn, self._conn = self._conn, None
        self._close(conn)

    # -- one round ------------------------------------------------------------------------

    def fetch_round(self) -> RoundResult:
        """Look at the folder once and hand every new message to ``store``. Raises
        ``MailboxError`` when the connection fails (after which the next call reconnects)."""
        try:
            return self._round(self._connection())
        except MailboxError:
            self._drop()
            raise
        except _CONNECTION_ERRORS as exc:
            self._drop()
            raise MailboxError(f"IMAP connection lost: {exc}") from exc
        except imaplib.IMAP4.error as exc:
            self._drop()
            raise MailboxError(f"IMAP error: {exc}") from exc

    def _round(self, conn: imaplib.IMAP4) -> RoundResult:
        result = RoundResult()
        conn.noop()  # new EXISTS/EXPUNGE are reported; also finds a dead connection early
        if self._last_uid:
            criteria = f"OR UNSEEN UID {self._last_uid + 1}:*"
        else:
            criteria = "UNSEEN"
        typ, data = conn.uid("SEARCH", criteria)
        if typ != "OK":
            raise imaplib.IMAP4.error(f"SEARCH failed: {_text(data)}")
        uids = sorted({int(u) for u in (data[0] or b"").split()})
        if not uids:
            return result
        sizes = self._sizes(conn, uids)
        for uid in uids:
            size, flags = sizes.get(uid, (None, set()))
            if size is None:
                continue  # expunged meanwhile
            if "\\seen" in flags and uid <= self._last_uid:
                continue
            if uid in self._too_large:
                continue
            if size > self.config.max_message_bytes:
                log.warning("IMAP %s UID %s: %d bytes, over the %d limit; left unseen in the mailbox for a person",
                            self.config.folder, uid, size, self.config.max_message_bytes)
                self._too_large.add(uid)
                result.too_large.append(uid)
                self._last_uid = max(self._last_uid, uid)
                continue
            raw = self._body(conn, uid)
            if raw is None:
                continue
            try:
                self.store(raw, uid)
            except Exception:  # noqa: BLE001 - the caller's failure; the message stays unseen
                log.exception("IMAP %s UID %s: storing failed; left unseen, fetched again next round",
                              self.config.folder, uid)
                result.failed.append(uid)
                continue
            self._done(conn, uid)
            result.stored.append(uid)
            self._last_uid = max(self._last_uid, uid)
        return result

    def _sizes(self, conn: imaplib.IMAP4, uids: List[int]) -> Dict[int, tuple]:
        typ, data = conn.uid("FETCH", ",".join(map(str, uids)), "(UID RFC822.SIZE FLAGS)")
        if typ != "OK":
            raise imaplib.IMAP4.error(f"FETCH sizes failed: {_text(data)}")
        found: Dict[int, tuple] = {}
        for item in data:
            line = item[0] if isinstance(item, tuple) else item
            if not line:
                continue
            uid, size, flags = _UID.search(line), _SIZE.search(line), _FLAGS.search(line)
            if uid and size:
                found[int(uid.group(1))] = (int(size.group(1)),
                                            {f.lower() for f in (flags.group(1).decode().split() if flags else [])})
        return found

    def _body(self, conn: imaplib.IMAP4, uid: int) -> Optional[bytes]:
        typ, data = conn.uid("FETCH", str(uid), "(UID BODY.PEEK[])")
        if typ != "OK":
            raise imaplib.IMAP4.error(f"FETCH {uid} failed: {_text(data)}")
        for item in data:
            if isinstance(item, tuple) and _UID.search(item[0]) and int(_UID.search(item[0]).group(1)) == uid:
                return item[1]
        for item in data:  # some servers put UID after the literal
            if isinstance(item, tuple):
                return item[1]
        return None

    def _done(self, conn: imaplib.IMAP4, uid: int) -> None:
        typ, data = conn.uid("STORE", str(uid), "+FLAGS.SILENT", "(\\Seen)")
        if typ != "OK":
            raise imaplib.IMAP4.error(f"STORE \\Seen on {uid} failed: {_text(data)}")
        target = self.config.done_folder
        if not target:
            return
        if "MOVE" in conn.capabilities:
            typ, data = conn.uid("MOVE", str(uid), _quote(target))
        else:
            typ, data = conn.uid("COPY", str(uid), _quote(target))
            if typ == "OK":
                conn.uid("STORE", str(uid), "+FLAGS.SILENT", "(\\Deleted)")
                if "UIDPLUS" in conn.capabilities:
                    conn.uid("EXPUNGE", str(uid))
                else:
                    conn.expunge()
        if typ != "OK":
            log.warning("IMAP: moving UID %s to %s failed (%s); it stays, seen, in %s",
                        uid, target, _text(data), self.config.folder)

    # -- waiting ----------------------------------------------------------------------------

    def wait_for_mail(self, seconds: float) -> bool:
        """Blocks up to ``seconds`` in IDLE until the server reports a change; returns False
        when IDLE is not used (the caller sleeps instead)."""
        if not self.config.idle or self._conn is None or "IDLE" not in self._conn.capabilities:
            return False
        conn = self._conn
        try:
            tag = conn._new_tag()
            conn.send(tag + b" IDLE\r\n")
            line = conn._get_line()
            if not line.startswith(b"+"):
                raise MailboxError(f"IDLE refused: {line!r}")
            # Wait on the socket itself (a timed-out read would poison imaplib's buffered
            # file); a notice the server sent in the same packet as "+ idling" waits, at most,
            # until ``seconds`` run out.
            sock = conn.sock
            pending = getattr(sock, "pending", lambda: 0)()
            if not pending and not self._stopping:
                select.select([sock], [], [], seconds)
            conn.send(b"DONE\r\n")
            while True:
                line = conn._get_line()
                if line.startswith(tag):
                    break
            if b" OK" not in line[len(tag):len(tag) + 4]:
                raise MailboxError(f"IDLE ended with {line!r}")
            return True
        except MailboxError:
            self._drop()
            raise
        except (*_CONNECTION_ERRORS, imaplib.IMAP4.error) as exc:
            self._drop()
            raise MailboxError(f"IMAP connection lost while idling: {exc}") from exc

    async def run(self, stop: Optional[asyncio.Event] = None, *,
                  backoff_start: float = 1.0, backoff_max: float = 300.0) -> None:
        """Rounds until ``stop`` is set: IDLE or poll between them, reconnect with backoff."""
        stop = stop or asyncio.Event()
        backoff = backoff_start
        try:
            while not stop.is_set():
                try:
                    result = await asyncio.to_thread(self.fetch_round)
                    backoff = backoff_start
                    if result.stored or result.failed:
                        log.info("IMAP %s: %d stored, %d failed", self.config.folder,
                                 len(result.stored), len(result.failed))
                    if result.failed:
                        wait = self.config.poll_seconds  # don't spin on a failing store
                    elif await self._idle(stop):
                        continue
                    else:
                        wait = self.config.poll_seconds
                except MailboxLoginError:
                    raise
                except MailboxError as exc:
                    log.warning("%s; trying again in %.0f s", exc, backoff)
                    wait, backoff = backoff, min(backoff * 2, backoff_max)
                try:
                    await asyncio.wait_for(stop.wait(), timeout=wait)
                except asyncio.TimeoutError:
                    pass
        finally:
            self._stopping = True
            await asyncio.to_thread(self.close)

    async def _idle(self, stop: asyncio.Event) -> bool:
        if not self.config.idle or self._conn is None or "IDLE" not in self._conn.capabilities:
            return False
        waiter = asyncio.ensure_future(stop.wait())
        idling = asyncio.ensure_future(asyncio.to_thread(self.wait_for_mail, self.config.idle_seconds))
        done, _ = await asyncio.wait({waiter, idling}, return_when=asyncio.FIRST_COMPLETED)
        if idling not in done:
            # Stopping: cut the connection under the idling thread so it returns at once.
            self._stopping = True
            with self._lock:
                conn = self._conn
            if conn is not None:
                try:
                    conn.sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            try:
                await idling
            except MailboxError:
                pass
            return True
        waiter.cancel()
        return idling.result()  # raises MailboxError → backoff in run()


def _text(value) -> str:
    if isinstance(value, Exception):
        value = value.args[0] if value.args else str(value)
    if isinstance(value, (list, tuple)):
        value = b" ".join(v if isinstance(v, bytes) else str(v).encode() for v in value if v)
    if isinstance(value, bytes):
        value = value.decode(errors="replace")
    return str(value)
