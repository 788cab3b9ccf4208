"""Long conversations kept short (bot/tracker_store.py), against the real Rasa server and action
server on loopback: the assistant decides exactly as before, a form started before the tracker
is compacted is finished after it, and the survey still knows the customer asked for something."""

import json
import re
import urllib.request
from pathlib import Path

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, UserUttered, deserialise_events
from rasa.shared.core.trackers import DialogueStateTracker

from bot.references import pattern
from bot.tracker_store import EARLIER_INTENTS, MAX_EVENTS, compact, state_of


ROOT = Path(__file__).resolve().parent.parent
REFERENCE = re.compile(pattern("C"))
QUESTIONS = [
    "What is the minimum for Evergreen Cash Plus?", "What is the latest NAV of Evergreen USD Income?",
    "长青货币宝起购金额是多少", "稳盈债券的风险等级是多少", "What are your opening hours?", "Which products do you have?",
    "how do I reset my login password", "Where is your Shanghai branch?", "What is the fee of Evergreen Steady Bond?",
    "长青稳盈债券A的费率是多少", "what's the market outlook this week", "我想redeem货币宝",
]


@pytest.fixture(scope="module")
def domain():
    return Domain.load(str(ROOT / "domain.yml"))


def call(assistant, method: str, path: str, body=None):
    request = urllib.request.Request(
        f"{assistant.rasa_url}{path}?token={assistant.rasa_token}", method=method,
        data=None if body is None else json.dumps(body).encode(), headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def say(assistant, sender: str, message: str) -> str:
    request = urllib.request.Request(
        f"{assistant.rasa_url}/webhooks/rest/webhook", data=json.dumps({"sender": sender, "message": message}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return "\n".join(r.get("text") or "" for r in json.loads(response.read()))


def stored_events(assistant, sender: str):
    return call(assistant, "GET", f"/conversations/{sender}/tracker")["events"]


def compaction_start(events):
    """The session start a compaction put first, or None."""
    return next((e for e in events if e["event"] == "session_started" and EARLIER_INTENTS in (e.get("metadata") or {})), None)


def predicted(assistant, sender: str, events) -> str:
    """Rasa's next action for a conversation holding ``events``."""
    call(assistant, "PUT", f"/conversations/{sender}/tracker/events", [e.as_dict() for e in events])
    return call(assistant, "POST", f"/conversations/{sender}/predict")["scores"][0]["action"]


def test_every_decision_is_the_same_on_the_compacted_conversation(assistant, domain):
    # A bit of everything: questions in both languages, two misunderstandings and the offer of a
    # person declined, a complaint form interrupted by a question and then stopped, a goodbye.
    for text in ["长青货币宝起购金额是多少", "asdf qwer zxcv", "blorp fnord", "no thanks", "I'd like to file a complaint",
                 "What is the latest NAV of Evergreen USD Income?", "My advisor never called me back", "cancel", "bye"]:
        say(assistant, "decisions", text)
    events = deserialise_events(stored_events(assistant, "decisions"))
    assert compaction_start([e.as_dict() for e in events]) is None  # short enough to be kept whole so far

    compared = 0
    for end, event in enumerate(events):
        if not isinstance(event, ActionExecuted) or event.action_name == "action_session_start":
            continue
        whole = DialogueStateTracker.from_events("whole", events[:end], domain.slots)
        shortened = compact(whole, keep_turns=1)  # the shortest a compaction can make it
        if shortened is None:
            continue  # nothing to cut yet (the first message)
        assert len(shortened.events) < len(whole.events)
        assert state_of(shortened) == state_of(whole)
        assert shortened.latest_message.text == whole.latest_message.text
        assert predicted(assistant, "shortened", shortened.events) == predicted(assistant, "whole", whole.events) \
            == event.action_name, f"before event {end} ({event.action_name})"
        compared += 1
    # Every action from the second message on (a cut needs a message before the kept one).
    second = [i for i, e in enumerate(events) if isinstance(e, UserUttered)][1]
    assert compared == sum(isinstance(e, ActionExecuted) for e in events[second:]) >= 16


def test_a_long_conversation_stays_short_and_a_form_started_before_is_finished(assistant):
    for question in QUESTIONS[:6]:
        assert say(assistant, "long-form", question)
    say(assistant, "long-form", "I'd like to file a complaint")
    say(assistant, "long-form", "Your app crashed three times while I was buying a fund and I missed the 15:00 cut-off")
    say(assistant, "long-form", "Product or service quality")
    for _ in range(8):  # a customer who cannot name the product: the form asks again each time
        assert "couldn't find that product" in say(assistant, "long-form", "the one with the blue logo")
        assert len(stored_events(assistant, "long-form")) <= MAX_EVENTS
    # Compacted with the form under way: the kept turns begin inside the form.
    events = stored_events(assistant, "long-form")
    first_message = next(i for i, e in enumerate(events) if e["event"] == "user")
    assert any(e["event"] == "active_loop" and e["name"] == "complaint_form" for e in events[:first_message])
    assert "product_info" in compaction_start(events)["metadata"][EARLIER_INTENTS]

    say(assistant, "long-form", "No specific product")
    say(assistant, "long-form", "an explanation and a working app")
    summary = say(assistant, "long-form", "Answer me in this chat")
    assert "· Category: Product or service quality" in summary and "crashed three times" in summary
    filed = say(assistant, "long-form", "/affirm")
    assert "registered under reference" in filed and REFERENCE.search(filed)


def test_the_goodbye_survey_remembers_questions_asked_before_the_kept_turns(assistant):
    for question in QUESTIONS:
        say(assistant, "long-survey", question)
    for small_talk in ["thanks", "ok", "hello", "thank you", "great", "hi", "thanks a lot", "ok thanks"] * 2:
        say(assistant, "long-survey", small_talk)
    events = stored_events(assistant, "long-survey")
    assert not any(e["event"] == "user" and e["parse_data"]["intent"]["name"] == "product_info" for e in events)
    assert "product_info" in compaction_start(events)["metadata"][EARLIER_INTENTS]
    assert "how would you rate this conversation" in say(assistant, "long-survey", "bye")

    # Small talk alone is still not surveyed, however long.
    for small_talk in ["hello", "thanks", "ok", "hi"] * 6:
        say(assistant, "only-small-talk", small_talk)
    assert compaction_start(stored_events(assistant, "only-small-talk"))
    assert "rate" not in say(assistant, "only-small-talk", "bye")
