"""The `business_calendar` seed: China's working days, statutory holidays and 调休 make-up workdays.

Produced by `chinesecalendar` (import name `chinese_calendar`), which ships the State Council's yearly notices as
data (no network) with the make-up workdays named; `holidays` (country CN) was the alternative, but its public API
gives holidays only, not the weekend days that become workdays, which is half of 调休. The library raises for a year
it does not know; such years are left out of the seed and the models treat their days as Monday–Friday workdays
(docs/metrics.md#working-time). The CSV is meant to be edited by hand (a company holiday, a new year's notice
before the library has it); this command rewrites it from the library.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

HEADER = ("date", "is_workday", "holiday_name")
DEFAULT_SEED = Path(__file__).resolve().parent.parent / "seeds" / "business_calendar.csv"

# chinese_calendar names holidays in English (its Holiday enum); the seed speaks the users' language.
_NAMES_ZH = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "Mid-autumn Festival": "中秋节",
    "National Day": "国庆节",
    "Anti-Fascist 70th Day": "抗战胜利70周年纪念日",
}


def known_years() -> range:
    """Years the installed chinesecalendar has notices for (it raises NotImplementedError outside them)."""
    import chinese_calendar

    dates = sorted(chinese_calendar.holidays) + sorted(chinese_calendar.workdays)
    return range(min(dates).year, max(dates).year + 1)


def calendar_rows(from_year: int, to_year: int) -> Iterator[tuple[str, str, str]]:
    """(date, is_workday, holiday_name) for every day of the years the library knows within the range."""
    import chinese_calendar

    years = known_years()
    for year in range(from_year, to_year + 1):
        if year not in years:
            continue
        day = dt.date(year, 1, 1)
        while day.year == year:
            on_holiday, holiday = chinese_calendar.get_holiday_detail(day)
            workday = not on_holiday
            name = ""
            if holiday is not None:
                # a named day that is still a workday is a 调休 make-up day for that holiday
                name = _NAMES_ZH.get(holiday, holiday) + ("调休上班" if workday else "")
            yield day.isoformat(), "true" if workday else "false", name
            day += dt.timedelta(days=1)


def write_seed(out: Path, from_year: int, to_year: int) -> tuple[int, list[int]]:
    """Write the seed; returns (rows written, years skipped because the library does not know them)."""
    if from_year > to_year:
        raise ValueError(f"--from-year {from_year} is after --to-year {to_year}")
    rows = list(calendar_rows(from_year, to_year))
    skipped = [y for y in range(from_year, to_year + 1) if y not in known_years()]
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(HEADER)
        writer.writerows(rows)
    return len(rows), skipped
