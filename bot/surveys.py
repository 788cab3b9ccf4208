"""Satisfaction surveys (manual 2.2.2, 8.1.1): a 1–5 rating and an optional comment, asked when
an agent hands a conversation back or when the customer says goodbye to the assistant.

A survey row is made when it is asked (so the indicators can count unanswered ones) and filled
in by the later answers of the same conversation. Answers are taken for 24 hours; a rating may
be changed until a comment is left, so a customer who taps twice keeps their last choice.
A survey asked by a link (the email channel's) is rated once, by its id (``rate_once``).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Optional

from sqlalchemy import Column, ForeignKey, Integer, String, Text, select, update
from sqlalchemy.orm import sessionmaker

from bot.core.errors import Conflict, NotFound
from bot.core.time import ShanghaiTime
from bot.core.models import Base
from bot.handoff.models import Handoff

TRIGGERS = ("agent", "bot")  # an agent resolved the conversation / the customer ended a bot conversation
ANSWER_WINDOW = timedelta(hours=24)
MAX_COMMENT = 1000


class Survey(Base):
    __tablename__ = "surveys"
    id = Column(Integer, primary_key=True, autoincrement=True)
    conversation_id = Column(String(80), nullable=False, index=True)
    channel = Column(String(16), nullable=False)
    language = Column(String(2), nullable=False)
    trigger = Column(String(8), nullable=False)
    handoff_id = Column(Integer, ForeignKey("handoffs.id"))
    agent_id = Column(String(64))  # the agent who resolved it, for "agent" surveys
    asked_at = Column(ShanghaiTime, nullable=False)
    rating = Column(Integer)  # 1–5
    rated_at = Column(ShanghaiTime)
    comment = Column(Text)  # masked
    commented_at = Column(ShanghaiTime)


class SurveyDesk:
    def __init__(self, sessions: sessionmaker):
        self.sessions = sessions

    def ask(self, conversation_id: str, channel: str, language: str, trigger: str, now: datetime,
            handoff: Optional[Handoff] = None) -> Optional[Survey]:
        """The survey to ask now: the one still waiting for a rating if there is one, else a new
        one; ``None`` when the customer already answered one in the last 24 hours and nothing
        new happened (a second goodbye is not asked again; an agent's service always is).

        Only the contact service, which knows the ``handoff``, opens a survey of an agent's
        service; asked for one without it (the assistant, prompted by the service) this returns
        the one the service opened, or ``None``: nobody can rate an agent who served nobody."""
        if trigger not in TRIGGERS:
            raise ValueError(f"a survey follows one of {TRIGGERS}, not {trigger!r}")
        with self.sessions() as session:
            recent = self._recent(session, conversation_id, now)
            unrated = next((s for s in recent if s.rating is None), None)
            if trigger == "agent" and handoff is None:
                return unrated if unrated is not None and unrated.handoff_id is not None else None
            if unrated is not None:
                if handoff is not None and unrated.handoff_id is None:  # the agent's service supersedes
                    unrated.trigger, unrated.handoff_id, unrated.agent_id = trigger, handoff.id, handoff.agent_id
                    session.commit()
                return unrated
            if trigger == "bot" and recent:
                return None
            survey = Survey(conversation_id=conversation_id, channel=channel, language=language, trigger=trigger,
                            handoff_id=handoff.id if handoff else None, agent_id=handoff.agent_id if handoff else None,
                            asked_at=now)
            session.add(survey)
            session.commit()
            return survey

    def rate(self, conversation_id: str, rating: int, now: datetime) -> Optional[Survey]:
        """Record a rating on the survey asked last (if it is still open); ``None`` if none is."""
        if not 1 <= rating <= 5:
            raise ValueError("a rating is 1–5")
        with self.sessions() as session:
            survey = next((s for s in self._recent(session, conversation_id, now) if s.comment is None), None)
            if survey is None:
                return None
            survey.rating, survey.rated_at = rating, now
            session.commit()
            return survey

    def find(self, survey_id: int) -> Optional[Survey]:
        with self.sessions() as session:
            return session.get(Survey, survey_id)

    def rate_once(self, survey_id: int, rating: int, now: datetime) -> Survey:
        """Record the rating of the survey ``survey_id`` if it has none yet (a link is used once):
        NotFound for no such survey, Conflict when it was rated already."""
        if not 1 <= rating <= 5:
            raise ValueError("a rating is 1–5")
        with self.sessions() as session:
            done = session.execute(update(Survey).where(Survey.id == survey_id, Survey.rating.is_(None))
                                   .values(rating=rating, rated_at=now)).rowcount
            if done != 1:
                session.rollback()
                if session.get(Survey, survey_id) is None:
                    raise NotFound("No such survey.")
                raise Conflict("This survey has been answered already.")
            session.commit()
            return session.get(Survey, survey_id)

    def comment(self, conversation_id: str, text: str, now: datetime) -> Optional[Survey]:
        """Add the (masked) comment to the rated survey that has none yet."""
        with self.sessions() as session:
            survey = next((s for s in self._recent(session, conversation_id, now)
                           if s.rating is not None and s.comment is None), None)
            if survey is None:
                return None
            survey.comment, survey.commented_at = text[:MAX_COMMENT], now
            session.commit()
            return survey

    @staticmethod
    def _recent(session, conversation_id: str, now: datetime):
        """The conversation's surveys asked in the last 24 hours, newest first."""
        query = (select(Survey)
                 .where(Survey.conversation_id == conversation_id, Survey.asked_at > now - ANSWER_WINDOW)
                 .order_by(Survey.asked_at.desc(), Survey.id.desc()))
        return list(session.execute(query).scalars())


# What customers type instead of tapping a button, longest phrases first.
_RATING_WORDS = [
    ("非常不满意", 1), ("很不满意", 1), ("very dissatisfied", 1), ("terrible", 1), ("very poor", 1), ("awful", 1),
    ("非常满意", 5), ("很满意", 5), ("very satisfied", 5), ("excellent", 5), ("满分", 5),
    ("不满意", 2), ("dissatisfied", 2), ("not satisfied", 2), ("poor", 2),
    ("满意", 4), ("satisfied", 4), ("good", 4),
    ("一般", 3), ("average", 3), ("okay", 3),
]
_NUMERALS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5,
             "one": 1, "two": 2, "three": 3, "four": 4, "five": 5}
_DIGIT = re.compile(r"(?<![\d.])([1-5])(?![\d.])")
_SPELLED = re.compile(r"([一二两三四五])\s*[分星颗]|\b(one|two|three|four|five)\b", re.IGNORECASE)


def parse_rating(text: Optional[str]) -> Optional[int]:
    """The 1–5 rating in a customer's answer ("5", "给4分", "五星", "4/5", "three stars",
    "非常满意"), or ``None``."""
    if not text:
        return None
    digit = _DIGIT.search(text)
    if digit:
        return int(digit.group(1))
    spelled = _SPELLED.search(text)
    if spelled:
        return _NUMERALS[(spelled.group(1) or spelled.group(2)).lower()]
    lowered = text.lower()
    return next((rating for words, rating in _RATING_WORDS if words in lowered), None)
