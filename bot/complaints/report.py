"""Periodic complaint analysis (manual 5.2.4(3)): figures, a CSV and an HTML page.

The report covers the complaints *received* from ``start`` to ``end`` inclusive (dates in
Asia/Shanghai), as they stand at ``now``.

Deadline compliance, for each deadline (first reply, resolution, regulatory decision):
  - a complaint's deadline is *met* if the step was done (``first_replied_at``, or
    ``resolved_at`` for the other two) at or before the deadline, *missed* if it was done after
    it, or is still not done when the deadline has passed, and *pending* otherwise;
  - the compliance rate is met / (met + missed): pending deadlines are left out, so a young
    complaint neither helps nor hurts. No assessed complaint → no rate.

Personal free text (description, desired outcome, contact, resolution) and customer ids are
left out of both outputs: the report is for analysis and may travel further than the case files.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from html import escape
from typing import Dict, List, Optional, Tuple

from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from bot import knowledge
from bot.complaints.desk import OPEN_STATES
from bot.core.time import iso
from bot.complaints.models import CATEGORIES, Complaint
from bot.service_hours import SHANGHAI

# deadline → (due column, done-at column)
DEADLINES = {
    "first_reply": ("first_reply_due", "first_replied_at"),
    "resolution": ("resolution_due", "resolved_at"),
    "regulatory": ("regulatory_due", "resolved_at"),
}
# Age buckets of open complaints, in whole calendar days since receipt: (label, up to and including)
AGE_BUCKETS = (("under 1 day", 0), ("1–2 days", 2), ("3–5 days", 5), ("6–10 days", 10), ("11–15 days", 15), ("over 15 days", None))
TOP_CAUSES = 5
CSV_COLUMNS = (
    "reference", "received_at", "category", "severity", "urgent", "channel", "product", "state",
    "first_reply_due", "first_replied_at", "first_reply_met", "resolution_due", "resolved_at",
    "resolution_met", "regulatory_due", "regulatory_met", "closed_at", "overdue",
)


def deadline_status(complaint: Complaint, deadline: str, now: datetime) -> str:
    """met | missed | pending (see the module docstring)."""
    due_column, done_column = DEADLINES[deadline]
    due, done = getattr(complaint, due_column), getattr(complaint, done_column)
    if done is not None:
        return "met" if done <= due else "missed"
    return "missed" if due < now else "pending"


@dataclass
class ComplaintReport:
    start: date
    end: date
    now: datetime
    complaints: List[Complaint]

    def counts(self, attribute: str) -> List[Tuple[str, int]]:
        """(value, count) by an attribute, most frequent first; a missing product is "none"."""
        values = Counter(str(getattr(c, attribute) if getattr(c, attribute) is not None else "none") for c in self.complaints)
        return sorted(values.items(), key=lambda item: (-item[1], item[0]))

    def compliance(self) -> Dict[str, Dict[str, Optional[float]]]:
        """For each deadline: {"met", "missed", "pending", "rate"} (rate None when nothing is assessed)."""
        figures = {}
        for deadline in DEADLINES:
            statuses = Counter(deadline_status(c, deadline, self.now) for c in self.complaints)
            assessed = statuses["met"] + statuses["missed"]
            figures[deadline] = {
                "met": statuses["met"], "missed": statuses["missed"], "pending": statuses["pending"],
                "rate": statuses["met"] / assessed if assessed else None,
            }
        return figures

    def open_ages(self) -> List[Tuple[str, int]]:
        ages = [(self.now - c.received_at).days for c in self.complaints if c.state in OPEN_STATES]
        buckets, lower = [], 0
        for label, upper in AGE_BUCKETS:
            buckets.append((label, sum(1 for age in ages if age >= lower and (upper is None or age <= upper))))
            lower = (upper or 0) + 1
        return buckets

    def top_causes(self) -> List[Tuple[str, str, int]]:
        """The most frequent (category, product) pairs."""
        pairs = Counter((c.category, c.product or "none") for c in self.complaints)
        return [(category, product, n) for (category, product), n in
                sorted(pairs.items(), key=lambda item: (-item[1], item[0]))[:TOP_CAUSES]]


def build(sessions: sessionmaker, start: date, end: date, now: datetime) -> ComplaintReport:
    if end < start:
        raise ValueError("the end date is before the start date")
    since = datetime.combine(start, time(0), tzinfo=SHANGHAI)
    until = datetime.combine(end + timedelta(days=1), time(0), tzinfo=SHANGHAI)
    with sessions() as session:
        query = select(Complaint).where(Complaint.received_at >= since, Complaint.received_at < until).order_by(Complaint.received_at, Complaint.id)
        complaints = list(session.execute(query).scalars())
    return ComplaintReport(start, end, now.astimezone(SHANGHAI), complaints)


def to_csv(report: ComplaintReport) -> str:
    """One row per complaint; the met flags are yes / no / empty (pending)."""
    flag = {"met": "yes", "missed": "no", "pending": ""}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for c in report.complaints:
        writer.writerow([
            c.reference, iso(c.received_at), c.category, c.severity, "yes" if c.urgent else "no", c.channel,
            c.product or "", c.state, iso(c.first_reply_due), iso(c.first_replied_at) or "",
            flag[deadline_status(c, "first_reply", report.now)], iso(c.resolution_due), iso(c.resolved_at) or "",
            flag[deadline_status(c, "resolution", report.now)], iso(c.regulatory_due),
            flag[deadline_status(c, "regulatory", report.now)], iso(c.closed_at) or "", ";".join(c.overdue or []),
        ])
    return out.getvalue()


def _category_label(category: str) -> str:
    labels = knowledge.load("complaints")["categories"].get(category)
    return f"{labels['en']} · {labels['zh']}" if labels else category


def _bars(title: str, rows: List[Tuple[str, int]]) -> str:
    """A horizontal bar chart as inline SVG (no script, no external assets)."""
    if not rows:
        return f"<h2>{escape(title)}</h2><p>None.</p>"
    widest, bar_height, label_width, chart_width = max(n for _, n in rows) or 1, 22, 340, 300
    bars = []
    for index, (label, count) in enumerate(rows):
        y = index * bar_height
        width = round(chart_width * count / widest)
        bars.append(
            f'<text x="{label_width - 8}" y="{y + 15}" text-anchor="end">{escape(label)}</text>'
            f'<rect x="{label_width}" y="{y + 3}" width="{width}" height="{bar_height - 6}" fill="#2e7d5b"/>'
            f'<text x="{label_width + width + 6}" y="{y + 15}">{count}</text>'
        )
    height = bar_height * len(rows)
    return (f'<h2>{escape(title)}</h2><svg role="img" aria-label="{escape(title)}" width="{label_width + chart_width + 60}" '
            f'height="{height}" font-size="13" font-family="sans-serif">{"".join(bars)}</svg>')


def _percent(rate: Optional[float]) -> str:
    return "–" if rate is None else f"{rate:.0%}"


def to_html(report: ComplaintReport) -> str:
    n = len(report.complaints)
    by_category = dict(report.counts("category"))
    labelled = [(_category_label(category), by_category.get(category, 0)) for category in CATEGORIES]
    compliance_rows = "".join(
        f"<tr><td>{escape(deadline.replace('_', ' '))}</td><td>{f['met']}</td><td>{f['missed']}</td><td>{f['pending']}</td>"
        f"<td>{_percent(f['rate'])}</td></tr>"
        for deadline, f in report.compliance().items()
    )
    causes = "".join(
        f"<tr><td>{escape(_category_label(category))}</td><td>{escape(product)}</td><td>{count}</td></tr>"
        for category, product, count in report.top_causes()
    )
    period = f"{report.start.isoformat()} – {report.end.isoformat()}"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Complaints {escape(period)}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:60em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:.3em .6em;text-align:left}}</style></head><body>
<h1>Complaints received {escape(period)} · 投诉分析</h1>
<p>{n} complaints, as of {escape(iso(report.now))}. Rates count only deadlines met or missed, not those still pending.</p>
<h2>Deadline compliance</h2>
<table><tr><th>deadline</th><th>met</th><th>missed</th><th>pending</th><th>rate</th></tr>{compliance_rows}</table>
{_bars("By category", labelled)}
{_bars("By channel", report.counts("channel"))}
{_bars("By severity", report.counts("severity"))}
{_bars("Urgent", [("urgent" if value == "True" else "not urgent", count) for value, count in report.counts("urgent")])}
{_bars("By product", report.counts("product"))}
{_bars("Open complaints by age", report.open_ages())}
<h2>Most frequent causes</h2>
<table><tr><th>category</th><th>product</th><th>complaints</th></tr>{causes}</table>
</body></html>
"""
