"""The email outbox against a real SMTP server process (aiosmtpd on loopback, ``smtp_server.py``),
on SQLite and PostgreSQL: sent once with the right headers, 451 then 250, 550 parked, the server
down and back, a crash between claiming and sending, workers racing, STARTTLS/TLS and login."""

from __future__ import annotations

import asyncio
import subprocess
import threading
from datetime import datetime, timedelta
from email import message_from_bytes, policy

import pytest

from bot.core.models import Conversation
from bot.service_hours import SHANGHAI
from channels.email import outbox
from channels.email.models import EmailOutbox
from channels.email.outbox import (
    EmailConfigError,
    OutboxWorker,
    SmtpConfig,
    build_message,
    claim_next,
    enqueue,
    enqueue_committed,
    needs_attention,
    requeue,
)
from tests.support.smtp_server import SmtpServer

T0 = datetime(2026, 11, 30, 10, 0, tzinfo=SHANGHAI)


FROM = "长青财富客服 <service@evergreen.example>"
CUSTOMER = "王小明 <xiaoming@customer.example>"
SUBJECT = "[C20261128-0007] 我们已收到您的来信 / We have received your email"


@pytest.fixture
def server(tmp_path):
    smtp = SmtpServer(tmp_path / "smtp")
    yield smtp
    smtp.stop()


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock():
    return Clock()


def config_for(server: SmtpServer, **changes) -> SmtpConfig:
    values = dict(host="127.0.0.1", port=server.port, tls="none", username=None, password=None,
                  from_address=FROM, timeout=5.0)
    values.update(changes)
    return SmtpConfig(**values)


def worker_for(sessions, server, clock, **kwargs) -> OutboxWorker:
    config = kwargs.pop("config", None) or config_for(server)
    return OutboxWorker(sessions, config, clock=clock, **kwargs)


def mail(to: str = CUSTOMER, subject: str = SUBJECT, **kwargs):
    return build_message(FROM, to, subject, "您好，我们已收到您的邮件，将在24小时内答复。\n风险提示：理财非存款，产品有风险，投资须谨慎。",
                         now=T0, **kwargs)


def row(sessions, outbox_id: int) -> EmailOutbox:
    with sessions() as session:
        return session.get(EmailOutbox, outbox_id)


def queue(sessions, **kwargs) -> int:
    return enqueue_committed(sessions, mail(**kwargs), now=T0)


# ---------------------------------------------------------------------------------------------


async def test_a_queued_mail_is_sent_once_with_its_headers(sessions, server, clock):
    server.start()
    message = mail(in_reply_to="<q1@customer.example>", references=["<root@customer.example>"], auto_reply=True)
    message_id = str(message["Message-ID"])
    with sessions() as session:  # the caller's transaction: the conversation and its mail together
        session.add(Conversation(id="email-1", channel="email", owner="bot"))
        queued = enqueue(session, message, now=T0, conversation_id="email-1", ticket_ref="C20261128-0007")
        session.commit()
    rolled_back = mail(to="someone@customer.example")
    with sessions() as session:  # not committed: never sent
        enqueue(session, rolled_back, now=T0)
        session.rollback()

    worker = worker_for(sessions, server, clock)
    assert await worker.run_once() == 1
    assert await worker.run_once() == 0

    [received] = server.messages()
    assert received["Subject"] == SUBJECT
    assert received["Auto-Submitted"] == "auto-replied" and received["X-Auto-Response-Suppress"] == "All"
    assert received["In-Reply-To"] == "<q1@customer.example>"
    assert received["References"] == "<root@customer.example> <q1@customer.example>"
    assert received["Message-ID"] == message_id and message_id.endswith("@evergreen.example>")
    assert received["Date"].datetime == T0
    assert received["From"].addresses[0].display_name == "长青财富客服"
    assert received["To"].addresses[0].addr_spec == "xiaoming@customer.example"
    assert "24小时内答复" in received.get_body(("plain",)).get_content()
    raw = (server.directory / "messages" / "0001.eml").read_bytes()
    assert raw.isascii() and b"=?utf-8?" in raw  # encoded words and base64: no 8-bit on the wire
    assert server.envelopes() == [{"mail_from": "service@evergreen.example", "rcpt_tos": ["xiaoming@customer.example"],
                                   "login": None, "tls": False}]
    stored = row(sessions, queued.id)
    assert (stored.state, stored.attempts, stored.sent_at) == ("sent", 1, T0)
    assert stored.last_reply.startswith("250") and stored.ticket_ref == "C20261128-0007"


