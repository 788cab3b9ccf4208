"""The service-quality indicators of chapter 8.1, computed from the stored records for a period.

Every figure is counted from rows, never estimated: customer messages and the assistant's
replies (with what it understood, ``messages.intent``/``confidence``/``action``), handoffs,
surveys, complaints, email tickets and the outbox. Times are Beijing days; a period is
``start``–``end`` inclusive. Percentiles are nearest-rank (the smallest value with at least p% of
the values at or below it), so every p50/p95 is a time that really occurred.

Filters: ``channel`` and ``language`` narrow every indicator that has them; ``queue`` (general /
private) narrows what agents do (waiting, first reply, handoffs, ratings of agents), the rest
ignores it. Answers to the assistant's own questions (inside a form) are not judged for
accuracy. The definitions are in docs/quality.md.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased, sessionmaker

from bot import compliance
from bot.complaints import report as complaint_report
from bot.complaints.desk import OPEN_STATES
from bot.complaints.models import Complaint
from bot.core.audit import AuditEntry
from bot.core import settings
from bot.core.models import Conversation, Message
from bot.core.time import as_aware
from bot.handoff.models import Handoff
from bot.privacy import mask_sensitive
from bot.service_hours import SHANGHAI
from bot.surveys import Survey

LOW_CONFIDENCE = 0.6  # an answer given with less confidence than this counts as not understood
NOT_UNDERSTOOD = ("nlu_fallback", "out_of_scope")
PRODUCT_ACTIONS = (
    "action_answer_product", "action_list_products", "action_recommend_products", "action_answer_purchase", "action_market_update",
)
TOP_MISUNDERSTOOD = 10
LATEST_COMMENTS = 20
MAX_DAYS = 366

class InvalidPeriod(ValueError):
    pass


@dataclass(frozen=True)
class Filters:
    start: date
    end: date
    channel: Optional[str] = None
    queue: Optional[str] = None
    language: Optional[str] = None

    def __post_init__(self):
        if self.end < self.start:
            raise InvalidPeriod("the end date is before the start date")
        if (self.end - self.start).days >= MAX_DAYS:
            raise InvalidPeriod(f"a period is at most {MAX_DAYS} days")

    @property
    def since(self) -> datetime:
        return datetime.combine(self.start, time(0), tzinfo=SHANGHAI)

    @property
    def until(self) -> datetime:
        return datetime.combine(self.end + timedelta(days=1), time(0), tzinfo=SHANGHAI)

    def days(self) -> List[date]:
        return [self.start + timedelta(days=n) for n in range((self.end - self.start).days + 1)]


def percentile(values: Sequence[float], p: float) -> Optional[float]:
    """Nearest-rank percentile of ``values`` (``None`` for none)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(math.ceil(p / 100 * len(ordered)), 1) - 1]


def spread(seconds: Sequence[float]) -> Dict[str, Any]:
    return {"count": len(seconds), "p50": _round(percentile(seconds, 50)), "p95": _round(percentile(seconds, 95))}


def ratio(part: int, whole: int) -> Optional[float]:
    return round(part / whole, 4) if whole else None


def _round(value: Optional[float], digits: int = 1) -> Optional[float]:
    return None if value is None else round(value, digits)


def utc_bound(moment: datetime) -> datetime:
    """A bound for the messages table: in UTC, which is how SQLite holds its times (PostgreSQL
    compares aware times whatever their zone)."""
    return moment.astimezone(timezone.utc)


def _day(moment: datetime) -> date:
    return as_aware(moment).astimezone(SHANGHAI).date()


@dataclass
class Dashboard:
    filters: Filters
    now: datetime
    sections: Dict[str, Any] = field(default_factory=dict)
    tables: Dict[str, Tuple[List[str], List[List[Any]]]] = field(default_factory=dict)

    def as_dict(self) -> Dict[str, Any]:
        f = self.filters
        return {
            "filters": {"from": f.start.isoformat(), "to": f.end.isoformat(), "channel": f.channel, "queue": f.queue,
                        "language": f.language},
            "computed_at": self.now.astimezone(SHANGHAI).isoformat(timespec="seconds"),
            **self.sections,
            "tables": {name: {"columns": columns, "rows": rows} for name, (columns, rows) in self.tables.items()},
        }


