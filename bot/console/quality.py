"""The supervisors' quality dashboard in the console (docs/console.md, "Quality dashboard"): the
page ``/console/quality``, its figures as JSON and each of its tables as CSV (headed in the
supervisor's language, bot/console/locales/), for a period, channel, queue and language. The figures are bot/quality/indicators.py's, counted from the
stored records; only supervisors may see them (they include what customers wrote).
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta
from typing import Any, Dict, List, Optional, Sequence, Tuple

from sanic.request import Request
from sanic.response import HTTPResponse, file, json as json_response

from bot import service_hours
from bot.console import i18n
from bot.console.auth import console_staff
from bot.http.staff import require_role
from bot.console.pages import CONSOLE_STATIC, headers
from bot.core.conversations import Conversations
from bot.core.staff import Staff
from bot.http import routes
from bot.http.errors import ApiError, csv_attachment
from bot.quality.indicators import Filters, Indicators, InvalidPeriod

QUEUES = ("general", "private")
LANGUAGES = ("zh", "en")
DEFAULT_DAYS = 7  # the last week, ending today (Beijing)
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# A spreadsheet runs a cell starting with one of these as a formula (OWASP "CSV injection");
# the full-width forms too, which some spreadsheets read as the ASCII ones.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")


def _date(args, name: str) -> Optional[date]:
    raw = args.get(name) or ""
    if not raw:
        return None
    try:
        if _ISO_DATE.match(raw):
            return date.fromisoformat(raw)
    except ValueError:
        pass
    raise ApiError(400, "invalid_request", f"{name} must be a date as YYYY-MM-DD.")


def choice(args, name: str, allowed: Sequence[str]) -> Optional[str]:
    value = args.get(name) or None
    if value is not None and value not in allowed:
        raise ApiError(400, "invalid_request", f"{name} must be one of {', '.join(allowed)} (or empty for all).")
    return value


def filters_of(args, today: date, channels: Sequence[str]) -> Filters:
    """The dashboard's filters from the query string; without dates, the last week ending today.
    ``channels``: the conversation kinds of the installed channels ("web", "app", "telegram"…)."""
    end = _date(args, "to") or today
    start = _date(args, "from") or end - timedelta(days=DEFAULT_DAYS - 1)
    try:
        return Filters(start, end, channel=choice(args, "channel", channels), queue=choice(args, "queue", QUEUES),
                       language=choice(args, "language", LANGUAGES))
    except InvalidPeriod as error:
        raise ApiError(400, "invalid_request", f"Invalid period: {error}.") from None


def safe_cell(value: Any) -> Any:
    """A CSV cell a spreadsheet shows as text: customer text starting like a formula gets a
    leading apostrophe; ``None`` is an empty cell."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def to_csv(columns: List[str], rows: List[List[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    writer.writerows([safe_cell(value) for value in row] for row in rows)
    return out.getvalue()


async def dashboard_of(request: Request) -> Tuple[Staff, Dict[str, Any]]:
    service = request.app.ctx.conversations
    staff = await console_staff(request, service, csrf=False)
    require_role(staff, "supervisor")
    now = service_hours.now()
    filters = filters_of(request.args, now.date(), service.kinds())
    return staff, (await service.db(request.app.ctx.quality_indicators.dashboard, filters, now)).as_dict()


async def quality_page(request: Request) -> HTTPResponse:
    return await file(CONSOLE_STATIC / "quality.html", mime_type="text/html; charset=utf-8", headers=headers("no-store"))


async def dashboard(request: Request) -> HTTPResponse:
    _, board = await dashboard_of(request)
    return json_response(board, ensure_ascii=False, headers={"Cache-Control": "no-store"})


async def table_csv(request: Request, name: str) -> HTTPResponse:
    (staff, board), table_name = await dashboard_of(request), name[:-len(".csv")]
    table = board["tables"].get(table_name)
    if table is None:
        raise ApiError(404, "not_found", f"No such table; use one of {', '.join(board['tables'])}.")
    period = board["filters"]
    filename = f"quality-{table_name}-{period['from']}-to-{period['to']}.csv"  # a known table: safe in the header
    # The headers as on the page (q.col.<table>.<column>); a column the catalogue lacks keeps its code.
    columns = [i18n.label(f"q.col.{table_name}", column, staff.language) for column in table["columns"]]
    return csv_attachment(to_csv(columns, table["rows"]), filename)


ROUTES = [
    (quality_page, "/console/quality", "GET", {"strict_slashes": True}),
    (quality_page, "/console/quality/", "GET", {"strict_slashes": True, "name": "quality_page_slash"}),
    (dashboard, "/console/api/quality/dashboard", "GET"),
    (table_csv, r"/console/api/quality/<name:[^/]+\.csv>", "GET"),
]


def install(app, service: Conversations) -> None:
    """The supervisors' dashboard on ``app``, with the installed channels' own indicators."""
    app.ctx.quality_indicators = Indicators(service.store.sessions, [channel.quality for channel in service.channels])
    app.blueprint(routes.blueprint("console_quality", ROUTES))
