"""The email channel's counts for ``/metrics``: the outbox backlog and tickets opened."""

from __future__ import annotations

from collections import Counter
from typing import Iterable

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from channels.email.models import STATES as OUTBOX_STATES, EmailOutbox, EmailTicket


def counts(session: Session) -> Iterable[Metric]:
    by_state = dict(session.execute(select(EmailOutbox.state, func.count()).group_by(EmailOutbox.state)).all())
    outbox = GaugeMetricFamily("evergreen_email_outbox", "Outgoing mails by state (queued, failed_temporarily: "
                               "backlog; parked, uncertain: for an operator)", labels=["state"])
    for state in OUTBOX_STATES:
        outbox.add_metric([state], by_state.get(state, 0))
    tickets = CounterMetricFamily("evergreen_email_tickets", "Email tickets opened, by category and urgency",
                                  labels=["category", "urgent"])
    rows = session.execute(
        select(EmailTicket.category, EmailTicket.urgent, func.count()).group_by(EmailTicket.category, EmailTicket.urgent)
    ).all()
    per_label = Counter()
    for category, urgent, count in rows:
        per_label[category, "true" if urgent else "false"] += count
    for labels, count in sorted(per_label.items()):
        tickets.add_metric(labels, count)
    return outbox, tickets
