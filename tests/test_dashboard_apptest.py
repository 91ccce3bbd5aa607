"""The dashboards, run headless with Streamlit's AppTest over the session's built sample warehouse.

Every page in both languages, every kind of global filter, an empty selection, presentation mode, the error path
(a warehouse without marts) — and the numbers on screen against the marts they come from.
"""

from __future__ import annotations

import io
import re
import shutil
import sys
from datetime import date, timedelta
from pathlib import Path

import duckdb
import openpyxl
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # the dashboards are an app folder, not an installed package
    sys.path.insert(0, str(REPO))

from dashboards import exports, periods  # noqa: E402
from dashboards import queries as q  # noqa: E402
from dashboards.i18n import STRINGS, Tr  # noqa: E402

APP = REPO / "dashboards" / "app.py"
VIEWS = ["overview", "lead_flow", "stages", "resources", "lifecycle", "campaigns", "content", "journey", "reps",
         "service", "data", "forecast",
         "followups"]
TIMEOUT = 120


@pytest.fixture
def warehouse(sample, monkeypatch) -> Path:
    monkeypatch.setenv(q.ENV_WAREHOUSE, str(sample.warehouse))
    return sample.warehouse


def run(view: str = "overview", **params):
    """Run the app on `view` with URL parameters `params` (widget labels, as a copied link carries them)."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    for k, v in params.items():
        at.query_params[k] = v
    at.run()
    if view != "overview":
        at.switch_page(f"views/{view}.py")
        at.run()
    return at


# The Data page's stale-source callout is an error on purpose (data past the error threshold); it is not a failure.
STALE_ICON = "🕰️"


def assert_clean(at) -> None:
    """No exception element, and every error is one sentence (never a traceback)."""
    assert not at.exception, [e.value for e in at.exception]
    for e in at.error:
        assert "Traceback" not in e.value and "\n" not in e.value.strip(), e.value
    failures = [e.value for e in at.error if e.icon != STALE_ICON]
    assert not failures, failures


def texts(at) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [i.value for i in at.info]
    parts += [s.value for s in at.subheader] + [m.label for m in at.metric] + [m.value for m in at.metric]
    return "\n".join(str(p) for p in parts)


def metric(at, label: str):
    found = [m for m in at.metric if m.label == label]
    assert found, f"no tile {label!r} in {[m.label for m in at.metric]}"
    return found[0]


# ---- every page, both languages -----------------------------------------------------------------------------

@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("view", VIEWS)
def test_every_page_renders_in_both_languages(warehouse, view, lang):
    at = run(view, **({"lang": "English"} if lang == "en" else {}))
    assert_clean(at)
    body = texts(at)
    assert ("Data as of" in body) if lang == "en" else ("数据截至" in body)
    if lang == "en":
        # Labels are translated: the page's own title keys appear in English, no untranslated key names.
        assert not re.search(r"\b(page|help|move|role|status|act)_[a-z_]+\b", body)
    assert len(at.subheader) >= 1


def test_every_string_has_both_languages_and_every_key_used_exists():
    for key, pair in STRINGS.items():
        assert len(pair) == 2 and all(isinstance(s, str) and s for s in pair), key
    used = set()
    for path in (APP.parent).rglob("*.py"):
        used |= set(re.findall(r'\bt\("([a-z0-9_]+)"[,)]', path.read_text(encoding="utf-8")))
    # keys built at run time
    used |= {f"help_{k}" for k in q.KPI_KEYS} | {f"status_{s}" for s in ("open", "won", "lost")}
    used |= {f"role_{r}" for r in ("sales", "sdr", "presales", "manager", "cs", "marketing")}
    missing = {k for k in used if k not in STRINGS}
    assert not missing, missing


# ---- numbers on screen equal the marts --------------------------------------------------------------------

def test_kpi_tiles_equal_the_marts(warehouse, mart, as_of):
    at = run("overview")
    assert_clean(at)
    t = Tr("zh")
    month = date(as_of.year, as_of.month, 1)
    end = min(periods.period_end(month, "month"), as_of + timedelta(days=1))
    leads = mart("fct_leads")
    created = leads[(leads.created_at >= pd.Timestamp(month)) & (leads.created_at < pd.Timestamp(end))]
    assert metric(at, t("new_leads")).value == t.int(len(created))
    mqls = leads[(leads.mql_at >= pd.Timestamp(month)) & (leads.mql_at < pd.Timestamp(end))]
    assert metric(at, t("mqls")).value == t.int(len(mqls))
    opps = mart("fct_opportunities")
    closed = opps[opps.is_closed & (opps.closed_at >= pd.Timestamp(month)) & (opps.closed_at < pd.Timestamp(end))]
    assert metric(at, t("won_deals")).value == t.int(int(closed.is_won.sum()))
    assert metric(at, t("win_rate")).value == t.pct(closed.is_won.sum() / len(closed))
    is_open = (opps.created_at < pd.Timestamp(end)) & (opps.closed_at.isna() | (opps.closed_at >= pd.Timestamp(end)))
    assert metric(at, t("open_pipeline")).value == t.money(float(opps[is_open].amount.astype(float).sum()))


def test_kpi_tiles_follow_the_department_filter(warehouse, mart, as_of):
    depts = mart("dim_department")
    name = "华东一部" if "华东一部" in set(depts.department_name) else depts.department_name.iloc[0]
    dept_id = depts.loc[depts.department_name == name, "department_id"].iloc[0]
    at = run("overview", dept=name)
    assert_clean(at)
    t = Tr("zh")
    month = date(as_of.year, as_of.month, 1)
    leads = mart("fct_leads")
    mine = leads[(leads.department_id == dept_id) & (leads.created_at >= pd.Timestamp(month))
                 & (leads.created_at < pd.Timestamp(as_of + timedelta(days=1)))]
    assert metric(at, t("new_leads")).value == t.int(len(mine))
    assert name in texts(at)


def test_funnel_equals_fct_stage_conversion_for_one_month(warehouse, mart, as_of):
    month = periods.add_months(date(as_of.year, as_of.month, 1), -2)
    w = periods.window("month", month, as_of)
    f = q.funnel(w, q.Scope()).set_index("stage_name")
    sc = mart("fct_stage_conversion")
    rows = sc[sc.is_all_departments & (sc.cohort_month == pd.Timestamp(month))].set_index("stage_name")
    for stage, r in rows.iterrows():
        for col in ("reached", "advanced", "lost", "open"):
            assert f.loc[stage, col] == r[col], (stage, col)
        for col in ("conversion_rate", "ci_low", "ci_high", "cumulative_rate", "median_days_in_stage"):
            if pd.isna(r[col]):
                assert pd.isna(f.loc[stage, col]), (stage, col)
            else:
                assert f.loc[stage, col] == pytest.approx(r[col], abs=1e-9), (stage, col)


def test_filtered_funnel_recounts_the_same_rule(warehouse, mart, as_of):
    quarter = periods.period_start(as_of, "quarter")
    w = periods.window("quarter", periods.add_months(quarter, -3), as_of)
    channel = mart("fct_opportunities").channel.dropna().value_counts().index[0]
    f = q.funnel(w, q.Scope(channels=(channel,))).set_index("stage_name")
    s = mart("fct_opportunity_stages").merge(mart("fct_opportunities")[["opportunity_id", "channel"]])
    s = s[(s.channel == channel) & (s.cohort_month >= pd.Timestamp(w.start)) & (s.cohort_month < pd.Timestamp(w.end))]
    for stage, g in s.groupby("stage_name"):
        assert f.loc[stage, "reached"] == len(g)
        assert f.loc[stage, "advanced"] == (g.outcome == "advanced").sum()
        assert f.loc[stage, "open"] == (g.outcome == "open_here").sum()


def test_drill_rows_add_up_to_the_comparison_cell(warehouse, mart, as_of):
    comp = mart("fct_department_comparison")
    cells = comp[(comp.period_grain == "quarter") & (comp.metric == "stage_conversion") & comp.department_id.notna()
                 & (comp.denominator > 0)]
    cell = cells.sort_values("denominator").iloc[-1]
    start = cell.period_start.date()
    w = periods.window("quarter", start, as_of)
    rows = q.stage_drill(w, q.Scope(), cell.stage_name, cell.department_id)
    assert (rows.outcome == "advanced").sum() == cell.numerator
    assert (rows.outcome != "open_here").sum() == cell.denominator


@pytest.mark.parametrize("kpi,key", [("new_leads", "new_leads"), ("won_deals", "won_deals"),
                                     ("opps_created", "opps_created"), ("open_pipeline", "open_pipeline")])
def test_a_tile_drills_to_the_rows_behind_it(warehouse, kpi, key):
    t = Tr("zh")
    at = run("overview", kpi=t(kpi))
    assert_clean(at)
    shown = metric(at, t(key)).value
    rows = [d.value for d in at.dataframe if "ID" in d.value.columns][0]
    if kpi == "open_pipeline":
        assert t.money(rows[t("amount")].sum()) == shown
    else:
        assert t.int(len(rows)) == shown


def test_the_lead_funnel_drills_to_its_leads(warehouse):
    t = Tr("zh")
    at = run("lead_flow", drill_lead_step=t("mql"))
    assert_clean(at)
    steps = [d.value for d in at.dataframe if t("cumulative_rate") in d.value.columns][0]
    mql = int(steps.loc[steps[t("step")] == t("mql"), t("count")].iloc[0])
    rows = [d.value for d in at.dataframe if "ID" in d.value.columns][0]
    assert len(rows) == mql and rows[t("mql")].all()


# ---- each filter kind, empty selections, presentation mode -----------------------------------------------

@pytest.mark.parametrize("view", ["overview", "stages", "lead_flow", "campaigns", "service"])
def test_each_filter_kind(warehouse, view, as_of):
    t = Tr("zh")
    previous_quarter = periods.add_months(periods.period_start(as_of, "quarter"), -3)
    at = run(view, grain=t("quarter"), period=t.period("quarter", previous_quarter), cmp=t("last_year"),
             channel="官网", grade="A")
    assert_clean(at)
    body = texts(at)
    assert t.period("quarter", previous_quarter) in body
    assert at.session_state["grain"] == "quarter" and at.session_state["cmp"] == "last_year"
    assert at.session_state["channel"] == ["官网"] and at.session_state["grade"] == ["A"]


def test_a_region_selects_its_teams(warehouse, mart):
    depts = mart("dim_department")
    region = depts[depts.level == 1].merge(depts[["parent_department_id"]].dropna(), left_on="department_id",
                                           right_on="parent_department_id").department_name.iloc[0]
    at = run("stages", dept=region)
    assert_clean(at)
    from dashboards import ui

    c = at.session_state["_ctx"]
    region_id = depts.loc[depts.department_name == region, "department_id"].iloc[0]
    teams = set(depts.loc[depts.parent_department_id == region_id, "department_id"])
    assert teams and teams <= set(c.scope.departments)
    assert ui.expand_departments((), depts) is None


@pytest.mark.parametrize("view", VIEWS)
def test_an_empty_selection_says_no_data(warehouse, view, mart):
    # A department with no leads, opportunities or customers: every chart must say "no data", never fail.
    depts, leads, opps = mart("dim_department"), mart("fct_leads"), mart("fct_opportunities")
    used = set(leads.department_id.dropna()) | set(opps.department_id.dropna())
    parents = set(depts.parent_department_id.dropna())
    empty = depts[~depts.department_id.isin(used | parents)]  # a leaf department without leads or deals
    if empty.empty:
        pytest.skip("every department has data in this sample")
    at = run(view, dept=empty.department_name.iloc[0], channel="官网")
    assert_clean(at)
    if view not in ("data", "lifecycle", "campaigns", "journey", "content"):  # journey, content: not filtered
        assert at.info, f"{view}: expected a 'no data' message"
        assert all(("所选范围内没有数据" in i.value) for i in at.info)


def test_the_first_period_of_the_data_has_no_comparison_and_does_not_fail(warehouse, sample):
    first = q.date_range()[0]
    t = Tr("en")
    at = run("overview", lang="English", period=t.period("month", date(first.year, first.month, 1)))
    assert_clean(at)
    assert "no comparison data" in texts(at)


@pytest.mark.parametrize("view", ["overview", "stages", "data"])
def test_presentation_mode(warehouse, view):
    at = run(view, present="true")
    assert_clean(at)
    assert at.session_state["present"] is True
    # the CSS that hides the sidebar and enlarges the tiles is on the page
    from dashboards import ui

    c = at.session_state["_ctx"]
    assert c.present
    assert any("stSidebar" in str(getattr(h, "proto", "")) for h in at.get("html")), "presentation CSS missing"
    assert callable(ui.presentation_css)


def test_language_switch_keeps_the_filters(warehouse):
    t = Tr("zh")
    at = run("stages", grain=t("quarter"))
    assert at.session_state["grain"] == "quarter"
    at.button_group(key="lang").set_value("en").run()
    assert_clean(at)
    assert at.session_state["lang"] == "en" and at.session_state["grain"] == "quarter"
    assert "Funnel by stage" in texts(at)


def test_stage_drill_selection(warehouse):
    at = run("stages")
    at.selectbox(key="drill_step").set_value("方案交流").run()
    assert_clean(at)
    assert any(df.value.shape[0] > 0 for df in at.dataframe)


# ---- failure paths ------------------------------------------------------------------------------------------

def test_no_warehouse_says_so_in_one_sentence(tmp_path, monkeypatch):
    monkeypatch.setenv(q.ENV_WAREHOUSE, str(tmp_path / "missing.duckdb"))
    at = run("overview")
    assert not at.exception
    assert at.warning and "closedloop build" in at.warning[0].value


def test_a_warehouse_without_marts_fails_in_one_sentence(tmp_path, monkeypatch):
    broken = tmp_path / "broken.duckdb"
    duckdb.connect(str(broken)).close()
    monkeypatch.setenv(q.ENV_WAREHOUSE, str(broken))
    at = run("overview")
    assert not at.exception
    assert len(at.error) == 1 and "\n" not in at.error[0].value and "Traceback" not in at.error[0].value


def test_the_app_never_writes_nor_holds_the_warehouse(sample, tmp_path, monkeypatch):
    # A private copy: the session fixtures hold the shared file open read-only.
    copy = tmp_path / "warehouse.duckdb"
    copy.write_bytes(sample.warehouse.read_bytes())
    monkeypatch.setenv(q.ENV_WAREHOUSE, str(copy))
    before = copy.stat().st_mtime_ns
    for view in ("overview", "stages", "data"):
        assert_clean(run(view))
    assert copy.stat().st_mtime_ns == before
    # No connection is left open: a writer (a build publishing in place) can open the file at once.
    duckdb.connect(str(copy)).close()


def test_a_new_build_is_picked_up_on_the_next_run(sample, tmp_path, monkeypatch):
    import os
    import shutil

    served = tmp_path / "warehouse.duckdb"
    shutil.copyfile(sample.warehouse, served)
    monkeypatch.setenv(q.ENV_WAREHOUSE, str(served))
    at = run("data")
    assert_clean(at)
    first = at.session_state["_ctx"].build
    # `closedloop build` publishes with os.replace: a new file (new inode) under the same name.
    fresh = tmp_path / "fresh.duckdb"
    shutil.copyfile(sample.warehouse, fresh)
    os.utime(fresh, ns=(first.mtime_ns + 10**9, first.mtime_ns + 10**9))
    os.replace(fresh, served)
    at.run()
    assert_clean(at)
    assert at.session_state["_ctx"].build.key != first.key


# ---- Data page: data quality, source freshness, rows set aside ---------------------------------------------------

def _private_copy(sample, tmp_path, monkeypatch) -> Path:
    """A copy of the sample warehouse the test may change (the session's file is shared)."""
    copy = tmp_path / "warehouse.duckdb"
    shutil.copyfile(sample.warehouse, copy)
    monkeypatch.setenv(q.ENV_WAREHOUSE, str(copy))
    return copy


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_data_page_shows_quality_and_freshness(warehouse, wh, lang):
    at = run("data", **({"lang": "English"} if lang == "en" else {}))
    assert_clean(at)
    t = Tr(lang)
    assert {t("data_quality"), t("freshness"), t("rejected_rows")} <= {s.value for s in at.subheader}
    report = wh.execute("select table_key, rows_read, rows_loaded, rows_rejected from ops.closedloop_load_report "
                        "order by table_order").df()
    shown = [d.value for d in at.dataframe if t("rows_set_aside") in d.value.columns][0]
    assert shown[t("dq_table")].tolist() == report.table_key.tolist()
    for col, label in (("rows_read", "rows_read"), ("rows_loaded", "rows_loaded"), ("rows_rejected", "rows_set_aside")):
        assert shown[t(label)].tolist() == report[col].tolist()
    fresh = wh.execute("select status, table_key from ops.closedloop_source_freshness").df()
    stale = [e.value for e in at.error if e.icon == STALE_ICON]
    if (fresh.status == "error").any():  # the sample's data ends weeks before the test runs
        assert len(stale) == 1 and all(k in stale[0] for k in fresh[fresh.status == "error"].table_key)
    else:
        assert not stale
    if not wh.execute("select count(*) from ops.closedloop_rejected_rows").fetchall()[0][0]:
        assert t("no_rejected") in [s.value for s in at.success]
    runs = wh.execute("select run_id, status from ops.closedloop_runs order by started_at desc").df()
    history = [d.value for d in at.dataframe if t("run_id") in d.value.columns][0]
    assert history[t("run_id")].tolist() == runs.run_id.tolist()
    assert history[t("dq_status")].tolist()[0] == t("run_published")


def test_absent_tables_and_warnings_are_said(sample, tmp_path, monkeypatch):
    copy = _private_copy(sample, tmp_path, monkeypatch)
    con = duckdb.connect(str(copy))
    con.execute("""update ops.closedloop_load_report set status = 'absent', is_absent = true, files = '[]',
                   file_count = 0, rows_read = 0, rows_loaded = 0, rows_rejected = 0
                   where table_key = 'campaign/contents'""")
    con.execute("update ops.closedloop_source_freshness set status = 'pass'")
    con.execute("update ops.closedloop_source_freshness set status = 'warn' where table_key = 'crm/leads'")
    con.close()
    t = Tr("en")
    at = run("data", lang="English")
    assert_clean(at)
    assert not [e for e in at.error if e.icon == STALE_ICON]
    assert len(at.warning) == 1 and "crm/leads" in at.warning[0].value
    shown = [d.value for d in at.dataframe if t("rows_set_aside") in d.value.columns][0].set_index(t("dq_table"))
    assert shown.loc["campaign/contents", t("dq_status")] == t("dq_absent") == "absent — marts over it are empty"
    assert "campaign/contents" in texts(at)


def test_rows_set_aside_filter_and_export_without_formulas(sample, tmp_path, monkeypatch):
    copy = _private_copy(sample, tmp_path, monkeypatch)
    formula = '=HYPERLINK("http://x","y")'
    con = duckdb.connect(str(copy))
    con.execute("delete from ops.closedloop_rejected_rows")
    con.executemany("insert into ops.closedloop_rejected_rows values (?, ?, 'crm', ?, ?, ?, ?, ?, ?, ?, 'b1')", [
        (1, "crm/leads", "leads", "crm/leads.csv", 7, "created_at", "type_timestamp", formula, "not a timestamp"),
        (2, "crm/leads", "leads", "crm/leads.csv", 9, "lead_id", "required", None, "required value is empty"),
        (3, "crm/users", "users", "crm/users.csv", 3, "role", "allowed_values", "+boss", "not allowed"),
    ])
    con.close()
    t = Tr("zh")
    at = run("data", dq_table="crm/leads", dq_rule="type_timestamp")
    assert_clean(at)
    shown = [d.value for d in at.dataframe if t("failing_value") in d.value.columns][0]
    assert shown[t("failing_value")].tolist() == [formula]  # shown as the export had it
    assert at.selectbox(key="dq_rule").options == [t("all"), "required", "type_timestamp"]
    # The page's export path: the same query, then the shared export helpers.
    rows = q.rejected_rows("crm/leads", None)
    assert rows.source_row.tolist() == [7, 9]
    back = pd.read_csv(io.BytesIO(exports.csv_bytes(rows)), encoding="utf-8-sig")
    assert back.value.tolist()[0] == "'" + formula
    wb = openpyxl.load_workbook(io.BytesIO(exports.xlsx_bytes([("rejected", q.rejected_rows())])))
    values = [c.value for c in wb.active["F"]]
    assert values[0] == "value" and "'" + formula in values and "'+boss" in values
    assert not any(isinstance(v, str) and v.startswith(("=", "+")) for v in values)


def test_a_warehouse_built_before_the_quality_reports_says_so(sample, tmp_path, monkeypatch):
    copy = _private_copy(sample, tmp_path, monkeypatch)
    con = duckdb.connect(str(copy))
    con.execute("drop schema ops cascade")
    con.close()
    for lang in ("zh", "en"):
        at = run("data", **({"lang": "English"} if lang == "en" else {}))
        assert_clean(at)
        assert [i.value for i in at.info] == [Tr(lang)("ops_not_built")]


# ---- exports and period arithmetic ---------------------------------------------------------------------------

def test_exports_neutralise_formulas_and_read_back():
    df = pd.DataFrame({"name": ["=1+1", "+cmd", "-2", "@SUM(A1)", "plain", None], "n": [1, 2, 3, 4, 5, 6]})
    back = pd.read_csv(io.BytesIO(exports.csv_bytes(df)), encoding="utf-8-sig")
    assert back.name.tolist()[:5] == ["'=1+1", "'+cmd", "'-2", "'@SUM(A1)", "plain"]
    assert back.n.tolist() == [1, 2, 3, 4, 5, 6]
    wb = openpyxl.load_workbook(io.BytesIO(exports.xlsx_bytes([("漏斗/Funnel", df), ("漏斗/Funnel", df)])))
    assert len(wb.sheetnames) == 2 and all("/" not in s for s in wb.sheetnames)
    ws = wb[wb.sheetnames[0]]
    assert ws["A2"].value == "'=1+1" and ws.max_row == len(df) + 1


def test_running_periods_compare_the_same_days():
    w = periods.window("month", date(2026, 3, 1), date(2026, 3, 10))
    assert w.is_partial and w.end == date(2026, 3, 11)
    prev = periods.previous(w)
    assert (prev.start, prev.end) == (date(2026, 2, 1), date(2026, 2, 11))
    yoy = periods.last_year(periods.window("quarter", date(2026, 1, 1), date(2026, 3, 31)))
    assert (yoy.start, yoy.end) == (date(2025, 1, 1), date(2025, 4, 1))
    full = periods.window("half_year", date(2025, 7, 1), date(2026, 3, 10))
    assert not full.is_partial and periods.previous(full).start == date(2025, 1, 1)
    short = periods.previous(periods.window("month", date(2026, 3, 1), date(2026, 3, 31)))
    assert short.end == date(2026, 3, 1)  # never past February's end
    assert periods.periods("quarter", date(2025, 11, 5), date(2026, 2, 1)) == [date(2026, 1, 1), date(2025, 10, 1)]
