"""Queues and moves of handoffs on SQLite and PostgreSQL: serving order, places in the queue,
claims racing, capacity, transfers, and the conversation's owner kept in step."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest

from bot.complaints.lifecycle import Conflict, InvalidChange
from bot.core.models import Conversation
from bot.core.staff import save
from bot.handoff.desk import HandoffDesk, HandoffRequest
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
    assert desk.estimated_wait_minutes(position=3, agents_online=1) == 9  # 3 × 6 min default / 2 at a time
    for minute, name in enumerate(("a", "b")):
        handoff = ask(desk, name, minute)
        desk.claim(handoff.id, "amy", T0)
        desk.resolve(handoff.id, "amy", T0 + timedelta(minutes=10))
    assert desk.estimated_wait_minutes(position=3, agents_online=1) == 15  # 3 × 10 min / 2
    assert desk.estimated_wait_minutes(position=3, agents_online=3) == 5


def test_a_waiting_customer_can_leave_the_queue(desk):
    ask(desk, "c1", 0)
    assert desk.withdraw("c1", T0).state == "withdrawn"
    assert owner(desk, "c1") == "bot" and desk.withdraw("c1", T0) is None
