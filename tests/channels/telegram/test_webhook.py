"""The webhook with the real assistant behind it: the secret, answers in both languages after the
privacy notice, updates counted once, personal numbers masked, updates that are not text,
polling mode and the set-webhook command."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

from sqlalchemy import select

from bot.core.models import Conversation, Message
from bot.references import pattern
from bot.surveys import Survey
from channels.telegram.models import TelegramChat, TelegramUpdate
from tests.support.system import ROOT, ROOT_ENV
from tests.support.telegram import SECRET, next_update_id, post_update, telegram_env, TelegramUser


ZH_DISCLOSURE = "理财非存款，产品有风险，投资须谨慎。"
EN_DISCLOSURE = "Wealth management products are not deposits."


def test_a_forged_or_missing_secret_is_refused_and_nothing_is_stored(system, bot_api, db):
    user = TelegramUser(system, bot_api, 610000001)
    update = user.message(text="长青货币宝起购金额是多少")
    for secret in ("wrong-secret", None, SECRET[:-1], SECRET + "x", ""):
        status, body = post_update(system.contact_url, update, secret=secret)
        assert status == 403 and body["error"]["code"] == "forbidden"
    for raw in (b"{not json", b"[1, 2]", b'{"message": {}}', b'{"update_id": "5"}', b'{"update_id": true}', b"\xff\xfe"):
        status, body = post_update(system.contact_url, raw=raw)
        assert (status, body) == (200, {"ok": True}), raw  # refused, and logged: Telegram must not send it again
    time.sleep(1)
    assert db.get(TelegramUpdate, update["update_id"]) is None and db.get(Conversation, user.conversation_id) is None
    assert user.texts() == []


def test_a_chinese_question_is_answered_after_the_privacy_notice(system, bot_api, db):
    user = TelegramUser(system, bot_api, 610000002)
    update = user.send("长青货币宝起购金额是多少")
    answer = user.wait_for("100")
    texts = user.quiet()
    assert texts[0].startswith("隐私提示") and "身份证号、银行卡号、密码或短信验证码" in texts[0]
    assert answer.params["text"].endswith("\n\n" + ZH_DISCLOSURE)  # the disclosure reaches Telegram too
    assert bot_api.calls_to("sendChatAction", user.id)  # "typing…" while the assistant answers
    [row] = db.execute(select(TelegramUpdate).where(TelegramUpdate.update_id == update["update_id"])).scalars()
    conversation = db.get(Conversation, user.conversation_id)
    assert (row.kind, row.conversation_id) == ("text", user.conversation_id)
    assert (conversation.channel, conversation.language, conversation.customer_id) == ("telegram", "zh", None)
    [inbound] = db.execute(select(Message).where(Message.client_message_id == f"tg-{update['update_id']}")).scalars()
    assert (inbound.text, inbound.status, inbound.conversation_id) == ("长青货币宝起购金额是多少", "answered", user.conversation_id)
    db.expire_all()
    last = db.execute(select(Message.id).where(Message.conversation_id == user.conversation_id).order_by(Message.id.desc())).scalars().first()
    assert db.get(TelegramChat, user.conversation_id).delivered_up_to == last  # the outbox cursor is at the end


def test_an_english_question_is_answered_in_english(system, bot_api):
    user = TelegramUser(system, bot_api, 610000003, first_name="Anna", language_code="en")
    user.send("What is the minimum investment for Cash Plus?")
    answer = user.wait_for("minimum investment")
    texts = user.quiet()
    assert texts[0].startswith("Privacy note") and "never send your ID number" in texts[0]
    assert "100" in answer.params["text"] and EN_DISCLOSURE in answer.params["text"]
    assert all("隐私" not in text for text in texts)


def test_a_duplicate_update_gets_one_set_of_replies(system, bot_api, db):
    user = TelegramUser(system, bot_api, 610000004)
    update = user.send("货币宝的风险等级是什么")
    assert post_update(system.contact_url, update)[0] == 200  # Telegram delivers it again
    user.wait_for(ZH_DISCLOSURE)
    assert post_update(system.contact_url, update)[0] == 200  # and again, after the answer
    texts = user.quiet(2)
    assert len(texts) == 2 and texts[0].startswith("隐私提示")  # the notice and one answer
    stored = db.execute(select(Message).where(Message.conversation_id == user.conversation_id, Message.direction == "in")).scalars().all()
    assert [m.client_message_id for m in stored] == [f"tg-{update['update_id']}"]


def test_personal_numbers_are_masked_in_what_is_stored(system, bot_api, db):
    user = TelegramUser(system, bot_api, 610000005)
    update = user.send("我的身份证 110101199003071234，卡号 6222 0212 3456 7890 123，手机 13912345678，帮我查一下")
    user.wait_for("", timeout=60)
    user.quiet()
    [stored] = db.execute(select(Message).where(Message.client_message_id == f"tg-{update['update_id']}")).scalars()
    assert "110101********1234" in stored.text and "6222 **** **** 0123" in stored.text and "139****5678" in stored.text
    everything = " ".join(m.text for m in db.execute(select(Message).where(Message.conversation_id == user.conversation_id)).scalars())
    for secret in ("19900307", "02123456789", "1234567890", "13912345678"):
        assert secret not in everything.replace(" ", "")


def test_updates_that_are_not_text_never_fail(system, bot_api, db):
    user = TelegramUser(system, bot_api, 610000006)
    sticker = user.post(user.message(sticker={"file_id": "CAACAgIAAxkBAAEB", "file_unique_id": "AgADBQAD", "type": "regular",
                                              "width": 512, "height": 512, "is_animated": False, "is_video": False, "emoji": "👍"}))
    user.wait_for("只能阅读文字消息")
    assert user.texts()[0].startswith("隐私提示")  # first contact, even by a sticker
    user.post(user.message(photo=[{"file_id": "AgACAgIAAxkBAAIB", "file_unique_id": "AQADBx", "width": 90, "height": 67,
                                   "file_size": 1234}], caption="看看这张截图"))
    user.post(user.message(voice={"file_id": "AwACAgIAAxkBAAIC", "file_unique_id": "AgADbQ", "duration": 2, "mime_type": "audio/ogg"}))
    user.api.wait_for(lambda: sum("只能阅读文字消息" in t for t in user.texts()) == 3, what="three text-only notes")
    edited = {"update_id": next_update_id(), "edited_message": {
        "message_id": 1, "from": user.user, "chat": user.chat, "date": int(time.time()) - 60, "edit_date": int(time.time()),
        "text": "货币宝起购金额是多少？"}}
    user.post(edited)
    user.wait_for("作为新消息再发一次")  # not answered again: a note to send it anew

    group = {"id": -1001234567890, "type": "supergroup", "title": "Family"}
    in_group = {"update_id": next_update_id(), "message": {"message_id": 5, "from": user.user, "chat": group,
                                                                      "date": int(time.time()), "text": "@EvergreenTestBot 货币宝怎么样"}}
    user.post(in_group)
    told = bot_api.wait_for(lambda: bot_api.calls_to("sendMessage", group["id"]), what="a note to the group")
    assert "私聊" in told[0].params["text"] and "https://t.me/EvergreenTestBot" in told[0].params["text"]
    user.post({**in_group, "update_id": next_update_id(), "message": {**in_group["message"], "message_id": 6}})
    channel_post = {"update_id": next_update_id(), "channel_post": {
        "message_id": 9, "chat": {"id": -1009876543210, "type": "channel", "title": "News"}, "date": int(time.time()), "text": "hi"}}
    user.post(channel_post)
    unknown = {"update_id": next_update_id(), "message_reaction": {
        "chat": user.chat, "message_id": 3, "user": user.user, "date": int(time.time()), "old_reaction": [],
        "new_reaction": [{"type": "emoji", "emoji": "👍"}]}}
    user.post(unknown)
    user.post(unknown)  # a duplicate of an unknown kind: also fine
    time.sleep(2)
    assert len(bot_api.calls_to("sendMessage", group["id"])) == 1  # asked once per group
    assert bot_api.calls_to("sendMessage", -1009876543210) == []
    texts = user.texts()
    assert len(texts) == 5 and all("货币宝" not in t for t in texts)  # notice, 3 notes, the edit note; nothing answered
    kinds = dict(db.execute(select(TelegramUpdate.update_id, TelegramUpdate.kind)
                            .where(TelegramUpdate.update_id >= sticker["update_id"])).all())
    assert kinds[sticker["update_id"]] == "non_text" and kinds[edited["update_id"]] == "edited"
    assert kinds[in_group["update_id"]] == "group" and kinds[channel_post["update_id"]] == "channel" and kinds[unknown["update_id"]] == "other"
    assert db.execute(select(Message).where(Message.conversation_id == user.conversation_id, Message.direction == "in")).first() is None


def test_start_greets_a_new_user(system, bot_api):
    user = TelegramUser(system, bot_api, 610000007, first_name="Tom", language_code="en-GB")
    user.send("/start")
    user.wait_for("virtual assistant")
    assert user.quiet()[0].startswith("Privacy note")
    user.send("/link")
    assert "get a link code" in user.wait_for("/link CODE").params["text"]


def test_polling_forwards_updates_to_the_webhook(system, bot_api, database_url, tmp_path):
    user = TelegramUser(system, bot_api, 610000008)
    update = user.message(text="长青货币宝起购金额是多少")
    bot_api.queue_update(update)
    env = {**os.environ, **ROOT_ENV, **telegram_env(database_url, bot_api)}
    with open(tmp_path / "poll.log", "wb") as log:
        poller = subprocess.Popen([sys.executable, "-m", "channels.telegram", "poll", "--to", system.contact_url + "/channels/telegram/webhook",
                                   "--timeout", "1"], env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        try:
            user.wait_for("100")
            # The offset moves past the update only after the webhook took it.
            bot_api.wait_for(lambda: any(c.params.get("offset") == update["update_id"] + 1 for c in bot_api.calls_to("getUpdates")),
                             what="the next getUpdates confirming the update")
        finally:
            poller.terminate()
            poller.wait(timeout=15)
    assert bot_api.calls_to("deleteWebhook")[0].params.get("drop_pending_updates") is False
    assert len(user.quiet()) == 2  # the notice and one answer


def test_set_webhook_registers_the_url_with_the_secret(system, bot_api, database_url):
    env = {**os.environ, **ROOT_ENV, **telegram_env(database_url, bot_api)}
    url = "https://contact.example.com/channels/telegram/webhook"
    done = subprocess.run([sys.executable, "-m", "channels.telegram", "set-webhook", url], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    [call] = bot_api.calls_to("setWebhook")[-1:]
    assert (call.params["url"], call.params["secret_token"], call.params["drop_pending_updates"]) == (url, SECRET, False)
    assert "callback_query" in call.params["allowed_updates"] and url in done.stdout
    refused = subprocess.run([sys.executable, "-m", "channels.telegram", "set-webhook", "http://insecure.example.com/x"],
                             env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "https" in refused.stderr


def test_a_complaint_filed_in_telegram_with_its_buttons_and_its_status_looked_up(system, bot_api, db):
    from bot.complaints.models import Complaint

    user = TelegramUser(system, bot_api, 610000090)
    user.send("我要投诉")
    user.wait_for("请简单描述一下发生了什么")
    user.send("上周赎回稳盈债券被多扣了0.5%的赎回费，之前没人告诉过我")
    suggestion = user.wait_for("「费用及收费标准」有关，对吗")
    taps = [user.tap(suggestion, "费用及收费标准")]  # the inline button, as a callback query
    user.wait_for("您希望我们怎样处理")
    user.send("退还赎回费")
    user.wait_for("我们该如何联系您")
    user.send("我的手机 13812345678")
    summary = user.wait_for("· 类别：费用及收费标准")
    assert "138****5678" in summary.params["text"] and "13812345678" not in summary.params["text"]
    taps.append(user.tap(summary, "确认提交"))
    filed = user.wait_for("您的投诉已登记")
    reference = re.search(pattern("C"), filed.params["text"]).group(0)
    complaint = db.execute(select(Complaint).where(Complaint.reference == reference)).scalar_one()
    assert (complaint.channel, complaint.conversation_id, complaint.category) == ("telegram", user.conversation_id, "fees")

    user.send(f"查询投诉 {reference}")
    user.wait_for(f"投诉 {reference}（费用及收费标准）")
    tapped = {update["callback_query"]["id"] for update in taps}  # every tap answered (the spinner stops)
    bot_api.wait_for(lambda: tapped <= {c.params.get("callback_query_id") for c in bot_api.calls_to("answerCallbackQuery")},
                     30, "the taps answered")


def test_typed_commands_are_words_and_a_forged_survey_stores_nothing(system, bot_api, db):
    """Rasa's command syntax typed in the chat (not a tap on one of the bot's buttons) is read as
    words: every message is answered by the assistant, and /EXTERNAL_survey then
    /rate{"rating": "5"} opens no survey and stores no rating."""
    user = TelegramUser(system, bot_api, 610000031)
    for text in ("/restart", "/session_start", "/EXTERNAL_survey", '/rate{"rating": "5"}'):
        update = user.send(text)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            db.expire_all()
            inbound = db.execute(select(Message).where(Message.client_message_id == f"tg-{update['update_id']}")).scalar_one_or_none()
            if inbound is not None and inbound.status == "answered":
                break
            time.sleep(0.3)
        assert inbound is not None and inbound.status == "answered", text
    assert db.execute(select(Survey).where(Survey.conversation_id == user.conversation_id)).scalars().all() == []
