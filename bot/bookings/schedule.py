"""What a customer typed for a booking, and the rules a callback or appointment time must meet.

Pure functions: times are aware Asia/Shanghai datetimes and ``now`` is always passed in.
Refusals are ``ScheduleError`` codes; the customer-facing wording lives in the knowledge files.

``parse_when`` is a compact regex parser rather than a library, because none fits:
dateparser 1.5.0 reads the English examples but returns None for Chinese ones with a time of
day ("明天下午3点", "周五上午10点", "今晚7点"), and it requires regex>=2024.9 and
pytz>=2024.2 where Rasa 3.6 pins regex<2022.11 and pytz<2023. jionlp reads only Chinese,
installs about 170 MB (jiojio, numpy), and takes "周五" on a Sunday to be the Friday just gone.
A booking form meets few phrasings, and the ambiguous ones need our own rules anyway
(see ``parse_when``).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime, time, timedelta
from typing import List, Optional, Tuple

from bot.service_hours import SHANGHAI, agent_hours
from bot.working_calendar import is_working_day, next_working_day

Slot = Tuple[datetime, datetime]

CALLBACK_LENGTH = timedelta(minutes=30)
CALLBACK_LEAD = timedelta(minutes=15)
CALLBACK_HORIZON = timedelta(days=14)

BRANCH_OPEN = time(9, 0)
BRANCH_CLOSE = time(17, 0)
APPOINTMENT_LENGTH = timedelta(minutes=60)
APPOINTMENT_LEAD = timedelta(hours=2)
APPOINTMENT_HORIZON = timedelta(days=30)

HALF_HOUR = timedelta(minutes=30)


class ScheduleError(Exception):
    """A time or detail the rules refuse. ``code`` is one of: "past", "outside_hours",
    "too_far", "not_working_day" (from this module); "invalid_mobile", "unknown_city",
    "invalid_window" (from ``bot.bookings.store``)."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


def _shanghai(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment!r}: a timezone is required")
    return moment.astimezone(SHANGHAI)


# --- mobile numbers ---------------------------------------------------------------------------

_PREFIX = r"(?:(?:\+?86|0086)[ -]?)?"
# 11 digits, spaces or dashes allowed between them, not part of a longer run of digits.
_MOBILE = re.compile(rf"(?<!\d)(?<!\d[ -]){_PREFIX}(1[3-9]\d(?:[ -]?\d){{8}})(?![ -]?\d)")
# bot.privacy.mask_sensitive's form: first three and last four digits kept.
_MASKED_MOBILE = re.compile(rf"(?<!\d){_PREFIX}(1[3-9]\d\*{{4}}\d{{4}})(?!\d)")


def parse_mobile(text: str) -> Optional[str]:
    """The mainland mobile number in ``text`` as 11 digits ("13812345678"), or None.

    The contact service masks numbers before the assistant sees them, so the masked form
    ("138****5678", as ``bot.privacy`` writes it) is accepted too and returned as it is.
    """
    text = unicodedata.normalize("NFKC", text or "")
    match = _MOBILE.search(text)
    if match:
        return re.sub(r"[ -]", "", match.group(1))
    match = _MASKED_MOBILE.search(text)
    return match.group(1) if match else None


# --- a name given along with a request ---------------------------------------------------------

# "我叫李娜，…", "我是张先生。", "my name is Anna Lee", "I'm Tom": the name ends at punctuation, a
# following word about the phone, or the end. Only these introductions count ("我是" only with
# 先生/女士/小姐): "我是长青的老客户" is no name, and a name is otherwise asked for.
_NAME_END = r"(?=[，,。.!！；;\s]|手机|电话|$)"
_NAME_ZH = re.compile(rf"(?:我叫|我的名字是|我的名字叫|姓名[:：]?)\s*([\u4e00-\u9fff·]{{2,4}}?){_NAME_END}"
                      rf"|我是([\u4e00-\u9fff]{{1,2}}(?:先生|女士|小姐)){_NAME_END}")
_NAME_EN = re.compile(r"\b(?i:my name is|name is|i am|i'm)\s+([A-Z][a-z]+(?:[ -][A-Z][a-z]+){0,2})\b")


