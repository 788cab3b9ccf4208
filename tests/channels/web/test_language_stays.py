"""The language stays with the customer (issue #15, item 6): through the contact service, every
button of every form and flow is tapped in Chinese and in English, and language-neutral messages
("ok", "1", "👍", a product code, an email address, a reference, a name in Latin letters) are typed
inside the forms; every reply and every stored record (conversation, complaint, callback,
appointment, survey, handoff) must stay in the customer's language.

A tapped button reaches the assistant as its payload ("chat", "none", "Shanghai", a time,
``/affirm``), which says nothing about the customer's language."""

from __future__ import annotations

import re
from typing import Any, Dict, List

import pytest

from bot import knowledge
from bot.bookings.models import Appointment, Callback
from bot.complaints.models import Complaint
from bot.core.models import Conversation
from bot.handoff.models import Handoff
from bot.references import pattern
from bot.surveys import Survey
from tests.support.clients import Client
from tests.support.database import rows
from tests.support.system import AFTER_HOURS, IN_HOURS, running_assistant


pytestmark = pytest.mark.clock(IN_HOURS)  # agents on duty


CJK = re.compile(r"[\u3400-\u9fff]")
WORDS = re.compile(r"[A-Za-z\u3400-\u9fff]")

# What a customer types in each language; the neutral entries are the same in both.
SAYS = {
    "zh": {
        "complain": "我要投诉",
        "description": "上周我在APP里赎回基金，到账比说好的晚了三天，客服电话一直打不通",
        "description_again": "赎回到账晚了三天，打客服电话也没人接",
        "outcome": "希望说明原因并改进",
        "callback": "请给我回个电话",
        "appointment": "我想预约理财顾问面谈",
        "question": "长青货币宝起购金额是多少",
        "goodbye": "再见",
        "puzzling": ["天上的云朵是什么味道", "企鹅会不会唱京剧"],
        "human": "转人工",
    },
    "en": {
        "complain": "I want to make a complaint",
        "description": "Last week I redeemed a fund in the app and the money arrived three days later than promised, and nobody answered the hotline",
        "description_again": "The redemption money came three days late and the hotline never answered",
        "outcome": "Please explain why and fix it",
        "callback": "Please call me back",
        "appointment": "I'd like to book a meeting with an advisor",
        "question": "What is the minimum investment for Evergreen Cash Plus?",
        "goodbye": "bye",
        "puzzling": ["what flavour are the clouds in the sky", "are there pandas living on planet mars"],
        "human": "I want to talk to a person",
    },
}
# Messages that carry no language of their own.
NEUTRAL_NAME = "Zhang Wei"
NEUTRAL_EMAIL = "zhang.wei@example.com"


class Walk:
    """One customer's conversation, checking the language of every reply on the way. The visitor
    is anonymous on the demo page, which opens conversations in Chinese: an English customer's
    language comes from what they write, not from the page."""

    def __init__(self, system_, lang: str):
        self.client, self.lang = Client(system_.contact_url), lang
        self.conversation_id = self.client.start()["conversation_id"]
        self.last: Dict[str, Any] = {}
        self.steps: List[str] = []

    def _check(self, answer: Dict[str, Any], step: str) -> Dict[str, Any]:
        self.steps.append(step)
        assert answer["replies"], f"no reply to {step}"
        for reply in answer["replies"]:
            chinese = bool(CJK.search(reply["text"]))
            assert chinese == (self.lang == "zh"), f"after {self.steps}: a reply not in {self.lang}: {reply['text']!r}"
            for button in reply["buttons"]:
                if WORDS.search(button["title"]):  # rating buttons are bare digits
                    assert bool(CJK.search(button["title"])) == (self.lang == "zh"), f"a button not in {self.lang}: {button}"
        self.last = answer
        return answer

    def say(self, text: str) -> Dict[str, Any]:
        return self._check(self.client.say(text), f"say {text!r}")

    def tap(self, title: str) -> Dict[str, Any]:
        return self._check(self.client.tap(self.last, title=title), f"tap {title!r}")

    def tap_key(self, key: str) -> Dict[str, Any]:
        """Tap the button whose title is the message ``button_<key>`` in the walk's language."""
        return self.tap(knowledge.message(f"button_{key}", self.lang))

    def titles(self) -> List[str]:
        return [b["title"] for reply in self.last["replies"] for b in reply["buttons"]]

    def text(self) -> str:
        return "\n".join(reply["text"] for reply in self.last["replies"])


