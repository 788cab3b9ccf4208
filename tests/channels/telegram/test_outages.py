"""Nothing is lost: the contact service by itself (no assistant at first) with the Telegram
channel on, while the database, the assistant or Telegram is down."""

from __future__ import annotations

import secrets

import pytest

from bot.launcher import Assistant
from tests.support.database import postgres_admin
from tests.support.ports import free_port
from tests.support.system import MODEL, contact_service_alone
from tests.support.telegram import BOT_USERNAME, SECRET, TOKEN, post_update, TelegramUser
from tests.support.telegram_api import BotApi


ZH_DISCLOSURE = "理财非存款，产品有风险，投资须谨慎。"


@pytest.fixture
def bot_api():
    api = BotApi(TOKEN).start()
    yield api
    api.stop()


def channel_env(bot_api: BotApi, **extra: str):
    return {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_WEBHOOK_SECRET": SECRET, "TELEGRAM_API_URL": bot_api.base_url,
            "TELEGRAM_BOT_USERNAME": BOT_USERNAME, **extra}


def test_database_and_assistant_outages_lose_nothing(tmp_path, bot_api):
    name = f"evergreen_tg_down_{secrets.token_hex(4)}"
    postgres_admin(f"CREATE DATABASE {name}")
    rasa_port = free_port()
    try:
        env = channel_env(bot_api, DATABASE_URL=f"postgresql://postgres@127.0.0.1:5432/{name}")
        with contact_service_alone(tmp_path, rasa_port, **env) as url:
            user = TelegramUser(url, bot_api, 630000001)
            user.send("长青货币宝起购金额是多少")
            user.wait_for("您的消息已经保存")  # the assistant is down: stored, and an apology

            postgres_admin(f"ALTER DATABASE {name} ALLOW_CONNECTIONS false")
            postgres_admin(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")
            second = user.message(text="稳盈债券的风险等级是多少")
            status, body = post_update(url, second)
            assert status == 503 and body["error"]["code"] == "unavailable"  # Telegram will deliver it again
            postgres_admin(f"ALTER DATABASE {name} ALLOW_CONNECTIONS true")
            assert post_update(url, second)[0] == 200  # Telegram's retry

            with Assistant(MODEL, rasa_port, free_port(), tmp_path / "logs"):  # the assistant comes back
                user.wait_for("100")
                user.wait_for("R2")
                texts = user.quiet(2)
        assert texts[0].startswith("隐私提示")
        assert sum("100" in t for t in texts) == 1 and sum("R2" in t for t in texts) == 1  # each answered once
        assert sum(ZH_DISCLOSURE in t for t in texts) == 2
    finally:
        postgres_admin(f"ALTER DATABASE {name} ALLOW_CONNECTIONS true")
        postgres_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_what_telegram_did_not_take_is_sent_after_a_restart(tmp_path, bot_api):
    user_id = 630000002
    bot_api.fail_next(1000, 502, chat_id=user_id)  # Telegram is down for this chat
    with contact_service_alone(tmp_path, free_port(), **channel_env(bot_api)) as url:
        user = TelegramUser(url, bot_api, user_id)
        user.post(user.message(sticker={"file_id": "CAACAgIAAxkBAAEB", "file_unique_id": "AgADBQAD", "type": "regular",
                                        "width": 512, "height": 512, "is_animated": False, "is_video": False}))
        bot_api.wait_for(lambda: bot_api.calls_to("sendMessage", user_id, ok_only=False), what="a first attempt")
    assert user.texts() == []
    bot_api.clear_failures()  # Telegram is back; the service starts again and sweeps its outbox
    with contact_service_alone(tmp_path, free_port(), **channel_env(bot_api)) as url:
        user.wait_for("只能阅读文字消息")
        texts = user.quiet()
    assert len(texts) == 2 and texts[0].startswith("隐私提示")
