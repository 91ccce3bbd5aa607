"""Period arithmetic for the global filters (pure Python, no Streamlit).

A period is a calendar month, quarter or half year (the grains of `fct_department_comparison`). The period
holding the data's as-of day is still running: it is shown "to date", and its comparison periods are cut to the
same number of days, so a month seen on the 10th is compared with the first 10 days of the month before, not
with a whole month.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

GRAINS = ("month", "quarter", "half_year")
GRAIN_MONTHS = {"month": 1, "quarter": 3, "half_year": 6}
COMPARES = ("previous", "last_year")


def add_months(d: date, months: int) -> date:
    """First-of-month arithmetic: `d` must be the first day of a month."""
    index = d.year * 12 + (d.month - 1) + months
    return date(index // 12, index % 12 + 1, 1)


def period_start(d: date, grain: str) -> date:
    """Start of the period of `grain` that holds day `d`."""
    size = GRAIN_MONTHS[grain]
    return date(d.year, (d.month - 1) // size * size + 1, 1)


def period_end(start: date, grain: str) -> date:
    """Exclusive end of the period that starts on `start`."""
    return add_months(start, GRAIN_MONTHS[grain])


def periods(grain: str, first_day: date, as_of_day: date) -> list[date]:
    """Starts of every period from the one holding `first_day` to the one holding `as_of_day`, newest first."""
    if first_day > as_of_day:
        return []
    out, cur = [], period_start(as_of_day, grain)
    stop = period_start(first_day, grain)
    while cur >= stop:
        out.append(cur)
        cur = add_months(cur, -GRAIN_MONTHS[grain])
    return out


@dataclass(frozen=True)
class Window:
    """Half-open day range [start, end) of a period, cut at the as-of day when the period is still running."""

    grain: str
    start: date
    end: date
    full_end: date

    @property
    def is_partial(self) -> bool:
        return self.end < self.full_end

    @property
    def last_day(self) -> date:
        return self.end - timedelta(days=1)

    @property
    def days(self) -> int:
        return (self.end - self.start).days


def window(grain: str, start: date, as_of_day: date) -> Window:
    """The selected period, to date when it is still running."""
    full_end = period_end(start, grain)
    end = min(full_end, as_of_day + timedelta(days=1))
    return Window(grain, start, max(end, start), full_end)


def shifted(w: Window, months: int) -> Window:
    """The same stretch of a period `months` earlier: as many days as `w` covers, never past that period's end."""
    start = add_months(w.start, -months)
    full_end = period_end(start, w.grain)
    end = min(full_end, start + timedelta(days=w.days)) if w.is_partial else full_end
    return Window(w.grain, start, end, full_end)


def previous(w: Window) -> Window:
    return shifted(w, GRAIN_MONTHS[w.grain])


def last_year(w: Window) -> Window:
    return shifted(w, 12)


def compare(w: Window, mode: str) -> Window:
    return last_year(w) if mode == "last_year" else previous(w)