def parse_name(text: str) -> Optional[str]:
    """The name a customer introduced themselves with in ``text``, or None."""
    text = unicodedata.normalize("NFKC", text or "")
    match = _NAME_ZH.search(text) or _NAME_EN.search(text)
    return next(name for name in match.groups() if name) if match else None


def without_mobile(text: str) -> str:
    """``text`` with its mobile number (plain or masked) left out, so its digits are not read
    as a date or a time."""
    text = unicodedata.normalize("NFKC", text or "")
    return _MASKED_MOBILE.sub(" ", _MOBILE.sub(" ", text))


# --- dates and times in Chinese or English ------------------------------------------------------

_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN_WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "七": 6}
_EN_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_EN_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_RELATIVE_DAYS = {
    "大后天": 3, "后天": 2, "day after tomorrow": 2,
    "明天": 1, "明日": 1, "明早": 1, "明晚": 1, "tomorrow": 1,
    "今天": 0, "今日": 0, "今早": 0, "今晚": 0, "today": 0, "tonight": 0,
}
# Chinese period words as they stand right before the hour ("下午3点", "今晚7点").
_CN_PERIODS = {
    "凌晨": "am", "早上": "am", "早晨": "am", "上午": "am", "今早": "am", "明早": "am", "早": "am",
    "中午": "noon", "正午": "noon",
    "下午": "pm", "午后": "pm", "傍晚": "pm", "晚上": "pm", "夜里": "pm", "今晚": "pm", "明晚": "pm", "晚": "pm",
}

_NUM = r"[0-9零〇一二两三四五六七八九十]{1,3}"  # 0–99 in Arabic or Chinese numerals
_AMPM = r"(?P<ampm>[ap])\.?m\b\.?"
_MONTH = r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\b\.?"

_ISO_DATE = re.compile(r"(?<!\d)(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})(?!\d)\s*[日号]?")
_CN_DATE = re.compile(rf"({_NUM})\s*月\s*({_NUM})\s*[日号]")
_EN_MONTH_DAY = re.compile(rf"\b{_MONTH}\s*(\d{{1,2}})(?:st|nd|rd|th)?\b")
_EN_DAY_MONTH = re.compile(rf"(?<![\d:])(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}")
_SLASH_DATE = re.compile(r"(?<![\d/])(\d{1,2})/(\d{1,2})(?![\d/])")  # month/day, as in China and the US
_RELATIVE = re.compile("|".join(_RELATIVE_DAYS))
_WEEKDAY = re.compile(
    r"(下个?|next\s+)?(?:(?:周|星期|礼拜)([一二三四五六日天七])"
    r"|\b(mon|tue|wed|thu|fri|sat|sun)(?:day|s|sday|nesday|r|rs|rsday|urday)?\b)"
)

# Times, most specific first: the first pattern that matches outside the date is used.
_TIMES = (
    re.compile(rf"(?<![\d:])(?P<hour>\d{{1,2}})\s*:\s*(?P<minute>\d{{2}})(?![\d:])(?:\s*{_AMPM})?"),  # 15:30, 2:30 pm
    re.compile(rf"(?<![\d:])(?P<hour>\d{{1,2}})\s*{_AMPM}"),  # 3pm, 10 a.m.
    re.compile(rf"(?P<hour>{_NUM})\s*[点點时時](?:\s*(?P<minute>半|一刻|三刻|{_NUM})\s*分?)?"),  # 3点, 十点半, 10点15分
    re.compile(r"\bat\s+(?P<hour>\d{1,2})(?![\d:])"),  # at 3
)
_NOON = re.compile(r"中午|正午|\bnoon\b|\bmidday\b")
_CN_PERIOD = re.compile("(" + "|".join(sorted(_CN_PERIODS, key=len, reverse=True)) + r")\s*$")
_EN_PM = re.compile(r"\b(afternoon|evening|tonight|night)\b")
_EN_AM = re.compile(r"\bmorning\b")
_QUARTERS = {None: 0, "半": 30, "一刻": 15, "三刻": 45}


def _number(text: str) -> Optional[int]:
    """0–99 from Arabic or Chinese numerals: "15", "十五", "二十三", "两"."""
    text = "".join(str(_CN_DIGITS.get(char, char)) for char in text)
    if "十" not in text:
        return int(text) if text.isdigit() else None
    tens, _, units = text.partition("十")
    if not (tens == "" or tens.isdigit()) or not (units == "" or units.isdigit()):
        return None
    return int(tens or 1) * 10 + int(units or 0)


