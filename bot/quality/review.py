"""The review of misunderstood messages: supervisors label what customers meant, and the labels
become Rasa NLU training data for the next training run (chapters 8.2–8.3, 10.1).

What is up for review: a customer message the assistant answered with a fallback
(``nlu_fallback``), as out of scope, or with confidence under ``LOW_CONFIDENCE`` (not an answer to
one of its own questions inside a form, which the form checks); and the
customer message just before a handoff the assistant asked for because it did not understand
(reason ``misunderstood``). Texts are shown as stored: personal numbers were masked before any
message was stored, and are masked again here in case an older row predates a masking rule.

A label is an intent of the assistant's domain (``faq/<topic>`` for an FAQ topic) or ``ignore``
(noise, not worth training on). The export is Rasa's YAML training-data format; newlines in a
text become spaces so each example stays one line.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Dict, List, Optional

import yaml
from sqlalchemy import Column, DateTime, ForeignKey, Integer, String, Text, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot import knowledge
from bot.core.models import Base, Conversation, Message
from bot.core.settings import ROOT
from bot.handoff.models import Handoff
from bot.privacy import mask_sensitive
from bot.core.time import as_aware
from bot.quality.indicators import LOW_CONFIDENCE, NOT_UNDERSTOOD, Filters, in_a_form, utc_bound
from bot.service_hours import SHANGHAI

IGNORE = "ignore"
NOT_LABELS = {"nlu_fallback", "EXTERNAL_survey"}
MAX_ITEMS = 500


class NluLabel(Base):
    """A supervisor's reading of a customer message (migration ``0015_nlu_labels``)."""

    __tablename__ = "nlu_labels"
    message_id = Column(Integer, ForeignKey("messages.id"), primary_key=True)
    intent = Column(String(64), nullable=False)  # an intent of the domain, faq/<topic>, or "ignore"
    text = Column(Text, nullable=False)  # the masked text labelled (what the export trains on)
    labelled_by = Column(String(64), nullable=False)
    labelled_at = Column(DateTime(timezone=True), nullable=False)


class InvalidLabel(ValueError):
    pass


def intents(domain_path: Path = ROOT / "domain.yml") -> List[str]:
    """What a message may be labelled: the domain's intents (retrieval intents by topic), and ``ignore``."""
    domain = yaml.safe_load(domain_path.read_text(encoding="utf-8"))
    names: List[str] = []
    for entry in domain["intents"]:
        name = next(iter(entry)) if isinstance(entry, dict) else entry
        if name == "faq":
            names += [f"faq/{topic}" for topic in knowledge.load("faq")]
        elif name not in NOT_LABELS and not name.startswith("EXTERNAL_"):
            names.append(name)
    return names + [IGNORE]


@dataclass(frozen=True)
class ReviewItem:
    message_id: int
    conversation_id: str
    channel: str
    language: Optional[str]
    text: str
    intent: Optional[str]
    confidence: Optional[float]
    reason: str  # fallback | out_of_scope | low_confidence | before_handoff
    at: datetime
    label: Optional[str]

    def as_dict(self) -> Dict[str, object]:
        return {"message_id": self.message_id, "conversation_id": self.conversation_id, "channel": self.channel,
                "language": self.language, "text": self.text, "intent": self.intent, "confidence": self.confidence,
                "reason": self.reason, "at": self.at.astimezone(SHANGHAI).isoformat(timespec="seconds"), "label": self.label}


def _reason(intent: Optional[str], confidence: Optional[float]) -> Optional[str]:
    if intent == "nlu_fallback":
        return "fallback"
    if intent in NOT_UNDERSTOOD:
        return "out_of_scope"
    if intent is not None and confidence is not None and confidence < LOW_CONFIDENCE:
        return "low_confidence"
    return None


