"""The business_calendar seed and `closedloop calendar` (docs/metrics.md#working-time): China's holidays and 调休
make-up workdays from chinesecalendar, years it does not know left out (Monday–Friday in the models)."""

from __future__ import annotations

import csv
from pathlib import Path

from closedloop.business_calendar import DEFAULT_SEED, known_years
from closedloop.cli import main


def _rows(path: Path) -> dict[str, tuple[str, str]]:
    with path.open(encoding="utf-8") as fh:
        return {r["date"]: (r["is_workday"], r["holiday_name"]) for r in csv.DictReader(fh)}


def test_calendar_command_writes_holidays_and_make_up_days(tmp_path, capsys) -> None:
    out = tmp_path / "business_calendar.csv"
    assert main(["calendar", "--from-year", "2025", "--to-year", str(known_years().stop), "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert f"Left out {known_years().stop}" in said and "Monday–Friday" in said
    rows = _rows(out)
    assert rows["2026-10-01"] == ("false", "国庆节")
    assert rows["2026-10-10"] == ("true", "国庆节调休上班")  # a Saturday worked for the National Day week
    assert rows["2026-02-14"] == ("true", "春节调休上班")
    assert rows["2026-02-17"] == ("false", "春节")
    assert rows["2026-10-12"] == ("true", "")
    assert len([d for d in rows if d.startswith("2025")]) == 365
    assert not [d for d in rows if d.startswith(str(known_years().stop))]


def test_the_committed_seed_is_the_library_s_calendar(tmp_path) -> None:
    """Hand edits are allowed, but the repository's own seed is the library's, for every year the sample spans."""
    out = tmp_path / "business_calendar.csv"
    main(["calendar", "--from-year", "2010", "--to-year", "2026", "--out", str(out)])
    assert out.read_bytes() == DEFAULT_SEED.read_bytes()


def test_leads_answered_after_a_holiday_are_in_time(sample, mart) -> None:
    """The generator holds the answer to a lead assigned on the last workday before 春节 or 国庆 until the first
    workday after the break: in time on working days (lead_sla_days = 5), late on plain days for the long breaks."""
    import datetime as dt

    import pandas as pd
    from independent.workdays import is_workday

    leads = mart("fct_leads").dropna(subset=["first_assigned_at", "first_response_at"])
    day = leads["first_assigned_at"].dt.date
    answered = leads["first_response_at"].dt.date

    def first_after_break(d: dt.date) -> dt.date | None:
        nxt, off = d + dt.timedelta(days=1), 0
        while not is_workday(nxt):
            nxt, off = nxt + dt.timedelta(days=1), off + 1
        return nxt if is_workday(d) and off >= 3 else None

    back = day.map(first_after_break)
    held = leads[back.notna() & (answered == back)]
    assert len(held) >= 10, len(held)
    assert set(held["sla_status"]) == {"met"}
    assert set(held["first_assigned_at"].dt.strftime("%m-%d")) >= {"09-30"}  # 国庆 in both years
    assert (held["first_assigned_at"].dt.month <= 2).any()  # and a 春节
    assert ((held["first_response_at"] - held["first_assigned_at"]) > pd.Timedelta(days=5)).any()