def _on_or_after(today: date, month: Optional[int], day: Optional[int], year: Optional[int] = None) -> Optional[date]:
    """The date; without a year, the next such date from today on. None if there is none."""
    try:
        if year is not None:
            return date(year, month, day)
        found = date(today.year, month, day)
        return found if found >= today else date(today.year + 1, month, day)
    except (TypeError, ValueError):
        return None


def _weekday(today: date, weekday: int, next_week: bool) -> date:
    if next_week:  # that day in the following Monday-to-Sunday week
        return today + timedelta(days=7 - today.weekday() + weekday)
    return today + timedelta(days=(weekday - today.weekday() - 1) % 7 + 1)  # never today


def _find_date(text: str, today: date) -> Tuple[Optional[date], Optional[Tuple[int, int]]]:
    """The day named in ``text`` (None if it names no real day) and where it was named."""
    for pattern in (_ISO_DATE, _CN_DATE, _EN_MONTH_DAY, _EN_DAY_MONTH, _SLASH_DATE, _RELATIVE, _WEEKDAY):
        match = pattern.search(text)
        if not match:
            continue
        groups = match.groups()
        if pattern is _ISO_DATE:
            year, month, day = (int(g) for g in groups)
            found = _on_or_after(today, month, day, year)
        elif pattern is _CN_DATE:
            found = _on_or_after(today, _number(groups[0]), _number(groups[1]))
        elif pattern is _EN_MONTH_DAY:
            found = _on_or_after(today, _EN_MONTHS.index(groups[0][:3]) + 1, int(groups[1]))
        elif pattern is _EN_DAY_MONTH:
            found = _on_or_after(today, _EN_MONTHS.index(groups[1][:3]) + 1, int(groups[0]))
        elif pattern is _SLASH_DATE:
            found = _on_or_after(today, int(groups[0]), int(groups[1]))
        elif pattern is _RELATIVE:
            found = today + timedelta(days=_RELATIVE_DAYS[match.group(0)])
        else:
            next_week, chinese, english = groups
            weekday = _CN_WEEKDAYS[chinese] if chinese else _EN_WEEKDAYS.index(english)
            found = _weekday(today, weekday, bool(next_week))
        return found, match.span()
    return None, None


def _find_time(text: str, date_span: Optional[Tuple[int, int]]) -> Optional[time]:
    """The time of day in ``text``, not looking inside the date found at ``date_span``."""
    searched = text
    if date_span:
        start, end = date_span
        searched = text[:start] + " " * (end - start) + text[end:]
    match = next(filter(None, (pattern.search(searched) for pattern in _TIMES)), None)
    if match is None:
        return time(12, 0) if _NOON.search(searched) else None

    parts = match.groupdict()
    hour = _number(parts["hour"])
    minute_text = parts.get("minute")
    minute = _QUARTERS[minute_text] if minute_text in _QUARTERS else _number(minute_text)
    if hour is None or minute is None:
        return None

    before = _CN_PERIOD.search(text[: match.start()])
    if parts.get("ampm"):
        period = parts["ampm"] + "m"
    elif before:
        period = _CN_PERIODS[before.group(1)]
    else:
        period = "pm" if _EN_PM.search(text) else "am" if _EN_AM.search(text) else None

    if period == "pm" and hour < 12:
        hour += 12
    elif period == "noon" and hour < 6:
        hour += 12
    elif period == "am" and hour == 12:
        hour = 0
    elif period is None and 1 <= hour <= 7 and not parts["hour"].startswith("0"):
        hour += 12  # a bare "3点" / "at 3": nobody books a call for 3 a.m.
    return time(hour, minute) if hour <= 23 and minute <= 59 else None


