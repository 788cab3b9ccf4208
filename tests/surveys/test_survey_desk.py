"""Satisfaction surveys on SQLite and PostgreSQL: asked once, answered within a day, the
rating changeable until a comment is left, and typed ratings read the way customers write them."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from bot.service_hours import SHANGHAI
from bot.surveys import Survey, SurveyDesk, parse_rating
from tests.support.database import resolved_handoff

T0 = datetime(2026, 11, 30, 10, 0, tzinfo=SHANGHAI)


@pytest.fixture
def surveys(sessions):
    return SurveyDesk(sessions)


def stored(sessions, survey_id: int) -> Survey:
    with sessions() as session:
        return session.get(Survey, survey_id)


def test_a_survey_after_an_agent_is_stored_with_the_agent_channel_and_answers(sessions, surveys):
    handoff = resolved_handoff(sessions, "c1")
    asked = surveys.ask("c1", "app", "en", "agent", T0 + timedelta(minutes=9), handoff)
    surveys.rate("c1", 2, T0 + timedelta(minutes=10))
    surveys.rate("c1", 4, T0 + timedelta(minutes=10, seconds=5))  # changed their mind
    surveys.comment("c1", "quick, thanks", T0 + timedelta(minutes=11))
    survey = stored(sessions, asked.id)
    assert (survey.trigger, survey.agent_id, survey.handoff_id, survey.channel, survey.language) == \
        ("agent", "amy", handoff.id, "app", "en")
    assert (survey.rating, survey.comment) == (4, "quick, thanks")
    assert survey.rated_at == T0 + timedelta(minutes=10, seconds=5)
    assert surveys.rate("c1", 1, T0 + timedelta(minutes=12)) is None  # closed once commented


def test_asking_again_reuses_the_unanswered_survey(surveys):
    first = surveys.ask("c2", "web", "zh", "bot", T0)
    again = surveys.ask("c2", "web", "zh", "bot", T0 + timedelta(minutes=5))
    assert again.id == first.id


def test_a_goodbye_after_a_rated_survey_is_not_asked_again_but_an_agent_service_is(sessions, surveys):
    surveys.ask("c3", "web", "zh", "bot", T0)
    surveys.rate("c3", 5, T0 + timedelta(minutes=1))
    assert surveys.ask("c3", "web", "zh", "bot", T0 + timedelta(hours=2)) is None
    handoff = resolved_handoff(sessions, "c3")
    assert surveys.ask("c3", "web", "zh", "agent", T0 + timedelta(hours=3), handoff).agent_id == "amy"
    assert surveys.ask("c3", "web", "zh", "bot", T0 + timedelta(days=2)) is not None  # a day later


def test_answers_come_too_late_after_a_day(surveys):
    surveys.ask("c4", "web", "zh", "bot", T0)
    assert surveys.rate("c4", 5, T0 + timedelta(hours=25)) is None
    assert surveys.rate("c5", 5, T0) is None  # never asked


def test_a_comment_needs_a_rating_first(surveys):
    surveys.ask("c6", "web", "zh", "bot", T0)
    assert surveys.comment("c6", "hmm", T0) is None


def test_a_rating_outside_one_to_five_is_refused(surveys):
    surveys.ask("c7", "web", "zh", "bot", T0)
    with pytest.raises(ValueError):
        surveys.rate("c7", 6, T0)


@pytest.mark.parametrize("text, rating", [
    ("5", 5), ("给4分", 4), ("五星", 5), ("三分吧", 3), ("4/5", 4), ("3 out of 5", 3), ("three stars", 3),
    ("one star", 1), ("非常满意", 5), ("很不满意", 1), ("不满意", 2), ("满意", 4), ("一般", 3),
    ("very dissatisfied", 1), ("not satisfied", 2), ("excellent", 5), ('/rate{"rating": "2"}', 2),
])
def test_typed_ratings(text, rating):
    assert parse_rating(text) == rating


@pytest.mark.parametrize("text", ["", "10", "2.5", "what is the fee", "我想赎回", None])
def test_what_is_not_a_rating(text):
    assert parse_rating(text) is None
