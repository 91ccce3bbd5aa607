"""Data quality in the warehouse: the load report (ops.closedloop_load_report) balances and says what the landing's
manifest says; the rows set aside are listed; source freshness (ops.closedloop_source_freshness) has one row per
source table with an event time and the right latest row, age and status against an independent reading of the
raw files; an absent table never errors the freshness run; `--fail-on-stale` says why it fails.

Over the session's builds: `sample` (clean, every table) and `defects` (the malformed-input corpus: rows set
aside, formula text, most tables absent), shared with tests/test_corpus_defects.py. No build of its own.
"""

from __future__ import annotations

import io
import json
import shutil
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pandas as pd
import pytest
import yaml
from independent.raw import Raw, dates, timestamps

from closedloop import PROJECT_DIR, contract
from closedloop.freshness import SourceFreshness, check_freshness, freshness_counts, stale_failure
from closedloop.paths import current_landing_dir

# The natural event time of every source table that has one (the others are not checked): the choice this test
# pins, written independently of the YAML that implements it.
EVENT_TIME = {
    "crm/accounts": ("created_at", "timestamp"),
    "crm/leads": ("created_at", "timestamp"),
    "crm/lead_events": ("event_at", "timestamp"),
    "crm/ownership_events": ("event_at", "timestamp"),
    "crm/opportunities": ("created_at", "timestamp"),
    "crm/opportunity_stage_history": ("entered_at", "timestamp"),
    "crm/activities": ("activity_at", "timestamp"),
    "campaign/campaign_spend": ("spend_date", "date"),
    "campaign/touches": ("touched_at", "timestamp"),
    "service/orders": ("order_date", "date"),
    "service/tickets": ("opened_at", "timestamp"),
}
STATUSES = {"pass", "warn", "error", "absent"}


def _project_vars() -> dict:
    return yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text(encoding="utf-8"))["vars"]


@pytest.fixture(scope="module")
def report(wh) -> pd.DataFrame:
    return wh.execute("select * from ops.closedloop_load_report order by table_order").df()


@pytest.fixture(scope="module")
def freshness(wh) -> pd.DataFrame:
    return wh.execute("select * from ops.closedloop_source_freshness order by table_key").df()


# ---- load report ---------------------------------------------------------------------------------------------

def test_the_load_report_balances_for_every_contract_table(report):
    assert report.table_key.tolist() == [t.key for t in contract.tables()]  # every table, in contract order
    assert report.is_balanced.all()
    assert (report.rows_read == report.rows_loaded + report.rows_rejected).all()
    assert report.build_id.nunique() == 1


def test_the_load_report_equals_the_landing_manifest(sample, report):
    _assert_report_is_the_manifest(report, current_landing_dir(sample.warehouse))


def _assert_report_is_the_manifest(report: pd.DataFrame, landing: Path) -> None:
    assert report.build_id.iloc[0] == landing.name
    manifest = json.loads((landing / "_manifest.json").read_text(encoding="utf-8"))
    by_key = report.set_index("table_key")
    assert sorted(t["table"] for t in manifest["tables"]) == sorted(by_key.index)
    for t in manifest["tables"]:
        row = by_key.loc[t["table"]]
        assert row.status == t["status"], t["table"]
        assert bool(row.is_absent) == (t["status"] == "absent")
        for col in ("rows_read", "rows_loaded", "rows_rejected"):
            assert int(row[col]) == t[col], (t["table"], col)
        assert json.loads(row.files) == t["files"]
        assert int(row.file_count) == len(t["files"])
        assert json.loads(row.rejected_by_rule) == t["rejected_by_rule"]
        assert json.loads(row.warnings_by_rule) == t["warnings_by_rule"]
        assert int(row.warning_count) == sum(t["warnings_by_rule"].values())
        assert json.loads(row.not_checked) == t["not_checked"]


def test_every_row_set_aside_is_listed(wh, report):
    listed = wh.execute("""
        select table_key, count(distinct (source_file, source_row)) as n
        from ops.closedloop_rejected_rows group by table_key""").df().set_index("table_key").n
    for r in report.itertuples():
        assert listed.get(r.table_key, 0) == r.rows_rejected, r.table_key


