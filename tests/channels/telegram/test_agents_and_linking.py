"""Linking a Telegram chat to a verified customer, a handoff round trip with an agent in the
console API, the survey answered with an inline button, and delivery through Telegram's 429s,
against the real processes with the clock inside agent hours."""

from __future__ import annotations

import time

from sqlalchemy import select

from bot.core.models import Conversation, Message
from bot.core.staff import DEMO_AGENT
from bot.surveys import Survey
from channels.telegram.models import TelegramUpdate
from tests.support.clients import Client, Console
from tests.support.system import identity_token
from tests.support.telegram import BOT_USERNAME, TelegramUser


def link_code(system, customer_id: str) -> dict:
    web = Client(system.contact_url)
    web.start(identity_token=identity_token(customer_id))  # a verified website session
    status, issued, _ = web.call("POST", "/api/v1/link-codes", {})
    assert status == 200, issued
    return issued


def test_a_linked_customer_reaches_an_agent_and_rates_the_service_with_a_button(system, bot_api, db):
    issued = link_code(system, "demo-premier")
    assert issued["telegram_url"] == f"https://t.me/{BOT_USERNAME}?start={issued['code']}"
    user = TelegramUser(system, bot_api, 620000001)
    user.send(f"/start {issued['code']}")  # what the deep link sends
    user.wait_for("已验证客户身份关联")
    assert user.texts()[0].startswith("隐私提示")
    assert db.get(Conversation, user.conversation_id).customer_id == "demo-premier"

    user.send("转人工")
    user.wait_for("正在为您转接人工客服")
    user.wait_for("目前没有人工客服在线")
    agent = Console(system.contact_url).log_in(DEMO_AGENT)
    [waiting] = [h for h in agent.waiting() if h["conversation_id"] == user.conversation_id]
    assert (waiting["tier"], waiting["queue"], waiting["reason"]) == ("premier", "general", "customer_request")
    status, view = agent.call("GET", f"/console/api/conversations/{user.conversation_id}")
    assert status == 200 and view["customer"]["verified"] and view["customer"]["risk_level"] == "C3"

    status, _ = agent.call("POST", f"/console/api/handoffs/{waiting['id']}/claim")
    assert status == 200
    user.wait_for("客服 Demo Agent 已接入")
    status, _ = agent.call("POST", f"/console/api/conversations/{user.conversation_id}/messages", {"text": "您好，我是 Demo Agent，请问赎回单号是多少？"})
    assert status == 200
    user.wait_for("请问赎回单号是多少")

    before = len(user.texts())
    update = user.send("单号 R20261130001，回电请打 13812345678")
    status, view = agent.call("GET", f"/console/api/conversations/{user.conversation_id}")
    assert view["messages"][-1]["sender"] == "customer" and view["messages"][-1]["text"] == "单号 R20261130001，回电请打 138****5678"
    time.sleep(3)
    assert len(user.texts()) == before  # for the agent: the assistant stays silent
    [stored] = db.execute(select(Message).where(Message.client_message_id == f"tg-{update['update_id']}")).scalars()
    assert stored.status == "for_agent"

    status, _ = agent.call("POST", f"/console/api/handoffs/{waiting['id']}/resolve")
    assert status == 200
    user.wait_for("人工客服已结束本次服务")
    survey = user.wait_for("人工客服的服务打分")
    assert [b["text"] for row in survey.params["reply_markup"]["inline_keyboard"] for b in row] == ["1", "2", "3", "4", "5"]
    tap = user.tap(survey, "4")
    user.wait_for("感谢您的评分（4 分）")
    assert any(c.params["callback_query_id"] == tap["callback_query"]["id"] for c in bot_api.calls_to("answerCallbackQuery"))
    skip = user.wait_for("点击“跳过”")
    user.tap(skip, "跳过")
    user.wait_for("感谢您的反馈")

    db.expire_all()
    [rated] = db.execute(select(Survey).where(Survey.conversation_id == user.conversation_id)).scalars()
    assert (rated.rating, rated.channel, rated.agent_id, rated.trigger) == (4, "telegram", DEMO_AGENT, "agent")
    texts = user.quiet()
    assert len(texts) == len(set(texts))  # nothing sent twice


def test_wrong_and_used_codes_are_refused_and_attempts_are_limited(system, bot_api, db):
    issued = link_code(system, "demo-standard")
    first = TelegramUser(system, bot_api, 620000002, language_code="en")
    first.send(f"/link {issued['code']}")
    first.wait_for("now linked")
    other = TelegramUser(system, bot_api, 620000003, first_name="Eve", language_code="en")
    other.send(f"/link {issued['code']}")  # used once already
    other.wait_for("wrong or has expired")
    for wrong in ("ABCDEFGH", "short", "ZZZZ2222", "/link"):
        other.send(f"/link {wrong}")
    other.api.wait_for(lambda: sum("wrong or has expired" in t for t in other.texts()) == 5, what="five refusals")
    fresh = link_code(system, "demo-standard")
    other.send(f"/start {fresh['code']}")  # a sixth attempt within 15 minutes, even with a good code
    other.wait_for("Too many attempts")
    assert db.get(Conversation, other.conversation_id).customer_id is None
    assert db.get(Conversation, first.conversation_id).customer_id == "demo-standard"


def test_a_button_of_another_conversation_is_ignored(system, bot_api, db):
    owner = TelegramUser(system, bot_api, 620000004)
    owner.send("长青货币宝起购金额是多少")
    owner.wait_for("100")
    owner.send("好的，再见")
    survey = owner.wait_for("打分")  # a goodbye after a real question: the survey, with buttons
    intruder = TelegramUser(system, bot_api, 620000005)
    taps = [intruder.post(intruder.callback(survey.params["reply_markup"]["inline_keyboard"][0][4]["callback_data"])),
            intruder.post(intruder.callback("not-ours")), intruder.post(intruder.callback("b999999999.0"))]
    bot_api.wait_for(lambda: {t["callback_query"]["id"] for t in taps} <= {c.params["callback_query_id"] for c in bot_api.calls_to("answerCallbackQuery")},
                     what="every callback query answered")
    time.sleep(1)
    assert db.execute(select(Message).where(Message.conversation_id == intruder.conversation_id, Message.direction == "in")).first() is None
    assert {db.get(TelegramUpdate, t["update_id"]).kind for t in taps} == {"callback"}
    assert len(intruder.quiet()) == 1  # only the privacy notice


def test_a_429_and_a_502_are_waited_out_and_every_message_arrives_once_in_order(system, bot_api):
    user = TelegramUser(system, bot_api, 620000006)
    bot_api.fail_next(1, 429, chat_id=user.id)
    bot_api.fail_next(1, 502, chat_id=user.id)
    user.send("长青货币宝起购金额是多少")
    user.wait_for("100")
    texts = user.quiet()
    assert len(texts) == 2 and texts[0].startswith("隐私提示") and "100" in texts[1]
    failed = [c for c in bot_api.calls_to("sendMessage", user.id, ok_only=False) if not c.ok]
    assert [c.status for c in failed] == [429, 502]
    assert user.calls()[0].at - failed[0].at >= 1  # Telegram said: retry after 1 s
