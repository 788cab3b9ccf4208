"""The contact service's HTTP app, its composition root: it builds the conversation core, installs
every channel of ``channels/registry.py``, and mounts the agents' console and the staff API.
Nothing imports this module (docs/architecture.md, "Who may import whom").

Run it with ``python -m bot.server`` (``make run`` does, beside Rasa and the action server).
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Optional, Sequence, Type

from prometheus_client import CollectorRegistry
from sanic import Sanic
from sanic.request import Request
from sanic.response import HTTPResponse, json as json_response

from bot import staff_api
from bot.complaints import overdue
from bot.console import agents, auth, pages, quality, review
from bot.core import customers, metrics as core_metrics
from bot.core.channel import Channel
from bot.core.conversations import Conversations
from bot.core.db import taking_turns
from bot.http.settings import HttpSettings
from bot.http import errors, inputs, metrics
from bot.http.host import Host
from channels import registry

_app_numbers = itertools.count(1)


async def health(request: Request) -> HTTPResponse:
    return json_response({"status": "ok", "rasa": await request.app.ctx.conversations.rasa.alive()})


def create_app(settings: Optional[HttpSettings] = None, channels: Optional[Sequence[Type[Channel]]] = None) -> Sanic:
    """The app with ``channels`` (default: the registry's) installed."""
    settings = settings or HttpSettings()
    app = Sanic(f"evergreen_contact_{next(_app_numbers)}")
    app.config.REQUEST_MAX_SIZE = inputs.MAX_BODY_BYTES
    app.config.WEBSOCKET_MAX_SIZE = inputs.MAX_BODY_BYTES
    installed = [channel() for channel in (registry.CHANNELS if channels is None else channels)]
    conversations = Conversations(settings, installed)
    app.ctx.conversations = conversations
    app.ctx.settings = settings  # the front ends' (and the core's) settings
    errors.install(app)

    @app.before_server_start
    async def start(app, _loop):
        await conversations.db(registry.migrate, conversations.engine)
        if settings.demo:
            with taking_turns(conversations.engine), conversations.store.sessions() as session:
                customers.upsert(session, customers.read_export(customers.DEMO_CUSTOMERS))
        await conversations.rasa.start()
        await conversations.shared.start()  # Redis's live events and presence, when REDIS_URL is set
        app.ctx.retry_task = asyncio.get_running_loop().create_task(conversations.retry_forever())
        app.ctx.overdue_task = asyncio.get_running_loop().create_task(
            overdue.watch(conversations.store.sessions, settings.overdue_interval))
        # Callback offers, new waits when agents come and go, and closing time (docs/architecture.md, "Honest waiting").
        app.ctx.waiting_task = asyncio.get_running_loop().create_task(conversations.handoffs.watch_waiting())

    @app.after_server_stop
    async def stop(app, _loop):
        app.ctx.retry_task.cancel()
        app.ctx.overdue_task.cancel()
        app.ctx.waiting_task.cancel()
        await conversations.rasa.close()
        await conversations.shared.close()
        conversations.engine.dispose()

    app.add_route(health, "/health", methods=["GET"])
    host = Host(conversations, settings, console_staff=lambda request, csrf: auth.console_staff(request, conversations, csrf),
                bearer_staff=lambda request: staff_api.bearer_staff(conversations, request))
    for channel in installed:  # after `start`, which migrates before a channel's own start reads its tables
        channel.install(app, host)
    staff_api.install(app, conversations)  # after `start`, which migrates before it seeds
    auth.install(app)  # the console (docs/console.md): login and sessions
    agents.install(app, conversations)
    pages.install(app)  # the console's web pages
    review.install(app, conversations)  # supervisors' review of misunderstood messages, early warnings
    quality.install(app, conversations)  # the supervisors' quality dashboard
    counts = CollectorRegistry()
    counts.register(core_metrics.DatabaseCounts(conversations.store.sessions, [c.metrics for c in installed]))
    counts.register(core_metrics.ASSISTANT_REPLY_SECONDS)
    metrics.serve(app, counts)  # GET /metrics (loopback, or METRICS_TOKEN), HTTP latency per route
    return app
