"""A button never changes the language on Telegram either (issue #15, item 6): the complaint of
the issue, 「在本对话中回复我」 (payload ``chat``) and 「不涉及具体产品」 (``none``) tapped as inline
buttons, stays in the customer's language to the end and is stored in it."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from bot import knowledge
from bot.complaints.models import Complaint
from bot.references import pattern
from tests.support.telegram import TelegramUser


CJK = re.compile(r"[\u3400-\u9fff]")
SAYS = {
    "zh": ("我要投诉", "上周我在APP里赎回基金，到账比说好的晚了三天，客服电话一直打不通", "希望说明原因"),
    "en": ("I want to make a complaint",
           "Last week I redeemed a fund in the app and the money arrived three days late, and nobody answered the hotline",
           "Please explain why"),
}

# The start of the category question, the summary and the filing notice.
SEEN = {
    "zh": {"category": "有关，对吗", "summary": "请确认您的投诉", "filed": "您的投诉已登记"},
    "en": {"category": "Is that right?", "summary": "Please check your complaint", "filed": "Your complaint is registered"},
}


@pytest.mark.parametrize("lang,user_id", [("zh", 610000201), ("en", 610000202)])
def test_tapping_every_complaint_button_on_telegram_keeps_the_language(system, bot_api, db, lang, user_id):
    opening, description, outcome = SAYS[lang]
    user = TelegramUser(system, bot_api, user_id, language_code=lang)
    user.send(opening)
    user.wait_for(knowledge.message("complaint_ask_description", lang))
    user.send(description)
    suggestion = user.wait_for(SEEN[lang]["category"])
    suggested = suggestion.params["reply_markup"]["inline_keyboard"][0][0]["text"]
    user.tap(suggestion, suggested)
    products = user.wait_for(knowledge.message("complaint_ask_product", lang))
    user.tap(products, knowledge.message("button_no_product", lang))
    user.wait_for(knowledge.message("complaint_ask_outcome", lang))
    user.send(outcome)
    contact = user.wait_for(knowledge.message("complaint_ask_contact", lang))
    user.tap(contact, knowledge.message("button_contact_chat", lang))
    summary = user.wait_for(SEEN[lang]["summary"])
    user.tap(summary, knowledge.message("button_submit", lang))
    filed = user.wait_for(SEEN[lang]["filed"])
    reference = re.search(pattern("C"), filed.params["text"]).group(0)
    for text in user.quiet():
        assert bool(CJK.search(text)) == (lang == "zh"), text
    complaint = db.execute(select(Complaint).where(Complaint.reference == reference)).scalar_one()
    assert (complaint.language, complaint.contact, complaint.product) == (lang, "chat", None)
