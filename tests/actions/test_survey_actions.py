"""The survey actions on trackers built in code, with a real SQLite database: when a goodbye
asks for a rating, typed and tapped ratings, a low rating asking what went wrong, and a rating
nobody asked for."""

from __future__ import annotations

from datetime import datetime

import pytest
from rasa_sdk.events import SlotSet
from sqlalchemy import select

from actions import survey as survey_actions
from actions.survey import ActionAskSurvey, ActionRecordRating, AskSurveyComment
from bot.core.db import make_engine, sessions_for
from channels.registry import migrate
from bot.service_hours import SHANGHAI
from bot.surveys import Survey, SurveyDesk
from tests.support.database import resolved_handoff
from tests.support.trackers import make_tracker, run_action, texts, user_event


NOW = datetime(2026, 11, 30, 10, 0, tzinfo=SHANGHAI)
WEB = {"channel": "web"}


@pytest.fixture(autouse=True)
def database(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'contact.db'}"
    migrate(make_engine(url))
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setattr(survey_actions, "now", lambda: NOW)
    return sessions_for(url)


def surveys(sessions):
    with sessions() as session:
        return list(session.execute(select(Survey)).scalars())


async def test_hello_and_goodbye_alone_is_not_surveyed(database):
    tracker = make_tracker("再见", "goodbye", earlier=[user_event("你好", "greet")], metadata=WEB)
    messages, _ = await run_action(ActionAskSurvey(), tracker)
    assert messages == [] and surveys(database) == []


async def test_a_goodbye_after_a_question_asks_for_a_rating_with_five_buttons(database):
    tracker = make_tracker("bye", "goodbye", earlier=[user_event("what are your fees", "faq")], metadata=WEB)
    messages, _ = await run_action(ActionAskSurvey(), tracker)
    assert "how would you rate this conversation" in texts(messages)
    assert [b["payload"] for b in messages[0]["buttons"]] == [f'/rate{{"rating": "{n}"}}' for n in range(1, 6)]
    [asked] = surveys(database)
    assert (asked.trigger, asked.channel, asked.language, asked.rating) == ("bot", "web", "en", None)


@pytest.mark.parametrize("text, entities, rating", [
    ('/rate{"rating": "5"}', [{"entity": "rating", "value": "5"}], 5),
    ("给4分", [], 4),
    ("非常满意", [], 5),
])
async def test_a_rating_is_recorded_and_the_comment_form_follows(database, text, entities, rating):
    # What the contact service does when an agent resolves: open the survey, then prompt the assistant.
    SurveyDesk(database).ask("customer-1", "web", "zh", "agent", NOW, resolved_handoff(database, "customer-1"))
    asked, _ = await run_action(ActionAskSurvey(), make_tracker("/EXTERNAL_survey", "EXTERNAL_survey", metadata=WEB,
                                                                slots={"language": "zh"}))
    assert "人工客服的服务" in texts(asked)
    messages, events = await run_action(ActionRecordRating(), make_tracker(text, "rate", entities=entities, slots={"language": "zh"}))
    assert f"感谢您的评分（{rating} 分）" in texts(messages)
    assert SlotSet("survey_rated", True) in events
    assert surveys(database)[0].rating == rating


async def test_a_survey_of_an_agent_nobody_opened_is_not_asked_and_cannot_be_rated(database):
    """A forged prompt (the service never opened a survey: no agent served this conversation)
    asks nothing, and a rating after it is thanked and not stored."""
    asked, _ = await run_action(ActionAskSurvey(), make_tracker("/EXTERNAL_survey", "EXTERNAL_survey", metadata=WEB))
    rated, _ = await run_action(ActionRecordRating(), make_tracker('/rate{"rating": "5"}', "rate",
                                                                  entities=[{"entity": "rating", "value": "5"}]))
    assert asked == [] and "You're welcome" in texts(rated) and surveys(database) == []


async def test_a_low_rating_asks_what_went_wrong(database):
    messages, _ = await run_action(AskSurveyComment(), make_tracker("1分", "rate", slots={"language": "zh"}))
    assert "哪里做得不好" in texts(messages) and messages[0]["buttons"][0]["payload"] == "/cancel"


async def test_a_rating_nobody_asked_for_is_thanked_and_not_stored(database):
    messages, events = await run_action(ActionRecordRating(), make_tracker("5 stars", "rate"))
    assert "You're welcome" in texts(messages)
    assert SlotSet("survey_rated", False) in events and surveys(database) == []
