"""A flood of urgent reports through the whole system (Rasa, the action server, the contact
service behind a reverse proxy on loopback), on SQLite and PostgreSQL: eight anonymous fraud
reports from one client address, each from a new visitor session, file at most the limit per
address; every one is still handed to a person, urgent; a report from another address is filed.
The clock is inside agent hours."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from bot.complaints.desk import URGENT_PER_ORIGIN
from bot.complaints.models import Complaint
from bot.handoff.models import Handoff
from bot.references import pattern
from tests.support.clients import Client, texts
from tests.support.system import IN_HOURS, running_assistant


REPORT = "我的账户被盗了，有人登录后把5万元转走了，不是我操作的！"


@pytest.fixture(scope="module")
def system(database_url, tmp_path_factory):
    with running_assistant(database_url, tmp_path_factory.mktemp("logs"), clock=IN_HOURS, TRUSTED_PROXIES="127.0.0.1") as assistant:
        yield assistant


def visitor(system, address: str) -> Client:
    """A new visitor (no visitor token: a new conversation) behind the proxy, from ``address``."""
    customer = Client(system.contact_url, headers={"X-Forwarded-For": address})
    customer.conversation_id = customer.start()["conversation_id"]
    return customer


def test_a_flood_of_urgent_reports_from_one_address_files_at_most_the_limit(system, database_url):
    flood = [visitor(system, "203.0.113.77") for _ in range(8)]
    answers = [texts(customer.say(REPORT)) for customer in flood]
    elsewhere = visitor(system, "198.51.100.77")
    answer_elsewhere = texts(elsewhere.say(REPORT))

    filed = [a for a in answers if "我们已将此事标记为紧急（编号" in a]
    limited = [a for a in answers if "本次不再另行登记新的投诉编号" in a]
    assert len(filed) == URGENT_PER_ORIGIN and len(limited) == len(flood) - URGENT_PER_ORIGIN
    assert all("正在为您优先转接人工客服" in a and "400-820-8888" in a for a in limited)
    assert "我们已将此事标记为紧急（编号" in answer_elsewhere

    engine = create_engine(database_url)
    with Session(engine) as session:
        conversations = [c.conversation_id for c in flood]
        stored = session.execute(select(func.count(Complaint.id)).where(Complaint.conversation_id.in_(conversations))).scalar_one()
        handoffs = session.execute(select(Handoff).where(Handoff.conversation_id.in_(conversations))).scalars().all()
        other = session.execute(select(Complaint).where(Complaint.conversation_id == elsewhere.conversation_id)).scalar_one()
    engine.dispose()
    assert stored == URGENT_PER_ORIGIN
    assert len(handoffs) == len(flood) and all(h.urgent for h in handoffs)  # every one reaches a person
    assert sum(h.complaint_reference is not None for h in handoffs) == URGENT_PER_ORIGIN
    assert other.urgent and other.origin and re.fullmatch(pattern("C"), other.reference)