async def test_451_then_250_is_delivered_once_after_a_retry(sessions, server, clock):
    server.start().control(tempfail_first=1)
    outbox_id = queue(sessions)
    worker = worker_for(sessions, server, clock)

    assert await worker.run_once() == 1
    stored = row(sessions, outbox_id)
    assert (stored.state, stored.attempts) == ("failed_temporarily", 1)
    assert stored.last_reply == "451 4.3.0 try later"
    assert stored.next_attempt_at == T0 + timedelta(seconds=30)
    assert server.messages() == []

    clock.advance(seconds=29)
    assert await worker.run_once() == 0  # not due yet
    clock.advance(seconds=1)
    assert await worker.run_once() == 1
    assert await worker.run_once() == 0
    assert len(server.messages()) == 1
    assert [e["event"] for e in server.log()] == ["data_tempfail", "accepted"]
    assert (row(sessions, outbox_id).state, row(sessions, outbox_id).attempts) == ("sent", 2)


async def test_550_parks_the_mail_with_the_reply_and_never_retries(sessions, server, clock):
    server.start().control(reject=["nobody@customer.example"])
    outbox_id = queue(sessions, to="nobody@customer.example")
    worker = worker_for(sessions, server, clock)

    assert await worker.run_once() == 1
    clock.advance(hours=5)
    assert await worker.run_once() == 0
    stored = row(sessions, outbox_id)
    assert (stored.state, stored.attempts) == ("parked", 1)
    assert stored.last_reply == "nobody@customer.example: 550 5.1.1 no such user"
    assert server.messages() == [] and [e["event"] for e in server.log()] == ["rcpt_refused"]
    [item] = needs_attention(sessions)
    assert (item.id, item.state, item.subject) == (outbox_id, "parked", SUBJECT)

    # an operator fixes the cause and sends it again
    server.control()
    assert requeue(sessions, outbox_id, clock())
    assert await worker.run_once() == 1
    assert len(server.messages()) == 1 and needs_attention(sessions) == []


async def test_a_refused_recipient_stops_the_whole_mail(sessions, server, clock):
    server.start().control(reject=["nobody@customer.example"])
    outbox_id = queue(sessions, to=["xiaoming@customer.example", "nobody@customer.example"])
    assert await worker_for(sessions, server, clock).run_once() == 1
    assert row(sessions, outbox_id).state == "parked"
    assert server.messages() == []  # not even the accepted recipient: a retry would send him a second copy


async def test_server_down_is_retried_with_backoff_and_delivered_once_it_is_up(sessions, server, clock):
    outbox_id = queue(sessions)
    worker = worker_for(sessions, server, clock)

    assert await worker.run_once() == 1  # connection refused
    stored = row(sessions, outbox_id)
    assert stored.state == "failed_temporarily" and stored.last_reply.startswith("connecting:")
    assert stored.next_attempt_at == T0 + timedelta(seconds=30)
    clock.advance(seconds=30)
    assert await worker.run_once() == 1
    assert row(sessions, outbox_id).next_attempt_at == clock() + timedelta(seconds=60)  # doubled

    server.start()
    assert await worker.run_once() == 0  # waits for its time
    clock.advance(seconds=60)
    assert await worker.run_once() == 1
    assert (row(sessions, outbox_id).state, row(sessions, outbox_id).attempts) == ("sent", 3)
    assert len(server.messages()) == 1


