"""Callbacks from the phone centre and meetings with an advisor at a branch (manual 4.3).

Two forms with a summary to confirm; the booking is made in the validation when the customer
confirms, keyed on the contact service's message id (see ``actions/forms.py``). Times are
checked by ``bot.bookings.schedule``: callbacks inside agent hours, appointments inside branch
hours on a mainland working day.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Dict, List, Optional, Text, Tuple

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.base import latest_entities, latest_metadata, reply_language_of
from actions.forms import FORM_SLOTS, AskSlot, StoppableFormValidation, button, intent_of, origin, receipt
from bot import knowledge
from bot.bookings.schedule import (
    APPOINTMENT_LENGTH, CALLBACK_LENGTH, ScheduleError, appointment_slot, callback_window, next_appointment_slots, next_callback_windows, parse_mobile,
    parse_name, parse_when, without_mobile,
)
from bot.bookings.store import BookingStore
from bot.branches import branches, find_branch
from bot.core.db import sessions_for
from bot.core.settings import database_url
from bot.language import format_window
from bot.privacy import mask_sensitive
from bot.service_hours import now

CHANGE_WORDS = {
    "callback_name": ("姓名", "name"),
    "callback_mobile": ("手机", "mobile", "number"),
    "callback_time": ("时间", "time"),
    "appointment_city": ("城市", "网点", "city", "branch"),
    "appointment_time": ("时间", "time"),
    "appointment_name": ("姓名", "name"),
    "appointment_mobile": ("手机", "mobile", "number"),
}


def change_words(form: str) -> Dict[str, Tuple[str, ...]]:
    """The change words of one form's fields: "修改时间" in the appointment form is its time,
    not the callback's."""
    prefix = form.split("_")[0] + "_"
    return {field: words for field, words in CHANGE_WORDS.items() if field.startswith(prefix)}


def store() -> BookingStore:
    return BookingStore(sessions_for(database_url()))


def verified_name(tracker: Tracker) -> Optional[str]:
    customer = latest_metadata(tracker).get("customer") or {}
    return customer.get("name") if customer.get("verified") else None


def booking_basics(tracker: Tracker, lang: str) -> Dict[str, Any]:
    """What every booking records about where it came from."""
    source_key, _ = receipt(tracker)
    return {"source_key": source_key, **origin(tracker), "language": lang, "topic": None, "now": now()}


def validate_name(slot: str, value: Any, tracker: Tracker) -> Dict[Text, Any]:
    """The name answered ("我叫张伟" → 张伟); a mobile number given with it ("张伟 139…") fills the
    mobile field too, so it is not asked next."""
    text = str(value or "").strip()
    name = parse_name(text) or without_mobile(text).strip(" ,，、。;；:：")
    slots: Dict[Text, Any] = {slot: name[:100] or None}
    mobile, mobile_slot = parse_mobile(text), slot.replace("_name", "_mobile")
    if mobile and tracker.get_slot(mobile_slot) is None:
        slots[mobile_slot] = mask_sensitive(mobile)
    return slots


def validate_mobile(slot: str, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker) -> Dict[Text, Any]:
    mobile = parse_mobile(str(value or ""))
    if mobile is None:
        dispatcher.utter_message(text=knowledge.message("mobile_invalid", reply_language_of(tracker)))
        return {slot: None}
    return {slot: mask_sensitive(mobile)}


def validate_time(slot: str, kind: str, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker) -> Dict[Text, Any]:
    """A time the customer gave, as the ISO start of a window the rules allow."""
    lang = reply_language_of(tracker)
    moment = parse_when(str(value or ""), now())
    if moment is None:
        dispatcher.utter_message(text=knowledge.message("time_unclear", lang))
        return {slot: None}
    try:
        start, _ = (callback_window if kind == "callback" else appointment_slot)(moment, now())
    except ScheduleError as error:
        tell_schedule_error(error, kind, dispatcher, lang)
        return {slot: None}
    return {slot: start.isoformat()}


def time_buttons(slots: List[Tuple[datetime, datetime]], lang: str) -> List[Dict[str, str]]:
    return [button(format_window(start, end, lang), f"{start:%Y-%m-%d %H:%M}") for start, end in slots]


def summary_buttons(form: str, lang: str, verified: bool) -> List[Dict[str, str]]:
    fields = [s for s in FORM_SLOTS[form][:-1] if not (verified and s.endswith("_name"))]
    changes = [button(knowledge.message(f"button_change_{s.split('_', 1)[1]}", lang)) for s in fields]
    return ([button(knowledge.message("button_book", lang), "/affirm")] + changes
            + [button(knowledge.message("button_cancel_booking", lang), "/cancel")])


