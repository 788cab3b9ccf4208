"""The quality dashboard's human-service section counts the live waits of a period that went
beyond the service level, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from bot.core.models import Conversation
from bot.core.staff import save
from bot.handoff.desk import HandoffDesk, HandoffRequest
from bot.quality.indicators import Filters, Indicators
from bot.service_hours import SHANGHAI

T0 = datetime(2026, 12, 2, 10, 0, tzinfo=SHANGHAI)


def test_waits_beyond_the_service_level_are_counted(sessions):
    with sessions() as session:
        save(session, "amy", "Amy", "agent")
        for name in ("quick", "slow", "left", "still"):
            session.add(Conversation(id=name, channel="web", owner="bot"))
        session.commit()
    desk = HandoffDesk(sessions)
    handoffs = {name: desk.request(HandoffRequest(name, "customer_request", "standard", "zh"), T0) for name in ("quick", "slow", "left", "still")}
    desk.claim(handoffs["quick"].id, "amy", T0 + timedelta(seconds=90))  # within 2 minutes
    desk.claim(handoffs["slow"].id, "amy", T0 + timedelta(seconds=150))  # beyond
    desk.leave_message("left", T0 + timedelta(seconds=30))  # stopped waiting live within the level
    now = T0 + timedelta(minutes=5)  # "still" has waited 5 minutes and counts
    speed = Indicators(sessions, wait_service_level=120).dashboard(Filters(date(2026, 12, 2), date(2026, 12, 2)), now).sections["speed"]
    assert (speed["wait_service_level_seconds"], speed["waits_over_service_level"], speed["left_messages"]) == (120, 2, 1)
    assert Indicators(sessions, wait_service_level=600).dashboard(Filters(date(2026, 12, 2), date(2026, 12, 2)), now).sections["speed"]["waits_over_service_level"] == 0
