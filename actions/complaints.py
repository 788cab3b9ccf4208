"""Complaints: the intake form, urgent cases and fraud reports, and the status look-up.

The complaint is filed inside the form's validation when the customer confirms (or at once
for an urgent case) and its reference is told in the same turn, after the commit. Filing is
keyed on the contact service's message id (see ``actions/forms.py``). Urgent cases beyond the
limit (``bot/complaints/desk.py``) are handed to a person with the safety steps, but not filed.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.base import AssistantAction, is_verified, latest_entities, latest_metadata, reply_language_of
from actions.forms import FORM_SLOTS, AskSlot, StoppableFormValidation, button, intent_of, origin, receipt
from actions.handoff import handoff_payload
from bot import knowledge, product_resolver, products, service_hours
from bot.bookings.schedule import parse_mobile
from bot.complaints import triage
from bot.complaints.desk import ComplaintDesk, ComplaintDraft, UrgentLimitReached
from bot.complaints.models import CATEGORIES, Complaint
from bot.core.db import sessions_for
from bot.core.settings import database_url
from bot.language import format_moment
from bot.privacy import mask_sensitive
from bot.references import well_formed
from bot.service_hours import SHANGHAI
from bot.working_calendar import RESOLUTION_WORKING_DAYS

NO_PRODUCT = "none"
CONTACT_CHAT = "chat"
CONTACT_REGISTERED = "registered"
# A complaint reference as customers type it (bot/references.py): spaces and dashes of any width
# allowed, Chinese right next to it too; 4–7 digits, so that a mistyped one can be told so.
REFERENCE = re.compile(r"(?<![A-Za-z0-9])[Cc]\s*(\d{8})\s*[-－—]?\s*(\d{4,7})(?!\d)")
# The complaint_reference slot of an urgent case over the limit: the form is over, nothing was filed.
NOT_FILED = "not-filed"
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
# Answers at the summary step that reopen a field (button texts in both languages, or words).
CHANGE_WORDS = {
    "complaint_description": ("描述", "问题", "what happened", "description"),
    "complaint_category": ("类别", "分类", "category"),
    "complaint_product": ("产品", "product"),
    "complaint_outcome": ("诉求", "what i'd like", "request", "outcome"),
    "complaint_contact": ("联系", "reach", "contact"),
}


def desk() -> ComplaintDesk:
    return ComplaintDesk(sessions_for(database_url()))


def message_origin(tracker: Tracker) -> Optional[str]:
    """Where the latest message came from, as the contact service's keyed hash (of the client
    address, Telegram user or mail sender), if it sent one."""
    value = (latest_metadata(tracker).get("message") or {}).get("origin")
    return value if isinstance(value, str) and value else None


def file_complaint(tracker: Tracker, lang: str, description: str, category: str, urgent: bool,
                   product: Optional[str] = None, outcome: Optional[str] = None, contact: Optional[str] = None) -> Complaint:
    """File the complaint (once per message); UrgentLimitReached for an urgent one over the limit."""
    source_key, received_at = receipt(tracker)
    draft = ComplaintDraft(
        source_key=source_key,
        **origin(tracker),
        origin=message_origin(tracker),
        language=lang,
        category=category,
        description=description,
        desired_outcome=outcome,
        product=product if product and product != NO_PRODUCT else None,
        contact=contact,
        urgent=urgent,
    )
    return desk().file(draft, received_at)


def contact_label(contact: Optional[str], lang: str) -> str:
    if contact == CONTACT_REGISTERED:
        return knowledge.message("contact_registered", lang)
    if contact in (None, CONTACT_CHAT):
        return knowledge.message("contact_chat", lang)
    return contact


def urgent_reason(tracker: Tracker) -> str:
    return "fraud" if intent_of(tracker) == "report_fraud" else "urgent"


def tell_filed(dispatcher: CollectingDispatcher, tracker: Tracker, complaint: Complaint, lang: str) -> None:
    """The reference, the deadlines and what happens next; an urgent case also gets the safety
    steps and goes to the top of the agents' queue when they are in."""
    if complaint.urgent:
        dispatcher.utter_message(text=knowledge.message("complaint_urgent", lang, reference=complaint.reference))
        if service_hours.agents_available():
            dispatcher.utter_message(json_message=handoff_payload(tracker, urgent_reason(tracker), True, complaint.reference))
    dispatcher.utter_message(text=knowledge.message(
        "complaint_filed", lang,
        reference=complaint.reference,
        first_reply=format_moment(complaint.first_reply_due, lang),
        resolution=format_moment(complaint.resolution_due, lang),
        days=RESOLUTION_WORKING_DAYS[complaint.severity],
        contact=contact_label(complaint.contact, lang),
    ))


