"""Queues and moves of handoffs on SQLite and PostgreSQL: serving order, places in the queue,
claims racing, capacity, transfers, and the conversation's owner kept in step."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy import update

from bot.complaints.lifecycle import Conflict, InvalidChange
from bot.core.models import Conversation
from bot.core.staff import save
from bot.handoff.desk import HandoffDesk, HandoffRequest
from bot.handoff.models import Handoff
from bot.service_hours import SHANGHAI

T0 = datetime(2026, 11, 30, 10, 0, tzinfo=SHANGHAI)


@pytest.fixture
def desk(sessions):
    with sessions() as session:
        for staff_id in ("amy", "bo"):
            save(session, staff_id, staff_id.title(), "agent")
    return HandoffDesk(sessions, capacity=2)


def ask(desk, name: str, minutes: int, tier: str = "standard", urgent: bool = False):
    with desk.sessions() as session:
        session.add(Conversation(id=name, channel="web", owner="bot"))
        session.commit()
    request = HandoffRequest(conversation_id=name, reason="urgent" if urgent else "customer_request",
                             tier=tier, language="zh", urgent=urgent)
    return desk.request(request, T0 + timedelta(minutes=minutes))


def owner(desk, name: str) -> str:
    with desk.sessions() as session:
        return session.get(Conversation, name).owner


def test_served_urgent_first_then_by_tier_then_by_waiting_time(desk):
    ask(desk, "standard-early", 0)
    ask(desk, "premier-late", 5, tier="premier")
    ask(desk, "standard-later", 6)
    ask(desk, "urgent-latest", 9, urgent=True)
    private = ask(desk, "private", 7, tier="private")
    assert [h.conversation_id for h in desk.waiting("general")] == ["urgent-latest", "premier-late", "standard-early", "standard-later"]
    assert [h.conversation_id for h in desk.waiting("private")] == ["urgent-latest", "private"]  # urgent heads every queue
    assert desk.positions(desk.waiting())[private.id] == 2 and owner(desk, "private") == "queued"


def test_asking_again_keeps_one_handoff_and_urgency_moves_it_up(desk):
    first = ask(desk, "c1", 0)
    ask(desk, "c2", 1)
    again = desk.request(HandoffRequest("c1", "urgent", "standard", "zh", urgent=True, complaint_reference="C20261130-0001"), T0)
    assert again.id == first.id and again.urgent and again.complaint_reference == "C20261130-0001"
    assert [h.conversation_id for h in desk.waiting()] == ["c1", "c2"]


def test_two_agents_claiming_at_once_one_gets_it(desk):
    handoff = ask(desk, "c1", 0)
    results = []

    def claim(agent):
        try:
            results.append(("ok", desk.claim(handoff.id, agent, T0).agent_id))
        except Conflict:
            results.append(("conflict", agent))

    threads = [threading.Thread(target=claim, args=(agent,)) for agent in ("amy", "bo")]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert sorted(kind for kind, _ in results) == ["conflict", "ok"]
    assert owner(desk, "c1") == "agent" and desk.waiting() == []


def test_an_agent_takes_no_more_than_the_capacity(desk):
    for minute, name in enumerate(("c1", "c2", "c3")):
        ask(desk, name, minute)
    first, second, third = desk.waiting()
    desk.claim(first.id, "amy", T0)
    desk.claim(second.id, "amy", T0)
    with pytest.raises(Conflict, match="already has 2 conversations"):
        desk.claim(third.id, "amy", T0)
    assert desk.claim(third.id, "bo", T0).agent_id == "bo"


def test_transfer_to_a_queue_or_an_agent_and_resolve_back_to_the_assistant(desk):
    handoff = ask(desk, "c1", 0)
    desk.claim(handoff.id, "amy", T0)
    with pytest.raises(Conflict):
        desk.transfer(handoff.id, "bo", T0, to_queue="private")  # not bo's conversation
    with pytest.raises(InvalidChange):
        desk.transfer(handoff.id, "amy", T0)
    moved = desk.transfer(handoff.id, "amy", T0, to_queue="private")
    assert (moved.state, moved.queue, moved.agent_id, owner(desk, "c1")) == ("waiting", "private", None, "queued")
    desk.claim(handoff.id, "bo", T0)
    passed = desk.transfer(handoff.id, "bo", T0, to_agent="amy")
    assert (passed.state, passed.agent_id, owner(desk, "c1")) == ("with_agent", "amy", "agent")
    done = desk.resolve(handoff.id, "amy", T0 + timedelta(minutes=12))
    assert done.state == "resolved" and owner(desk, "c1") == "bot" and desk.open_for("c1") is None


def test_the_wait_estimate_learns_from_recent_handling_times(desk):
    assert desk.handling_minutes() == 6.0  # the default until there is history
    for minute, name in enumerate(("a", "b")):
        handoff = ask(desk, name, minute)
        desk.claim(handoff.id, "amy", T0)
        desk.resolve(handoff.id, "amy", T0 + timedelta(minutes=10))
    assert desk.handling_minutes() == 10.0


def test_the_wait_is_told_from_the_agents_online_and_their_free_slots(desk):
    now = T0 + timedelta(minutes=30)
    nobody = desk.wait(1, agents_online=0, busy_since=[], handling=6.0, now=now)
    assert (nobody.minutes, nobody.agents_online) == (None, 0)  # no estimate with nobody online
    # One agent online (2 at a time, the desk's capacity), one conversation: a free slot serves the first shortly.
    assert desk.wait(1, 1, [now - timedelta(minutes=2)], 6.0, now).minutes is None
    # Both slots busy (ending in 4 and 1 minutes): the first waits for the first to free, never "0 ahead, 6 minutes".
    busy = [now - timedelta(minutes=2), now - timedelta(minutes=5)]
    first, second, third = (desk.wait(p, 1, busy, 6.0, now) for p in (1, 2, 3))
    assert (first.ahead, first.minutes) == (0, 1) and (second.ahead, second.minutes) == (1, 4)
    assert third.minutes == 7  # after the first slot frees and one more conversation is handled there
    # No agent busy, 2 slots free: the third waits one handling time.
    assert desk.wait(3, 1, [], 6.0, now).minutes == 6


def test_a_left_message_waits_after_the_live_customers_and_asking_again_makes_it_live(desk):
    first = ask(desk, "left", 0)
    ask(desk, "live", 5)
    assert desk.leave_message("left", T0 + timedelta(minutes=6)).left_message_at is not None
    assert desk.leave_message("left", T0 + timedelta(minutes=7)) is None  # left once
    assert [h.conversation_id for h in desk.waiting()] == ["live", "left"] and owner(desk, "left") == "queued"
    again = desk.request(HandoffRequest("left", "customer_request", "standard", "zh"), T0 + timedelta(minutes=8))
    assert again.id == first.id and again.left_message_at is None and again.requested_at == T0 + timedelta(minutes=8)


def test_a_message_is_acknowledged_at_most_once_a_minute(desk):
    handoff = ask(desk, "c1", 0)
    every = timedelta(minutes=1)
    assert desk.acknowledge(handoff.id, T0, every) and not desk.acknowledge(handoff.id, T0 + timedelta(seconds=59), every)
    assert desk.acknowledge(handoff.id, T0 + timedelta(seconds=60), every)


def test_a_callback_is_offered_once_after_the_wait(desk):
    ask(desk, "long", 0)
    ask(desk, "short", 8)
    ask(desk, "left", 0)
    desk.leave_message("left", T0 + timedelta(minutes=1))
    ask(desk, "mail", 0)  # another channel's handoff (an email) is left alone
    with desk.sessions() as session:
        session.execute(update(Handoff).where(Handoff.conversation_id == "mail").values(channel="email"))
        session.commit()
    later = T0 + timedelta(minutes=10)
    assert [h.conversation_id for h in desk.offer_callbacks(later, timedelta(minutes=10), ["web"])] == ["long"]
    assert desk.offer_callbacks(later + timedelta(minutes=30), timedelta(minutes=10), ["web"])[0].conversation_id == "short"
    assert desk.offer_callbacks(later + timedelta(hours=1), timedelta(minutes=10), ["web"]) == []


def test_a_waiting_customer_can_leave_the_queue(desk):
    ask(desk, "c1", 0)
    assert desk.withdraw("c1", T0).state == "withdrawn"
    assert owner(desk, "c1") == "bot" and desk.withdraw("c1", T0) is None
    taken = ask(desk, "c2", 0)
    desk.claim(taken.id, "amy", T0)
    assert desk.withdraw("c2", T0) is None and owner(desk, "c2") == "agent"  # an agent has it: no leaving
