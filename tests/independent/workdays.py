"""Working time from the holiday library itself (docs/metrics.md#working-time), not from the seed or the SQL:
walk the calendar day by day with chinesecalendar (Monday–Friday for years it does not know)."""

from __future__ import annotations

import datetime as dt
from functools import cache

import pandas as pd

WORKDAY_START, WORKDAY_END = dt.time(9), dt.time(18)


@cache
def is_workday(day: dt.date) -> bool:
    import chinese_calendar

    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return day.weekday() < 5


@cache
def nth_workday_after(day: dt.date, n: int) -> dt.date:
    found = 0
    while found < n:
        day += dt.timedelta(days=1)
        found += is_workday(day)
    return day


def sla_due(assigned: pd.Series, workdays: int) -> pd.Series:
    """Same time of day on the `workdays`-th workday after the assignment's date."""
    def one(ts: pd.Timestamp) -> pd.Timestamp:
        if pd.isna(ts):
            return pd.NaT
        return ts + pd.Timedelta(days=(nth_workday_after(ts.date(), workdays) - ts.date()).days)
    return assigned.map(one)


def working_hours(start: pd.Timestamp, end: pd.Timestamp) -> float:
    """Hours of the 09:00–18:00 window of workdays between two instants."""
    if pd.isna(start) or pd.isna(end):
        return float("nan")
    total, day = 0.0, start.date()
    while day <= end.date():
        if is_workday(day):
            lo = max(start, pd.Timestamp.combine(day, WORKDAY_START))
            hi = min(end, pd.Timestamp.combine(day, WORKDAY_END))
            total += max((hi - lo).total_seconds(), 0.0)
        day += dt.timedelta(days=1)
    return total / 3600.0
