"""Working-day calendar and complaint deadlines (bot/working_calendar.py).

Expected dates are literals worked out from the State Council's 2026 arrangement as the pinned
chinese-calendar 1.11.0 records it:
  Spring Festival: off Sun 2026-02-15 .. Mon 2026-02-23; working Sat 2026-02-14, Sat 2026-02-28.
  Mid-Autumn: off Fri 2026-09-25 .. Sun 2026-09-27.
  National Day: off Thu 2026-10-01 .. Wed 2026-10-07; working Sun 2026-09-20, Sat 2026-10-10.
"""

from __future__ import annotations

import logging
import os
from datetime import date, datetime, time, timedelta, timezone

import chinese_calendar
import pytest

from bot import working_calendar as wc
from bot.service_hours import SHANGHAI
from bot.working_calendar import (
    ComplaintDeadlines,
    add_working_days,
    complaint_deadlines,
    counting_day,
    is_working_day,
    next_working_day,
)


SHIPPED_OVERRIDES = wc.OVERRIDES


def at(y: int, m: int, d: int, hh: int = 10, mm: int = 0, ss: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, ss, tzinfo=SHANGHAI)


def end_of(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, 23, 59, 59, tzinfo=SHANGHAI)


def write_overrides(path, holidays=(), workdays=()):
    path.write_text(f"holidays: [{', '.join(holidays)}]\nworkdays: [{', '.join(workdays)}]\n", encoding="utf-8")


@pytest.fixture(autouse=True)
def overrides(tmp_path, monkeypatch):
    """Each test reads an override file of its own (empty unless the test writes to it)."""
    path = tmp_path / "calendar.yml"
    write_overrides(path)
    monkeypatch.setattr(wc, "OVERRIDES", path)
    monkeypatch.setattr(wc, "_warned_years", set())
    return path


def rewrite_overrides(path, **lists):
    """Rewrite the file and move its mtime on, so the change is seen even on a coarse clock."""
    before = path.stat().st_mtime_ns
    write_overrides(path, **lists)
    os.utime(path, ns=(before + 10**9, before + 10**9))


# --- the library's 2026 data, as the literals below assume -------------------------------


def test_library_2026_arrangement_matches_the_literals_in_these_tests():
    weekend_workdays = [d for d in chinese_calendar.get_workdays(date(2026, 2, 1), date(2026, 10, 31)) if d.weekday() >= 5]
    assert weekend_workdays == [date(2026, 2, 14), date(2026, 2, 28), date(2026, 5, 9), date(2026, 9, 20), date(2026, 10, 10)]
    feb_off = chinese_calendar.get_holidays(date(2026, 2, 1), date(2026, 2, 28), include_weekends=False)
    assert feb_off == [date(2026, 2, 15) + timedelta(days=i) for i in range(9)]  # 15th .. 23rd
    autumn_off = chinese_calendar.get_holidays(date(2026, 9, 1), date(2026, 10, 31), include_weekends=False)
    assert autumn_off == [date(2026, 9, 25), date(2026, 9, 26), date(2026, 9, 27)] + [
        date(2026, 10, 1) + timedelta(days=i) for i in range(7)
    ]


# --- working days -------------------------------------------------------------------------


def test_working_days_follow_the_official_arrangement():
    assert is_working_day(date(2026, 2, 13))  # Friday
    assert is_working_day(date(2026, 2, 14))  # adjusted working Saturday
    assert not is_working_day(date(2026, 2, 16))  # Spring Festival, Monday
    assert not is_working_day(date(2026, 2, 23))  # last day off, Monday
    assert is_working_day(date(2026, 2, 24))
    assert is_working_day(date(2026, 9, 20))  # adjusted working Sunday
    assert not is_working_day(date(2026, 10, 7))  # National Day, Wednesday
    assert not is_working_day(date(2026, 11, 28))  # ordinary Saturday


