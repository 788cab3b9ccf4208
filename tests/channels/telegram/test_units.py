"""The channel's pure parts: reading updates, settings, the first language, message rendering."""

from __future__ import annotations

import pytest

from bot.core.models import Message
from bot.http.settings import HttpSettings as Settings
from channels.telegram import updates as kinds
from channels.telegram.config import TelegramConfigError, telegram_config
from channels.telegram.inbound import first_language
from channels.telegram.render import callback_data, parse_callback_data, split_text, telegram_messages
from channels.telegram.updates import classify


USER = {"id": 5550001, "is_bot": False, "first_name": "Li", "language_code": "zh-hans"}
PRIVATE = {"id": 5550001, "type": "private", "first_name": "Li"}


def message(**fields):
    return {"update_id": 10, "message": {"message_id": 1, "from": USER, "chat": PRIVATE, "date": 1764380000, **fields}}


def test_text_commands_and_slashes():
    text = classify(message(text="长青货币宝起购金额是多少"))
    assert (text.kind, text.text, text.conversation_id, text.chat_id) == (kinds.TEXT, "长青货币宝起购金额是多少", "tg-5550001", 5550001)
    start = classify(message(text="/start ABCD2345"))
    assert (start.kind, start.command, start.text) == (kinds.COMMAND, "start", "ABCD2345")
    assert classify(message(text="/link@EvergreenTestBot  XY23ZZ99")).text == "XY23ZZ99"
    assert (classify(message(text="/start")).kind, classify(message(text="/start")).text) == (kinds.COMMAND, "")
    # Only the bot's own buttons may send intent payloads; typed ones are read as words.
    assert classify(message(text='/rate{"rating": "5"}')).text == 'rate{"rating": "5"}'
    assert classify(message(text="/request_human")).text == "request human"


@pytest.mark.parametrize("content, detail", [
    ({"sticker": {"file_id": "x", "file_unique_id": "y", "type": "regular", "width": 512, "height": 512,
                  "is_animated": False, "is_video": False}}, "sticker"),
    ({"photo": [{"file_id": "p", "file_unique_id": "q", "width": 90, "height": 90}], "caption": "看这个"}, "photo"),
    ({"voice": {"file_id": "v", "file_unique_id": "w", "duration": 3}}, "voice"),
    ({"document": {"file_id": "d", "file_unique_id": "e"}}, "document"),
])
def test_non_text_messages(content, detail):
    incoming = classify(message(**content))
    assert (incoming.kind, incoming.detail) == (kinds.NON_TEXT, detail)


def test_other_update_kinds_never_fail():
    edited = classify({"update_id": 11, "edited_message": {"message_id": 1, "from": USER, "chat": PRIVATE, "date": 1, "edit_date": 2, "text": "x"}})
    assert (edited.kind, edited.text) == (kinds.EDITED, None)
    group = classify({"update_id": 12, "message": {"message_id": 1, "from": USER, "chat": {"id": -100123, "type": "supergroup", "title": "Family"},
                                                  "date": 1, "text": "hi"}})
    assert (group.kind, group.chat_id) == (kinds.GROUP, -100123)
    assert classify({"update_id": 13, "channel_post": {"message_id": 1, "chat": {"id": -1001, "type": "channel"}, "date": 1}}).kind == kinds.CHANNEL
    assert classify({"update_id": 14, "message_reaction": {"chat": PRIVATE}}).kind == kinds.OTHER
    assert classify({"update_id": 15}).kind == kinds.OTHER
    assert classify({"update_id": 16, "message": {"chat": "nonsense", "from": None}}).kind == kinds.OTHER
    assert classify({"update_id": 17, "message": {**message(text="hi")["message"], "from": {**USER, "is_bot": True}}}).kind == kinds.OTHER
    blocked = classify({"update_id": 18, "my_chat_member": {"chat": PRIVATE, "from": USER, "date": 1,
                                                            "old_chat_member": {"status": "member", "user": USER},
                                                            "new_chat_member": {"status": "kicked", "user": USER, "until_date": 0}}})
    assert (blocked.kind, blocked.conversation_id) == (kinds.BLOCKED, "tg-5550001")


