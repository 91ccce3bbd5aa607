"""Source freshness after a build: `dbt source freshness` over the landed sources, kept in the warehouse.

Runs after the models passed and before the working file is published; its result becomes
`ops.closedloop_source_freshness` (shown on the Data page). A stale source never stops the publish: old data is
still the best there is. `build(fail_on_stale=True)` turns "past the error threshold" into a non-zero exit.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

from closedloop import contract
from closedloop.build import BuildError, run_dbt
from closedloop.landing import TableReport
from closedloop.paths import ConfigError

FRESHNESS_TABLE = "ops.closedloop_source_freshness"
_PERIOD_DAYS = {"day": 1.0, "hour": 1 / 24, "minute": 1 / 1440}


@dataclass
class SourceFreshness:
    """One row of ops.closedloop_source_freshness: a contract table with a natural event time."""

    source: str
    table: str
    status: str  # pass | warn | error | absent
    max_loaded_at: datetime | None  # latest event, business-local time
    checked_at: datetime  # when the check ran, business-local time
    age_hours: float | None
    warn_after_days: float | None
    error_after_days: float | None
    note: str | None = None

    def line(self) -> str:
        name = f"{self.source}.{self.table}"
        if self.max_loaded_at is None:
            return f"Source freshness: {name} could not be checked: {self.note}"
        return (f"Source freshness: {name} latest row {self.max_loaded_at:%Y-%m-%d %H:%M} is "
                f"{_days(self.age_hours / 24)} days old (warn after {_days(self.warn_after_days)}, error after "
                f"{_days(self.error_after_days)} days)")


def _days(days: float | None) -> str:
    if days is None:
        return "–"
    return f"{days:.0f}" if days >= 10 or float(days).is_integer() else f"{days:.1f}"


def _judge_against(rows: list[SourceFreshness], reference: str | datetime) -> str:
    """Re-measure every checked row's age against `reference` with dbt's rule (warn past warn_after, error past
    error_after); return how the reference reads in a sentence."""
    latest = [r.max_loaded_at for r in rows if r.max_loaded_at is not None]
    if reference == "data":
        if not latest:
            return "the data's latest event (there is none)"
        at = max(latest)
        said = f"the data's latest event, {at:%Y-%m-%d %H:%M} (--freshness-as-of data)"
    else:
        at = reference
        said = f"{at:%Y-%m-%d %H:%M} (--freshness-as-of)"
    for r in rows:
        r.checked_at = at
        if r.max_loaded_at is None:
            continue
        age_days = max((at - r.max_loaded_at).total_seconds(), 0.0) / 86400
        r.age_hours = age_days * 24
        if r.error_after_days is not None and age_days > r.error_after_days:
            r.status = "error"
        elif r.warn_after_days is not None and age_days > r.warn_after_days:
            r.status = "warn"
        else:
            r.status = "pass"
        r.note = f"age measured at {said}, not at the build's clock"
    return said


def _project_vars(vars_: dict | None) -> dict:
    return {**contract.project_vars(), **(vars_ or {})}


def _threshold_days(threshold) -> float | None:
    if threshold is None or threshold.count is None or threshold.period is None:
        return None
    period = str(getattr(threshold.period, "value", threshold.period))
    return float(threshold.count) * _PERIOD_DAYS.get(period, 1.0)


def parse_reference(text: str | None) -> str | datetime | None:
    """What `--freshness-as-of` asks ages to be measured against: None (or `now`) = the build's clock; `data` = the
    latest event of any source (a fixed sample, a backfill of old exports); or a business-time date or timestamp
    (a date means the end of that day). One sentence when it is none of those."""
    if text is None or text.strip().lower() in ("", "now"):
        return None
    if text.strip().lower() == "data":
        return "data"
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(f"--freshness-as-of {text!r}: give now, data, or a date or timestamp such as 2026-10-31 or "
                          "2026-10-31T18:00.") from None
    if value.tzinfo is not None:
        zone = ZoneInfo(str(_project_vars(None).get("timezone") or "Asia/Shanghai"))
        value = value.astimezone(zone).replace(tzinfo=None)
    elif len(text.strip()) <= 10:  # a date alone: the whole day counts
        value = value.replace(hour=23, minute=59, second=59)
    return value


def check_freshness(landing_dir: Path, working: Path, reports: list[TableReport], vars_: dict | None,
                    out: TextIO | None, reference: str | datetime | None = None) -> list[SourceFreshness] | None:
    """`dbt source freshness` over the landed tables, into ops.closedloop_source_freshness of the working file.
    Prints a line per stale source. Returns the rows, or None when the check could not run (never raises: a
    stale or unchecked source does not stop the publish). `reference` (parse_reference) measures the ages against
    another instant than the build's clock; the rows say so in their note."""
    def say(text: str) -> None:
        if out is not None:
            print(text, file=out, flush=True)

    try:
        rows = _freshness_rows(landing_dir, working, reports, vars_)
        if reference is not None:
            said = _judge_against(rows, reference)
            say(f"Source freshness judged against {said}, not the build's clock")
        _write_freshness(working, rows)
    except Exception as exc:  # noqa: BLE001 - freshness is advisory; the build's data is still the best we have
        say(f"Source freshness could not be checked: {' '.join(str(exc).split()) or type(exc).__name__}")
        return None
    stale = [r for r in rows if r.status in ("warn", "error")]
    for r in stale:
        say(r.line())
    fresh = [r for r in rows if r.status == "pass"]
    if not stale and fresh:
        say(f"Source freshness: the {len(fresh)} tables with an event time are fresh (warn after "
            f"{_days(fresh[0].warn_after_days)} days)")
    return rows


