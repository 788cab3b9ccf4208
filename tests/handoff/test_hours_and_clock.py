"""Agent hours from ``AGENT_HOURS``, and the clock a test stops, moves or lets run
(``EVERGREEN_CLOCK_FILE``)."""

from __future__ import annotations

import time
from datetime import datetime

import pytest

from bot import service_hours
from bot.bookings.schedule import ScheduleError, callback_window
from bot.service_hours import SHANGHAI
from tests.support.clock import Clock

EVENING = datetime(2026, 11, 30, 21, 30, tzinfo=SHANGHAI)


def test_agent_hours_are_configurable(monkeypatch):
    assert not service_hours.agents_available(EVENING)
    monkeypatch.setenv("AGENT_HOURS", "08:00-22:00")
    assert service_hours.agents_available(EVENING)
    assert service_hours.agents_back_at(datetime(2026, 11, 30, 7, 0, tzinfo=SHANGHAI)).hour == 8
    assert callback_window(datetime(2026, 11, 30, 21, 30, tzinfo=SHANGHAI), EVENING.replace(hour=20)) is not None
    monkeypatch.setenv("AGENT_HOURS", "09:00-21:00")
    with pytest.raises(ScheduleError):
        callback_window(datetime(2026, 11, 30, 21, 30, tzinfo=SHANGHAI), EVENING.replace(hour=20))
    monkeypatch.setenv("AGENT_HOURS", "nine to five")
    with pytest.raises(ValueError, match="AGENT_HOURS"):
        service_hours.agent_hours()


def test_the_clock_file_stops_moves_and_runs_the_clock(tmp_path, monkeypatch):
    clock = Clock(tmp_path / "clock.json", "2026-11-30T20:59:59+08:00")
    monkeypatch.setenv("EVERGREEN_CLOCK", "2026-11-30T10:00:00+08:00")  # the file wins
    monkeypatch.setenv(*next(iter(clock.env.items())))
    assert service_hours.now() == datetime(2026, 11, 30, 20, 59, 59, tzinfo=SHANGHAI) and service_hours.agents_available()
    clock.forward(1)
    assert service_hours.now().hour == 21 and not service_hours.agents_available()
    clock.run_from(datetime(2026, 11, 30, 20, 59, 59, 500000, tzinfo=SHANGHAI))
    time.sleep(0.6)
    assert service_hours.now() > datetime(2026, 11, 30, 21, 0, tzinfo=SHANGHAI)  # it ran across 21:00