def _time_in(text: str) -> Optional[str]:
    return without_mobile(text) if parse_when(without_mobile(text), now()) else None


# How each field is read from a free-text request.
READERS = {"time": _time_in, "mobile": parse_mobile, "name": parse_name}


def from_request(tracker: Tracker, slot: str) -> Dict[Text, Any]:
    """``slot`` filled from the message asking for the booking, when it already says it, so it is
    not asked again: the time ("请明天下午3点给我回电话"), the mobile number, the name ("我叫李娜",
    "my name is Anna Lee"). Only the request itself: once the form has asked a question, the
    answer goes to its field."""
    if tracker.get_slot("requested_slot") is not None or tracker.get_slot(slot) is not None:
        return {}
    value = READERS[slot.split("_", 1)[1]](tracker.latest_message.get("text") or "")
    return {slot: value} if value else {}


def tell_schedule_error(error: ScheduleError, kind: str, dispatcher: CollectingDispatcher, lang: str) -> None:
    key = f"{kind}_time_outside_hours" if error.code == "outside_hours" else f"time_{error.code}"
    dispatcher.utter_message(text=knowledge.message(key, lang))


class ValidateCallbackForm(StoppableFormValidation):
    def name(self) -> Text:
        return "validate_callback_form"

    async def required_slots(self, domain_slots, dispatcher, tracker, domain) -> List[Text]:
        if tracker.get_slot("callback_reference"):
            return []
        return [s for s in FORM_SLOTS["callback_form"] if not (s == "callback_name" and verified_name(tracker))]

    def extract_callback_name(self, dispatcher, tracker, domain) -> Dict[Text, Any]:
        return from_request(tracker, "callback_name")

    def extract_callback_mobile(self, dispatcher, tracker, domain) -> Dict[Text, Any]:
        return from_request(tracker, "callback_mobile")

    def extract_callback_time(self, dispatcher, tracker, domain) -> Dict[Text, Any]:
        return from_request(tracker, "callback_time")

    def validate_callback_name(self, value, dispatcher, tracker, domain):
        return validate_name("callback_name", value, tracker)

    def validate_callback_mobile(self, value, dispatcher, tracker, domain):
        return validate_mobile("callback_mobile", value, dispatcher, tracker)

    def validate_callback_time(self, value, dispatcher, tracker, domain):
        return validate_time("callback_time", "callback", value, dispatcher, tracker)

    def validate_callback_confirmed(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                    domain: DomainDict) -> Dict[Text, Any]:
        lang = reply_language_of(tracker)
        if intent_of(tracker) != "affirm":
            return self.summary_answer("callback_confirmed", change_words("callback_form"), value, dispatcher, tracker, lang)
        start = datetime.fromisoformat(tracker.get_slot("callback_time"))
        mobile = tracker.get_slot("callback_mobile")
        try:
            window = callback_window(start, now())
            booking = store().book_callback(
                name=verified_name(tracker) or tracker.get_slot("callback_name"), mobile=mobile,
                window_start=window[0], window_end=window[1], **booking_basics(tracker, lang),
            )
        except ScheduleError as error:  # the window passed while the customer was deciding
            tell_schedule_error(error, "callback", dispatcher, lang)
            return {"callback_time": None, "callback_confirmed": None}
        dispatcher.utter_message(text=knowledge.message(
            "callback_booked", lang, reference=booking.reference, mobile=booking.mobile,
            window=format_window(booking.window_start, booking.window_end, lang)))
        return {"callback_confirmed": True, "callback_reference": booking.reference}


