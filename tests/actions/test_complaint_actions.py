"""The complaint and booking actions on trackers built in code, with a real SQLite database."""

from __future__ import annotations

import re

import pytest
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions import forms
from actions.bookings import ValidateAppointmentForm, ValidateCallbackForm
from actions.complaints import ActionComplaintStatus, ActionReportFraud, ValidateComplaintForm
from actions.forms import ActionFormDone
from bot.bookings.models import Callback
from bot.complaints.desk import ComplaintDesk, ComplaintDraft
from bot.complaints.models import Complaint
from bot.references import pattern
from tests.support.trackers import NOW, city_entity, count, make_tracker, product_entity, run_action, stored, texts, validate

# Every test on its own SQLite database, the actions' clock at NOW (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("actions_database")


COMPLAINT = {
    "complaint_description": "赎回稳盈债券被多扣了赎回费",
    "complaint_category": "fees",
    "complaint_product": "EG-BD02",
    "complaint_outcome": "退还赎回费",
    "complaint_contact": "138****5678",
}


def test_the_description_names_the_product_and_an_ordinary_case_files_nothing_yet(actions_database):
    tracker = make_tracker("赎回稳盈债券被多扣了赎回费", "faq", [product_entity("EG-BD02")])
    slots, said = validate(ValidateComplaintForm().validate_complaint_description, tracker.latest_message["text"], tracker)
    assert slots == {"complaint_description": "赎回稳盈债券被多扣了赎回费", "complaint_product": "EG-BD02"}
    assert said == "" and count(actions_database, Complaint) == 0


def test_an_urgent_description_files_at_once_and_gives_safety_steps(actions_database):
    text = "someone hacked my account and money is gone, my card 6222 0212 3456 7890 123"
    tracker = make_tracker(text, "report_fraud", metadata=stored(7))
    slots, said = validate(ValidateComplaintForm().validate_complaint_description, text, tracker)
    assert re.fullmatch(pattern("C"), slots["complaint_reference"]) and slots["complaint_reference"].startswith("C20261130-")
    assert "marked this as urgent" in said and "never share a password or SMS code" in said
    with actions_database() as session:
        complaint = session.execute(select(Complaint)).scalar_one()
    assert complaint.urgent is True and "6222 **** **** 0123" in complaint.description and "3456" not in complaint.description


@pytest.mark.parametrize("answer,intent,expected", [
    ("对", "affirm", "fees"),  # accepts the suggestion made from the description
    ("Contract, legal or regulatory", "nlu_fallback", "contract_legal"),
    ("产品及服务质量", "faq", "product_service"),
    ("4", "nlu_fallback", "other"),
    ("the blue one", "nlu_fallback", None),
])
def test_the_category_is_the_suggestion_or_the_customers_pick(answer, intent, expected):
    tracker = make_tracker(answer, intent, slots={"complaint_description": "你们乱收手续费"})
    slots, said = validate(ValidateComplaintForm().validate_complaint_category, answer, tracker)
    assert slots == {"complaint_category": expected}
    assert ("请从以下类别中选择一个" in said or "Please choose one of these categories" in said) == (expected is None)


@pytest.mark.parametrize("answer,expected", [
    ("Answer me in this chat", "chat"), ("chat", "chat"), ("my email is anna@example.com", "anna@example.com"),
    ("13812345678", "138****5678"), ("138****5678", "138****5678"), ("call me maybe", None),
])
def test_contact_details(answer, expected):
    tracker = make_tracker(answer, "nlu_fallback")
    slots, _ = validate(ValidateComplaintForm().validate_complaint_contact, answer, tracker)
    assert slots == {"complaint_contact": expected}


def test_confirming_files_exactly_once_per_message(actions_database):
    tracker = make_tracker("/affirm", "affirm", slots={**COMPLAINT, "language": "zh"}, metadata=stored(42))
    first, said = validate(ValidateComplaintForm().validate_complaint_confirmed, "/affirm", tracker)
    again, said_again = validate(ValidateComplaintForm().validate_complaint_confirmed, "/affirm", tracker)
    assert first == again and first["complaint_confirmed"] is True and first["complaint_reference"].startswith("C20261130-")
    assert "2026年12月1日（周二）10:00 前首次答复" in said and "2026年12月7日（周一）23:59 前处理完毕" in said
    assert said == said_again and count(actions_database, Complaint) == 1


