"""The IMAP reader against a real dovecot process (``imap_server.py``): each message handed over
once and then \\Seen, a failing store leaves it unseen for the next round, an oversized message
is skipped and left unseen, a connection dropped mid-fetch loses nothing, IDLE wakes the reader,
a wrong password is a clear error."""

from __future__ import annotations

import asyncio
import time
from email import message_from_bytes
from pathlib import Path
from typing import List, Tuple

import pytest

from channels.email.mailbox import ImapConfig, MailboxError, MailboxLoginError, MailboxReader
from channels.email.outbox import EmailConfigError
from tests.support.imap_server import PASSWORD, USER, DovecotServer


FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def dovecot_server():
    server = DovecotServer().start()
    yield server
    server.cleanup()


@pytest.fixture
def dovecot(dovecot_server):
    """The module's dovecot, running, with an empty INBOX for each test."""
    if dovecot_server.process is None:
        dovecot_server.start()
    conn = dovecot_server.client()
    typ, data = conn.select("INBOX")
    if int(data[0]):
        conn.store("1:*", "+FLAGS.SILENT", "(\\Deleted)")
        conn.expunge()
    conn.logout()
    return dovecot_server


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def config_for(server: DovecotServer, **changes) -> ImapConfig:
    values = dict(host="127.0.0.1", port=server.port, tls="none", username=USER, password=PASSWORD,
                  timeout=5.0, poll_seconds=0.2, idle_seconds=5.0)
    values.update(changes)
    return ImapConfig(**values)


class Store:
    def __init__(self) -> None:
        self.calls: List[Tuple[int, bytes]] = []
        self.fail_uids = set()

    def __call__(self, raw: bytes, uid: int) -> None:
        if uid in self.fail_uids:
            raise RuntimeError("database down")
        self.calls.append((uid, raw))

    def message_ids(self) -> List[str]:
        return [message_from_bytes(raw)["Message-ID"] for _, raw in self.calls]


def seen(server: DovecotServer, uid: int) -> bool:
    return "\\Seen" in server.flags()[uid]


def test_each_message_handed_over_once_then_seen(dovecot):
    store = Store()
    reader = MailboxReader(config_for(dovecot), store)
    try:
        first = dovecot.append(fixture("zh_question.eml"))
        second = dovecot.append(fixture("en_question.eml"))
        result = reader.fetch_round()
        assert result.stored == [first, second]
        assert [uid for uid, _ in store.calls] == [first, second]
        assert store.calls[0][1].replace(b"\r\n", b"\n") == fixture("zh_question.eml").replace(b"\r\n", b"\n")
        assert seen(dovecot, first) and seen(dovecot, second)

        assert reader.fetch_round().stored == []  # nothing twice
        third = dovecot.append(fixture("complaint.eml"))
        assert reader.fetch_round().stored == [third]
        assert len(store.calls) == 3
        # A new message someone already read in webmail is still taken (newer than our last UID).
        fourth = dovecot.append(fixture("gbk_body.eml"), flags="(\\Seen)")
        assert reader.fetch_round().stored == [fourth]
    finally:
        reader.close()


def test_failing_store_leaves_message_unseen_and_it_comes_again(dovecot):
    store = Store()
    reader = MailboxReader(config_for(dovecot), store)
    try:
        bad = dovecot.append(fixture("zh_question.eml"))
        good = dovecot.append(fixture("en_question.eml"))
        store.fail_uids = {bad}
        result = reader.fetch_round()
        assert result.failed == [bad] and result.stored == [good]
        assert not seen(dovecot, bad) and seen(dovecot, good)

        store.fail_uids = set()
        assert reader.fetch_round().stored == [bad]
        assert seen(dovecot, bad)
        assert [uid for uid, _ in store.calls] == [good, bad]
        # A fresh process (no remembered UID) does not take the seen ones again.
        assert MailboxReader(config_for(dovecot), store).fetch_round().stored == []
    finally:
        reader.close()


def test_oversized_message_is_skipped_and_left_unseen(dovecot, caplog):
    store = Store()
    big = fixture("attachment_over_limit.eml")
    reader = MailboxReader(config_for(dovecot, max_message_bytes=100_000), store)
    try:
        large = dovecot.append(big)
        small = dovecot.append(fixture("en_question.eml"))
        with caplog.at_level("WARNING", logger="channels.email.mailbox"):
            result = reader.fetch_round()
        assert result.too_large == [large] and result.stored == [small]
        assert any("left unseen in the mailbox for a person" in r.getMessage() for r in caplog.records)
        assert not seen(dovecot, large)
        assert [uid for uid, _ in store.calls] == [small]
        caplog.clear()
        with caplog.at_level("WARNING", logger="channels.email.mailbox"):
            assert reader.fetch_round().too_large == []  # logged once, not every round
        assert not caplog.records
    finally:
        reader.close()