def test_next_and_add_working_days():
    assert next_working_day(date(2026, 2, 13)) == date(2026, 2, 14)
    assert next_working_day(date(2026, 2, 14)) == date(2026, 2, 24)
    assert add_working_days(date(2026, 2, 14), 0) == date(2026, 2, 14)
    assert add_working_days(date(2026, 2, 24), 4) == date(2026, 2, 28)
    assert add_working_days(date(2026, 9, 30), 3) == date(2026, 10, 10)
    with pytest.raises(ValueError):
        add_working_days(date(2026, 2, 24), -1)


# --- counting day -------------------------------------------------------------------------


def test_counting_day_office_close_boundary():
    assert counting_day(at(2026, 11, 24, 8, 0)) == date(2026, 11, 24)  # before opening counts too
    assert counting_day(at(2026, 11, 24, 16, 59, 59)) == date(2026, 11, 24)
    assert counting_day(at(2026, 11, 24, 17, 0)) == date(2026, 11, 25)
    assert counting_day(at(2026, 11, 27, 18, 0)) == date(2026, 11, 30)  # Friday evening -> Monday
    assert counting_day(at(2026, 11, 28, 10, 0)) == date(2026, 11, 30)  # ordinary Saturday


def test_counting_day_uses_shanghai_time_for_other_zones():
    # 10:30 UTC = 18:30 in Shanghai, after closing.
    assert counting_day(datetime(2026, 11, 23, 10, 30, tzinfo=timezone.utc)) == date(2026, 11, 24)
    # Sunday 20:00 UTC = Monday 04:00 in Shanghai.
    assert counting_day(datetime(2026, 11, 22, 20, 0, tzinfo=timezone.utc)) == date(2026, 11, 23)


def test_naive_datetime_rejected():
    with pytest.raises(ValueError):
        counting_day(datetime(2026, 11, 23, 10, 0))
    with pytest.raises(ValueError):
        complaint_deadlines(datetime(2026, 11, 23, 10, 0), "general")


# --- complaint deadlines ------------------------------------------------------------------


def test_ordinary_week():
    deadlines = complaint_deadlines(at(2026, 11, 23, 10, 0), "general")
    assert deadlines == ComplaintDeadlines(
        first_reply=at(2026, 11, 24, 10, 0),
        resolution=end_of(2026, 11, 30),
        regulatory=end_of(2026, 12, 8),
    )
    assert deadlines.resolution.tzinfo is SHANGHAI
    assert str(deadlines.resolution) == "2026-11-30 23:59:59+08:00"


def test_received_during_spring_festival():
    # Wednesday 18 Feb is a holiday: the count starts on Tue 24 Feb, and the adjusted working
    # Saturday 28 Feb is one of the five days.
    deadlines = complaint_deadlines(at(2026, 2, 18, 11, 0), "general")
    assert counting_day(at(2026, 2, 18, 11, 0)) == date(2026, 2, 24)
    assert deadlines.resolution == end_of(2026, 3, 2)  # 25, 26, 27, 28 (Sat), 2 Mar
    assert deadlines.regulatory == end_of(2026, 3, 5)  # calendar days, holiday or not
    assert deadlines.first_reply == at(2026, 2, 19, 11, 0)


def test_received_evening_before_spring_festival():
    # Saturday 14 Feb is an adjusted working day, the last before the holiday.
    evening = complaint_deadlines(at(2026, 2, 14, 18, 30), "general")
    assert counting_day(at(2026, 2, 14, 18, 30)) == date(2026, 2, 24)
    assert evening.resolution == end_of(2026, 3, 2)
    # The same Saturday before 17:00 counts from that Saturday: 24, 25, 26, 27, 28 Feb.
    afternoon = complaint_deadlines(at(2026, 2, 14, 16, 0), "general")
    assert afternoon.resolution == end_of(2026, 2, 28)
    # Friday evening counts from the working Saturday.
    assert counting_day(at(2026, 2, 13, 20, 0)) == date(2026, 2, 14)
    assert complaint_deadlines(at(2026, 2, 13, 20, 0), "general").resolution == end_of(2026, 2, 28)


