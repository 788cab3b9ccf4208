"""The Telegram channel against the real processes (Rasa, the action server, the contact service
on loopback, SQLite and PostgreSQL), with the Bot API replaced by a capture server in this
process (``TELEGRAM_API_URL``, the ``bot_api`` fixture of tests/conftest.py). Updates are the Bot
API's own JSON, posted to the webhook (tests/support/telegram.py)."""

from __future__ import annotations

import pytest

from tests.support.system import running_assistant
from tests.support.telegram import telegram_env


@pytest.fixture(scope="module")
def system(database_url, bot_api, tmp_path_factory):
    with running_assistant(database_url, tmp_path_factory.mktemp("logs"), **telegram_env(database_url, bot_api)) as assistant:
        yield assistant