class ValidateAppointmentForm(StoppableFormValidation):
    def name(self) -> Text:
        return "validate_appointment_form"

    async def required_slots(self, domain_slots, dispatcher, tracker, domain) -> List[Text]:
        if tracker.get_slot("appointment_reference"):
            return []
        return [s for s in FORM_SLOTS["appointment_form"] if not (s == "appointment_name" and verified_name(tracker))]

    async def extract_appointment_city(self, dispatcher, tracker, domain) -> Dict[Text, Any]:
        """A city named when asking for the appointment ("我想在上海网点约顾问")."""
        cities = latest_entities(tracker, "city")
        if cities and tracker.get_slot("appointment_city") is None and tracker.get_slot("requested_slot") is None:
            return {"appointment_city": cities[0]}
        return {}

    def extract_appointment_time(self, dispatcher, tracker, domain) -> Dict[Text, Any]:
        return from_request(tracker, "appointment_time")

    def extract_appointment_name(self, dispatcher, tracker, domain) -> Dict[Text, Any]:
        return from_request(tracker, "appointment_name")

    def extract_appointment_mobile(self, dispatcher, tracker, domain) -> Dict[Text, Any]:
        return from_request(tracker, "appointment_mobile")

    def validate_appointment_city(self, value, dispatcher, tracker, domain):
        cities = latest_entities(tracker, "city")
        branch = find_branch(cities[0] if cities else str(value or ""))
        if branch is None:
            dispatcher.utter_message(text=knowledge.message("appointment_city_invalid", reply_language_of(tracker)))
            return {"appointment_city": None}
        return {"appointment_city": branch["city"]}

    def validate_appointment_time(self, value, dispatcher, tracker, domain):
        return validate_time("appointment_time", "appointment", value, dispatcher, tracker)

    def validate_appointment_name(self, value, dispatcher, tracker, domain):
        return validate_name("appointment_name", value, tracker)

    def validate_appointment_mobile(self, value, dispatcher, tracker, domain):
        return validate_mobile("appointment_mobile", value, dispatcher, tracker)

    def validate_appointment_confirmed(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                       domain: DomainDict) -> Dict[Text, Any]:
        lang = reply_language_of(tracker)
        if intent_of(tracker) != "affirm":
            return self.summary_answer("appointment_confirmed", change_words("appointment_form"), value, dispatcher, tracker, lang)
        branch = find_branch(tracker.get_slot("appointment_city"))
        try:
            starts_at, ends_at = appointment_slot(datetime.fromisoformat(tracker.get_slot("appointment_time")), now())
            booking = store().book_appointment(
                city=branch["city"], name=verified_name(tracker) or tracker.get_slot("appointment_name"),
                mobile=tracker.get_slot("appointment_mobile"), starts_at=starts_at, ends_at=ends_at,
                **booking_basics(tracker, lang),
            )
        except ScheduleError as error:
            tell_schedule_error(error, "appointment", dispatcher, lang)
            return {"appointment_time": None, "appointment_confirmed": None}
        dispatcher.utter_message(text=knowledge.message(
            "appointment_booked", lang, reference=booking.reference, branch=branch["name"][lang],
            address=branch["address"][lang], phone=branch["phone"],
            window=format_window(booking.starts_at, booking.ends_at, lang)))
        return {"appointment_confirmed": True, "appointment_reference": booking.reference}


class AskCallbackName(AskSlot):
    action_name = "action_ask_callback_name"

    def question(self, tracker, lang):
        return knowledge.message("ask_name", lang), []


class AskAppointmentName(AskCallbackName):
    action_name = "action_ask_appointment_name"


class AskCallbackMobile(AskSlot):
    action_name = "action_ask_callback_mobile"

    def question(self, tracker, lang):
        return knowledge.message("ask_mobile", lang), []


class AskAppointmentMobile(AskCallbackMobile):
    action_name = "action_ask_appointment_mobile"


class AskCallbackTime(AskSlot):
    action_name = "action_ask_callback_time"

    def question(self, tracker, lang):
        return knowledge.message("callback_ask_time", lang), time_buttons(next_callback_windows(now()), lang)


class AskAppointmentCity(AskSlot):
    action_name = "action_ask_appointment_city"

    def question(self, tracker, lang):
        return knowledge.message("appointment_ask_city", lang), [button(b["name"][lang], b["city"]) for b in branches()]


class AskAppointmentTime(AskSlot):
    action_name = "action_ask_appointment_time"

    def question(self, tracker, lang):
        return knowledge.message("appointment_ask_time", lang), time_buttons(next_appointment_slots(now()), lang)


class AskCallbackConfirmed(AskSlot):
    action_name = "action_ask_callback_confirmed"

    def question(self, tracker, lang):
        start = datetime.fromisoformat(tracker.get_slot("callback_time"))
        summary = knowledge.message(
            "callback_summary", lang, name=verified_name(tracker) or tracker.get_slot("callback_name"),
            mobile=tracker.get_slot("callback_mobile"), window=format_window(start, start + CALLBACK_LENGTH, lang))
        return summary, summary_buttons("callback_form", lang, bool(verified_name(tracker)))


class AskAppointmentConfirmed(AskSlot):
    action_name = "action_ask_appointment_confirmed"

    def question(self, tracker, lang):
        branch = find_branch(tracker.get_slot("appointment_city"))
        start = datetime.fromisoformat(tracker.get_slot("appointment_time"))
        summary = knowledge.message(
            "appointment_summary", lang, branch=branch["name"][lang], address=branch["address"][lang],
            window=format_window(start, start + APPOINTMENT_LENGTH, lang),
            name=verified_name(tracker) or tracker.get_slot("appointment_name"),
            mobile=tracker.get_slot("appointment_mobile"))
        return summary, summary_buttons("appointment_form", lang, bool(verified_name(tracker)))