def test_national_day():
    # Wed 30 Sep before 17:00: 8 Oct, 9 Oct, 10 Oct (adjusted Saturday), 12 Oct, 13 Oct.
    assert complaint_deadlines(at(2026, 9, 30, 16, 0), "general").resolution == end_of(2026, 10, 13)
    # At 17:00 the count starts on 8 Oct: 9, 10, 12, 13, 14 Oct.
    assert counting_day(at(2026, 9, 30, 17, 0)) == date(2026, 10, 8)
    assert complaint_deadlines(at(2026, 9, 30, 17, 0), "general").resolution == end_of(2026, 10, 14)
    # Received mid-holiday.
    assert counting_day(at(2026, 10, 3, 10, 0)) == date(2026, 10, 8)
    assert complaint_deadlines(at(2026, 10, 3, 10, 0), "general").resolution == end_of(2026, 10, 14)


def test_adjusted_working_sunday_counts():
    # Sunday 20 Sep is a working day: the count starts that day and runs 21-24 Sep, then
    # skips the Mid-Autumn holiday (25-27 Sep) to Monday 28 Sep.
    assert counting_day(at(2026, 9, 20, 10, 0)) == date(2026, 9, 20)
    assert complaint_deadlines(at(2026, 9, 20, 10, 0), "general").resolution == end_of(2026, 9, 28)
    # An ordinary Sunday a week earlier counts from Monday, and its fifth working day is the
    # adjusted Sunday: 15, 16, 17, 18, 20 Sep.
    assert counting_day(at(2026, 9, 13, 10, 0)) == date(2026, 9, 14)
    assert complaint_deadlines(at(2026, 9, 13, 10, 0), "general").resolution == end_of(2026, 9, 20)


def test_complex_complaint_spans_both_autumn_holidays():
    # From Sun 20 Sep: 21, 22, 23, 24, 28, 29, 30 Sep, 8, 9, 10 Oct (adjusted Saturday).
    deadlines = complaint_deadlines(at(2026, 9, 20, 10, 0), "complex")
    assert deadlines.resolution == end_of(2026, 10, 10)


def test_regulatory_clock_with_and_without_extension():
    received = at(2026, 9, 20, 10, 0)
    assert complaint_deadlines(received, "general").regulatory == end_of(2026, 10, 5)
    assert complaint_deadlines(received, "general", regulatory_extension_days=7).regulatory == end_of(2026, 10, 12)
    assert complaint_deadlines(received, "general", regulatory_extension_days=15).regulatory == end_of(2026, 10, 20)
    # The receipt date is the Shanghai date: 20:00 UTC on the 22nd is the 23rd in Shanghai.
    utc = datetime(2026, 11, 22, 20, 0, tzinfo=timezone.utc)
    assert complaint_deadlines(utc, "general").regulatory == end_of(2026, 12, 8)


@pytest.mark.parametrize("days", [-1, 16])
def test_extension_out_of_range_rejected(days):
    with pytest.raises(ValueError):
        complaint_deadlines(at(2026, 11, 23), "general", regulatory_extension_days=days)


def test_unknown_severity_rejected():
    with pytest.raises(ValueError):
        complaint_deadlines(at(2026, 11, 23), "urgent")


def test_first_reply_is_24_clock_hours_across_midnight():
    assert complaint_deadlines(at(2026, 11, 24, 22, 30), "general").first_reply == at(2026, 11, 25, 22, 30)
    # Received during the holiday, late Saturday evening UTC: still plain clock time, in Shanghai.
    first_reply = complaint_deadlines(datetime(2026, 2, 21, 16, 30, tzinfo=timezone.utc), "general").first_reply
    assert first_reply == at(2026, 2, 23, 0, 30)
    assert first_reply.tzinfo is SHANGHAI


# --- a year of holidays -------------------------------------------------------------------


def official_counting_day(received: datetime) -> date:
    day = received.date()
    if chinese_calendar.is_workday(day) and received.time() < time(17, 0):
        return day
    day += timedelta(days=1)
    while not chinese_calendar.is_workday(day):
        day += timedelta(days=1)
    return day


