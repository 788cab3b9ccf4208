"""Social turns, honesty about being a bot, misunderstandings and the routes to people."""

from datetime import datetime

import pytest
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.base import reply_language_of
from actions.conversation import ActionBotChallenge, ActionHandleMisunderstanding, ActionSmallTalk
from actions.faq import ActionAnswerFaq
from actions.handoff import ActionHandoff
from bot import service_hours
from tests.support.trackers import make_tracker, run_action, texts, user_event


@pytest.mark.parametrize(
    "intent,text,expected",
    [
        ("greet", "你好", "我是长青财富的智能助手"),
        ("greet", "hello there", "I'm Evergreen Wealth's virtual assistant"),
        ("thank", "谢谢啦", "不客气"),
        ("goodbye", "bye bye", "Goodbye"),
    ],
)
async def test_small_talk(intent, text, expected):
    assert expected in texts((await run_action(ActionSmallTalk(), make_tracker(text, intent)))[0])


@pytest.mark.parametrize("text,expected", [("你是机器人吗", "不是真人"), ("are you a real person?", "not a person")])
async def test_bot_challenge_is_answered_honestly_with_a_way_to_a_person(text, expected):
    answer = texts((await run_action(ActionBotChallenge(), make_tracker(text, "bot_challenge")))[0])
    assert expected in answer and "400-820-8888" in answer


async def test_first_misunderstanding_says_what_the_assistant_can_do():
    messages, events = await run_action(ActionHandleMisunderstanding(), make_tracker("asdf qwer", "nlu_fallback"))
    assert "Sorry, I didn't quite understand that." in texts(messages)
    assert "find a branch" in texts(messages)
    assert SlotSet("human_offered", True) not in events


async def test_second_misunderstanding_in_a_row_offers_a_person():
    earlier = [user_event("今天天气怎么样", "out_of_scope"), {"event": "bot", "text": "..."}]
    messages, events = await run_action(
        ActionHandleMisunderstanding(), make_tracker("讲个笑话", "out_of_scope", earlier=earlier)
    )
    assert "需要为您转接人工客服吗" in texts(messages)
    assert [b["payload"] for b in messages[0]["buttons"]] == ["/request_human", "/deny"]
    assert SlotSet("human_offered", True) in events


async def test_a_good_turn_in_between_resets_the_count():
    earlier = [user_event("blah", "nlu_fallback"), user_event("hi", "greet")]
    _, events = await run_action(ActionHandleMisunderstanding(), make_tracker("blah blah", "nlu_fallback", earlier=earlier))
    assert SlotSet("human_offered", True) not in events


async def test_any_other_answer_withdraws_the_offer():
    tracker = make_tracker("thanks", "thank", slots={"human_offered": True, "language": "en"})
    _, events = await run_action(ActionSmallTalk(), tracker)
    assert SlotSet("human_offered", False) in events


def _at(hour, minute=0):
    return datetime(2026, 11, 28, hour, minute, tzinfo=service_hours.SHANGHAI)


@pytest.mark.parametrize("hour,open_", [(8, False), (9, True), (20, True), (21, False), (23, False)])
def test_agent_hours_are_beijing_time(hour, open_):
    assert service_hours.agents_available(_at(hour, 59 if hour == 20 else 0)) is open_


def test_agents_back_next_morning_after_closing():
    assert service_hours.agents_back_at(_at(22)) == datetime(2026, 11, 29, 9, 0, tzinfo=service_hours.SHANGHAI)
    assert service_hours.agents_back_at(_at(7)) == datetime(2026, 11, 28, 9, 0, tzinfo=service_hours.SHANGHAI)


async def test_request_for_a_person_out_of_hours_offers_a_callback_and_says_when_agents_are_back(monkeypatch):
    monkeypatch.setattr(service_hours, "now", lambda: _at(22, 30))
    messages, _ = await run_action(ActionHandoff(), make_tracker("转人工", "request_human"))
    assert "2026年11月29日（周日）09:00" in texts(messages) and "400-820-8888" in texts(messages)
    assert [b["payload"] for b in messages[0]["buttons"]] == ["/request_callback", "/file_complaint"]
    assert not any(m.get("custom") for m in messages)  # nobody to hand over to


async def test_request_for_a_person_in_hours_hands_the_conversation_over(monkeypatch):
    monkeypatch.setattr(service_hours, "now", lambda: _at(10))
    messages, _ = await run_action(ActionHandoff(), make_tracker("talk to an agent please", "request_human"))
    assert "passing you to one of our agents" in texts(messages)
    assert messages[-1]["custom"] == {"handoff": {"reason": "customer_request", "urgent": False,
                                                  "summary": "talk to an agent please", "complaint_reference": None}}


async def test_yes_to_the_offer_of_a_person_hands_over_and_clears_the_offer(monkeypatch):
    monkeypatch.setattr(service_hours, "now", lambda: _at(10))
    tracker = make_tracker("yes please", "affirm", slots={"human_offered": True, "language": "en"})
    messages, events = await run_action(ActionHandoff(), tracker)
    assert messages[-1]["custom"]["handoff"]["reason"] == "misunderstood"
    assert SlotSet("human_offered", False) in events


async def test_every_action_first_says_what_was_understood_for_the_contact_service():
    dispatcher = CollectingDispatcher()
    await ActionAnswerFaq().run(dispatcher, make_tracker("手续费怎么收", "faq", faq="faq/fees"), {})
    marker, answer = dispatcher.messages
    assert marker["custom"] == {"understanding": {"action": "action_answer_faq", "intent": "faq/fees", "confidence": 0.9,
                                                 "language": "zh"}}
    assert "认购" in answer["text"]
    dispatcher = CollectingDispatcher()
    await ActionHandleMisunderstanding().run(dispatcher, make_tracker("asdf qwer", "nlu_fallback"), {})
    assert dispatcher.messages[0]["custom"]["understanding"]["intent"] == "nlu_fallback"


def test_a_tapped_button_or_a_name_keeps_the_conversation_language():
    tapped = make_tracker("chat", "inform", slots={"language": "zh"}, metadata={"message": {"id": 7, "button": True}})
    assert reply_language_of(tapped) == "zh"
    typed = make_tracker("Shanghai branch please", "inform", slots={"language": "zh"}, metadata={"message": {"id": 8}})
    assert reply_language_of(typed) == "en"
    asked_name = [{"event": "slot", "name": "requested_slot", "value": "callback_name"}]
    assert reply_language_of(make_tracker("Zhang Wei", "inform", slots={"language": "zh"}, earlier=asked_name)) == "zh"
    asked_time = [{"event": "slot", "name": "requested_slot", "value": "callback_time"}]
    assert reply_language_of(make_tracker("tomorrow at 3pm", "inform", slots={"language": "zh"}, earlier=asked_time)) == "en"
