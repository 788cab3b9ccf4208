"""Leases and message claims on SQLite and PostgreSQL (issue #18): one holder at a time, taken
over once the term has passed, given up at once on release; a job is stopped when its lease
cannot be renewed; a pending message is claimed by one process and answered once."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

from cryptography.fernet import Fernet

from bot.core.leases import LeaseLost, Leases
from bot.core.models import Conversation
from bot.core.store import ANSWER_CLAIM, ConversationStore
from bot.core.vault import Vault

T0 = datetime(2026, 12, 7, 2, 0, tzinfo=timezone.utc)


class Clock:
    def __init__(self):
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def test_one_holder_until_the_term_has_passed_or_it_lets_go(sessions):
    clock = Clock()
    first, second = (Leases(sessions, 30, holder, clock) for holder in ("a:1:x", "b:2:y"))
    assert first.take("job") and not second.take("job")
    clock.now += timedelta(seconds=20)
    assert first.take("job")  # renewed: another 30 s from now
    clock.now += timedelta(seconds=20)
    assert not second.take("job")
    clock.now += timedelta(seconds=11)
    assert second.take("job") and not first.take("job")  # taken over: the first stopped renewing
    second.release("job")
    assert first.take("job")
    second.release("job")  # not its lease: nothing changes
    assert not second.take("job")


async def test_a_job_whose_lease_is_taken_over_is_stopped(sessions):
    clock = Clock()
    holder, other = Leases(sessions, 0.6, "a:1:x", clock), Leases(sessions, 0.6, "b:2:y", clock)
    stopped = asyncio.Event()

    async def job():
        try:
            await asyncio.sleep(60)
        finally:
            stopped.set()

    running = asyncio.ensure_future(holder.run_held("job", job))
    await asyncio.sleep(0.1)
    clock.now += timedelta(seconds=1)  # the holder was stuck for longer than the term
    assert other.take("job")
    try:
        await asyncio.wait_for(running, 2)
    except LeaseLost:
        pass
    else:
        raise AssertionError("the job ran on without its lease")
    assert stopped.is_set()


def test_a_pending_message_is_claimed_once_and_answered_once(sessions):
    store = ConversationStore(sessions, Vault(Fernet.generate_key().decode()))
    with sessions() as session:
        session.add(Conversation(id="c1", channel="web", owner="bot"))
        session.commit()
    message, _ = store.store_inbound("c1", "m1", "长青货币宝起购金额是多少")
    now = datetime.now(timezone.utc)
    assert not store.claim(message.id, now)  # the storing process holds it
    assert store.claim(message.id, now + ANSWER_CLAIM + timedelta(seconds=1))  # its claim ran out: the retry loop's
    store.unclaim(message.id)
    assert store.claim(message.id, now)
    assert store.claim(message.id, now) is False
    assert store.store_replies(message, [{"text": "100 元起购"}]) is not None
    assert store.store_replies(message, [{"text": "100 元起购"}]) is None  # a second answer stores nothing
    assert [m.text for m in store.replies_to(message.id)] == ["100 元起购"]
    assert not store.claim(message.id, now + ANSWER_CLAIM * 2)  # answered: nothing to claim
