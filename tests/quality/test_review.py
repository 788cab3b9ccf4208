"""The review of misunderstood messages and the early warnings, on SQLite and PostgreSQL: what is
listed and why, labels, the export read back by Rasa's own training-data reader, and warnings
over a generated complaint history."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader

from bot.complaints.desk import ComplaintDesk, ComplaintDraft
from bot.core.models import Conversation, Message
from bot.handoff.models import Handoff
from bot.quality.early_warning import warnings
from bot.quality.indicators import Filters
from bot.quality.review import IGNORE, InvalidLabel, Review, intents
from bot.service_hours import SHANGHAI

DAY = date(2026, 11, 30)
NOW = datetime(2026, 11, 30, 20, 0, tzinfo=SHANGHAI)


def at(hour: int, minute: int = 0, day: date = DAY) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=SHANGHAI).astimezone(timezone.utc)


@pytest.fixture
def review(sessions):
    with sessions() as s:
        s.add_all([Conversation(id="web-1", channel="web", owner="bot", language="zh"),
                   Conversation(id="tg-1", channel="telegram", owner="bot", language="en")])
        s.flush()
        for conversation, text, intent, confidence, moment in [
            ("web-1", "asdf qwer", "nlu_fallback", 0.2, at(9)),
            ("web-1", "今天天气怎么样", "out_of_scope", 0.9, at(9, 1)),
            ("web-1", "那个基金[R3]咋样 13812345678", "product_info", 0.45, at(9, 2)),  # low confidence
            ("web-1", "货币宝起购金额", "product_info", 0.97, at(9, 3)),  # understood: not listed
            ("tg-1", "my money hasn't arrived", "complaint_status", 0.7, at(10)),  # understood, but a handoff followed
            ("tg-1", "blah", "nlu_fallback", 0.1, at(10, 0, DAY - timedelta(days=1))),  # outside the period
        ]:
            s.add(Message(conversation_id=conversation, direction="in", sender="customer", text=text, status="answered",
                          intent=intent, confidence=confidence, created_at=moment))
        s.add(Message(conversation_id="web-1", direction="in", sender="customer", text="R4产品不适合我", status="answered",
                      intent="product_info", confidence=0.4, action="validate_complaint_form",
                      created_at=at(9, 4)))  # an answer inside a form: the form checks it, not listed
        s.add(Handoff(conversation_id="tg-1", tier="standard", language="en", channel="telegram", reason="misunderstood",
                      queue="general", state="waiting", requested_at=at(10, 1).astimezone(SHANGHAI)))
        s.commit()
    return Review(sessions)


def test_what_is_up_for_review_and_why(review):
    items = review.items(Filters(DAY, DAY), "all")
    assert [(i.text, i.reason) for i in items] == [
        ("my money hasn't arrived", "before_handoff"),
        ("那个基金[R3]咋样 138****5678", "low_confidence"),
        ("今天天气怎么样", "out_of_scope"),
        ("asdf qwer", "fallback"),
    ]
    assert [i.text for i in review.items(Filters(DAY, DAY, channel="telegram"))] == ["my money hasn't arrived"]


def test_labels_become_rasa_training_data(review):
    allowed = intents()
    items = {i.reason: i for i in review.items(Filters(DAY, DAY))}
    with pytest.raises(InvalidLabel):
        review.label(items["fallback"].message_id, "nlu_fallback", "sup", NOW, allowed)
    review.label(items["low_confidence"].message_id, "product_info", "sup", NOW, allowed)
    review.label(items["before_handoff"].message_id, "complaint_status", "sup", NOW, allowed)
    review.label(items["out_of_scope"].message_id, "faq/fees", "sup", NOW, allowed)
    review.label(items["out_of_scope"].message_id, "out_of_scope", "sup", NOW, allowed)  # changed their mind
    review.label(items["fallback"].message_id, IGNORE, "sup", NOW, allowed)
    assert [i.reason for i in review.items(Filters(DAY, DAY))] == []  # all labelled
    assert len(review.items(Filters(DAY, DAY), "labelled")) == 4

    exported = review.export()
    data = RasaYAMLReader().reads(exported)
    examples = {(m.get("intent"), m.get("text")) for m in data.intent_examples}
    assert examples == {
        ("product_info", "那个基金(R3)咋样 138****5678"),  # masked, and no bracket for Rasa to read as an entity
        ("complaint_status", "my money hasn't arrived"),
        ("out_of_scope", "今天天气怎么样"),
    }
    assert data.entity_examples == []


def test_an_empty_export_is_still_valid_training_data(review):
    assert RasaYAMLReader().reads(review.export()).training_examples == []


def test_labels_are_the_domains_intents():
    allowed = intents()
    assert {"product_info", "faq/fees", "faq/open_account", "report_fraud", IGNORE} <= set(allowed)
    assert "nlu_fallback" not in allowed and "EXTERNAL_survey" not in allowed and "faq" not in allowed


def complaints_on(desk: ComplaintDesk, day: date, n: int, category: str, product=None, key: str = "") -> None:
    for i in range(n):
        desk.file(ComplaintDraft(source_key=f"{key}{category}{product}{day}{i}", conversation_id=None, customer_id=None,
                                 channel="web", language="zh", category=category, description="…", product=product),
                  datetime(day.year, day.month, day.day, 10, i, tzinfo=SHANGHAI))


def test_early_warning_flags_what_is_well_above_its_usual_level(sessions):
    desk = ComplaintDesk(sessions)
    for n in range(3, 31):  # the 28 baseline days before the last three: one fee complaint a day, MM01 each other day
        day = DAY - timedelta(days=n)
        complaints_on(desk, day, 1, "fees", "MM01" if n % 2 else None)
    for n in range(3):  # the last three days: four fee complaints a day, MM01 as usual
        day = DAY - timedelta(days=n)
        complaints_on(desk, day, 4, "fees", key="recent")
        complaints_on(desk, day, 1, "product_service", "MM01" if n == 0 else None, key="pm")
    complaints_on(desk, DAY, 3, "contract_legal", "PE01", key="new")  # new: three at once
    flagged = {(w.dimension, w.value): w for w in warnings(sessions, DAY)}
    assert set(flagged) == {("category", "fees"), ("category", "product_service"), ("category", "contract_legal"),
                            ("product", "PE01")}
    fees = flagged[("category", "fees")]
    assert (fees.recent, fees.recent_per_day, fees.usual_per_day) == (12, 4.0, 1.0)
    # One MM01 complaint in the last three days is its usual level (one every other day).
    assert ("product", "MM01") not in flagged
    assert warnings(sessions, DAY, min_count=20) == []