def test_the_summary_reopens_the_field_the_customer_wants_to_change():
    tracker = make_tracker("修改类别", "nlu_fallback", slots=COMPLAINT)
    slots, _ = validate(ValidateComplaintForm().validate_complaint_confirmed, "修改类别", tracker)
    assert slots == {"complaint_category": None, "complaint_confirmed": None}
    slots, said = validate(ValidateComplaintForm().validate_complaint_confirmed, "hmm", make_tracker("hmm", "nlu_fallback", slots=COMPLAINT))
    assert slots == {"complaint_confirmed": None} and "what you'd like to change" in said


async def test_only_a_confident_cancel_stops_a_form():
    confident = make_tracker("cancel", "cancel", slots={"requested_slot": "complaint_category"})
    events = await ValidateComplaintForm().run(CollectingDispatcher(), confident, {"slots": {}, "forms": {}})
    assert events == [SlotSet("form_cancelled", True), SlotSet("requested_slot", None)]
    unsure = make_tracker("Change the category", "cancel", slots={"requested_slot": "complaint_confirmed"})
    unsure.latest_message["intent"]["confidence"] = 0.5
    assert not forms.wants_to_stop(unsure)


@pytest.mark.parametrize("form,said", [
    ("complaint_form", "no complaint was registered"), ("callback_form", "no callback was booked"),
    ("appointment_form", "no appointment was booked"),
])
async def test_a_stopped_form_says_nothing_was_registered_and_clears_its_slots(form, said):
    tracker = make_tracker("cancel", "cancel", slots={"form_cancelled": True, "language": "en"})
    tracker.latest_action_name = form
    messages, events = await run_action(ActionFormDone(), tracker)
    assert said in texts(messages)
    assert SlotSet("form_cancelled", None) in events and SlotSet(forms.FORM_SLOTS[form][0], None) in events


async def test_a_completed_form_is_cleared_silently():
    tracker = make_tracker("/affirm", "affirm", slots={"complaint_reference": "C20261130-0001", "language": "zh"})
    tracker.latest_action_name = "complaint_form"
    messages, events = await run_action(ActionFormDone(), tracker)
    assert texts(messages) == "" and SlotSet("complaint_reference", None) in events


def file(actions_database, key: str, conversation: str, customer_id=None) -> Complaint:
    draft = ComplaintDraft(source_key=key, conversation_id=conversation, customer_id=customer_id, channel="web",
                           language="en", category="fees", description="charged twice")
    return ComplaintDesk(actions_database).file(draft, NOW)


async def test_status_only_for_the_owner(actions_database):
    mine = file(actions_database, "a", "conversation-1")
    file(actions_database, "b", "conversation-2")
    tracker = make_tracker(f"status of {mine.reference.lower()}", "complaint_status", metadata=stored(1))
    tracker.sender_id = "conversation-1"
    answer = texts((await run_action(ActionComplaintStatus(), tracker))[0])
    assert f"Complaint {mine.reference} (Fees and charges): received." in answer
    assert "Resolution due by Mon 7 Dec 2026, 23:59 Beijing time" in answer

    tracker.sender_id = "conversation-3"
    answer = texts((await run_action(ActionComplaintStatus(), tracker))[0])
    assert f"couldn't find a complaint {mine.reference} of yours" in answer


async def test_status_without_a_reference_lists_the_customers_open_complaints(actions_database):
    first, second = file(actions_database, "a", "web-conv", "cust-9"), file(actions_database, "b", "app-conv", "cust-9")
    tracker = make_tracker("any update on my complaints", "complaint_status",
                           metadata=stored(2, customer={"verified": True, "id": "cust-9"}))
    answer = texts((await run_action(ActionComplaintStatus(), tracker))[0])
    assert first.reference in answer and second.reference in answer
    tracker = make_tracker("any update on my complaints", "complaint_status")
    assert "can't see any open complaint" in texts((await run_action(ActionComplaintStatus(), tracker))[0])


