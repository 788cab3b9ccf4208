"""Internal notes are shown at the moment they were written, in Beijing time, whatever the
database (SQLite gives audit times back naive, in UTC) and whatever the server's own time zone."""

from __future__ import annotations

import os
import time
from datetime import datetime, timezone

import pytest

from bot.console.agents import notes_of
from bot.core.audit import AuditEntry


@pytest.fixture
def tokyo_server():
    """The service's process in another time zone than UTC and Beijing."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "Asia/Tokyo"
    time.tzset()
    yield
    if before is None:
        os.environ.pop("TZ")
    else:
        os.environ["TZ"] = before
    time.tzset()


def test_a_note_is_shown_at_its_beijing_time(sessions, tokyo_server):
    written = datetime(2026, 12, 7, 1, 30, tzinfo=timezone.utc)
    with sessions() as session:
        session.add(AuditEntry(at=written, actor="staff:amy", action="note", target="conversation-1", detail={"text": "called back"}))
        session.commit()
    assert notes_of(sessions, "conversation-1") == [{"at": "2026-12-07T09:30:00+08:00", "by": "staff:amy", "text": "called back"}]
