"""What the core counts for ``/metrics`` (bot/http/metrics.py serves it).

Latency histograms are observed as messages flow through this process; counts (messages, queue
lengths, complaints and bookings by state, and each channel's own, Channel.metrics) are read from
the database when Prometheus scrapes, so they are exact across processes and restarts.
``ASSISTANT_REPLY_SECONDS`` is the process's own: every contact app of the process registers and
shows it.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Callable, Iterable, Iterator, Sequence

from prometheus_client import Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bot.bookings.models import Appointment, Callback
from bot.complaints.desk import OPEN_STATES
from bot.complaints.models import STATES as COMPLAINT_STATES, Complaint
from bot.complaints.overdue import DEADLINES
from bot.core.models import Conversation, Message
from bot.handoff.models import QUEUES, Handoff

logger = logging.getLogger(__name__)
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

    def __init__(self, sessions: sessionmaker, more: Sequence[Callable[[Session], Iterable[Metric]]] = ()):
        self.sessions = sessions
        self.more = more  # the channels' counts of their own tables (Channel.metrics)

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("evergreen_database_up", "1 if the counts below could be read from the database")
        try:
            with self.sessions() as session:
                families = [*self._messages(session), *self._handoffs(session), *self._complaints(session),
                            *self._bookings(session)]
                for counts in self.more:
                    families += counts(session)
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