def parse_when(text: str, now: datetime) -> Optional[datetime]:
    """The moment a customer asked for, in Chinese or English; None without a time of day.

    Days: 今天/明天/后天/大后天 (今晚, 明早…), today/tomorrow/tonight; a weekday (周五, 星期五,
    Friday, Fri) is the next such day, never today; 下周一 / next Monday is that day in the
    following Monday-to-Sunday week; 12月3日, 12/3 (month/day), Dec 3, 3 December,
    2026-12-03, 2026年12月3日; a date without a year is the next such date.
    Times: 15:00, 3pm, 2:30 pm, at 3, 3点, 三点, 十点半, 10点15分, 10点一刻, with 上午, 下午,
    晚上, 中午, 凌晨 right before them or morning/afternoon/evening/tonight anywhere; "noon" or
    中午 alone is 12:00. A bare hour 1–7 without any of these is afternoon or evening.
    A time without a day is today if still ahead, else tomorrow. A day without a time, or a
    date that does not exist, gives None.
    """
    local_now = _shanghai(now)
    text = unicodedata.normalize("NFKC", text or "").lower()
    day, span = _find_date(text, local_now.date())
    at = _find_time(text, span)
    if at is None or (span and day is None):
        return None
    if day is None:
        moment = datetime.combine(local_now.date(), at, tzinfo=SHANGHAI)
        return moment if moment > local_now else moment + timedelta(days=1)
    return datetime.combine(day, at, tzinfo=SHANGHAI)


# --- rules ------------------------------------------------------------------------------------


def _floor_half_hour(moment: datetime) -> datetime:
    return moment.replace(minute=moment.minute - moment.minute % 30, second=0, microsecond=0)


def _ceil_half_hour(moment: datetime) -> datetime:
    floor = _floor_half_hour(moment)
    return floor if floor == moment else floor + HALF_HOUR


def _within(start: datetime, end: datetime, opens: time, closes: time) -> bool:
    return start.time() >= opens and end <= datetime.combine(start.date(), closes, tzinfo=SHANGHAI)


def callback_window(start: datetime, now: datetime) -> Slot:
    """The 30-minute callback window holding ``start`` (rounded down to the half hour).

    It must begin at least 15 minutes from now, at most 14 days ahead, and lie wholly inside
    agent hours (``service_hours.agent_hours``: 09:00–21:00, every day).
    """
    now, start = _shanghai(now), _floor_half_hour(_shanghai(start))
    end = start + CALLBACK_LENGTH
    if start < now + CALLBACK_LEAD:
        raise ScheduleError("past")
    if start > now + CALLBACK_HORIZON:
        raise ScheduleError("too_far")
    if not _within(start, end, *agent_hours()):
        raise ScheduleError("outside_hours")
    return start, end


def next_callback_windows(now: datetime, n: int = 3) -> List[Slot]:
    """The first ``n`` windows that can still be booked, e.g. for buttons."""
    windows: List[Slot] = []
    start = _ceil_half_hour(_shanghai(now) + CALLBACK_LEAD)
    while len(windows) < n:
        try:
            windows.append(callback_window(start, now))
        except ScheduleError as error:
            if error.code == "too_far":
                break
        start += HALF_HOUR
    return windows


def appointment_slot(start: datetime, now: datetime) -> Slot:
    """The 60-minute advisor appointment starting at ``start`` (rounded down to the half hour).

    Branches open 09:00–17:00 on mainland working days (an adjusted working weekend day
    included, a public holiday excluded), so a slot starts 09:00–16:00. It must start at least
    2 hours from now and at most 30 days ahead.
    """
    now, start = _shanghai(now), _floor_half_hour(_shanghai(start))
    end = start + APPOINTMENT_LENGTH
    if start < now + APPOINTMENT_LEAD:
        raise ScheduleError("past")
    if start > now + APPOINTMENT_HORIZON:
        raise ScheduleError("too_far")
    if not is_working_day(start.date()):
        raise ScheduleError("not_working_day")
    if not _within(start, end, BRANCH_OPEN, BRANCH_CLOSE):
        raise ScheduleError("outside_hours")
    return start, end


def next_appointment_slots(now: datetime, n: int = 3) -> List[Slot]:
    """The first ``n`` appointment slots that can still be booked, e.g. for buttons."""
    slots: List[Slot] = []
    start = _ceil_half_hour(_shanghai(now) + APPOINTMENT_LEAD)
    while len(slots) < n:
        try:
            slots.append(appointment_slot(start, now))
            start += HALF_HOUR
        except ScheduleError as error:
            if error.code == "too_far":
                break
            if error.code == "outside_hours" and start.time() < BRANCH_OPEN:
                start = datetime.combine(start.date(), BRANCH_OPEN, tzinfo=SHANGHAI)
            else:
                start = datetime.combine(next_working_day(start.date()), BRANCH_OPEN, tzinfo=SHANGHAI)
    return slots