def test_connection_dropped_mid_fetch_loses_nothing(dovecot):
    """dovecot is killed while the first message is being stored (before it is flagged seen):
    the round fails, the server comes back, the next round reconnects and gets everything."""
    store = Store()
    killed = []

    def store_and_crash(raw: bytes, uid: int) -> None:
        store(raw, uid)
        if not killed:
            killed.append(uid)
            dovecot.stop(kill=True)

    reader = MailboxReader(config_for(dovecot), store_and_crash)
    try:
        first = dovecot.append(fixture("zh_question.eml"))
        second = dovecot.append(fixture("en_question.eml"))
        with pytest.raises(MailboxError):
            reader.fetch_round()
        with pytest.raises(MailboxError, match="unreachable"):
            reader.fetch_round()  # server still down: a retryable error, not a crash
        dovecot.start()
        assert not seen(dovecot, first)
        third = dovecot.append(fixture("complaint.eml"))
        result = reader.fetch_round()
        assert result.stored == [first, second, third]
        # The first came twice (store is idempotent on Message-ID); nothing was missed.
        assert [uid for uid, _ in store.calls] == [first, first, second, third]
        assert all(seen(dovecot, uid) for uid in (first, second, third))
    finally:
        reader.close()


async def wait_until(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("idle", [True, False], ids=["idle", "polling"])
async def test_run_loop_picks_up_new_mail_and_survives_a_restart(dovecot, idle):
    store = Store()
    # idle_seconds long: with IDLE, new mail must wake the reader well before it runs out.
    reader = MailboxReader(config_for(dovecot, idle=idle, idle_seconds=30.0, poll_seconds=0.2), store)
    stop = asyncio.Event()
    task = asyncio.create_task(reader.run(stop, backoff_start=0.1, backoff_max=0.5))
    try:
        await asyncio.sleep(0.3)
        started = time.monotonic()
        await asyncio.to_thread(dovecot.append, fixture("zh_question.eml"))
        await wait_until(lambda: len(store.calls) == 1)
        assert time.monotonic() - started < 5
        await asyncio.to_thread(dovecot.stop, True)
        await asyncio.sleep(0.5)
        await asyncio.to_thread(dovecot.start)
        await asyncio.to_thread(dovecot.append, fixture("en_question.eml"))
        await wait_until(lambda: len(store.calls) == 2)
        assert not task.done()
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=10)
    assert len(set(store.message_ids())) == 2


async def test_wrong_password_is_a_clear_error(dovecot):
    reader = MailboxReader(config_for(dovecot, password="wrong"), Store())
    with pytest.raises(MailboxLoginError, match=r"IMAP login refused for 'service@evergreen.example'.*EMAIL_IMAP_PASSWORD"):
        reader.fetch_round()
    with pytest.raises(MailboxLoginError):  # run() stops on it instead of retrying forever
        await asyncio.wait_for(reader.run(), timeout=30)


def test_config_from_env():
    assert ImapConfig.from_env({}) is None
    config = ImapConfig.from_env({"EMAIL_IMAP_HOST": "imap.example.com", "EMAIL_IMAP_USERNAME": "service",
                                  "EMAIL_IMAP_PASSWORD": "x"})
    assert (config.port, config.tls, config.folder, config.max_message_bytes) == (993, "tls", "INBOX", 25 * 1024 * 1024)
    config = ImapConfig.from_env({"EMAIL_IMAP_HOST": "h", "EMAIL_IMAP_TLS": "starttls", "EMAIL_IMAP_PORT": "1143",
                                  "EMAIL_IMAP_USERNAME": "u", "EMAIL_IMAP_PASSWORD": "p",
                                  "EMAIL_IMAP_FOLDER": "Support", "EMAIL_IMAP_IDLE": "no"})
    assert (config.port, config.tls, config.folder, config.idle) == (1143, "starttls", "Support", False)
    for bad in ({"EMAIL_IMAP_TLS": "ssl"}, {"EMAIL_IMAP_PORT": "x"}, {"EMAIL_IMAP_PASSWORD": ""}):
        env = {"EMAIL_IMAP_HOST": "h", "EMAIL_IMAP_USERNAME": "u", "EMAIL_IMAP_PASSWORD": "p", **bad}
        with pytest.raises(EmailConfigError):
            ImapConfig.from_env(env)
