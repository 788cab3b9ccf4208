"""Operations metrics in Prometheus's text format (``/metrics`` of each service).

Latency histograms are observed as messages flow through this process; counts (messages, queue
lengths, outbox backlog, tickets by state) are read from the database when Prometheus scrapes,
so they are exact across processes and restarts.

Each app gets its own ``CollectorRegistry`` (not the library's global one), so several apps in
one process (tests) never register the same name twice. ``ASSISTANT_REPLY_SECONDS`` is the
process's own: every contact app of the process registers and shows it.

Who may read ``/metrics``: with ``METRICS_TOKEN`` set, only requests carrying
``Authorization: Bearer <METRICS_TOKEN>`` (from anywhere, loopback included); without it, only
requests whose peer is loopback and that came through no proxy (no ``Forwarded``,
``X-Forwarded-For`` or ``X-Real-IP`` header, which a reverse proxy on the same host would add).
The page holds operational counts, no personal data, but it should not be public by accident.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
import os
import time
from collections import Counter
from typing import Iterable, Iterator, Optional

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sanic import Sanic
from sanic.request import Request
from sanic.response import HTTPResponse, json as json_response, raw
from sqlalchemy import distinct, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import sessionmaker

from bot.bookings.models import Appointment, Callback
from bot.complaints.desk import OPEN_STATES
from bot.complaints.models import STATES as COMPLAINT_STATES, Complaint
from bot.complaints.overdue import DEADLINES
from bot.contact.models import Conversation, Message
from bot.handoff.models import QUEUES, Handoff
from channels.email.models import STATES as OUTBOX_STATES, EmailOutbox, EmailTicket
from channels.telegram.models import TelegramChat

logger = logging.getLogger(__name__)
PROXY_HEADERS = ("forwarded", "x-forwarded-for", "x-real-ip")
CALLBACK_STATES = ("requested", "done", "cancelled")
APPOINTMENT_STATES = ("requested", "confirmed", "done", "cancelled")

ASSISTANT_REPLY_SECONDS = Histogram(
    "evergreen_assistant_reply_seconds", "From a customer message stored to the assistant's replies stored, by channel",
    ["channel"], buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30), registry=None)


def _flag(value) -> str:
    return "true" if value else "false"


class DatabaseCounts(Collector):
    """Counts read from the database at each scrape, with one GROUP BY query per table.

    Rows that are only ever added (messages, email tickets) are counters (``*_total``), so
    ``rate()`` and ``increase()`` give messages per minute; rows counted by their current state
    (queues, outbox, complaints, bookings) go up and down, so they are gauges. Label values
    known in advance (queues, states, deadlines) are always present, at 0 when nothing is there,
    so a dashboard shows 0 rather than no data.
    """

    def __init__(self, sessions: sessionmaker):
        self.sessions = sessions

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("evergreen_database_up", "1 if the counts below could be read from the database")
        try:
            with self.sessions() as session:
                families = [*self._messages(session), *self._handoffs(session), *self._complaints(session),
                            *self._bookings(session), *self._email(session), self._telegram(session)]
        except SQLAlchemyError as error:
            logger.warning("metrics: database unavailable: %s", type(error).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _messages(self, session) -> Iterable[Metric]:
        rows = session.execute(
            select(Conversation.channel, Message.direction, Message.sender, Message.status, func.count())
            .join(Conversation, Conversation.id == Message.conversation_id)
            .group_by(Conversation.channel, Message.direction, Message.sender, Message.status)
        ).all()
        totals, pending, parked = Counter(), Counter(), Counter()
        for channel, direction, sender, status, count in rows:
            totals[channel, direction, sender] += count
            pending[channel] += count if (direction, status) == ("in", "pending") else 0
            parked[channel] += count if (direction, status) == ("in", "parked") else 0
        messages = CounterMetricFamily("evergreen_messages", "Messages stored, by channel, direction (in|out) and sender "
                                       "(customer|bot|agent|system)", labels=["channel", "direction", "sender"])
        for labels, count in sorted(totals.items()):
            messages.add_metric(labels, count)
        waiting = GaugeMetricFamily("evergreen_messages_pending", "Customer messages the assistant has not answered yet "
                                    "(being answered, or waiting for the retry loop while it is unreachable)", labels=["channel"])
        for channel, count in sorted(pending.items()):
            waiting.add_metric([channel], count)
        given_up = GaugeMetricFamily("evergreen_messages_parked", "Customer messages the assistant failed on too often, "
                                     "waiting for a supervisor (GET /api/v1/staff/messages/parked)", labels=["channel"])
        for channel, count in sorted(parked.items()):
            given_up.add_metric([channel], count)
        return messages, waiting, given_up

    def _handoffs(self, session) -> Iterable[Metric]:
        rows = session.execute(
            select(Handoff.state, Handoff.queue, Handoff.urgent, func.count())
            .where(Handoff.state.in_(("waiting", "with_agent")))
            .group_by(Handoff.state, Handoff.queue, Handoff.urgent)
        ).all()
        counts = Counter()
        for state, queue, urgent, count in rows:
            counts[state, queue, _flag(urgent)] += count
        waiting = GaugeMetricFamily("evergreen_handoffs_waiting", "Conversations waiting for an agent, by queue and urgency",
                                    labels=["queue", "urgent"])
        with_agent = GaugeMetricFamily("evergreen_handoffs_with_agent", "Conversations agents are handling now, by queue",
                                       labels=["queue"])
        for queue in QUEUES:
            for urgent in ("false", "true"):
                waiting.add_metric([queue, urgent], counts["waiting", queue, urgent])
            with_agent.add_metric([queue], counts["with_agent", queue, "false"] + counts["with_agent", queue, "true"])
        return waiting, with_agent

    def _complaints(self, session) -> Iterable[Metric]:
        rows = session.execute(
            select(Complaint.state, Complaint.urgent, func.count()).group_by(Complaint.state, Complaint.urgent)
        ).all()
        counts = Counter()
        for state, urgent, count in rows:
            counts[state, _flag(urgent)] += count
        by_state = GaugeMetricFamily("evergreen_complaints", "Complaints by state and urgency", labels=["state", "urgent"])
        for state in COMPLAINT_STATES:
            for urgent in ("false", "true"):
                by_state.add_metric([state, urgent], counts[state, urgent])
        # The missed deadlines are a JSON list; open complaints are few, so they are counted here.
        missed = Counter(deadline for (overdue,) in session.execute(
            select(Complaint.overdue).where(Complaint.state.in_(OPEN_STATES))) for deadline in overdue or ())
        overdue = GaugeMetricFamily("evergreen_complaints_overdue", "Open complaints past a deadline, by deadline",
                                    labels=["deadline"])
        for deadline in DEADLINES:
            overdue.add_metric([deadline], missed[deadline])
        return by_state, overdue

    def _bookings(self, session) -> Iterable[Metric]:
        bookings = GaugeMetricFamily("evergreen_bookings", "Callbacks and advisor appointments by state", labels=["kind", "state"])
        for kind, table, states in (("callback", Callback, CALLBACK_STATES), ("appointment", Appointment, APPOINTMENT_STATES)):
            counts = dict(session.execute(select(table.state, func.count()).group_by(table.state)).all())
            for state in states:
                bookings.add_metric([kind, state], counts.get(state, 0))
        return (bookings,)

    def _email(self, session) -> Iterable[Metric]:
        counts = dict(session.execute(select(EmailOutbox.state, func.count()).group_by(EmailOutbox.state)).all())
        outbox = GaugeMetricFamily("evergreen_email_outbox", "Outgoing mails by state (queued, failed_temporarily: "
                                   "backlog; parked, uncertain: for an operator)", labels=["state"])
        for state in OUTBOX_STATES:
            outbox.add_metric([state], counts.get(state, 0))
        tickets = CounterMetricFamily("evergreen_email_tickets", "Email tickets opened, by category and urgency",
                                      labels=["category", "urgent"])
        rows = session.execute(
            select(EmailTicket.category, EmailTicket.urgent, func.count()).group_by(EmailTicket.category, EmailTicket.urgent)
        ).all()
        per_label = Counter()
        for category, urgent, count in rows:
            per_label[category, _flag(urgent)] += count
        for labels, count in sorted(per_label.items()):
            tickets.add_metric(labels, count)
        return outbox, tickets

    def _telegram(self, session) -> Metric:
        count = session.execute(
            select(func.count(distinct(TelegramChat.conversation_id)))
            .join(Message, Message.conversation_id == TelegramChat.conversation_id)
            .where(TelegramChat.blocked_at.is_(None), Message.direction == "out", Message.id > TelegramChat.delivered_up_to)
        ).scalar_one()
        return GaugeMetricFamily("evergreen_telegram_chats_unsent", "Telegram chats with replies not yet delivered", value=count)


def allowed(request: Request, token: Optional[str]) -> bool:
    """The access rule of ``/metrics`` (module docstring)."""
    if token:
        header = request.headers.get("authorization", "")
        given = header[7:].strip() if header.lower().startswith("bearer ") else ""
        return hmac.compare_digest(given.encode(), token.encode())
    if any(name in request.headers for name in PROXY_HEADERS):
        return False
    # The peer itself, even behind TRUSTED_PROXIES: a request that came through a proxy was refused
    # above, so the client address (bot/contact/client_address.py) could only be the peer anyway.
    try:
        return ipaddress.ip_address(request.ip).is_loopback
    except ValueError:  # a Unix socket, or no peer address
        return False


def serve(app: Sanic, registry: CollectorRegistry, token: Optional[str] = None) -> None:
    """Add ``GET /metrics`` and the HTTP latency histogram per route to ``app``.

    ``token`` defaults to the environment's ``METRICS_TOKEN``.
    """
    token = token if token is not None else os.environ.get("METRICS_TOKEN", "")
    request_seconds = Histogram("evergreen_http_request_seconds", "HTTP requests by method, route pattern and status",
                                ["method", "route", "status"], registry=registry)

    @app.middleware("request")
    async def start_timer(request: Request) -> None:
        if not hasattr(request.ctx, "metrics_started"):  # Sanic runs this again for a request that raised
            request.ctx.metrics_started = time.perf_counter()

    @app.middleware("response")
    async def observe(request: Request, response: HTTPResponse) -> None:
        started = getattr(request.ctx, "metrics_started", None)
        if started is None:
            return
        # The route's pattern, never the URL: ids in paths would make a series per conversation.
        route = request.route.uri if request.route else "unmatched"
        request_seconds.labels(request.method, route, str(response.status)).observe(time.perf_counter() - started)

    @app.get("/metrics")
    async def metrics(request: Request) -> HTTPResponse:
        if not allowed(request, token):
            if token:
                return json_response({"error": {"code": "unauthorized", "message": "A metrics token is required."}},
                                     status=401, headers={"WWW-Authenticate": "Bearer"})
            return json_response({"error": {"code": "forbidden", "message": "Metrics are served to loopback only."}},
                                 status=403)
        body = await asyncio.to_thread(generate_latest, registry)  # the database counts are synchronous queries
        return raw(body, content_type=CONTENT_TYPE_LATEST)


def install(app: Sanic, service) -> None:
    """``/metrics`` of the contact service: database counts, reply and HTTP latencies."""
    registry = CollectorRegistry()
    registry.register(DatabaseCounts(service.store.sessions))
    registry.register(ASSISTANT_REPLY_SECONDS)
    serve(app, registry)
