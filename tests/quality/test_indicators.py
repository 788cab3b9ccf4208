"""The chapter 8.1 indicators over a generated history whose answers are known, on SQLite and
PostgreSQL: every figure below is counted by hand from the rows this file writes."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
import yaml

from bot import knowledge
from bot.complaints.desk import ComplaintDesk, ComplaintDraft
from bot.complaints.models import Complaint
from bot.core.models import Conversation, Message
from bot.handoff.models import Handoff
from channels.email.channel import EmailChannel
from bot.compliance import asks_for_credentials
from bot.quality.indicators import Filters, Indicators, InvalidPeriod, percentile
from bot.service_hours import SHANGHAI
from bot.surveys import Survey
from channels.email.models import EmailMail, EmailOutbox, EmailTicket

DAY = date(2026, 11, 30)  # a Monday
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=SHANGHAI)


def at(hour: int, minute: int = 0, second: float = 0, day: date = DAY) -> datetime:
    moment = datetime(day.year, day.month, day.day, hour, minute, tzinfo=SHANGHAI) + timedelta(seconds=second)
    return moment.astimezone(timezone.utc)  # how the contact service stores message times


@pytest.fixture
def history(sessions):
    """Two days of records: the 30th (the period) and the 29th (outside it)."""
    with sessions() as s:
        s.add_all([
            Conversation(id="web-zh", channel="web", owner="bot", language="zh"),
            Conversation(id="web-en", channel="web", owner="bot", language="en"),
            Conversation(id="tg-1", channel="telegram", owner="bot", language="zh"),
            Conversation(id="em-1", channel="email", owner="bot", language="en"),
        ])
        s.flush()
        # Customer messages with what the assistant understood, and the reply's delay in seconds.
        turns = [
            ("web-zh", "货币宝起购金额", "product_info", 0.97, 1.0, at(9)),
            ("web-zh", "手续费怎么收", "faq/fees", 0.91, 2.0, at(9, 5)),
            ("web-zh", "asdf qwer", "nlu_fallback", 0.31, 3.0, at(9, 10)),
            ("web-en", "what is the weather", "out_of_scope", 0.88, 4.0, at(10)),
            ("web-en", "Asdf   QWER", "nlu_fallback", 0.2, 5.0, at(10, 1)),
            ("tg-1", "我的钱呢 13812345678", "complaint_status", 0.52, 10.0, at(11)),  # low confidence
            ("tg-1", "谢谢", "thank", 0.99, 20.0, at(11, 2)),
            ("web-zh", "昨天的问题", "greet", 0.99, 1.0, at(23, 0, day=DAY - timedelta(days=1))),  # outside
        ]
        for conversation, text, intent, confidence, delay, moment in turns:
            inbound = Message(conversation_id=conversation, direction="in", sender="customer", text=text, status="answered",
                              intent=intent, confidence=confidence, created_at=moment)
            s.add(inbound)
            s.flush()
            action = "action_answer_product" if intent == "product_info" else "action_small_talk"
            s.add(Message(conversation_id=conversation, direction="out", sender="bot", text="答复", status="sent",
                          reply_to=inbound.id, action=action, created_at=moment + timedelta(seconds=delay),
                          disclosure="理财非存款" if intent == "product_info" else None))
        s.add(Message(conversation_id="web-zh", direction="in", sender="customer", text="还在吗", status="pending",
                      created_at=at(12)))  # not answered (the assistant was down): no reply time, not judged
        s.add(Message(conversation_id="web-zh", direction="in", sender="customer", text="上周买的R4产品不适合我", status="answered",
                      intent="product_info", confidence=0.52, action="validate_complaint_form",
                      created_at=at(12, 5)))  # an answer inside the complaint form: not judged
        # Product answers: the one above with the disclosure, plus one more with it and one without.
        s.add_all([
            Message(conversation_id="web-en", direction="out", sender="bot", text="Our funds:", status="sent",
                    action="action_list_products", disclosure="Not deposits", created_at=at(10, 3)),
            Message(conversation_id="web-en", direction="out", sender="bot", text="Market today", status="sent",
                    action="action_market_update", disclosure=None, created_at=at(10, 4)),
            Message(conversation_id="web-zh", direction="out", sender="bot", text=knowledge.message("complaint_urgent", "zh", reference="C1"),
                    status="sent", action="action_report_fraud", created_at=at(9, 20)),  # "never share a code": no request
        ])
        # Handoffs: waiting 60 s and 180 s, first agent replies after 90 s and 300 s; one never claimed.
        s.add_all([
            Handoff(conversation_id="web-zh", tier="standard", language="zh", channel="web", reason="customer_request",
                    queue="general", urgent=False, state="resolved", agent_id=None, requested_at=at(13).astimezone(SHANGHAI),
                    claimed_at=at(13, 1).astimezone(SHANGHAI), resolved_at=at(14).astimezone(SHANGHAI)),
            Handoff(conversation_id="tg-1", tier="private", language="zh", channel="telegram", reason="misunderstood",
                    queue="private", urgent=False, state="resolved", requested_at=at(15).astimezone(SHANGHAI),
                    claimed_at=at(15, 3).astimezone(SHANGHAI), resolved_at=at(16).astimezone(SHANGHAI)),
            Handoff(conversation_id="web-en", tier="standard", language="en", channel="web", reason="misunderstood",
                    queue="general", urgent=False, state="withdrawn", requested_at=at(17).astimezone(SHANGHAI)),
        ])
        s.add_all([
            Message(conversation_id="web-zh", direction="out", sender="agent", text="您好", status="sent", created_at=at(13, 1, 30)),
            Message(conversation_id="web-zh", direction="out", sender="agent", text="请提供您的交易密码以便核实", status="sent",
                    created_at=at(13, 2)),  # an agent asking for a password: counted
            Message(conversation_id="tg-1", direction="out", sender="agent", text="您好，我看一下", status="sent",
                    created_at=at(15, 5)),
        ])
        s.flush()
        private = s.query(Handoff).filter_by(conversation_id="tg-1").one()
        general = s.query(Handoff).filter_by(conversation_id="web-zh").one()
        # Surveys: 5 and 4 after agents, 4 and 1 after the bot, one not answered; one outside.
        for conversation, channel, language, trigger, handoff, rating, comment in [
            ("web-zh", "web", "zh", "agent", general.id, 5, "很快"),
            ("tg-1", "telegram", "zh", "agent", private.id, 4, None),
            ("web-en", "web", "en", "bot", None, 4, None),
            ("web-en", "web", "en", "bot", None, 1, "call me 13812345678"),
            ("web-zh", "web", "zh", "bot", None, None, None),
        ]:
            s.add(Survey(conversation_id=conversation, channel=channel, language=language, trigger=trigger, handoff_id=handoff,
                         asked_at=at(18).astimezone(SHANGHAI), rating=rating,
                         rated_at=at(18, 1).astimezone(SHANGHAI) if rating else None, comment=comment))
        s.add(Survey(conversation_id="web-zh", channel="web", language="zh", trigger="bot",
                     asked_at=at(18, day=DAY - timedelta(days=2)).astimezone(SHANGHAI), rating=2,
                     rated_at=at(18, day=DAY - timedelta(days=2)).astimezone(SHANGHAI)))
        s.commit()

    desk = ComplaintDesk(sessions)
    received = {}
    for key, channel, received_at in [("met", "web", at(9)), ("late", "web", at(10)), ("open", "telegram", at(11))]:
        received[key] = desk.file(ComplaintDraft(source_key=key, conversation_id=None, customer_id=None, channel=channel,
                                                 language="zh", category="fees", description="多收了费用"), received_at)
    with sessions() as s:
        met = s.get(Complaint, received["met"].id)
        met.first_replied_at = met.received_at + timedelta(hours=2)
        met.resolved_at, met.state = met.received_at + timedelta(days=1), "resolved"
        late = s.get(Complaint, received["late"].id)
        late.first_replied_at = late.received_at + timedelta(hours=30)  # after the 24 h
        # "open": never replied to; its first reply was due on 1 Dec, before NOW: overdue now
        # Email: received 09:00:00, acknowledgement sent 4 s and 75 s later.
        for n, (sent_after, language) in enumerate([(4, "en"), (75, "zh")]):
            s.add(Conversation(id=f"em-{n}x", channel="email", owner="bot", language=language))
            s.flush()
            row = EmailOutbox(message_id=f"<ack{n}@us>", envelope_from="s@us", recipients=["c@them"], subject="s", message=b"x",
                              state="sent", attempts=1, next_attempt_at=at(9), created_at=at(9), updated_at=at(9),
                              sent_at=(at(9) + timedelta(seconds=sent_after)).astimezone(SHANGHAI))
            s.add(row)
            s.flush()
            s.add(EmailTicket(reference=f"Q20261130-000{n + 1}", source_key=f"<mail{n}@them>", conversation_id=f"em-{n}x",
                              language=language, category="faq", subject="s", created_at=at(9).astimezone(SHANGHAI),
                              acknowledgement_id=row.id, acknowledged_at=at(9).astimezone(SHANGHAI)))
            s.add(EmailMail(message_id=f"<mail{n}@them>", direction="in", state="processed", received_at=at(9).astimezone(SHANGHAI)))
        s.commit()
    return Indicators(sessions, [EmailChannel().quality])


def test_every_indicator_of_the_day(history):
    board = history.dashboard(Filters(DAY, DAY), NOW).as_dict()

    assert board["satisfaction"] == {
        "asked": 5, "rated": 4, "response_rate": 0.8, "average": 3.5,
        "distribution": {"1": 1, "2": 0, "3": 0, "4": 2, "5": 1}, "by_trigger": {"agent": 4.5, "bot": 2.5},
    }
    comments = board["tables"]["satisfaction_comments"]["rows"]
    assert [row[-1] for row in comments] == ["call me 138****5678", "很快"]  # latest first, masked

    speed = board["speed"]
    assert speed["assistant_reply"] == {"count": 7, "p50": 4.0, "p95": 20.0}  # 1 2 3 4 5 10 20
    assert speed["human_wait"] == {"count": 2, "p50": 60.0, "p95": 180.0}
    assert speed["first_human_reply"] == {"count": 2, "p50": 90.0, "p95": 300.0}
    assert speed["not_claimed"] == 1
    assert speed["email_acknowledgement"] == {"count": 2, "p50": 4.0, "p95": 75.0, "within_minute": 0.5}

    accuracy = board["accuracy"]
    assert (accuracy["customer_messages"], accuracy["judged"], accuracy["understood"]) == (9, 7, 3)
    assert accuracy["form_answers"] == 1
    assert (accuracy["understood_rate"], accuracy["fallback"], accuracy["fallback_rate"]) == (0.4286, 2, 0.2857)
    assert accuracy["top_misunderstood"][0] == {"text": "asdf qwer", "count": 2, "intent": "nlu_fallback", "confidence": 0.2}
    assert {t["text"] for t in accuracy["top_misunderstood"]} == {"asdf qwer", "what is the weather", "我的钱呢 138****5678"}
    assert accuracy["handoffs_by_reason"] == {"misunderstood": 2, "customer_request": 1}

    compliance = board["compliance"]
    assert (compliance["product_answers"], compliance["with_disclosure"], compliance["disclosure_rate"]) == (3, 2, 0.6667)
    assert compliance["credential_requests"] == 1 and compliance["credential_requests_by"] == {"agent": 1}

    complaints = board["complaints"]
    assert (complaints["received"], complaints["open"], complaints["overdue_now"]) == (3, 2, 1)  # "late" was answered late: no longer overdue
    assert complaints["first_reply_in_24h"] == {"met": 1, "missed": 2, "pending": 0, "rate": 0.3333}
    assert complaints["resolved_in_time"] == {"met": 1, "missed": 0, "pending": 2, "rate": 1.0}

    assert board["trends"]["days"] == ["2026-11-30"] and board["trends"]["customer_messages"] == [9]


def test_filters_narrow_what_they_apply_to(history):
    web = history.dashboard(Filters(DAY, DAY, channel="web"), NOW).as_dict()
    assert web["accuracy"]["customer_messages"] == 7 and web["speed"]["email_acknowledgement"]["count"] == 0
    assert web["satisfaction"]["asked"] == 4 and web["complaints"]["received"] == 2
    english = history.dashboard(Filters(DAY, DAY, language="en"), NOW).as_dict()
    assert english["accuracy"]["judged"] == 2 and english["satisfaction"]["average"] == 2.5
    assert english["speed"]["email_acknowledgement"]["count"] == 1
    private = history.dashboard(Filters(DAY, DAY, queue="private"), NOW).as_dict()
    assert private["speed"]["human_wait"] == {"count": 1, "p50": 180.0, "p95": 180.0}
    assert private["satisfaction"]["rated"] == 1 and private["accuracy"]["handoffs_by_reason"] == {"misunderstood": 1}


def test_a_longer_period_has_a_trend_per_day(history):
    board = history.dashboard(Filters(DAY - timedelta(days=2), DAY), NOW).as_dict()
    assert board["trends"]["days"] == ["2026-11-28", "2026-11-29", "2026-11-30"]
    assert board["trends"]["customer_messages"] == [0, 1, 9]
    assert board["trends"]["satisfaction"] == [2.0, None, 3.5]
    assert board["satisfaction"]["asked"] == 6


def test_periods_are_checked():
    with pytest.raises(InvalidPeriod):
        Filters(DAY, DAY - timedelta(days=1))
    with pytest.raises(InvalidPeriod):
        Filters(DAY - timedelta(days=400), DAY)


def test_percentiles_are_values_that_occurred():
    assert percentile([], 50) is None
    assert percentile([3.0], 95) == 3.0
    assert [percentile([1, 2, 3, 4], p) for p in (50, 95)] == [2, 4]


@pytest.mark.parametrize("text", [
    "请提供您的交易密码以便核实", "麻烦告诉我短信验证码", "Please send me your verification code", "reply with your OTP",
    "Could you tell us your password?",
])
def test_asking_for_a_credential_is_recognised(text):
    assert asks_for_credentials(text)


def test_nothing_the_assistant_says_asks_for_a_credential():
    """Every customer-facing text in the knowledge files, in both languages."""
    texts = []
    for name in ("messages", "faq", "complaints", "products", "market", "complaint_updates"):
        def walk(value):
            if isinstance(value, str):
                texts.append(value)
            elif isinstance(value, dict):
                for item in value.values():
                    walk(item)
            elif isinstance(value, list):
                for item in value:
                    walk(item)
        walk(yaml.safe_load((knowledge.KNOWLEDGE_DIR / f"{name}.yml").read_text(encoding="utf-8")))
    assert len(texts) > 200
    assert [t for t in texts if asks_for_credentials(t)] == []