class Review:
    def __init__(self, sessions: sessionmaker):
        self.sessions = sessions

    def items(self, filters: Filters, status: str = "unlabelled") -> List[ReviewItem]:
        """Messages to review in the period, newest first; ``status``: unlabelled | labelled | all."""
        with self.sessions() as session:
            base = (select(Message, Conversation.channel, Conversation.language, NluLabel.intent)
                    .join(Conversation, Conversation.id == Message.conversation_id)
                    .outerjoin(NluLabel, NluLabel.message_id == Message.id)
                    .where(Message.direction == "in", Message.sender == "customer",
                           Message.created_at >= utc_bound(filters.since), Message.created_at < utc_bound(filters.until)))
            if filters.channel:
                base = base.where(Conversation.channel == filters.channel)
            if filters.language:
                base = base.where(Conversation.language == filters.language)
            doubtful = base.where(or_(Message.intent.in_(NOT_UNDERSTOOD), Message.confidence < LOW_CONFIDENCE))
            found = {row[0].id: (row, _reason(row[0].intent, row[0].confidence)) for row in session.execute(doubtful)
                     if not in_a_form(row[0].action)}
            for row in session.execute(base.where(Message.id.in_(self._before_misunderstood_handoffs(session, filters)))):
                found.setdefault(row[0].id, (row, "before_handoff"))
        items = [ReviewItem(m.id, m.conversation_id, channel, language, mask_sensitive(m.text), m.intent,
                            m.confidence, reason, as_aware(m.created_at), label)
                 for (m, channel, language, label), reason in found.values()]
        if status == "unlabelled":
            items = [i for i in items if i.label is None]
        elif status == "labelled":
            items = [i for i in items if i.label is not None]
        return sorted(items, key=lambda i: (i.at, i.message_id), reverse=True)[:MAX_ITEMS]

    @staticmethod
    def _before_misunderstood_handoffs(session: Session, filters: Filters) -> List[int]:
        """The last customer message before each handoff asked for because of a misunderstanding."""
        handoffs = session.execute(select(Handoff.conversation_id, Handoff.requested_at).where(
            Handoff.reason == "misunderstood", Handoff.requested_at >= filters.since, Handoff.requested_at < filters.until)).all()
        ids = []
        for conversation_id, requested_at in handoffs:
            last = session.execute(
                select(Message.id).where(Message.conversation_id == conversation_id, Message.sender == "customer",
                                         Message.created_at <= utc_bound(requested_at))
                .order_by(Message.created_at.desc(), Message.id.desc()).limit(1)).scalar()
            if last is not None:
                ids.append(last)
        return ids

    def label(self, message_id: int, intent: str, staff_id: str, now: datetime, allowed: List[str]) -> None:
        """Label (or relabel) a customer message."""
        if intent not in allowed:
            raise InvalidLabel(f"{intent!r} is not an intent of the assistant (nor 'ignore')")
        with self.sessions() as session:
            message = session.get(Message, message_id)
            if message is None or message.direction != "in" or message.sender != "customer":
                raise LookupError(message_id)
            text = " ".join(mask_sensitive(message.text).split())
            existing = session.get(NluLabel, message_id)
            if existing:
                existing.intent, existing.text, existing.labelled_by, existing.labelled_at = intent, text, staff_id, now
            else:
                session.add(NluLabel(message_id=message_id, intent=intent, text=text, labelled_by=staff_id, labelled_at=now))
            try:
                session.commit()
            except IntegrityError:  # labelled by someone else at this moment: theirs stands
                session.rollback()

    def export(self, filters: Optional[Filters] = None) -> str:
        """The labelled examples (not ``ignore``) as Rasa YAML NLU training data."""
        with self.sessions() as session:
            query = select(NluLabel.intent, NluLabel.text).where(NluLabel.intent != IGNORE)
            if filters:
                query = query.where(NluLabel.labelled_at >= utc_bound(filters.since), NluLabel.labelled_at < utc_bound(filters.until))
            rows = session.execute(query.order_by(NluLabel.intent, NluLabel.message_id)).all()
        examples: Dict[str, List[str]] = {}
        for intent, text in rows:
            if text and text not in examples.setdefault(intent, []):
                examples[intent].append(text)
        if not examples:
            return 'version: "3.1"\nnlu: []\n'
        lines = ['version: "3.1"', "nlu:"]
        for intent, texts in examples.items():
            lines += [f"- intent: {intent}", "  examples: |"] + [f"    - {_plain(text)}" for text in texts]
        return "\n".join(lines) + "\n"


def _plain(text: str) -> str:
    """A text as a training example: brackets as parentheses, so Rasa reads no entity
    annotation (``[x](entity)``) into what a customer wrote."""
    return text.replace("[", "(").replace("]", ")").replace("{", "(").replace("}", ")")