class Indicators:
    """Computes a Dashboard from the database (synchronous; run it off the event loop)."""

    def __init__(self, sessions: sessionmaker, channels: Sequence[Callable[[Session, "Dashboard"], None]] = (),
                 wait_service_level: Optional[float] = None):
        self.sessions = sessions
        self.channels = channels  # the channels' own indicators (Channel.quality)
        # Seconds a customer should wait live for an agent at most (CONTACT_WAIT_SERVICE_LEVEL).
        self.wait_service_level = settings.wait_service_level() if wait_service_level is None else wait_service_level

    def dashboard(self, filters: Filters, now: datetime) -> Dashboard:
        board = Dashboard(filters, now)
        with self.sessions() as session:
            self._satisfaction(session, board)
            self._speed_and_accuracy(session, board)
            self._human_service(session, board)
            for add_indicators in self.channels:
                add_indicators(session, board)
            self._complaints(session, board)
        return board

    # --- filters ---------------------------------------------------------------------------------

    @staticmethod
    def _conversation_filters(filters: Filters) -> List[Any]:
        conditions = []
        if filters.channel:
            conditions.append(Conversation.channel == filters.channel)
        if filters.language:
            conditions.append(Conversation.language == filters.language)
        return conditions

    # --- satisfaction ----------------------------------------------------------------------------

    def _satisfaction(self, session: Session, board: Dashboard) -> None:
        f = board.filters
        query = select(Survey, Handoff.queue).outerjoin(Handoff, Handoff.id == Survey.handoff_id).where(
            Survey.asked_at >= f.since, Survey.asked_at < f.until)
        if f.channel:
            query = query.where(Survey.channel == f.channel)
        if f.language:
            query = query.where(Survey.language == f.language)
        if f.queue:
            query = query.where(Handoff.queue == f.queue)
        surveys = [survey for survey, _queue in session.execute(query.order_by(Survey.asked_at, Survey.id))]
        rated = [s for s in surveys if s.rating is not None]
        distribution = Counter(s.rating for s in rated)
        comments = [s for s in rated if s.comment][-LATEST_COMMENTS:]
        board.sections["satisfaction"] = {
            "asked": len(surveys), "rated": len(rated), "response_rate": ratio(len(rated), len(surveys)),
            "average": round(sum(s.rating for s in rated) / len(rated), 2) if rated else None,
            "distribution": {str(n): distribution.get(n, 0) for n in range(1, 6)},
            "by_trigger": {trigger: _average([s.rating for s in rated if s.trigger == trigger]) for trigger in ("agent", "bot")},
        }
        board.tables["satisfaction_distribution"] = (["rating", "count"], [[n, distribution.get(n, 0)] for n in range(1, 6)])
        board.tables["satisfaction_comments"] = (
            ["rated_at", "rating", "channel", "language", "trigger", "comment"],
            [[_iso(s.rated_at), s.rating, s.channel, s.language, s.trigger, mask_sensitive(s.comment)]
             for s in reversed(comments)])
        per_day = {day: [s.rating for s in rated if _day(s.asked_at) == day] for day in f.days()}  # as selected
        board.sections.setdefault("trends", {})["satisfaction"] = [_average(per_day[day]) for day in f.days()]

    # --- the assistant: speed, accuracy, compliance ------------------------------------------------

    def _speed_and_accuracy(self, session: Session, board: Dashboard) -> None:
        f = board.filters
        reply = aliased(Message)
        first_reply = (select(reply.reply_to.label("inbound_id"), func.min(reply.created_at).label("at"))
                       .where(reply.reply_to.isnot(None), reply.sender == "bot").group_by(reply.reply_to).subquery())
        query = (select(Message.id, Message.text, Message.intent, Message.confidence, Message.action, Message.created_at,
                        first_reply.c.at)
                 .join(Conversation, Conversation.id == Message.conversation_id)
                 .outerjoin(first_reply, first_reply.c.inbound_id == Message.id)
                 .where(Message.direction == "in", Message.sender == "customer", Message.created_at >= utc_bound(f.since),
                        Message.created_at < utc_bound(f.until), *self._conversation_filters(f)))
        rows = session.execute(query).all()
        answered = [r for r in rows if r.at is not None]
        board.sections["speed"] = {"assistant_reply": spread(
            [(as_aware(r.at) - as_aware(r.created_at)).total_seconds() for r in answered])}

        judged = [r for r in rows if r.intent is not None and not in_a_form(r.action)]
        misunderstood = [r for r in judged if not understood(r.intent, r.confidence)]
        fallback = [r for r in judged if r.intent == "nlu_fallback"]
        groups: Dict[str, List[Any]] = {}
        for r in misunderstood:
            groups.setdefault(" ".join(mask_sensitive(r.text).lower().split())[:200], []).append(r)
        top = sorted(groups.items(), key=lambda item: (-len(item[1]), item[0]))[:TOP_MISUNDERSTOOD]
        accuracy = {
            "customer_messages": len(rows), "judged": len(judged),
            "form_answers": sum(1 for r in rows if in_a_form(r.action)),
            "understood": len(judged) - len(misunderstood), "understood_rate": ratio(len(judged) - len(misunderstood), len(judged)),
            "fallback": len(fallback), "fallback_rate": ratio(len(fallback), len(judged)),
            "top_misunderstood": [{"text": text, "count": len(found), "intent": found[-1].intent,
                                   "confidence": found[-1].confidence} for text, found in top],
        }
        board.sections["accuracy"] = accuracy
        board.tables["top_misunderstood"] = (["text", "count", "last_intent", "last_confidence"],
                                             [[t["text"], t["count"], t["intent"], t["confidence"]] for t in accuracy["top_misunderstood"]])
        trends = board.sections.setdefault("trends", {})
        trends["days"] = [day.isoformat() for day in f.days()]
        trends["customer_messages"] = [sum(1 for r in rows if _day(r.created_at) == day) for day in f.days()]
        trends["fallback_rate"] = [ratio(sum(1 for r in fallback if _day(r.created_at) == day),
                                         sum(1 for r in judged if _day(r.created_at) == day)) for day in f.days()]

        outbound = (select(Message.sender, Message.action, Message.disclosure, Message.text)
                    .join(Conversation, Conversation.id == Message.conversation_id)
                    .where(Message.direction == "out", Message.sender.in_(("bot", "agent")), Message.created_at >= utc_bound(f.since),
                           Message.created_at < utc_bound(f.until), *self._conversation_filters(f)))
        said = session.execute(outbound).all()
        product_answers = [m for m in said if m.sender == "bot" and m.action in PRODUCT_ACTIONS]
        with_disclosure = [m for m in product_answers if m.disclosure]
        requests = [m for m in said if compliance.asks_for_credentials(m.text)]
        promises = [m for m in said if compliance.promises_returns(m.text)]
        overrides = session.execute(
            select(AuditEntry.detail).join(Conversation, Conversation.id == AuditEntry.target)
            .where(AuditEntry.action == compliance.OVERRIDE, AuditEntry.at >= utc_bound(f.since), AuditEntry.at < utc_bound(f.until),
                   *self._conversation_filters(f))).scalars().all()
        board.sections["compliance"] = {
            "product_answers": len(product_answers), "with_disclosure": len(with_disclosure),
            "disclosure_rate": ratio(len(with_disclosure), len(product_answers)),
            "credential_requests": len(requests),
            "credential_requests_by": dict(Counter(m.sender for m in requests)),
            "promises_of_returns": len(promises),
            "promises_of_returns_by": dict(Counter(m.sender for m in promises)),
            "agent_overrides": len(overrides),
            "agent_overrides_by_rule": dict(Counter(rule for detail in overrides for rule in detail.get("rules", ()))),
        }

    # --- people: waiting, first reply, reasons -----------------------------------------------------

    def _human_service(self, session: Session, board: Dashboard) -> None:
        f = board.filters
        query = select(Handoff).where(Handoff.requested_at >= f.since, Handoff.requested_at < f.until)
        for column, value in ((Handoff.channel, f.channel), (Handoff.language, f.language), (Handoff.queue, f.queue)):
            if value:
                query = query.where(column == value)
        handoffs = list(session.execute(query.order_by(Handoff.id)).scalars())
        claimed = [h for h in handoffs if h.claimed_at is not None]
        agent_messages: Dict[str, List[datetime]] = {}
        if claimed:
            query = select(Message.conversation_id, Message.created_at).where(
                Message.sender == "agent", Message.conversation_id.in_({h.conversation_id for h in claimed}))
            for conversation_id, created_at in session.execute(query):
                agent_messages.setdefault(conversation_id, []).append(as_aware(created_at))
        first_replies = []
        for h in claimed:  # the agent's first message within this handoff (a conversation may come back)
            during = [at for at in agent_messages.get(h.conversation_id, ())
                      if at >= h.claimed_at and (h.resolved_at is None or at <= h.resolved_at)]
            if during:
                first_replies.append((min(during) - h.requested_at).total_seconds())
        board.sections["speed"]["human_wait"] = spread([(h.claimed_at - h.requested_at).total_seconds() for h in claimed])
        board.sections["speed"]["first_human_reply"] = spread(first_replies)
        reasons = Counter(h.reason for h in handoffs)
        board.sections["accuracy"]["handoffs"] = len(handoffs)
        board.sections["accuracy"]["handoffs_by_reason"] = dict(sorted(reasons.items(), key=lambda item: (-item[1], item[0])))
        board.tables["handoffs_by_reason"] = (["reason", "count"], [[r, n] for r, n in sorted(reasons.items(), key=lambda i: (-i[1], i[0]))])
        board.sections["speed"]["not_claimed"] = len(handoffs) - len(claimed)
        # Live waits beyond the service level: until an agent took the customer, they left a
        # message or the queue, or until now for those still waiting.
        level = self.wait_service_level
        waits = [((h.claimed_at or h.left_message_at or h.resolved_at or board.now) - h.requested_at).total_seconds()
                 for h in handoffs]
        board.sections["speed"]["wait_service_level_seconds"] = level
        board.sections["speed"]["waits_over_service_level"] = sum(1 for seconds in waits if seconds > level)
        board.sections["speed"]["left_messages"] = sum(1 for h in handoffs if h.left_message_at is not None)
        board.sections["speed"]["callbacks_instead"] = sum(1 for h in handoffs if h.callback_reference)

    # --- complaints --------------------------------------------------------------------------------

    def _complaints(self, session: Session, board: Dashboard) -> None:
        f = board.filters
        query = select(Complaint).where(Complaint.received_at >= f.since, Complaint.received_at < f.until)
        if f.channel:
            query = query.where(Complaint.channel == f.channel)
        if f.language:
            query = query.where(Complaint.language == f.language)
        complaints = list(session.execute(query.order_by(Complaint.received_at, Complaint.id)).scalars())
        result = complaint_report.ComplaintReport(f.start, f.end, board.now.astimezone(SHANGHAI), complaints)
        deadlines = {name: {**figures, "rate": None if figures["rate"] is None else round(figures["rate"], 4)}
                     for name, figures in result.compliance().items()}
        overdue_now = [c for c in complaints if c.state in OPEN_STATES and _past_due(c, board.now)]
        board.sections["complaints"] = {
            "received": len(complaints), "open": sum(1 for c in complaints if c.state in OPEN_STATES),
            "first_reply_in_24h": deadlines["first_reply"], "resolved_in_time": deadlines["resolution"],
            "regulatory": deadlines["regulatory"], "overdue_now": len(overdue_now),
            "by_category": dict(result.counts("category")),
        }
        board.sections["compliance"]["complaint_deadlines"] = deadlines
        board.tables["complaint_deadlines"] = (
            ["deadline", "met", "missed", "pending", "rate"],
            [[name, d["met"], d["missed"], d["pending"], d["rate"]] for name, d in deadlines.items()])
        board.sections.setdefault("trends", {})["complaints"] = [
            sum(1 for c in complaints if _day(c.received_at) == day) for day in f.days()]


def understood(intent: Optional[str], confidence: Optional[float]) -> bool:
    return intent not in NOT_UNDERSTOOD and (confidence is None or confidence >= LOW_CONFIDENCE)


def in_a_form(action: Optional[str]) -> bool:
    """Whether a customer message was an answer to one of the assistant's questions (a form's
    validation or question answered it first): its text is the answer, not a request to
    classify, so it is not judged for accuracy."""
    return bool(action) and (action.startswith("validate_") or action.startswith("action_ask_"))


def _average(values: Iterable[int]) -> Optional[float]:
    values = list(values)
    return round(sum(values) / len(values), 2) if values else None


def _iso(moment: Optional[datetime]) -> Optional[str]:
    return as_aware(moment).astimezone(SHANGHAI).isoformat(timespec="seconds") if moment else None


def _past_due(complaint: Complaint, now: datetime) -> bool:
    due = complaint.first_reply_due if complaint.first_replied_at is None else min(complaint.resolution_due, complaint.regulatory_due)
    return due < now