def _freshness_rows(landing_dir: Path, working: Path, reports: list[TableReport],
                    vars_: dict | None) -> list[SourceFreshness]:

    zone = ZoneInfo(str(_project_vars(vars_).get("timezone") or "Asia/Shanghai"))
    # dbt's own record (sources.json) goes beside the build's dbt log, under the warehouse's folder.
    output = working.parent / "logs" / "sources.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    # Console log off: the stale sources are reported below, in one line each.
    args = ["source", "freshness", "--output", str(output), "--log-level", "none"]
    if vars_:
        args += ["--vars", json.dumps(vars_)]
    result = run_dbt(args, landing_dir, working, out=None)
    results = getattr(result.result, "results", None)
    if results is None:
        raise BuildError(str(result.exception or "dbt source freshness returned no results").strip())
    empty = {r.table for r in reports if r.status == "absent" or r.rows_loaded == 0}
    rows = []
    for r in results:
        node = r.node
        if str(getattr(node.resource_type, "value", node.resource_type)) != "source":
            continue  # the on-run-start hook (macros/engines.sql: nothing on DuckDB) reports a result too
        status = str(getattr(r.status, "value", r.status))
        warn_days = _threshold_days(node.freshness.warn_after if node.freshness else None)
        error_days = _threshold_days(node.freshness.error_after if node.freshness else None)
        checked = getattr(r, "snapshotted_at", None) or datetime.now(zone)
        row = SourceFreshness(source=node.source_name, table=node.name, status=status, max_loaded_at=None,
                              checked_at=_local(checked, zone), age_hours=None, warn_after_days=warn_days,
                              error_after_days=error_days)
        if f"{node.source_name}/{node.name}" in empty:
            row.status, row.note = "absent", "no rows landed: the marts over it are empty"
        elif status == "runtime error":
            row.status = "error"
            row.note = " ".join((r.message or "the freshness query failed").split())
        else:
            row.max_loaded_at = _local(r.max_loaded_at, zone)
            row.age_hours = float(r.age) / 3600
        rows.append(row)
    return sorted(rows, key=lambda x: (x.source, x.table))


def _local(value: datetime, zone) -> datetime:
    """A dbt timestamp (UTC, aware) as a naive business-local time, the warehouse's convention."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(zone).replace(tzinfo=None)


def _write_freshness(working: Path, rows: list[SourceFreshness]) -> None:
    import duckdb

    con = duckdb.connect(str(working))
    try:
        con.begin()
        con.execute("create schema if not exists ops")
        con.execute(f"""create or replace table {FRESHNESS_TABLE} (
            source_name varchar not null, table_name varchar not null, table_key varchar not null,
            status varchar not null, max_loaded_at timestamp, checked_at timestamp not null, age_hours double,
            warn_after_days double, error_after_days double, note varchar)""")
        con.executemany(f"insert into {FRESHNESS_TABLE} values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [(r.source, r.table, f"{r.source}/{r.table}", r.status, r.max_loaded_at, r.checked_at,
                          r.age_hours, r.warn_after_days, r.error_after_days, r.note) for r in rows])
        con.commit()
    finally:
        con.close()


def stale_failure(warehouse: Path, rows: list[SourceFreshness] | None) -> str | None:
    """Why `--fail-on-stale` fails a published build (a source past the error threshold, or no check at all),
    or None."""
    if rows is None:
        return (f"Published {warehouse}, but source freshness could not be checked (see above); failing because of "
                "--fail-on-stale.")
    stale = [r for r in rows if r.status == "error"]
    if not stale:
        return None
    names = ", ".join(f"{r.source}.{r.table}" for r in stale)
    return (f"Published {warehouse}, but {len(stale)} source(s) are past the error threshold of "
            f"{_days(stale[0].error_after_days)} days: {names}; failing because of --fail-on-stale.")


def freshness_counts(rows: list[SourceFreshness] | None) -> dict[str, int]:
    if rows is None:
        return {}
    counts = dict.fromkeys(("pass", "warn", "error", "absent"), 0)
    for r in rows:
        counts[r.status] = counts.get(r.status, 0) + 1
    return counts