def test_callback_queries():
    query = {"id": "4382bfdwdsb323b2d9", "from": USER, "chat_instance": "-1", "data": "b42.3",
             "message": {"message_id": 7, "date": 1, "chat": PRIVATE, "text": "Rate us"}}
    incoming = classify({"update_id": 20, "callback_query": query})
    assert (incoming.kind, incoming.callback_id, parse_callback_data(incoming.callback_data)) == (kinds.CALLBACK, "4382bfdwdsb323b2d9", (42, 3))
    assert parse_callback_data("b42.3; drop table") is None and parse_callback_data(None) is None
    assert callback_data(123456789012, 4) == "b123456789012.4" and len(callback_data(10 ** 17, 99).encode()) <= 64


def settings(**given) -> Settings:
    # Secrets given, so that no default is generated into var/.
    return Settings(session_secret="s" * 40, personal_data_key="7ZCV3kq0mBo0z8Tyv2_2iB5h8mYZQW1GgbqZ6vGPrLk=", **given)


def telegram_env(token: str, secret: str = "", username: str = "") -> dict:
    return {"TELEGRAM_BOT_TOKEN": token, "TELEGRAM_WEBHOOK_SECRET": secret, "TELEGRAM_BOT_USERNAME": username}


def test_settings_off_without_a_token_and_the_secret_is_checked():
    assert telegram_config(telegram_env("")) is None
    with pytest.raises(TelegramConfigError):
        telegram_config(telegram_env("1:x", ""))
    with pytest.raises(TelegramConfigError):
        telegram_config(telegram_env("1:x", "has spaces"))
    with pytest.raises(TelegramConfigError):
        telegram_config(telegram_env("1:x", "a" * 257))
    config = telegram_config(telegram_env("1:x", "ok_secret-1", "EgBot"))
    assert config.api_url == "https://api.telegram.org/bot" and config.deep_link("AB") == "https://t.me/EgBot?start=AB"


def test_first_language():
    assert first_language("What is the minimum for Cash Plus?", "zh-hans") == "en"
    assert first_language("货币宝", "en") == "zh"
    assert first_language("/start", "en-GB") == "en"
    assert first_language(None, "ru") == "zh"


def test_rendering_keeps_the_disclosure_splits_long_texts_and_makes_keyboards():
    answer = Message(id=7, conversation_id="tg-1", text="起购金额 100 元。", disclosure="理财非存款，产品有风险，投资须谨慎。",
                     buttons=[{"title": str(n), "payload": f'/rate{{"rating": "{n}"}}'} for n in range(1, 6)])
    [(text, markup)] = telegram_messages(answer)
    assert text == "起购金额 100 元。\n\n理财非存款，产品有风险，投资须谨慎。"
    assert [[b.callback_data for b in row] for row in markup.inline_keyboard] == [["b7.0", "b7.1", "b7.2", "b7.3", "b7.4"]]
    long = Message(id=8, conversation_id="tg-1", text="\n".join(f"第{i}行：" + "长" * 60 for i in range(200)),
                   buttons=[{"title": "Talk to a person", "payload": "/request_human"}, {"title": "No, thanks", "payload": "/deny"}])
    parts = telegram_messages(long)
    assert len(parts) > 1 and all(len(text) <= 4096 for text, _ in parts)
    assert "".join(text.replace("\n", "") for text, _ in parts) == long.text.replace("\n", "")
    assert [m is None for _, m in parts] == [True] * (len(parts) - 1) + [False]
    assert [[b.text for b in row] for row in parts[-1][1].inline_keyboard] == [["Talk to a person"], ["No, thanks"]]
    assert split_text("x" * 9000) == ["x" * 4096, "x" * 4096, "x" * 808]


def test_the_route_exists_only_with_a_token_and_a_bad_secret_stops_the_service(tmp_path, monkeypatch):
    from bot.server.app import create_app

    def paths(app):
        return {route.path for route in app.router.routes}

    database = f"sqlite:///{tmp_path / 'contact.db'}"
    assert not any("telegram" in path for path in paths(create_app(settings(database_url=database))))
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "1:x")
    monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", "a-good_secret")
    assert "channels/telegram/webhook" in paths(create_app(settings(database_url=database)))
    monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", "not/allowed")
    with pytest.raises(TelegramConfigError):
        create_app(settings(database_url=database))
