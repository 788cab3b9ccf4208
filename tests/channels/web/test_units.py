"""Pieces of the contact service on their own: tokens, masking, CRM import, rate limit."""

import json
import time

import pytest
from rasa_sdk.events import SlotSet

from actions.products import ActionRecommendProducts
from bot.core import customers
from bot.server import customers as customers_command
from channels.web import identity
from bot.core.db import make_engine, session_factory
from channels.registry import migrate
from bot.core.ratelimit import RateLimiter
from bot import knowledge
from bot.core.rasa_client import read_replies, split_disclosure
from bot.privacy import mask_sensitive
from tests.support.trackers import make_tracker, run_action, texts


SECRET = "unit-test-secret-that-is-32-bytes-long!"


def test_identity_token_round_trip_and_refusals():
    verify = identity.IdentityVerifier(SECRET).verify
    assert verify(identity.sign_identity_token("c-1", SECRET)) == "c-1"
    with pytest.raises(identity.InvalidToken):
        verify(identity.sign_identity_token("c-1", SECRET, lifetime=-1))
    with pytest.raises(identity.InvalidToken):
        verify(identity.sign_identity_token("c-1", "another-secret-another-secret-1234"))
    with pytest.raises(identity.InvalidToken, match="15 minutes"):
        verify(identity.sign_identity_token("c-1", SECRET, lifetime=3600))


def test_a_session_token_is_not_a_visitor_token_and_vice_versa():
    session = identity.Session("conv-1", None, "v-1")
    session_token = identity.issue_session_token(session, SECRET)
    assert identity.read_session_token(session_token, SECRET) == session
    with pytest.raises(identity.InvalidToken):
        identity.read_visitor_token(session_token, SECRET)
    with pytest.raises(identity.InvalidToken):
        identity.read_session_token(identity.issue_visitor_token("v-1", SECRET), SECRET)


def test_conversation_ids_are_derived_and_distinct():
    assert identity.conversation_id_for("c-1", None) == identity.conversation_id_for("c-1", None)
    assert identity.conversation_id_for("c-1", None) != identity.conversation_id_for(None, "c-1")
    assert "c-1" not in identity.conversation_id_for("c-1", None)


@pytest.mark.parametrize(
    "text,expected",
    [
        ("手机13812345678", "手机138****5678"),
        ("ID 11010519491231002X ok", "ID 110105********002X ok"),
        ("card 6222-0212-3456-7890", "card 6222 **** **** 7890"),
        ("order 2026112800001 amount 1000000", "order 2026112800001 amount 1000000"),
    ],
)
def test_personal_numbers_are_masked(text, expected):
    assert mask_sensitive(text) == expected


def test_disclosure_is_split_off_the_end_only():
    zh = "理财非存款，产品有风险，投资须谨慎。"
    assert split_disclosure(f"答案\n{zh}") == {"text": "答案", "disclosure": zh}
    assert split_disclosure(f"{zh} 之后还有话") == {"text": f"{zh} 之后还有话", "disclosure": None}


def test_rate_limiter_window():
    limiter = RateLimiter(limit=2, window=0.2)
    assert limiter.retry_after("a") == 0 and limiter.retry_after("a") == 0
    assert limiter.retry_after("a") > 0
    assert limiter.retry_after("b") == 0
    time.sleep(0.25)
    assert limiter.retry_after("a") == 0


@pytest.fixture
def sessions(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'crm.db'}")
    migrate(engine)
    return session_factory(engine)


def test_crm_import_from_csv_and_json_upserts(tmp_path, sessions):
    csv_file = tmp_path / "crm.csv"
    csv_file.write_text("id,name,tier,risk_level,risk_expires,language\nc-1,周先生,premier,c3,2027-05-01,zh\n", encoding="utf-8")
    json_file = tmp_path / "crm.json"
    json_file.write_text(json.dumps([{"id": "c-1", "name": "周先生", "tier": "private", "risk_level": "C4", "risk_expires": "2027-05-01"}]), encoding="utf-8")
    with sessions() as session:
        assert customers.upsert(session, customers.read_export(csv_file)) == 1
        assert (customers.find(session, "c-1").tier, customers.find(session, "c-1").risk_level) == ("premier", "C3")
        customers.upsert(session, customers.read_export(json_file))
        session.expire_all()
        assert (customers.find(session, "c-1").tier, customers.find(session, "c-1").risk_level) == ("private", "C4")


@pytest.mark.parametrize(
    "row,problem",
    [
        ("c-2,Name,gold,C3,2027-01-01,zh", "tier"),
        ("c-2,Name,standard,C9,2027-01-01,zh", "risk_level"),
        ("c-2,Name,standard,C3,31/12/2027,zh", "risk_expires"),
        ("c 2,Name,standard,C3,2027-01-01,zh", "id"),
        ("c-2,,standard,C3,2027-01-01,zh", "name"),
    ],
)
def test_crm_import_rejects_a_bad_file_whole_naming_the_row(tmp_path, sessions, row, problem):
    path = tmp_path / "bad.csv"
    path.write_text("id,name,tier,risk_level,risk_expires,language\nc-1,Good,standard,C1,2027-01-01,zh\n" + row + "\n", encoding="utf-8")
    assert customers_command.main(["import", str(path), "--database-url", str(sessions.kw["bind"].url)]) == 1
    with sessions() as session:
        assert customers.find(session, "c-1") is None


async def test_the_latest_verified_profile_reaches_the_recommendation():
    old = {"verified": True, "tier": "private", "risk_level": "C5", "risk_expires": "2099-12-31"}
    now = {"verified": True, "tier": "premier", "risk_level": "C2", "risk_expires": "2099-12-31"}
    earlier = [{"event": "user", "text": "hi", "metadata": {"customer": old}, "parse_data": {"intent": {"name": "greet"}}}]
    tracker = make_tracker("recommend me a product", "recommend_product", earlier=earlier)
    tracker.events[-1]["metadata"] = {"customer": now}
    messages, events = await run_action(ActionRecommendProducts(), tracker)
    answer = texts(messages)
    assert "EG-MM01" in answer and "EG-BD02" in answer and "EG-BL03" not in answer
    assert SlotSet("customer_risk_level", "C2") in events and SlotSet("customer_tier", "premier") in events


def test_rasa_output_is_read_with_who_said_what_and_what_was_understood():
    zh = knowledge.risk_disclosure("zh")
    answer = read_replies([
        {"recipient_id": "c", "custom": {"understanding": {"action": "action_answer_product", "intent": "product_info", "confidence": 0.97}}},
        {"recipient_id": "c", "text": f"起购金额 100 元\n{zh}"},
        {"recipient_id": "c", "custom": {"understanding": {"action": "action_handoff", "intent": "product_info", "confidence": 0.97}}},
        {"recipient_id": "c", "text": "正在为您转接", "buttons": [{"title": "好", "payload": "/affirm"}]},
        {"recipient_id": "c", "custom": {"handoff": {"reason": "customer_request"}}},
    ])
    assert [(r["text"], r["disclosure"], r["action"]) for r in answer.replies] == [
        ("起购金额 100 元", zh, "action_answer_product"), ("正在为您转接", None, "action_handoff")]
    assert answer.understanding == {"action": "action_answer_product", "intent": "product_info", "confidence": 0.97}
    assert answer.handoff == {"reason": "customer_request"}