def test_the_defects_build_reports_every_row_set_aside(defects):
    """A build with rows set aside and absent tables: the report balances and is the manifest, every failing value
    of the landing is in closedloop_rejected_rows, and absent tables are `absent` in source freshness."""
    con = duckdb.connect(str(defects.warehouse), read_only=True)
    try:
        report = con.execute("select * from ops.closedloop_load_report order by table_order").df()
        rejected = con.execute("select * from ops.closedloop_rejected_rows order by rejection_id").df()
        fresh = con.execute("select * from ops.closedloop_source_freshness").df().set_index("table_key")
    finally:
        con.close()
    assert report.is_balanced.all() and report.rows_rejected.sum() > 0
    _assert_report_is_the_manifest(report, defects.landing)
    landed = pd.read_parquet(defects.landing / "_rejected.parquet")
    key = ["table_key", "file", "row", "column_name", "rule"]
    assert sorted(landed[key].astype(str).itertuples(index=False, name=None)) == sorted(
        rejected[["table_key", "source_file", "source_row", "column_name", "rule"]].astype(str)
        .itertuples(index=False, name=None))
    assert set(rejected.value.dropna()) == set(landed.value.dropna())
    listed = rejected.groupby("table_key").apply(lambda g: len(set(zip(g.source_file, g.source_row, strict=True))))
    for r in report.itertuples():
        assert listed.get(r.table_key, 0) == r.rows_rejected, r.table_key
    assert sorted(fresh.index) == sorted(EVENT_TIME)
    for r in report[report.table_key.isin(list(EVENT_TIME))].itertuples():
        row = fresh.loc[r.table_key]
        if r.is_absent or r.rows_loaded == 0:
            assert row.status == "absent" and pd.isna(row.max_loaded_at), r.table_key
        else:
            assert row.status in ("pass", "warn", "error") and pd.notna(row.max_loaded_at), r.table_key


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_data_page_over_the_defects_build(defects, monkeypatch, lang):
    """The Data page lists the rows set aside of a real build, and their exports carry no live formula."""
    import openpyxl
    from test_dashboard_apptest import assert_clean, run

    from dashboards import exports
    from dashboards import queries as q
    from dashboards.i18n import Tr

    monkeypatch.setenv(q.ENV_WAREHOUSE, str(defects.warehouse))
    t = Tr(lang)
    at = run("data", **({"lang": "English"} if lang == "en" else {}))
    assert_clean(at)
    total = sum(r.rows_rejected for r in defects.tables.values())
    assert f"{total:,}" in [m.value for m in at.markdown][0]
    listed = [d.value for d in at.dataframe if t("failing_value") in d.value.columns][0]
    landed = pd.read_parquet(defects.landing / "_rejected.parquet")
    assert len(listed) == len(landed)
    assert t("dq_absent") in [d.value for d in at.dataframe if t("rows_set_aside") in d.value.columns][0][
        t("dq_status")].tolist()
    rows = q.rejected_rows()
    formulas = [v for v in rows.value.dropna() if v.startswith(("=", "+", "-", "@"))]
    assert formulas  # the corpus sets formula-looking values aside
    back = pd.read_csv(io.BytesIO(exports.csv_bytes(rows)), encoding="utf-8-sig", dtype=str)
    assert {"'" + v for v in formulas} <= set(back.value.dropna())
    book = openpyxl.load_workbook(io.BytesIO(exports.xlsx_bytes([("rejected", rows)])))
    cells = [c for row in book.active.iter_rows() for c in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    assert {"'" + v for v in formulas} <= {c.value for c in cells}


# ---- source freshness ----------------------------------------------------------------------------------------

def test_freshness_has_one_row_per_source_table_with_an_event_time(freshness):
    declared = set()
    for source in yaml.safe_load(contract.SOURCES_YAML.read_text(encoding="utf-8"))["sources"]:
        for t in source["tables"]:
            config = t.get("config") or {}
            if config.get("freshness") and (config.get("loaded_at_query") or config.get("loaded_at_field")):
                declared.add(f"{source['name']}/{t['name']}")
    assert declared == set(EVENT_TIME)
    assert freshness.table_key.tolist() == sorted(EVENT_TIME)
    assert set(freshness.status) <= STATUSES
    assert (freshness.table_key == freshness.source_name + "/" + freshness.table_name).all()


def test_freshness_against_the_raw_files(sample, freshness):
    vars_ = _project_vars()
    warn, error = float(vars_["freshness_warn_after_days"]), float(vars_["freshness_error_after_days"])
    zone = ZoneInfo(vars_["timezone"])
    # The check ran just before the warehouse was published: checked_at is that moment in business time.
    published = datetime.fromtimestamp(sample.warehouse.stat().st_mtime, zone).replace(tzinfo=None)
    raw = Raw(sample.raw)
    for row in freshness.itertuples():
        column, kind = EVENT_TIME[row.table_key]
        values = raw.table(row.table_key, [column])[column]
        latest = (dates(values) if kind == "date" else timestamps(values)).max()
        assert pd.notna(latest), row.table_key
        assert row.max_loaded_at == latest, (row.table_key, row.max_loaded_at, latest)
        assert abs(row.checked_at - published) < timedelta(minutes=2), (row.checked_at, published)
        # An 8-hour error (business time read as UTC) would show here as a difference of 8 hours.
        age_hours = (row.checked_at - latest) / timedelta(hours=1)
        assert row.age_hours == pytest.approx(age_hours, abs=2 / 3600), row.table_key
        expected = "error" if age_hours > error * 24 else "warn" if age_hours > warn * 24 else "pass"
        assert row.status == expected, row.table_key
        assert (row.warn_after_days, row.error_after_days) == (warn, error)


def test_the_build_prints_a_line_per_stale_source(sample, freshness):
    stale = freshness[freshness.status.isin(["warn", "error"])]
    for row in stale.itertuples():
        line = (f"Source freshness: {row.source_name}.{row.table_name} latest row "
                f"{row.max_loaded_at:%Y-%m-%d %H:%M} is ")
        assert line in sample.build_log, line
    if stale.empty:
        assert "Source freshness: the" in sample.build_log


def test_an_absent_table_does_not_error_the_freshness_run(sample, tmp_path):
    """The landing of the sample with `service/tickets` landed empty (as an absent table lands): dbt's run passes
    it, the table says `absent`, and the other tables are still measured."""
    from closedloop.landing import TableReport

    landing = tmp_path / "landing"
    shutil.copytree(current_landing_dir(sample.warehouse), landing)
    tickets = landing / "service" / "tickets.parquet"
    con = duckdb.connect()
    con.execute(f"copy (select * from read_parquet('{tickets}') limit 0) to '{tickets}.empty' (format parquet)")
    con.close()
    Path(f"{tickets}.empty").replace(tickets)
    reports = [TableReport(table=t.key, status="absent" if t.key == "service/tickets" else "loaded", rows_loaded=1)
               for t in contract.tables()]
    working = tmp_path / ".building" / "warehouse.duckdb"
    working.parent.mkdir()
    out = io.StringIO()
    rows = check_freshness(landing, working, reports, None, out)
    assert rows is not None, out.getvalue()
    by_key = {f"{r.source}/{r.table}": r for r in rows}
    assert set(by_key) == set(EVENT_TIME)
    assert by_key["service/tickets"].status == "absent" and by_key["service/tickets"].max_loaded_at is None
    assert all(r.max_loaded_at is not None for k, r in by_key.items() if k != "service/tickets")
    assert "could not be checked" not in out.getvalue()
    dbt_record = json.loads((working.parent / "logs" / "sources.json").read_text(encoding="utf-8"))
    assert {r["unique_id"]: r["status"] for r in dbt_record["results"]}["source.closedloop.service.tickets"] == "pass"
    assert freshness_counts(rows)["absent"] == 1
    con = duckdb.connect(str(working), read_only=True)
    try:
        assert con.execute("select count(*) from ops.closedloop_source_freshness where status = 'absent'"
                           ).fetchall()[0][0] == 1
    finally:
        con.close()


def test_fail_on_stale_says_why():
    now = datetime(2026, 11, 23, 9, 0)

    def row(table: str, status: str) -> SourceFreshness:
        return SourceFreshness("crm", table, status, now - timedelta(days=9), now, 9 * 24.0, 2.0, 7.0)

    wh = Path("/data/warehouse.duckdb")
    assert stale_failure(wh, [row("leads", "pass"), row("users", "warn"), row("x", "absent")]) is None
    message = stale_failure(wh, [row("leads", "error"), row("activities", "warn")])
    assert "crm.leads" in message and "crm.activities" not in message and "7 days" in message
    assert "Published" in message
    assert "could not be checked" in stale_failure(wh, None)
    assert freshness_counts([row("leads", "error"), row("a", "warn")]) == {"pass": 0, "warn": 1, "error": 1,
                                                                          "absent": 0}
    assert freshness_counts(None) == {}
    assert row("leads", "error").line() == ("Source freshness: crm.leads latest row 2026-11-14 09:00 is 9 days old "
                                           "(warn after 2, error after 7 days)")