async def test_a_fraud_report_is_filed_urgent_with_the_registered_contact(actions_database):
    tracker = make_tracker("有人盗刷了我的账户", "report_fraud",
                           metadata=stored(3, customer={"verified": True, "id": "demo-premier"}))
    answer = texts((await run_action(ActionReportFraud(), tracker))[0])
    assert "标记为紧急" in answer and "您在长青财富登记的联系方式" in answer
    with actions_database() as session:
        complaint = session.execute(select(Complaint)).scalar_one()
    assert (complaint.urgent, complaint.customer_id, complaint.contact) == (True, "demo-premier", "registered")


@pytest.mark.parametrize("answer,said", [
    ("today 9pm", "between 09:00 and 21:00"),
    ("today 10:10am", "passed or is too soon"),  # less than 15 minutes ahead
    ("whenever", "couldn't tell the day and time"),
])
def test_callback_times_outside_the_rules_are_refused(answer, said):
    slots, told = validate(ValidateCallbackForm().validate_callback_time, answer, make_tracker(answer, "nlu_fallback"))
    assert slots == {"callback_time": None} and said in told


def test_a_callback_is_booked_once_with_the_number_masked(actions_database):
    slots, _ = validate(ValidateCallbackForm().validate_callback_time, "tomorrow 3pm", make_tracker("tomorrow 3pm", "nlu_fallback"))
    assert slots == {"callback_time": "2026-12-01T15:00:00+08:00"}
    details = {**slots, "callback_name": "Anna", "callback_mobile": "139****5678", "language": "en"}
    tracker = make_tracker("/affirm", "affirm", slots=details, metadata=stored(5))
    first, said = validate(ValidateCallbackForm().validate_callback_confirmed, "/affirm", tracker)
    again, _ = validate(ValidateCallbackForm().validate_callback_confirmed, "/affirm", tracker)
    assert first == again and first["callback_confirmed"] is True
    assert re.fullmatch(pattern("CB"), first["callback_reference"]) and first["callback_reference"].startswith("CB20261130-")
    assert "An agent will call 139****5678 on Tue 1 Dec 2026, 15:00–15:30 Beijing time" in said
    assert count(actions_database, Callback) == 1


@pytest.mark.parametrize("answer,expected", [("next Saturday 10am", None), ("tomorrow 10am", "2026-12-01T10:00:00+08:00"),
                                             ("tomorrow 4:30pm", None)])
def test_appointments_only_in_branch_hours_on_working_days(answer, expected):
    slots, _ = validate(ValidateAppointmentForm().validate_appointment_time, answer, make_tracker(answer, "nlu_fallback"))
    assert slots == {"appointment_time": expected}


def test_the_branch_city_from_an_entity_or_a_typed_name():
    tracker = make_tracker("深圳", "branch_locator", [city_entity("Shenzhen")])
    assert validate(ValidateAppointmentForm().validate_appointment_city, "深圳", tracker)[0] == {"appointment_city": "Shenzhen"}
    slots, said = validate(ValidateAppointmentForm().validate_appointment_city, "Chengdu", make_tracker("Chengdu", "nlu_fallback"))
    assert slots == {"appointment_city": None} and "only have branches in these cities" in said


async def test_a_verified_customer_is_not_asked_for_a_name():
    verified = make_tracker("预约", "book_appointment", metadata=stored(9, customer={"verified": True, "id": "x", "name": "王女士"}))
    required = await ValidateAppointmentForm().required_slots([], CollectingDispatcher(), verified, {})
    assert "appointment_name" not in required and "appointment_mobile" in required


@pytest.mark.parametrize(
    "opening,detailed",
    [
        ("你们就是一群骗子，垃圾客服", False),  # anger, nothing that happened
        ("you are useless scammers, the worst service, shame on you all", False),
        ("I want to complain about Evergreen Steady Bond A", False),  # a product name is no description
        ("我要投诉，长青稳盈债券A的赎回款5天了还没到账", True),
        ("你们这帮骗子，我上周赎回的钱到现在还没有到账，客服电话也打不通", True),
    ],
)
def test_an_opening_describes_the_complaint_only_with_more_than_insults_and_names(opening, detailed):
    from actions.complaints import looks_detailed

    assert looks_detailed(opening) is detailed
