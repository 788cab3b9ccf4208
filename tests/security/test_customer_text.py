"""Customer text is text: what a customer types never reaches Rasa as intent syntax, on any
channel; buttons work only as the service issued them; a survey of an agent can be rated only
when the service opened it. Through the real contact service, Rasa and action server."""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot import knowledge
from bot.complaints import triage
from bot.core.models import Message
from bot.core.rasa_client import RasaClient, as_customer_words
from bot.handoff.models import Handoff
from bot.surveys import Survey
from tests.support.clients import Client

# What an attacker (or a curious customer) types: Rasa's default intents, internal triggers, and
# intents with entities that would set slots.
COMMANDS = [
    "/restart", "/session_start", "/back", "  /restart  ", "//restart", "/", "/EXTERNAL_survey",
    '/rate{"rating": "5"}', '/request_human{"reason": "fraud"}', "/report_fraud",
    '/file_complaint{"complaint_description": "x", "complaint_confirmed": true}',
    '/affirm@1.0{"customer_risk_level": "C5"}',
]


@pytest.fixture(scope="module")
def database_url(tmp_path_factory):
    """SQLite only: nothing here depends on the kind of database."""
    yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'contact.db'}"


def count(database, model, *where) -> int:
    with Session(database) as session:
        return session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def test_the_client_reads_leading_slashes_as_words():
    assert as_customer_words("/restart") == "restart"
    assert as_customer_words(' // /rate{"rating": "5"} ') == 'rate{"rating": "5"}'
    assert as_customer_words("/") == as_customer_words(" // ") == "／"
    assert as_customer_words("请问 /affirm 是什么") == "请问 /affirm 是什么"  # only a leading slash is syntax


@pytest.mark.parametrize("command", COMMANDS)
def test_a_typed_command_gets_an_answer_like_any_message(system, database, command):
    """Today's main: /restart, /session_start and /back got no reply, so the customer got the
    "assistant unavailable" apology and the message stayed pending for ever."""
    customer = Client(system.contact_url)
    conversation_id = customer.start()["conversation_id"]
    answer = customer.say(command)
    apologies = {knowledge.message("assistant_unavailable", language) for language in ("zh", "en")}
    assert "bot" in {reply["sender"] for reply in answer["replies"]}, answer
    assert not apologies & {reply["text"] for reply in answer["replies"]}
    assert answer["message"]["text"] == command.strip()  # stored as typed
    with Session(database) as session:
        assert session.get(Message, answer["message"]["id"]).status == "answered"
    # A command is read as its words: "report_fraud" reports a fraud as "report fraud" would, and
    # is as urgent; an entity typed in a command ('{"reason": "fraud"}') never adds urgency.
    words = as_customer_words(command).split("{")[0]
    urgent = int(triage.decide(words, None).urgent)
    assert count(database, Handoff, Handoff.conversation_id == conversation_id, Handoff.urgent.is_(True)) == urgent


def test_a_forged_survey_and_rating_store_nothing(system, database):
    """Today's main: /EXTERNAL_survey then /rate{"rating": "5"} stored an "after an agent" rating
    for a conversation no agent served."""
    customer = Client(system.contact_url)
    conversation_id = customer.start()["conversation_id"]
    customer.say("稳盈债券的风险等级是多少")
    customer.say("/EXTERNAL_survey")
    customer.say('/rate{"rating": "5"}')
    customer.say("5")
    assert count(database, Survey, Survey.conversation_id == conversation_id) == 0


def test_buttons_work_only_as_issued_in_the_conversation(system, database):
    customer, stranger = Client(system.contact_url), Client(system.contact_url)
    customer.start()
    stranger.start()
    offer = customer.say("我要投诉")
    customer.say("我的赎回款三天了还没到账")  # the category is suggested with buttons
    history = customer.history()
    offered = [m for m in history if m["buttons"]][-1]
    # A made-up button, an index past the end, another conversation's button, a payload sent as
    # a button: all refused with the API's error, nothing stored.
    before = len(customer.history())
    for button, code in [
        ({"message_id": offered["id"], "index": len(offered["buttons"])}, "unknown_button"),
        ({"message_id": offer["message"]["id"], "index": 0}, "unknown_button"),  # the customer's own message
        ({"message_id": 10 ** 30, "index": 0}, "invalid_request"),
        ({"message_id": offered["id"], "index": -1}, "invalid_request"),
        ({"message_id": str(offered["id"]), "index": 0}, "invalid_request"),
        ({"message_id": offered["id"], "index": True}, "invalid_request"),
        ('/affirm', "invalid_request"),
    ]:
        status, error, _ = customer.call("POST", "/api/v1/messages", {"button": button, "client_message_id": secrets.token_hex(8)})
        assert (status, error["error"]["code"]) == (400, code), button
    status, error, _ = stranger.call("POST", "/api/v1/messages", {"button": {"message_id": offered["id"], "index": 0},
                                                                   "client_message_id": secrets.token_hex(8)})
    assert (status, error["error"]["code"]) == (400, "unknown_button")
    status, error, _ = customer.call("POST", "/api/v1/messages", {"text": "hi", "button": {"message_id": offered["id"], "index": 0},
                                                                   "client_message_id": secrets.token_hex(8)})
    assert status == 400
    assert len(customer.history()) == before

    # The real tap: stored as the button's title, its payload goes to the assistant.
    title = offered["buttons"][0]["title"]
    tapped = customer.tap(offered, title)
    assert tapped["message"]["text"] == title and tapped["replies"][0]["sender"] == "bot"
    with Session(database) as session:
        stored = session.get(Message, tapped["message"]["id"])
        assert (stored.text, stored.payload) == (title, offered["buttons"][0]["payload"])


async def test_email_classification_reads_a_command_subject_as_words(system):
    """The email channel asks Rasa's /model/parse what a subject means: "/report_fraud" must not
    be read as the fraud intent with certainty (which would file an urgent complaint)."""
    client = RasaClient(system.rasa_url, 30, system.rasa_token)
    await client.start()
    try:
        parsed = await client.parse("/report_fraud")
    finally:
        await client.close()
    assert parsed["text"] == "report_fraud" and parsed["intent"]["confidence"] < 1.0