def conversation_of(database_url: str, walk: Walk) -> Conversation:
    return rows(database_url, Conversation, id=walk.conversation_id)[0]


@pytest.fixture(scope="module")
def after_hours_system(tmp_path_factory):
    work = tmp_path_factory.mktemp("after-hours")
    with running_assistant(f"sqlite:///{work / 'contact.db'}", work, clock=AFTER_HOURS) as assistant:
        yield assistant


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_complaint_button_and_neutral_answer_keeps_the_language(system, database_url, lang):
    says = SAYS[lang]
    walk = Walk(system, lang)
    walk.say(says["complain"])
    walk.say(says["description"])  # the category question, the suggestion first
    second_category = walk.titles()[1]
    walk.say("ok")  # takes the suggested category
    walk.tap_key("no_product")  # payload "none"
    walk.say(says["outcome"])
    walk.tap_key("contact_chat")  # payload "chat"
    walk.tap_key("change_description")
    walk.say(says["description_again"])
    walk.tap_key("change_category")
    walk.tap(second_category)
    walk.tap_key("change_product")
    product_title = walk.titles()[1]
    walk.tap(product_title)  # payload: the product code
    walk.tap_key("change_outcome")
    walk.say("1")
    walk.tap_key("change_contact")
    walk.say(NEUTRAL_EMAIL)
    assert NEUTRAL_EMAIL in walk.text() and product_title in walk.text() and second_category in walk.text()
    walk.tap_key("submit")  # payload /affirm
    reference = re.search(pattern("C"), walk.text()).group(0)
    walk.say(reference)  # the status of the complaint just filed
    assert reference in walk.text()

    complaint = rows(database_url, Complaint, reference=reference)[0]
    assert complaint.language == lang and complaint.contact == NEUTRAL_EMAIL and complaint.desired_outcome == "1"
    assert conversation_of(database_url, walk).language == lang


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_complaint_cancelled_with_its_button_keeps_the_language(system, database_url, lang):
    says = SAYS[lang]
    walk = Walk(system, lang)
    walk.say(says["complain"])
    walk.say(says["description"])
    walk.tap(walk.titles()[0])  # the suggested category
    walk.say("EG-MM01")  # a product code
    walk.say("👍")
    walk.tap_key("contact_chat")
    walk.tap_key("cancel_complaint")  # payload /cancel
    assert not rows(database_url, Complaint, conversation_id=conversation_of(database_url, walk).id)
    assert conversation_of(database_url, walk).language == lang


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_callback_button_keeps_the_language(system, database_url, lang):
    walk = Walk(system, lang)
    walk.say(SAYS[lang]["callback"])
    walk.say(NEUTRAL_NAME)  # a name in Latin letters says nothing about the language
    walk.say("13912345678")
    first_window, second_window = walk.titles()[:2]
    walk.tap(first_window)  # payload: the time
    walk.tap_key("change_name")
    walk.say("Li Na")
    walk.tap_key("change_mobile")
    walk.say("13812345678")
    walk.tap_key("change_time")
    walk.tap(second_window)
    walk.tap_key("book")
    reference = re.search(pattern("CB"), walk.text()).group(0)
    callback = rows(database_url, Callback, reference=reference)[0]
    assert callback.language == lang and callback.name == "Li Na" and callback.mobile == "138****5678"

    stopped = Walk(system, lang)
    stopped.say(SAYS[lang]["callback"])
    stopped.say("Wang Fang")
    stopped.say("13912345678")
    stopped.tap(stopped.titles()[0])
    stopped.tap_key("cancel_booking")
    assert not rows(database_url, Callback, conversation_id=conversation_of(database_url, stopped).id)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_appointment_button_keeps_the_language(system, database_url, lang):
    walk = Walk(system, lang)
    walk.say(SAYS[lang]["appointment"])
    branches = walk.titles()
    walk.tap(branches[0])  # payload "Shanghai"
    walk.tap(walk.titles()[0])
    walk.say(NEUTRAL_NAME)
    walk.say("13912345678")
    walk.tap_key("change_city")
    walk.tap(branches[1])  # payload "Beijing"
    walk.tap_key("change_time")
    walk.tap(walk.titles()[1])
    walk.tap_key("change_name")
    walk.say("Li Na")
    walk.tap_key("change_mobile")
    walk.say("13812345678")
    walk.tap_key("book")
    reference = re.search(pattern("AP"), walk.text()).group(0)
    appointment = rows(database_url, Appointment, reference=reference)[0]
    assert appointment.language == lang and appointment.city == "Beijing" and appointment.name == "Li Na"

    stopped = Walk(system, lang)
    stopped.say(SAYS[lang]["appointment"])
    stopped.tap(stopped.titles()[2])
    stopped.tap(stopped.titles()[0])
    stopped.say("Wang Fang")
    stopped.say("13912345678")
    stopped.tap_key("cancel_booking")
    assert not rows(database_url, Appointment, conversation_id=conversation_of(database_url, stopped).id)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_survey_rating_and_skip_keeps_the_language(system, database_url, lang):
    for rating in range(1, 6):
        walk = Walk(system, lang)
        walk.say(SAYS[lang]["question"])
        walk.say(SAYS[lang]["goodbye"])
        walk.tap(str(rating))  # payload /rate{"rating": "n"}
        if rating % 2:
            walk.tap_key("skip")  # payload /cancel
        else:
            walk.say("👍")
        survey = rows(database_url, Survey, conversation_id=conversation_of(database_url, walk).id)[0]
        assert survey.language == lang and survey.rating == rating
        assert survey.comment == (None if rating % 2 else "👍")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_offer_of_a_person_keeps_the_language_whether_tapped_or_answered_ok(system, database_url, lang):
    tapped = Walk(system, lang)
    for text in SAYS[lang]["puzzling"]:
        tapped.say(text)
    tapped.tap_key("no_thanks")  # payload /deny
    for text in SAYS[lang]["puzzling"]:
        tapped.say(text)
    tapped.tap_key("human")  # payload /request_human
    answered = Walk(system, lang)
    for text in SAYS[lang]["puzzling"]:
        answered.say(text)
    assert knowledge.message("button_human", lang) in answered.titles()
    answered.say("ok")  # accepts the offer
    for walk in (tapped, answered):
        conversation = conversation_of(database_url, walk)
        handoff = rows(database_url, Handoff, conversation_id=conversation.id)[0]
        assert handoff.language == lang and conversation.language == lang
        told = [m["text"] for m in walk.client.history() if m["sender"] == "system"]
        assert told and all(bool(CJK.search(t)) == (lang == "zh") for t in told), told  # the queue position


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_after_hours_buttons_keep_the_language(after_hours_system, lang):
    callback = Walk(after_hours_system, lang)
    callback.say(SAYS[lang]["human"])
    callback.tap_key("callback")  # payload /request_callback
    callback.say(NEUTRAL_NAME)
    complaint = Walk(after_hours_system, lang)
    complaint.say(SAYS[lang]["human"])
    complaint.tap_key("complaint")  # payload /file_complaint
    complaint.say(SAYS[lang]["description"])
