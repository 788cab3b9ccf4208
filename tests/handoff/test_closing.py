"""Closing time on SQLite and PostgreSQL: every live-chat customer still waiting becomes a callback
request (a mobile number known) or a message left for the agents, is told so, and the assistant
answers them again; two sweeps at once change each handoff once."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot.bookings.models import Callback
from bot.core.models import Conversation, Customer, Message
from bot.core.vault import Vault
from bot.handoff.closing import ClosingSweep
from bot.handoff.desk import HandoffDesk, HandoffRequest
from bot.handoff.models import Handoff
from bot.service_hours import SHANGHAI

QUEUED = datetime(2026, 11, 30, 20, 59, 50, tzinfo=SHANGHAI)
CLOSED = datetime(2026, 11, 30, 21, 0, 5, tzinfo=SHANGHAI)
KEY = "n1Gd5Xk8b0YqzKZ8o3m8H2cQ9m1VqJ0mZ8bZ7k1y5bQ="


@pytest.fixture
def desk(sessions):
    return HandoffDesk(sessions)


def queue(desk, name: str, channel: str = "web", customer: str | None = None, said: str | None = None):
    """A conversation queued at QUEUED (``said``: a customer message before, sealed like any)."""
    with desk.sessions() as session:
        if customer:
            session.merge(Customer(id=customer, name="李娜", tier="premier", language="zh"))
            session.flush()
        session.add(Conversation(id=name, channel=channel, owner="bot", customer_id=customer))
        session.flush()
        if said:
            message = Message(conversation_id=name, direction="in", sender="customer", text=said, status="answered")
            session.add(message)
            session.flush()
            for number in Vault(KEY).seal(name, said):
                number.message_id = message.id
                session.add(number)
        session.commit()
    return desk.request(HandoffRequest(name, "customer_request", "premier" if customer else "standard", "zh",
                                       customer_id=customer, channel=channel, summary="基金赎回多久到账"), QUEUED)


def state(desk, name: str):
    with desk.sessions() as session:
        handoff = session.execute(select(Handoff).where(Handoff.conversation_id == name)).scalar_one()
        return handoff.state, handoff.left_message_at is not None, session.get(Conversation, name).owner


def test_at_closing_a_known_number_gets_a_callback_and_the_others_leave_a_message(desk):
    queue(desk, "with-phone", said="我的手机是13812345678")
    queue(desk, "customer-phone-elsewhere", customer="c-li")
    queue(desk, "old-talk", customer="c-li", said="请打 139 1234 5678")  # the same customer, an earlier conversation
    queue(desk, "no-phone")
    queue(desk, "mail", channel="email")
    closed = ClosingSweep(desk.sessions).run(CLOSED, ["web", "app"])
    told = {c.conversation_id: c for c in closed}
    assert sorted(told) == ["customer-phone-elsewhere", "no-phone", "old-talk", "with-phone"]
    assert state(desk, "with-phone") == ("withdrawn", False, "bot")
    assert state(desk, "no-phone") == ("waiting", True, "bot")  # a message for the morning; the assistant answers now
    assert state(desk, "mail") == ("waiting", False, "queued")  # a mail is answered by mail, not closed
    with desk.sessions() as session:
        callbacks = {c.conversation_id: c for c in session.execute(select(Callback)).scalars()}
    booked = callbacks["with-phone"]
    assert (booked.mobile, booked.window_start, booked.state) == ("138****5678", datetime(2026, 12, 1, 9, 0, tzinfo=SHANGHAI), "requested")
    assert booked.mobile_ref is not None and booked.topic == "基金赎回多久到账"
    assert callbacks["customer-phone-elsewhere"].mobile == "139****5678" and callbacks["customer-phone-elsewhere"].name == "李娜"
    notice = told["with-phone"].notice.text
    assert booked.reference in notice and "138****5678" in notice and "21:00" in notice
    assert "留言" in told["no-phone"].notice.text and "09:00" in told["no-phone"].notice.text
    assert ClosingSweep(desk.sessions).run(CLOSED + timedelta(seconds=30), ["web", "app"]) == []  # done once


def test_a_message_left_during_the_day_stays_for_the_morning_and_the_customer_is_told(desk):
    queue(desk, "left")
    desk.leave_message("left", QUEUED)
    [closed] = ClosingSweep(desk.sessions).run(CLOSED, ["web"])
    assert closed.conversation_id == "left" and closed.callback_reference is None
    assert state(desk, "left") == ("waiting", True, "bot")
    assert [h.conversation_id for h in desk.waiting()] == ["left"]  # in the morning queue


def test_two_sweeps_at_once_change_each_handoff_once(desk):
    for n in range(4):
        queue(desk, f"phone-{n}", said=f"手机 1381234567{n}")
        queue(desk, f"none-{n}")
    results, start = [], threading.Barrier(2)

    def sweep():
        start.wait()
        results.append(ClosingSweep(desk.sessions).run(CLOSED, ["web"]))

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    changed = sorted(c.conversation_id for result in results for c in result)
    assert changed == sorted([f"phone-{n}" for n in range(4)] + [f"none-{n}" for n in range(4)])  # each once
    with desk.sessions() as session:
        assert session.execute(select(func.count()).select_from(Callback)).scalar_one() == 4
        notices = session.execute(select(func.count()).select_from(Message).where(Message.sender == "system")).scalar_one()
    assert notices == 8
