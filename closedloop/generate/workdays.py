"""Working days for the planted SLA: China's statutory holidays and 调休 make-up workdays.

The same source as the `business_calendar` seed (chinesecalendar), applied to the generator's int64 clock, so a
lead's SLA due moment is the one the warehouse computes: the same time of day on the lead_sla_days-th workday
after the assignment's date (docs/metrics.md#working-time). Years the library does not know count Monday–Friday.
"""

from __future__ import annotations

import contextlib
from functools import lru_cache

import numpy as np

from .timeutil import DAY

# Days covered by the lookup table (int64 days since 1970-01-01): the window plus room on both sides.
_FIRST = int(np.datetime64("2023-01-01", "D").astype(np.int64))
_LAST = int(np.datetime64("2028-12-31", "D").astype(np.int64))
SLA_WORKDAYS = 5  # vars.lead_sla_days


@lru_cache(maxsize=1)
def _workday_numbers() -> tuple[np.ndarray, np.ndarray]:
    """(is_workday, workdays up to and including the day) for every day _FIRST.._LAST."""
    import datetime as dt

    import chinese_calendar

    days = np.arange(_FIRST, _LAST + 1)
    is_work = ((days + 3) % 7) < 5  # 1970-01-01 was a Thursday -> 0 = Monday
    for i, day in enumerate(days):
        date = dt.date(1970, 1, 1) + dt.timedelta(days=int(day))
        # a year the library has no notice for keeps Monday–Friday
        with contextlib.suppress(NotImplementedError):
            is_work[i] = chinese_calendar.is_workday(date)
    return is_work, np.cumsum(is_work)


def sla_due(assigned_sec: np.ndarray, workdays: int = SLA_WORKDAYS) -> np.ndarray:
    """The SLA due instant of assignments at `assigned_sec` (int64 seconds on the business clock)."""
    is_work, number = _workday_numbers()
    day = assigned_sec // DAY
    idx = np.clip(day - _FIRST, 0, len(number) - 1)
    target = number[idx] + workdays
    # the first day whose running workday count reaches the target is that workday
    due_idx = np.searchsorted(number, target, side="left")
    return assigned_sec + (due_idx - idx) * DAY


def after_long_break(at_sec: np.ndarray, min_days_off: int = 3) -> np.ndarray:
    """For instants on the last workday before a break of at least `min_days_off` days off (春节, 国庆 …), the first
    workday after the break (int64 day number); -1 elsewhere."""
    is_work, _ = _workday_numbers()
    day = at_sec // DAY
    idx = np.clip(day - _FIRST, 0, len(is_work) - 1)
    off_run = np.zeros(len(is_work), np.int64)  # days off starting the day after each day
    run = 0
    for i in range(len(is_work) - 1, -1, -1):
        off_run[i] = run
        run = 0 if is_work[i] else run + 1
    nxt = idx + off_run[idx] + 1
    hit = is_work[idx] & (off_run[idx] >= min_days_off) & (nxt < len(is_work))
    return np.where(hit, nxt + _FIRST, -1)
