"""Two contact services on one PostgreSQL database (issue #18) read the service mailbox with
exactly one IMAP connection: the holder of the mailbox lease. Each mail becomes one ticket and
one acknowledgement, though both outbox workers send. When the holder is killed with SIGKILL the
other process takes the lease over within its term and reads the mail that came meanwhile.
Real dovecot and SMTP servers; the assistant is away (mail is then kept unclassified)."""

from __future__ import annotations

import time

import pytest

from channels.email.processing import MAILBOX_LEASE
from tests.support.cluster import ContactService, connections_to, lease_holder
from tests.support.mail import email_env, mails_to, message_id_of, new_mail, processed, ticket_of
from tests.support.ports import free_port
from tests.support.system import service_env
from tests.support.waiting import wait_for

LEASE_SECONDS = 3


@pytest.fixture(scope="module")
def database_url(postgres_database_url):
    """Several processes share a server database: PostgreSQL only."""
    return postgres_database_url


@pytest.fixture(scope="module")
def services(database_url, dovecot, smtp, tmp_path_factory):
    logs = tmp_path_factory.mktemp("contact")
    env = {**service_env(database_url), **email_env(dovecot, smtp), "RASA_URL": f"http://127.0.0.1:{free_port()}",
           "CONTACT_LEASE_SECONDS": str(LEASE_SECONDS)}
    with ContactService(env, logs / "a.log") as first, ContactService(env, logs / "b.log") as second:
        yield first, second




def readers(services, dovecot):
    """{pid: IMAP connections} of the running processes."""
    return {s.pid: connections_to(s.pid, dovecot.port) for s in services if s.process.poll() is None}


def mail_in(dovecot, smtp, database_url, senders):
    """Mail from each of ``senders`` into the mailbox; waits until each is processed and acknowledged."""
    sent = []
    for sender in senders:
        raw = new_mail(f"客户 <{sender}>", "长青货币宝怎么赎回", "请问长青货币宝怎么赎回？谢谢")
        dovecot.append(raw)
        sent.append(message_id_of(raw))
    wait_for(lambda: all(processed(database_url, m) for m in sent), 30, "the mail processed")
    wait_for(lambda: all(mails_to(smtp, s) for s in senders), 30, "the acknowledgements")
    return sent


def test_one_mailbox_reader_taken_over_when_killed(services, dovecot, smtp, database_url):
    pids = {s.pid: s for s in services}
    wait_for(lambda: any(readers(services, dovecot).values()), 30, "a mailbox reader")
    time.sleep(2)  # the other process has started too: it would be connected by now
    connected = [pid for pid, connections in readers(services, dovecot).items() if connections]
    assert len(connected) == 1, readers(services, dovecot)
    holder = connected[0]
    assert lease_holder(database_url, MAILBOX_LEASE) == holder

    first_round = mail_in(dovecot, smtp, database_url, [f"c{n}@customer.example" for n in range(3)])
    time.sleep(2)  # a second reader or sender would have acted by now
    assert readers(services, dovecot) == {pid: int(pid == holder) for pid in pids}
    assert all(ticket_of(database_url, m) is not None for m in first_round)
    assert [len(mails_to(smtp, f"c{n}@customer.example")) for n in range(3)] == [1, 1, 1]

    pids[holder].kill()
    [survivor] = [pid for pid in pids if pid != holder]
    killed_at = time.monotonic()
    mail_in(dovecot, smtp, database_url, ["later@customer.example"])
    assert lease_holder(database_url, MAILBOX_LEASE) == survivor
    assert time.monotonic() - killed_at < LEASE_SECONDS + 15
    assert readers(services, dovecot) == {survivor: 1}
    assert len(mails_to(smtp, "later@customer.example")) == 1
