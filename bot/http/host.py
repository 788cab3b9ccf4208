"""What the HTTP app gives each channel it installs (bot/server/app.py builds it), so that a
channel needs neither the app nor the console: the core, and how staff are recognised."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Awaitable, Callable

from sanic.request import Request

from bot.core.conversations import Conversations
from bot.core.staff import Staff
from bot.http.settings import HttpSettings


@dataclass(frozen=True)
class Host:
    conversations: Conversations
    settings: HttpSettings
    console_staff: Callable[[Request, bool], Awaitable[Staff]]  # the console's signed-in staff (csrf checked when True)
    bearer_staff: Callable[[Request], Awaitable[Staff]]  # the staff API's bearer token