async def test_temporary_failures_park_after_the_last_attempt(sessions, server, clock):
    outbox_id = queue(sessions)
    worker = worker_for(sessions, server, clock, max_attempts=3)
    waits = []
    for _ in range(3):
        assert await worker.run_once() == 1
        stored = row(sessions, outbox_id)
        waits.append(stored.next_attempt_at - clock())
        clock.advance(hours=1)
    assert waits[:2] == [timedelta(seconds=30), timedelta(seconds=60)]
    assert stored.state == "parked" and stored.last_reply.startswith("gave up after 3 attempts: connecting:")
    assert await worker.run_once() == 0
    assert [i.id for i in needs_attention(sessions)] == [outbox_id]
    assert worker.backoff(8) == timedelta(hours=1)  # 30 s × 2^7 = 64 min, capped


async def test_a_crash_after_claiming_leaves_the_mail_uncertain_not_sent_twice(sessions, server, clock):
    server.start()
    dead = enqueue_committed(sessions, mail(), now=T0 - timedelta(hours=1))
    live = enqueue_committed(sessions, mail(), now=T0 - timedelta(hours=1))
    # A process claimed the first mail (committed) and died; another one claimed the second just now.
    assert claim_next(sessions, "dead-worker", T0 - timedelta(minutes=30)).id == dead
    assert claim_next(sessions, "live-worker", T0 - timedelta(seconds=5)).id == live

    worker = worker_for(sessions, server, clock)
    await worker.start()
    try:
        await asyncio.sleep(0.3)
    finally:
        await worker.stop()
    assert row(sessions, dead).state == "uncertain"
    assert row(sessions, live).state == "sending"  # a live worker's mail in flight is not taken over
    assert server.messages() == []
    [item] = needs_attention(sessions)
    assert (item.id, item.state) == (dead, "uncertain") and "may or may not" in item.last_reply
    clock.advance(hours=3)
    assert await worker.run_once() == 0


async def test_a_crash_after_the_server_accepted_is_not_sent_again(sessions, server, clock, monkeypatch):
    server.start()
    outbox_id = queue(sessions)

    def died(*args, **kwargs):
        raise SystemExit("killed")  # the process ends between the server's 250 and our commit

    monkeypatch.setattr(outbox, "mark_sent", died)
    with pytest.raises(SystemExit):
        await worker_for(sessions, server, clock).run_once()
    monkeypatch.undo()
    assert row(sessions, outbox_id).state == "sending" and len(server.messages()) == 1

    clock.advance(minutes=11)
    restarted = worker_for(sessions, server, clock)
    assert await restarted.recover() == [outbox_id]
    assert await restarted.run_once() == 0
    assert row(sessions, outbox_id).state == "uncertain"
    assert len(server.messages()) == 1
    assert outbox.confirm_sent(sessions, outbox_id, clock())  # the operator found it in the server's log
    assert row(sessions, outbox_id).state == "sent"


async def test_a_connection_lost_during_data_is_uncertain(sessions, server, clock):
    server.start().control(data_delay=3)
    outbox_id = queue(sessions)
    worker = worker_for(sessions, server, clock, config=config_for(server, timeout=1.0))
    assert await worker.run_once() == 1
    stored = row(sessions, outbox_id)
    assert stored.state == "uncertain" and stored.last_reply.startswith("during DATA")
    clock.advance(hours=2)
    assert await worker.run_once() == 0


