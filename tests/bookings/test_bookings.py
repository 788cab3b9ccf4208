"""Callbacks and advisor appointments: parsing, the schedule rules, and booking against SQLite
and a real PostgreSQL server."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import delete, func, select, update

from bot.bookings.models import Appointment, Callback
from bot.bookings.schedule import (
    ScheduleError,
    appointment_slot,
    callback_window,
    next_appointment_slots,
    next_callback_windows,
    parse_mobile,
    parse_name,
    parse_when,
    without_mobile,
)
from bot.bookings.store import BookingStore
from bot.core.db import make_engine, session_factory
from channels.registry import migrate
from bot.references import pattern
from bot.service_hours import SHANGHAI


NOW = datetime(2026, 11, 29, 10, 0, tzinfo=SHANGHAI)  # a Sunday


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


def error_code(call) -> str:
    with pytest.raises(ScheduleError) as raised:
        call()
    return raised.value.code


# --- parse_mobile ---------------------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    "13812345678", "138 1234 5678", "138-1234-5678", "+86 138 1234 5678", "+8613812345678",
    "0086-13812345678", "我的手机是13812345678，谢谢", "１３８１２３４５６７８",
])
def test_parse_mobile_accepts_mainland_mobiles(text):
    assert parse_mobile(text) == "13812345678"


@pytest.mark.parametrize("text", ["138****5678", "+86 138****5678", "number: 138****5678"])
def test_parse_mobile_accepts_the_masked_form_the_contact_service_passes_on(text):
    assert parse_mobile(text) == "138****5678"


@pytest.mark.parametrize("text", [
    "12812345678", "1381234567", "138123456789", "021-6088-8888", "400-820-8888",
    "6222 0213 8123 4567 890", "110101199003071234", "13*****5678", "", "hello",
])
def test_parse_mobile_rejects_everything_else(text):
    assert parse_mobile(text) is None


# --- parse_name and without_mobile (what a booking request already says) --------------------------

@pytest.mark.parametrize("text,name", [
    ("我叫李娜，手机13912345678，请明天下午3点给我回个电话", "李娜"),
    ("我是张先生。请回电", "张先生"),
    ("姓名：王芳", "王芳"),
    ("Please call me back, my name is Anna Lee and my mobile is 13912345678", "Anna Lee"),
    ("I'm John Smith-Jones, call me tomorrow", "John Smith-Jones"),
    ("我是长青的老客户，请回电", None),
    ("我是客户，", None),
    ("I am worried about my fund, call me", None),
    ("请明天下午3点给我回电话", None),
])
def test_parse_name_takes_only_a_name_the_customer_introduced(text, name):
    assert parse_name(text) == name


def test_a_mobile_number_is_not_read_as_a_time():
    now = datetime(2026, 11, 30, 10, 0, tzinfo=SHANGHAI)
    text = "手机13912345678 时间是明天下午3点"
    assert parse_when(text, now) is None  # "78 时" would be the hour
    assert parse_when(without_mobile(text), now) == datetime(2026, 12, 1, 15, 0, tzinfo=SHANGHAI)
    assert parse_when(without_mobile("回电到139****5678"), now) is None


# --- parse_when -----------------------------------------------------------------------------------


@pytest.mark.parametrize("text, expected", [
    ("明天下午3点", at(2026, 11, 30, 15, 0)),
    ("明天15:00", at(2026, 11, 30, 15, 0)),
    ("后天上午10点半", at(2026, 12, 1, 10, 30)),
    ("周五上午10点", at(2026, 12, 4, 10, 0)),
    ("下周一 14:30", at(2026, 11, 30, 14, 30)),
    ("12月3日 10:00", at(2026, 12, 3, 10, 0)),
    ("12/3 10am", at(2026, 12, 3, 10, 0)),
    ("tomorrow 3pm", at(2026, 11, 30, 15, 0)),
    ("tomorrow at 15:30", at(2026, 11, 30, 15, 30)),
    ("Friday 10:00", at(2026, 12, 4, 10, 0)),
    ("next Monday 2:30 pm", at(2026, 11, 30, 14, 30)),
    ("2026-12-03 10:00", at(2026, 12, 3, 10, 0)),
    ("today 18:00", at(2026, 11, 29, 18, 0)),
    ("今晚7点", at(2026, 11, 29, 19, 0)),
    # Chinese numerals, quarters, other spellings
    ("明天三点", at(2026, 11, 30, 15, 0)),
    ("明天十点半", at(2026, 11, 30, 10, 30)),
    ("星期天下午两点", at(2026, 12, 6, 14, 0)),
    ("下个星期五 上午九点一刻", at(2026, 12, 4, 9, 15)),
    ("十二月三日下午4点", at(2026, 12, 3, 16, 0)),
    ("2026年12月3日 10点15分", at(2026, 12, 3, 10, 15)),
    ("明天中午", at(2026, 11, 30, 12, 0)),
    ("明天 下午３：３０", at(2026, 11, 30, 15, 30)),
    ("Dec 3 10:00", at(2026, 12, 3, 10, 0)),
    ("3 December at 2pm", at(2026, 12, 3, 14, 0)),
    ("the day after tomorrow 11 a.m.", at(2026, 12, 1, 11, 0)),
    ("tomorrow at 3", at(2026, 11, 30, 15, 0)),
    ("tonight at 8", at(2026, 11, 29, 20, 0)),
    ("Thurs 9:30am", at(2026, 12, 3, 9, 30)),
    # without a day: today if still ahead, else tomorrow
    ("三点", at(2026, 11, 29, 15, 0)),
    ("10点15分", at(2026, 11, 29, 10, 15)),
    ("9am", at(2026, 11, 30, 9, 0)),
    # without a year: the next such date
    ("1月5日 10:00", at(2027, 1, 5, 10, 0)),
    # an explicit day in the past is given back as asked; the booking rules refuse it
    ("today 08:00", at(2026, 11, 29, 8, 0)),
])
def test_parse_when(text, expected):
    assert parse_when(text, NOW) == expected


@pytest.mark.parametrize("text", ["明天", "tomorrow", "周五", "hello", "2月30日 10点", "13/40 10am", ""])
def test_parse_when_needs_a_real_day_and_a_time(text):
    assert parse_when(text, NOW) is None


def test_parse_when_near_midnight():
    late = at(2026, 11, 29, 23, 50)
    assert parse_when("明天上午10点", late) == at(2026, 11, 30, 10, 0)
    assert parse_when("10am", late) == at(2026, 11, 30, 10, 0)
    assert parse_when("23:55", late) == at(2026, 11, 29, 23, 55)
    assert parse_when("23:45", late) == at(2026, 11, 30, 23, 45)
    assert parse_when("周一 9:00", late) == at(2026, 11, 30, 9, 0)
    # Just past midnight, "tomorrow" is the day after the new day.
    assert parse_when("tomorrow 3pm", at(2026, 11, 30, 0, 5)) == at(2026, 12, 1, 15, 0)


def test_parse_when_works_in_shanghai_whatever_the_zone_of_now():
    now_utc = datetime(2026, 11, 29, 17, 0, tzinfo=timezone.utc)  # 01:00 on the 30th in Shanghai
    assert parse_when("明天10点", now_utc) == at(2026, 12, 1, 10, 0)


def test_weekday_names_mean_the_next_such_day_and_next_week_the_following_week():
    friday, wednesday = at(2026, 12, 4, 10, 0), at(2026, 12, 2, 10, 0)
    assert parse_when("Friday 10:00", friday) == at(2026, 12, 11, 10, 0)
    assert parse_when("周五10点", wednesday) == at(2026, 12, 4, 10, 0)
    assert parse_when("下周五10点", wednesday) == at(2026, 12, 11, 10, 0)
    assert parse_when("next Friday 10am", wednesday) == at(2026, 12, 11, 10, 0)


# --- callback windows -----------------------------------------------------------------------------


@pytest.mark.parametrize("start, window", [
    (at(2026, 11, 29, 14, 0), (at(2026, 11, 29, 14, 0), at(2026, 11, 29, 14, 30))),
    (at(2026, 11, 29, 14, 20), (at(2026, 11, 29, 14, 0), at(2026, 11, 29, 14, 30))),
    (at(2026, 11, 29, 14, 45), (at(2026, 11, 29, 14, 30), at(2026, 11, 29, 15, 0))),
    (at(2026, 11, 30, 9, 0), (at(2026, 11, 30, 9, 0), at(2026, 11, 30, 9, 30))),
    (at(2026, 11, 29, 20, 59), (at(2026, 11, 29, 20, 30), at(2026, 11, 29, 21, 0))),
])
def test_callback_window_rounds_down_to_the_half_hour(start, window):
    assert callback_window(start, NOW) == window


def test_callback_window_in_another_zone_is_read_in_shanghai():
    assert callback_window(datetime(2026, 11, 29, 6, 0, tzinfo=timezone.utc), NOW)[0] == at(2026, 11, 29, 14, 0)


@pytest.mark.parametrize("start, code", [
    (at(2026, 11, 29, 10, 0), "past"),
    (at(2026, 11, 29, 10, 29), "past"),  # rounds down to 10:00, inside the 15-minute lead
    (at(2026, 11, 28, 14, 0), "past"),
    (at(2026, 11, 29, 21, 0), "outside_hours"),
    (at(2026, 11, 29, 23, 45), "outside_hours"),
    (at(2026, 11, 30, 8, 45), "outside_hours"),
    (at(2026, 12, 13, 10, 30), "too_far"),
])
def test_callback_window_refusals(start, code):
    assert error_code(lambda: callback_window(start, NOW)) == code


def test_callback_window_edges():
    assert callback_window(at(2026, 11, 29, 10, 30), NOW)[0] == at(2026, 11, 29, 10, 30)  # 15 min lead
    assert callback_window(at(2026, 12, 13, 10, 0), NOW)[0] == at(2026, 12, 13, 10, 0)  # exactly 14 days
    assert error_code(lambda: callback_window(at(2026, 11, 29, 10, 30), at(2026, 11, 29, 10, 16))) == "past"
    with pytest.raises(ValueError):
        callback_window(datetime(2026, 11, 29, 14, 0), NOW)


def test_next_callback_windows():
    assert [s for s, _ in next_callback_windows(NOW)] == [at(2026, 11, 29, 10, 30), at(2026, 11, 29, 11, 0), at(2026, 11, 29, 11, 30)]
    assert [s for s, _ in next_callback_windows(at(2026, 11, 29, 20, 10))] == [
        at(2026, 11, 29, 20, 30), at(2026, 11, 30, 9, 0), at(2026, 11, 30, 9, 30)]
    assert [s for s, _ in next_callback_windows(at(2026, 11, 29, 20, 40), n=2)] == [at(2026, 11, 30, 9, 0), at(2026, 11, 30, 9, 30)]
    assert next_callback_windows(NOW, n=1) == [(at(2026, 11, 29, 10, 30), at(2026, 11, 29, 11, 0))]


# --- appointment slots ----------------------------------------------------------------------------


def test_appointment_slot_is_an_hour_on_a_working_day():
    assert appointment_slot(at(2026, 11, 30, 10, 0), NOW) == (at(2026, 11, 30, 10, 0), at(2026, 11, 30, 11, 0))
    assert appointment_slot(at(2026, 11, 30, 16, 0), NOW) == (at(2026, 11, 30, 16, 0), at(2026, 11, 30, 17, 0))
    assert appointment_slot(at(2026, 11, 30, 10, 20), NOW)[0] == at(2026, 11, 30, 10, 0)
    assert appointment_slot(at(2026, 12, 29, 10, 0), NOW)[0] == at(2026, 12, 29, 10, 0)  # exactly 30 days


@pytest.mark.parametrize("start, now, code", [
    (at(2026, 11, 29, 14, 0), NOW, "not_working_day"),  # Sunday
    (at(2026, 11, 30, 16, 30), NOW, "outside_hours"),
    (at(2026, 11, 30, 8, 30), NOW, "outside_hours"),
    (at(2026, 11, 30, 17, 0), NOW, "outside_hours"),
    (at(2026, 11, 30, 11, 30), at(2026, 11, 30, 10, 0), "past"),  # less than 2 hours ahead
    (at(2026, 12, 29, 10, 30), NOW, "too_far"),
    # Spring Festival 2026: 15–23 February off
    (at(2026, 2, 16, 10, 0), at(2026, 2, 12, 10, 0), "not_working_day"),
    (at(2026, 2, 23, 10, 0), at(2026, 2, 12, 10, 0), "not_working_day"),
    # National Day 2026: 1–7 October off
    (at(2026, 10, 5, 10, 0), at(2026, 9, 30, 10, 0), "not_working_day"),
])
def test_appointment_slot_refusals(start, now, code):
    assert error_code(lambda: appointment_slot(start, now)) == code


def test_adjusted_working_weekend_days_are_bookable():
    assert appointment_slot(at(2026, 2, 14, 10, 0), at(2026, 2, 12, 10, 0))[0] == at(2026, 2, 14, 10, 0)  # Saturday
    assert appointment_slot(at(2026, 2, 28, 10, 0), at(2026, 2, 12, 10, 0))[0] == at(2026, 2, 28, 10, 0)  # Saturday
    assert appointment_slot(at(2026, 10, 10, 10, 0), at(2026, 9, 30, 10, 0))[0] == at(2026, 10, 10, 10, 0)  # Saturday
    assert appointment_slot(at(2026, 9, 20, 10, 0), at(2026, 9, 18, 10, 0))[0] == at(2026, 9, 20, 10, 0)  # Sunday


def test_next_appointment_slots():
    assert [s for s, _ in next_appointment_slots(NOW)] == [at(2026, 11, 30, 9, 0), at(2026, 11, 30, 9, 30), at(2026, 11, 30, 10, 0)]
    monday = at(2026, 11, 30, 13, 40)
    assert [s for s, _ in next_appointment_slots(monday)] == [at(2026, 11, 30, 16, 0), at(2026, 12, 1, 9, 0), at(2026, 12, 1, 9, 30)]
    # Friday before Spring Festival: the adjusted working Saturday comes next ...
    assert next_appointment_slots(at(2026, 2, 13, 15, 30), n=1)[0][0] == at(2026, 2, 14, 9, 0)
    # ... and after it, the first day back
    assert next_appointment_slots(at(2026, 2, 14, 15, 0), n=1)[0][0] == at(2026, 2, 24, 9, 0)
    assert next_appointment_slots(at(2026, 9, 30, 15, 0), n=1)[0][0] == at(2026, 10, 8, 9, 0)


# --- booking, against SQLite and PostgreSQL ---------------------------------------------------------


@pytest.fixture(scope="module")
def engine(database_url):  # noqa: F811
    engine = make_engine(database_url)
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def store(engine):
    sessions = session_factory(engine)
    with sessions() as session:
        session.execute(delete(Callback))
        session.execute(delete(Appointment))
        session.commit()
    return BookingStore(sessions)


def book_callback(store, key="conv-1:msg-1", start=at(2026, 11, 29, 14, 0), now=NOW, **overrides):
    details = dict(
        source_key=key, conversation_id="conv-1", customer_id="C001", channel="web", language="zh",
        name="王小明", mobile="138 1234 5678", window_start=start, window_end=start + timedelta(minutes=30),
        topic="想了解基金定投", now=now,
    )
    return store.book_callback(**{**details, **overrides})


def book_appointment(store, key="conv-1:msg-2", start=at(2026, 11, 30, 10, 0), now=NOW, **overrides):
    details = dict(
        source_key=key, conversation_id="conv-1", customer_id="C001", channel="web", language="en",
        city="上海", name="Wang Xiaoming", mobile="+86 139-0000-1111", starts_at=start,
        ends_at=start + timedelta(hours=1), topic="Private Equity Fund I", now=now,
    )
    return store.book_appointment(**{**details, **overrides})


def count(store, model) -> int:
    with store.sessions() as session:
        return session.execute(select(func.count()).select_from(model)).scalar()


def test_book_callback(store):
    callback = book_callback(store, topic="我的卡号 6222 0212 3456 7890 123，请回电")
    assert re.fullmatch(pattern("CB"), callback.reference) and callback.reference.startswith("CB20261129-")
    assert callback.mobile == "138****5678"
    assert "6222 **** **** 0123" in callback.topic and "3456" not in callback.topic
    assert callback.state == "requested"
    [stored] = store.list_callbacks()
    assert (stored.window_start, stored.window_end) == (at(2026, 11, 29, 14, 0), at(2026, 11, 29, 14, 30))
    assert stored.window_start.tzinfo == SHANGHAI and stored.created_at == NOW
    assert (stored.name, stored.channel, stored.language, stored.customer_id) == ("王小明", "web", "zh", "C001")


def test_masked_mobile_is_stored_as_given(store):
    assert book_callback(store, mobile="138****5678").mobile == "138****5678"


def test_booking_is_idempotent_by_source_key(store):
    first = book_callback(store)
    again = book_callback(store, start=at(2026, 11, 29, 16, 0), name="someone else")
    assert (again.id, again.reference, again.name) == (first.id, first.reference, "王小明")
    assert count(store, Callback) == 1
    assert book_appointment(store).id == book_appointment(store, city="Beijing").id
    assert count(store, Appointment) == 1


def test_references_carry_the_shanghai_day(store):
    assert book_callback(store, key="a").reference.startswith("CB20261129-")
    next_day = NOW + timedelta(days=1)
    assert book_callback(store, key="c", start=at(2026, 11, 30, 14, 0), now=next_day).reference.startswith("CB20261130-")
    # 17:30 UTC on the 29th is already the 30th in Shanghai
    utc = datetime(2026, 11, 29, 17, 30, tzinfo=timezone.utc)
    assert book_callback(store, key="d", start=at(2026, 11, 30, 14, 0), now=utc).reference.startswith("CB20261130-")
    assert book_appointment(store, key="e").reference.startswith("AP20261129-")


def test_book_appointment(store):
    appointment = book_appointment(store)
    assert re.fullmatch(pattern("AP"), appointment.reference) and appointment.reference.startswith("AP20261129-")
    assert appointment.city == "Shanghai"
    assert appointment.mobile == "139****1111"
    [stored] = store.list_appointments()
    assert (stored.starts_at, stored.ends_at) == (at(2026, 11, 30, 10, 0), at(2026, 11, 30, 11, 0))
    assert stored.state == "requested"


@pytest.mark.parametrize("kind, overrides, code", [
    ("callback", {"mobile": "12345"}, "invalid_mobile"),
    ("callback", {"start": at(2026, 11, 29, 10, 0)}, "past"),
    ("callback", {"start": at(2026, 11, 29, 22, 0)}, "outside_hours"),
    ("callback", {"start": at(2026, 11, 29, 14, 10)}, "invalid_window"),  # not on the half hour
    ("callback", {"window_end": at(2026, 11, 29, 15, 0)}, "invalid_window"),
    ("appointment", {"city": "Chengdu"}, "unknown_city"),
    ("appointment", {"start": at(2026, 12, 5, 10, 0)}, "not_working_day"),
    ("appointment", {"ends_at": at(2026, 11, 30, 10, 30)}, "invalid_window"),
    ("appointment", {"mobile": ""}, "invalid_mobile"),
])
def test_refused_bookings_store_nothing(store, kind, overrides, code):
    book = book_callback if kind == "callback" else book_appointment
    assert error_code(lambda: book(store, **overrides)) == code
    assert count(store, Callback) + count(store, Appointment) == 0


def test_lists_are_ordered_by_time_and_filter_by_state(store):
    for key, hour in (("late", 18), ("early", 11), ("middle", 15)):
        book_callback(store, key=key, start=at(2026, 11, 29, hour, 0))
    assert [c.source_key for c in store.list_callbacks()] == ["early", "middle", "late"]
    with store.sessions() as session:
        session.execute(update(Callback).where(Callback.source_key == "middle").values(state="done"))
        session.commit()
    assert [c.source_key for c in store.list_callbacks("done")] == ["middle"]
    assert [c.source_key for c in store.list_callbacks("requested")] == ["early", "late"]
    for key, day in (("second", 2), ("first", 1)):
        book_appointment(store, key=key, start=at(2026, 12, day, 10, 0))
    assert [a.source_key for a in store.list_appointments()] == ["first", "second"]
    assert store.list_appointments("cancelled") == []


def test_concurrent_bookings_get_distinct_references(store):
    with ThreadPoolExecutor(max_workers=8) as pool:
        references = list(pool.map(lambda i: book_callback(store, key=f"k{i}").reference, range(16)))
    assert len(set(references)) == 16 and all(re.fullmatch(pattern("CB"), r) for r in references)


def test_concurrent_retries_of_one_booking_make_one_row(store):
    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = set(pool.map(lambda _: book_callback(store, key="same").id, range(8)))
    assert len(ids) == 1 and count(store, Callback) == 1