def test_every_day_of_2026():
    """Receipt at 10:00 and 20:00 each day whose deadlines the library can still check."""
    day = date(2026, 1, 1)
    while day <= date(2026, 12, 15):  # a complex count from 15 Dec ends 29 Dec
        for hour in (10, 20):
            received = at(day.year, day.month, day.day, hour)
            start = official_counting_day(received)
            assert counting_day(received) == start
            for severity, n in (("general", 5), ("complex", 10)):
                deadlines = complaint_deadlines(received, severity)
                end = deadlines.resolution.date()
                assert deadlines.resolution.time() == time(23, 59, 59)
                assert deadlines.resolution > received
                assert chinese_calendar.is_workday(end), (received, severity)
                between = [start + timedelta(days=i) for i in range(1, (end - start).days + 1)]
                assert sum(chinese_calendar.is_workday(d) for d in between) == n, (received, severity)
                assert deadlines.regulatory == end_of(day.year, day.month, day.day) + timedelta(days=15)
        day += timedelta(days=1)


# --- past the library's data, and the override file ---------------------------------------


def test_library_has_no_2027_data():
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(date(2027, 1, 4))


def test_2027_falls_back_to_monday_to_friday_and_warns_once(caplog):
    with caplog.at_level(logging.WARNING, logger="bot.working_calendar"):
        assert is_working_day(date(2027, 1, 1))  # Friday; no override entry yet
        assert not is_working_day(date(2027, 1, 2))  # Saturday
        assert is_working_day(date(2027, 1, 4))  # Monday
    assert len([r for r in caplog.records if "2027" in r.getMessage()]) == 1
    # From Thu 31 Dec 2026: 1, 4, 5, 6, 7 Jan 2027.
    assert complaint_deadlines(at(2026, 12, 31, 10, 0), "general").resolution == end_of(2027, 1, 7)


def test_override_file_changes_a_2027_answer(overrides):
    rewrite_overrides(overrides, holidays=["2027-01-01"], workdays=["2027-01-09"])
    assert not is_working_day(date(2027, 1, 1))
    assert is_working_day(date(2027, 1, 9))  # a Saturday declared a working day
    # From Thu 31 Dec 2026: 4, 5, 6, 7, 8 Jan 2027.
    assert complaint_deadlines(at(2026, 12, 31, 10, 0), "general").resolution == end_of(2027, 1, 8)
    # The file is re-read when it changes.
    rewrite_overrides(overrides)
    assert is_working_day(date(2027, 1, 1))


def test_override_takes_precedence_inside_library_years(overrides):
    rewrite_overrides(overrides, holidays=["2026-11-25"], workdays=["2026-11-29"])
    assert not is_working_day(date(2026, 11, 25))  # an ordinary Wednesday
    assert is_working_day(date(2026, 11, 29))  # an ordinary Sunday
    # From Mon 23 Nov: 24, 26, 27, 29 (Sun), 30 Nov.
    assert complaint_deadlines(at(2026, 11, 23, 10, 0), "general").resolution == end_of(2026, 11, 30)
    rewrite_overrides(overrides, holidays=["2026-11-25"])
    # 24, 26, 27, 30 Nov, 1 Dec.
    assert complaint_deadlines(at(2026, 11, 23, 10, 0), "general").resolution == end_of(2026, 12, 1)


def test_override_file_accepts_quoted_dates(overrides):
    overrides.write_text('holidays: ["2027-01-01"]\nworkdays:\n', encoding="utf-8")
    assert not is_working_day(date(2027, 1, 1))


def test_day_listed_as_both_holiday_and_workday_rejected(overrides):
    rewrite_overrides(overrides, holidays=["2027-01-01"], workdays=["2027-01-01"])
    with pytest.raises(ValueError):
        is_working_day(date(2027, 1, 1))


def test_shipped_override_file_loads(monkeypatch):
    monkeypatch.setattr(wc, "OVERRIDES", SHIPPED_OVERRIDES)
    holidays, workdays = wc._overrides()
    assert all(isinstance(day, date) for day in holidays | workdays)