def handle_urgent(dispatcher: CollectingDispatcher, tracker: Tracker, lang: str, text: str,
                  product: Optional[str]) -> str:
    """An urgent case: filed at once and told with the safety steps; over the limit, handed to a
    person with the safety steps but not filed again. The reference, or NOT_FILED."""
    contact = CONTACT_REGISTERED if is_verified(tracker) else CONTACT_CHAT
    try:
        complaint = file_complaint(tracker, lang, text, triage.suggest_category(text), urgent=True,
                                   product=product, contact=contact)
    except UrgentLimitReached:
        agents_in = service_hours.agents_available()
        next_step = knowledge.message("complaint_urgent_limited_agent", lang) if agents_in else knowledge.message(
            "complaint_urgent_limited_hotline", lang, reopen=format_moment(service_hours.agents_back_at(), lang))
        dispatcher.utter_message(text=knowledge.message("complaint_urgent_limited", lang, next=next_step))
        if agents_in:  # still urgent for the agents: the customer may really be in trouble
            dispatcher.utter_message(json_message=handoff_payload(tracker, urgent_reason(tracker), True))
        return NOT_FILED
    tell_filed(dispatcher, tracker, complaint, lang)
    return complaint.reference


def looks_detailed(text: str) -> bool:
    """Whether the message that opened the complaint already says what happened: enough words
    besides insults and product names (「你们就是一群骗子，垃圾客服」 tells nothing that happened)."""
    told = triage.without_insults(text)
    for mention in product_resolver.resolve(text).mentions:
        told = told[:mention.start] + " " * (mention.end - mention.start) + told[mention.end:]
    chinese = len(re.findall(r"[\u4e00-\u9fff]", told))
    return chinese >= 12 or len(re.findall(r"[A-Za-z]+", told)) >= 9


