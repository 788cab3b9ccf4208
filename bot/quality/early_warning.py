"""Early warning (manual 5.3.4): complaint topics and products whose count in the last days is
well above their usual level.

For each complaint category and each product, the complaints received in the last ``days``
(Beijing days, today included) are compared with the ``baseline`` days before them. A value is
flagged when the recent daily rate is at least ``factor`` times the usual daily rate *and* above
the usual rate plus three standard deviations of the daily counts, with at least ``min_count``
recent complaints — a handful of complaints about something that never had any is news; one
more than usual on a busy topic is not.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Dict, List

from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from bot.complaints.models import Complaint
from bot.service_hours import SHANGHAI

DAYS, BASELINE, FACTOR, MIN_COUNT = 3, 28, 2.0, 3


@dataclass(frozen=True)
class EarlyWarning:
    dimension: str  # category | product
    value: str
    recent: int  # complaints in the recent days
    recent_per_day: float
    usual_per_day: float
    threshold_per_day: float

    def as_dict(self) -> Dict[str, object]:
        return {"dimension": self.dimension, "value": self.value, "recent": self.recent,
                "recent_per_day": round(self.recent_per_day, 2), "usual_per_day": round(self.usual_per_day, 2),
                "threshold_per_day": round(self.threshold_per_day, 2)}


def warnings(sessions: sessionmaker, today: date, days: int = DAYS, baseline: int = BASELINE,
             factor: float = FACTOR, min_count: int = MIN_COUNT) -> List[EarlyWarning]:
    """Flagged categories and products, the most unusual first."""
    recent_start = today - timedelta(days=days - 1)
    baseline_start = recent_start - timedelta(days=baseline)
    since = datetime.combine(baseline_start, time(0), tzinfo=SHANGHAI)
    until = datetime.combine(today + timedelta(days=1), time(0), tzinfo=SHANGHAI)
    with sessions() as session:
        rows = session.execute(select(Complaint.received_at, Complaint.category, Complaint.product)
                               .where(Complaint.received_at >= since, Complaint.received_at < until)).all()
    found: List[EarlyWarning] = []
    for dimension, index in (("category", 1), ("product", 2)):
        daily: Dict[str, Counter] = {}
        for row in rows:
            if row[index]:
                daily.setdefault(row[index], Counter())[row[0].astimezone(SHANGHAI).date()] += 1
        for value, per_day in daily.items():
            recent = sum(n for day, n in per_day.items() if day >= recent_start)
            usual = [per_day.get(baseline_start + timedelta(days=n), 0) for n in range(baseline)]
            mean = sum(usual) / baseline
            deviation = math.sqrt(sum((n - mean) ** 2 for n in usual) / baseline)
            threshold = max(factor * mean, mean + 3 * deviation)
            if recent >= min_count and recent / days > threshold:
                found.append(EarlyWarning(dimension, value, recent, recent / days, mean, threshold))
    return sorted(found, key=lambda w: (-(w.recent_per_day - w.threshold_per_day), w.dimension, w.value))
