"""Timestamps: a window of `days` days ending on `end_date`, with a daily and weekly cycle."""

from __future__ import annotations

import bisect
import datetime as dt
from itertools import accumulate

from curation.simulator.grammar import Rnd

# Relative traffic per hour of day (UTC): low at night, a lunch bump, an evening peak.
HOURLY = (3, 2, 1.5, 1, 1, 1.2, 2, 3.5, 5, 6, 6.5, 7, 8, 7.5, 7, 7, 7.5, 8.5, 10, 11.5, 12, 11, 8, 5)
WEEKEND_FACTOR = 1.2


class Clock:
    """Seconds since the window start <-> RFC 3339 strings; draws of conversation start times."""

    def __init__(self, end_date: dt.date, days: int):
        self.start = dt.datetime.combine(end_date - dt.timedelta(days=days - 1), dt.time())
        self.days = days
        self.end_second = days * 86400
        dates = [self.start.date() + dt.timedelta(days=d) for d in range(days)]
        self._day_prefix = [date.isoformat() + "T" for date in dates]
        self._day_cum = list(accumulate(WEEKEND_FACTOR if date.weekday() >= 5 else 1.0 for date in dates))
        self._hour_cum = list(accumulate(HOURLY))
        self._time_of_day = [f"{h:02d}:{m:02d}:{s:02d}Z" for h in range(24) for m in range(60) for s in range(60)]

    def draw_start(self, rnd: Rnd) -> int:
        day = bisect.bisect_right(self._day_cum, rnd() * self._day_cum[-1])
        hour = bisect.bisect_right(self._hour_cum, rnd() * self._hour_cum[-1])
        return day * 86400 + hour * 3600 + int(rnd() * 3600)

    def format(self, second: int) -> str:
        day, rest = divmod(second, 86400)
        return self._day_prefix[day] + self._time_of_day[rest]

    def fit(self, seconds: list[int]) -> list[int]:
        """Shift a conversation's timestamps back so that its last one stays inside the window."""
        overflow = seconds[-1] - (self.end_second - 1)
        if overflow <= 0:
            return seconds
        return [max(0, s - overflow) for s in seconds]