class ValidateComplaintForm(StoppableFormValidation):
    def name(self) -> Text:
        return "validate_complaint_form"

    async def required_slots(self, domain_slots: List[Text], dispatcher: CollectingDispatcher,
                             tracker: Tracker, domain: DomainDict) -> List[Text]:
        if tracker.get_slot("complaint_reference"):
            return []  # filed (an urgent case files straight after the description)
        required = list(FORM_SLOTS["complaint_form"])
        if is_verified(tracker):
            required.remove("complaint_contact")  # the CRM has the verified customer's details
        return required

    async def extract_complaint_description(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                            domain: DomainDict) -> Dict[Text, Any]:
        """The opening message is the description when it already tells what happened."""
        text = tracker.latest_message.get("text") or ""
        if (tracker.get_slot("complaint_description") is None and tracker.get_slot("requested_slot") is None
                and intent_of(tracker) in ("file_complaint", "report_fraud") and looks_detailed(text)):
            return {"complaint_description": text}
        return {}

    async def extract_complaint_product(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                        domain: DomainDict) -> Dict[Text, Any]:
        """A product named in the opening message ("我要投诉稳盈债券A"), even when the description
        is asked for next."""
        named = latest_entities(tracker, "product")
        if (named and tracker.get_slot("complaint_product") is None and tracker.get_slot("requested_slot") is None
                and intent_of(tracker) in ("file_complaint", "report_fraud")):
            return {"complaint_product": named[0]}
        return {}

    def validate_complaint_description(self, value: Any, dispatcher: CollectingDispatcher,
                                       tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        text = mask_sensitive(str(value or "").strip())
        if not text:
            return {"complaint_description": None}
        slots: Dict[Text, Any] = {"complaint_description": text}
        named = latest_entities(tracker, "product")
        if named and not tracker.get_slot("complaint_product"):
            slots["complaint_product"] = named[0]
        if triage.decide(text, intent_of(tracker)).urgent:
            # Emergency process: no more questions, file now and give the safety steps.
            slots["complaint_reference"] = handle_urgent(dispatcher, tracker, reply_language_of(tracker), text,
                                                         slots.get("complaint_product"))
        return slots

    def validate_complaint_category(self, value: Any, dispatcher: CollectingDispatcher,
                                    tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        if intent_of(tracker) == "affirm":
            return {"complaint_category": triage.suggest_category(tracker.get_slot("complaint_description") or "")}
        category = triage.category_from_answer(str(value or ""))
        if category is None:
            dispatcher.utter_message(text=knowledge.message("complaint_category_invalid", reply_language_of(tracker)))
        return {"complaint_category": category}

    def validate_complaint_product(self, value: Any, dispatcher: CollectingDispatcher,
                                   tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        named = latest_entities(tracker, "product")
        if named:
            return {"complaint_product": named[0]}
        answer = str(value or "").strip().lower()
        if answer in (NO_PRODUCT, "no", "none", "nope", "没有", "无", "不涉及", "都不是") or intent_of(tracker) == "deny" \
                or answer == knowledge.message("button_no_product", "zh") or answer == knowledge.message("button_no_product", "en").lower():
            return {"complaint_product": NO_PRODUCT}
        dispatcher.utter_message(text=knowledge.message("complaint_product_invalid", reply_language_of(tracker)))
        return {"complaint_product": None}

    def validate_complaint_outcome(self, value: Any, dispatcher: CollectingDispatcher,
                                   tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        return {"complaint_outcome": mask_sensitive(str(value or "").strip()) or None}

    def validate_complaint_contact(self, value: Any, dispatcher: CollectingDispatcher,
                                   tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        answer = str(value or "").strip()
        if answer in (CONTACT_CHAT, knowledge.message("button_contact_chat", "zh"), knowledge.message("button_contact_chat", "en")):
            return {"complaint_contact": CONTACT_CHAT}
        email, mobile = EMAIL.search(answer), parse_mobile(answer)
        if email or mobile:
            return {"complaint_contact": email.group(0) if email else mask_sensitive(mobile)}
        dispatcher.utter_message(text=knowledge.message("complaint_contact_invalid", reply_language_of(tracker)))
        return {"complaint_contact": None}

    def validate_complaint_confirmed(self, value: Any, dispatcher: CollectingDispatcher,
                                     tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        lang = reply_language_of(tracker)
        if intent_of(tracker) == "affirm":
            slot = tracker.get_slot
            complaint = file_complaint(
                tracker, lang, slot("complaint_description"), slot("complaint_category"),
                urgent=False, product=slot("complaint_product"), outcome=slot("complaint_outcome"),
                contact=slot("complaint_contact") or CONTACT_REGISTERED,
            )
            tell_filed(dispatcher, tracker, complaint, lang)
            return {"complaint_confirmed": True, "complaint_reference": complaint.reference}
        return self.summary_answer("complaint_confirmed", CHANGE_WORDS, value, dispatcher, tracker, lang)


class AskComplaintDescription(AskSlot):
    action_name = "action_ask_complaint_description"

    def question(self, tracker, lang):
        return knowledge.message("complaint_ask_description", lang), []


class AskComplaintCategory(AskSlot):
    action_name = "action_ask_complaint_category"

    def question(self, tracker, lang):
        suggested = triage.suggest_category(tracker.get_slot("complaint_description") or "")
        order = [suggested] + [c for c in CATEGORIES if c != suggested]
        return (knowledge.message("complaint_ask_category", lang, label=triage.category_label(suggested, lang)),
                [button(triage.category_label(c, lang)) for c in order])


class AskComplaintProduct(AskSlot):
    action_name = "action_ask_complaint_product"

    def question(self, tracker, lang):
        buttons = [button(p.name(lang), p.code) for p in products.catalog()]
        return knowledge.message("complaint_ask_product", lang), buttons + [button(knowledge.message("button_no_product", lang), NO_PRODUCT)]


class AskComplaintOutcome(AskSlot):
    action_name = "action_ask_complaint_outcome"

    def question(self, tracker, lang):
        return knowledge.message("complaint_ask_outcome", lang), []


class AskComplaintContact(AskSlot):
    action_name = "action_ask_complaint_contact"

    def question(self, tracker, lang):
        return knowledge.message("complaint_ask_contact", lang), [button(knowledge.message("button_contact_chat", lang), CONTACT_CHAT)]


class AskComplaintConfirmed(AskSlot):
    action_name = "action_ask_complaint_confirmed"

    def question(self, tracker, lang):
        slot = tracker.get_slot
        product = products.find_product(slot("complaint_product"))
        summary = knowledge.message(
            "complaint_summary", lang,
            description=slot("complaint_description"),
            category=triage.category_label(slot("complaint_category"), lang),
            product=product.name(lang) if product else knowledge.message("none_given", lang),
            outcome=slot("complaint_outcome") or knowledge.message("none_given", lang),
            contact=contact_label(slot("complaint_contact") or (CONTACT_REGISTERED if is_verified(tracker) else None), lang),
        )
        keys = ["button_change_description", "button_change_category", "button_change_product",
                "button_change_outcome"] + ([] if is_verified(tracker) else ["button_change_contact"])
        buttons = [button(knowledge.message(key, lang)) for key in keys]
        return summary, ([button(knowledge.message("button_submit", lang), "/affirm")] + buttons
                         + [button(knowledge.message("button_cancel_complaint", lang), "/cancel")])


class ActionReportFraud(AssistantAction):
    """Fraud, account takeover, an unauthorised transaction or a threat of harm: an urgent
    complaint at once, and the safety steps. The NLU pipeline sends only urgent messages here
    (bot/nlu/triage_override.py); anything else gets the security advice."""

    action_name = "action_report_fraud"

    def respond(self, dispatcher, tracker, lang):
        text = tracker.latest_message.get("text") or ""
        verdict = triage.decide(text, intent_of(tracker))
        if not verdict.urgent:
            tell_security_advice(dispatcher, verdict, text, lang)
            return []
        named = latest_entities(tracker, "product")
        handle_urgent(dispatcher, tracker, lang, text, named[0] if named else None)
        return []


def tell_security_advice(dispatcher: CollectingDispatcher, verdict: triage.Triage, text: str, lang: str) -> None:
    """The warning for an offered secret (with a note when bot/privacy.py masked it), or the
    advice on staying safe from fraud. No complaint, no alarm."""
    if verdict.verdict == triage.SECRET_OFFERED:
        dispatcher.utter_message(text=knowledge.message("security_secret_warning", lang))
        if triage.shows_masked_secret(text):
            dispatcher.utter_message(text=knowledge.message("security_secret_masked", lang))
    else:
        dispatcher.utter_message(text=knowledge.message("security_advice", lang))


class ActionSecurityAdvice(AssistantAction):
    """A customer offering a password, code, ID or card number, or asking how to stay safe."""

    action_name = "action_security_advice"

    def respond(self, dispatcher, tracker, lang):
        text = tracker.latest_message.get("text") or ""
        tell_security_advice(dispatcher, triage.decide(text, intent_of(tracker)), text, lang)
        return []


def describe_status(complaint: Complaint, lang: str) -> str:
    states = knowledge.load("complaints")["states"][lang]
    if complaint.state in ("resolved", "closed"):
        next_step = knowledge.message("complaint_resolved_note", lang, resolution=complaint.resolution or "")
    else:
        next_step = "" if complaint.first_replied_at else knowledge.message(
            "complaint_next_first_reply", lang, when=format_moment(complaint.first_reply_due, lang))
        next_step += knowledge.message("complaint_next_resolution", lang, when=format_moment(complaint.resolution_due, lang))
    return knowledge.message(
        "complaint_status_line", lang, reference=complaint.reference,
        category=triage.category_label(complaint.category, lang), state=states[complaint.state],
        next=next_step, updated=format_moment(complaint.updated_at.astimezone(SHANGHAI), lang),
    )


class ActionComplaintStatus(AssistantAction):
    """A complaint's state, next deadline and last update — only to the customer who made it."""

    action_name = "action_complaint_status"

    def respond(self, dispatcher, tracker, lang):
        where = origin(tracker)
        owner = (where["customer_id"], where["conversation_id"])
        found = REFERENCE.search(tracker.latest_message.get("text") or "")
        if found:
            reference = f"C{found.group(1)}-{found.group(2)}"
            if not well_formed(reference):  # the check digit is public: this tells nothing about what exists
                self.say(dispatcher, knowledge.message("complaint_status_mistyped", lang, reference=reference), lang)
                return []
            complaint = desk().for_owner(reference, *owner)
            text = describe_status(complaint, lang) if complaint else knowledge.message(
                "complaint_status_not_found", lang, reference=reference)
            self.say(dispatcher, text, lang)
            return []
        open_complaints = desk().open_for_owner(*owner)
        if not open_complaints:
            self.say(dispatcher, knowledge.message("complaint_status_none", lang), lang)
        for complaint in open_complaints:
            self.say(dispatcher, describe_status(complaint, lang), lang)
        return []
