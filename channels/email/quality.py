"""The email channel's indicators on the supervisors' quality dashboard (bot/quality/indicators.py)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.quality.indicators import Dashboard, ratio, spread
from channels.email.models import EmailMail, EmailOutbox, EmailTicket


def acknowledgement_speed(session: Session, board: Dashboard) -> None:
    """How fast new mail was acknowledged (the dashboard's speed section)."""
    f = board.filters
    if f.channel and f.channel != "email":
        board.sections["speed"]["email_acknowledgement"] = {**spread([]), "within_minute": None}
        return
    query = (select(EmailMail.received_at, EmailOutbox.sent_at)
             .join(EmailTicket, EmailTicket.source_key == EmailMail.message_id)
             .join(EmailOutbox, EmailOutbox.id == EmailTicket.acknowledgement_id)
             .where(EmailMail.direction == "in", EmailMail.received_at >= f.since, EmailMail.received_at < f.until,
                    EmailOutbox.sent_at.isnot(None)))
    if f.language:
        query = query.where(EmailTicket.language == f.language)
    seconds = [(sent - received).total_seconds() for received, sent in session.execute(query)]
    board.sections["speed"]["email_acknowledgement"] = {
        **spread(seconds), "within_minute": ratio(sum(1 for s in seconds if s <= 60), len(seconds))}