async def test_two_workers_racing_send_each_mail_once(sessions, server, clock):
    server.start()
    ids = [queue(sessions, subject=f"回复 {n}") for n in range(12)]
    first, second = worker_for(sessions, server, clock), worker_for(sessions, server, clock)
    counts = await asyncio.gather(first.run_once(), second.run_once())
    assert sum(counts) == 12
    received = server.messages()
    assert sorted(m["Subject"] for m in received) == sorted(f"回复 {n}" for n in range(12))
    assert len({m["Message-ID"] for m in received}) == 12
    with sessions() as session:
        rows = [session.get(EmailOutbox, i) for i in ids]
        assert {(r.state, r.attempts) for r in rows} == {("sent", 1)}
        assert {r.claimed_by for r in rows} <= {first.worker_id, second.worker_id}


def test_one_row_is_claimed_by_exactly_one_of_many_threads(sessions):
    outbox_id = queue(sessions)
    claims, barrier = [], threading.Barrier(8)

    def grab(n: int) -> None:
        barrier.wait()
        claims.append(claim_next(sessions, f"worker-{n}", T0))

    threads = [threading.Thread(target=grab, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [c.id for c in claims if c] == [outbox_id]
    assert row(sessions, outbox_id).attempts == 1


# ---------------------------------------------------------------------------------------------
# TLS and login


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    directory = tmp_path_factory.mktemp("cert")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


@pytest.mark.parametrize("mode", ["starttls", "tls"])
async def test_tls_and_login_as_configured(sessions, tmp_path, clock, certificate, mode):
    cert, key = certificate
    extra = ["--auth", "service:s3cret", "--cert", str(cert), "--key", str(key)] + (["--implicit-tls"] if mode == "tls" else [])
    server = SmtpServer(tmp_path / "smtp", *extra).start()
    try:
        good = config_for(server, tls=mode, username="service", password="s3cret", ca_file=str(cert))
        outbox_id = queue(sessions)
        assert await OutboxWorker(sessions, good, clock=clock).run_once() == 1
        assert row(sessions, outbox_id).state == "sent"
        assert server.envelopes()[0]["login"] == "service" and server.envelopes()[0]["tls"] is True

        wrong = config_for(server, tls=mode, username="service", password="wrong", ca_file=str(cert))
        other = queue(sessions)
        assert await OutboxWorker(sessions, wrong, clock=clock).run_once() == 1
        stored = row(sessions, other)
        assert stored.state == "failed_temporarily" and "535" in stored.last_reply  # our settings, not this mail
        assert len(server.messages()) == 1
    finally:
        server.stop()


def test_settings_from_the_environment():
    assert SmtpConfig.from_env({}) is None
    config = SmtpConfig.from_env({"EMAIL_SMTP_HOST": "smtp.example.com", "EMAIL_SMTP_TLS": "tls",
                                  "EMAIL_SMTP_USERNAME": "svc", "EMAIL_SMTP_PASSWORD": "pw", "EMAIL_FROM": FROM})
    assert (config.port, config.tls, config.username, config.envelope_from, config.domain) == \
        (465, "tls", "svc", "service@evergreen.example", "evergreen.example")
    assert SmtpConfig.from_env({"EMAIL_SMTP_HOST": "h", "EMAIL_FROM": FROM}).port == 587
    for bad in ({"EMAIL_SMTP_TLS": "ssl"}, {"EMAIL_SMTP_PORT": "x"}, {"EMAIL_FROM": "nobody"},
                {"EMAIL_SMTP_PASSWORD": "pw"}):
        with pytest.raises(EmailConfigError):
            SmtpConfig.from_env({"EMAIL_SMTP_HOST": "h", "EMAIL_FROM": FROM, **bad})


def test_headers_cannot_be_injected():
    message = build_message(FROM, CUSTOMER, "Re: 你好\r\nBcc: victim@example.com", "text", now=T0,
                            in_reply_to="<a@b>\r\nX-Evil: 1")
    raw = message.as_bytes()
    assert b"\nBcc:" not in raw and b"\nX-Evil" not in raw
    assert message_from_bytes(raw, policy=policy.default)["Subject"] == "Re: 你好 Bcc: victim@example.com"
