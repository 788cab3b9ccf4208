"""The compliance guard on agents' replies (bot/compliance.py, bot/console/agents.py `reply`)
through the real processes on loopback, on SQLite and PostgreSQL, with the clock frozen inside
agent hours: a draft that breaks a rule is refused with the reason and reaches nobody; edited, it
is sent; sent anyway with a reason, it is audited, listed for supervisors and counted on the
quality dashboard."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime
from typing import Iterator, Optional, Tuple

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from bot import knowledge
from bot.core.audit import AuditEntry
from bot.core.models import Message
from bot.core.staff import DEMO_AGENT, DEMO_SUPERVISOR
from bot.service_hours import SHANGHAI
from tests.support.clients import Client, Console, said_to
from tests.support.system import IN_HOURS, identity_token

pytestmark = pytest.mark.clock(IN_HOURS)  # agents on duty

DISCLOSURE_ZH, DISCLOSURE_EN = knowledge.risk_disclosure("zh"), knowledge.risk_disclosure("en")
FROZEN_DAY = IN_HOURS[:10]


@pytest.fixture(scope="module")
def agent(system):
    return Console(system.contact_url).log_in(DEMO_AGENT)


@pytest.fixture(scope="module")
def supervisor(system):
    return Console(system.contact_url).log_in(DEMO_SUPERVISOR)


@contextmanager
def with_agent(system, agent: Console, customer_id: Optional[str] = None, language: str = "zh") -> Iterator[Tuple[Client, str]]:
    """A customer's conversation claimed by ``agent`` (the customer verified as ``customer_id``),
    handed back to the assistant afterwards (an agent handles three at most)."""
    customer = Client(system.contact_url)
    start = {"language": language, **({"identity_token": identity_token(customer_id)} if customer_id else {})}
    conversation_id = customer.start(**start)["conversation_id"]
    customer.say("我要转人工" if language == "zh" else "I'd like to talk to a person")
    [waiting] = [h for h in agent.waiting() if h["conversation_id"] == conversation_id]
    status, answer = agent.call("POST", f"/console/api/handoffs/{waiting['id']}/claim")
    assert status == 200, answer
    try:
        yield customer, conversation_id
    finally:
        agent.call("POST", f"/console/api/handoffs/{waiting['id']}/resolve")


def send(agent: Console, conversation_id: str, text: str, **extra):
    return agent.call("POST", f"/console/api/conversations/{conversation_id}/messages", {"text": text, **extra})


def check(agent: Console, conversation_id: str, text: str):
    return agent.call("POST", f"/console/api/conversations/{conversation_id}/messages/check", {"text": text})


def stored_by_agents(database_url: str, conversation_id: str):
    with Session(create_engine(database_url)) as session:
        return session.execute(select(Message.text).where(Message.conversation_id == conversation_id,
                                                          Message.sender == "agent")).scalars().all()


def audited(database_url: str, conversation_id: str):
    with Session(create_engine(database_url)) as session:
        return session.execute(select(AuditEntry).where(AuditEntry.target == conversation_id)
                               .order_by(AuditEntry.id)).scalars().all()


def test_a_promise_is_refused_edited_sent_and_an_override_audited(system, agent, supervisor, database_url):
    with with_agent(system, agent, "demo-premier") as (customer, conversation_id):
        draft = "您放心，这款产品保本，收益稳定。"
        status, answer = send(agent, conversation_id, draft)
        assert status == 422 and answer["error"]["code"] == "compliance_check"
        assert "promise_of_returns" in answer["error"]["message"] and answer["error"]["disclosure"] is None
        [finding] = answer["error"]["findings"]
        assert (finding["rule"], finding["span"]) == ("promise_of_returns", "保本")
        assert draft[finding["start"]:finding["end"]] == "保本"
        assert said_to(customer, "agent") == [] and stored_by_agents(database_url, conversation_id) == []

        edited = "这款产品不保本，收益不稳定，请您谨慎考虑。"
        assert send(agent, conversation_id, edited)[0] == 200
        assert said_to(customer, "agent") == [edited]

        for reason in ("", "   ", 42, "x" * 501):  # an override needs a reason, and a short one
            status, answer = send(agent, conversation_id, draft, override_reason=reason)
            assert status == 422 and answer["error"]["code"] == "invalid_change"
        assert said_to(customer, "agent") == [edited]

        reason = "客户问的是存款，已当面解释"
        status, answer = send(agent, conversation_id, draft, override_reason=reason)
        assert status == 200 and [f["rule"] for f in answer["findings"]] == ["promise_of_returns"]
        sent_id = answer["message"]["id"]
        assert said_to(customer, "agent") == [edited, draft]

    entries = [e for e in audited(database_url, conversation_id) if e.action in ("reply", "reply_override")]
    assert [e.action for e in entries] == ["reply", "reply", "reply_override"]
    override = entries[-1]
    assert (override.actor, override.detail["message"], override.detail["rules"], override.detail["reason"]) == \
        (f"staff:{DEMO_AGENT}", sent_id, ["promise_of_returns"], reason)

    status, answer = agent.call("GET", f"/console/api/overrides?since={FROZEN_DAY}")
    assert status == 403
    status, answer = supervisor.call("GET", f"/console/api/overrides?since={FROZEN_DAY}")
    assert status == 200
    [listed] = [o for o in answer["overrides"] if o["conversation_id"] == conversation_id]
    assert (listed["by"], listed["message_id"], listed["rules"], listed["reason"], listed["text"]) == \
        (DEMO_AGENT, sent_id, ["promise_of_returns"], reason, draft)
    assert abs(datetime.fromisoformat(listed["at"]) - datetime.now(SHANGHAI)).total_seconds() < 120  # aware, Beijing
    assert listed["at"].endswith("+08:00")
    assert supervisor.call("GET", "/console/api/overrides?since=yesterday")[0] == 400

    # The audit log keeps the real time, the messages the frozen clock: a period covering both.
    today = datetime.now(SHANGHAI).date().isoformat()
    status, board = supervisor.call("GET", f"/console/api/quality/dashboard?from={FROZEN_DAY}&to={today}")
    assert status == 200
    compliance = board["compliance"]
    assert compliance["agent_overrides"] == 1 and compliance["agent_overrides_by_rule"] == {"promise_of_returns": 1}
    assert compliance["promises_of_returns_by"] == {"agent": 1}  # the overridden draft; the edited one denies


def test_asking_for_a_code_is_refused_telling_never_to_share_one_passes(system, agent, database_url):
    with with_agent(system, agent) as (customer, conversation_id):
        status, answer = send(agent, conversation_id, "为了核实身份，请提供您的验证码")
        assert status == 422 and [f["rule"] for f in answer["error"]["findings"]] == ["credential_request"]
        assert answer["error"]["findings"][0]["span"] == "请提供您的验证码"
        assert send(agent, conversation_id, "请勿向任何人透露验证码，包括我们的工作人员。")[0] == 200
        assert said_to(customer, "agent") == ["请勿向任何人透露验证码，包括我们的工作人员。"]
    with with_agent(system, agent, language="en") as (customer, conversation_id):
        status, answer = send(agent, conversation_id, "Could you send me the SMS code you just received?")
        assert status == 422 and answer["error"]["findings"][0]["span"] == "send me the SMS code"
        # A reason with nothing to override is no override.
        assert send(agent, conversation_id, "Never share the SMS code with anyone, including us.", override_reason="just in case")[0] == 200
    assert stored_by_agents(database_url, conversation_id) == ["Never share the SMS code with anyone, including us."]
    assert [e.action for e in audited(database_url, conversation_id) if e.action.startswith("reply")] == ["reply"]


def test_a_product_named_without_the_disclosure_gets_it_offered_in_the_customers_language(system, agent, database_url):
    with with_agent(system, agent, "demo-english", language="en") as (customer, conversation_id):
        draft = "Cash Plus starts at 100 CNY and you can redeem it any day."
        status, answer = check(agent, conversation_id, draft)
        assert status == 200 and answer["disclosure"] == DISCLOSURE_EN
        [finding] = answer["findings"]
        assert (finding["rule"], finding["span"], finding["product"]) == ("missing_disclosure", "Cash Plus", "EG-MM01")
        assert stored_by_agents(database_url, conversation_id) == []  # a check sends nothing

        status, answer = send(agent, conversation_id, draft)
        assert status == 422 and answer["error"]["disclosure"] == DISCLOSURE_EN
        accepted = f"{draft}\n{answer['error']['disclosure']}"  # what the console does when the agent accepts it
        assert send(agent, conversation_id, accepted)[0] == 200
        assert said_to(customer, "agent") == [accepted]
    with with_agent(system, agent, "demo-premier") as (customer, conversation_id):
        status, answer = check(agent, conversation_id, "货币宝起购金额是 100 元。")
        assert status == 200 and answer["disclosure"] == DISCLOSURE_ZH
        assert check(agent, conversation_id, f"货币宝起购金额是 100 元。{DISCLOSURE_ZH}")[1] == {"findings": [], "disclosure": None}


def test_recommending_a_product_above_the_verified_risk_level_is_refused(system, agent):
    with with_agent(system, agent, "demo-premier") as (customer, conversation_id):  # C3
        status, answer = send(agent, conversation_id, f"我推荐您买成长精选，收益更高。{DISCLOSURE_ZH}")
        assert status == 422
        [finding] = answer["error"]["findings"]
        assert (finding["rule"], finding["span"], finding["product"], finding["product_risk"], finding["customer_level"]) == \
            ("above_risk_level", "成长精选", "EG-EQ04", "R4", "C3")
        assert send(agent, conversation_id, f"成长精选超出您的风险等级，我推荐您看看平衡配置。{DISCLOSURE_ZH}")[0] == 200
    with with_agent(system, agent, "demo-english", language="en") as (customer, conversation_id):  # C4
        draft = f"I recommend Evergreen Private Equity Fund I for you. {DISCLOSURE_EN}"
        assert [(f["rule"], f["product"]) for f in check(agent, conversation_id, draft)[1]["findings"]] == \
            [("above_risk_level", "EG-PE05")]
        assert check(agent, conversation_id, f"I recommend Growth Equity Select for you. {DISCLOSURE_EN}")[1]["findings"] == []
    with with_agent(system, agent, language="en") as (customer, conversation_id):  # no verified level: nothing to compare
        assert check(agent, conversation_id, draft)[1]["findings"] == []


def test_a_draft_is_checked_only_on_a_conversation_the_agent_may_see(system, agent):
    assert check(agent, "no-such-conversation", "保本")[0] == 404
    with with_agent(system, agent) as (customer, conversation_id):
        assert check(agent, conversation_id, "")[0] == 422
        status, answer = agent.call("POST", f"/console/api/conversations/{conversation_id}/messages/check",
                                    {"text": "保本"}, csrf=False)
        assert status == 403
