"""Access control (docs/access-control.md): roles from a YAML file, optional OIDC login, scoping in the query layer,
masked contact details.

The core claim is that a department head cannot reach another department's numbers or rows through any page,
filter, drill, export or hand-edited URL parameter:

- every page in both languages, with drills opened and the URL naming other departments, renders nothing of them
  (tables, tiles, texts, pickers, chart data and the page's exports);
- every public query function, called with that viewer's access, returns only their departments' rows, and its
  result does not change when every other department's rows (and the company-wide marts) are rewritten in a copy
  of the warehouse (non-interference), whatever department filter or id it is handed;
- a new public query function fails the enumeration test until it is covered.

AppTest over the session's `sample` warehouse (no extra builds); one private copy for the non-interference check.
"""

from __future__ import annotations

import inspect
import io
import re
import shutil
import sys
from datetime import date
from pathlib import Path

import duckdb
import openpyxl
import pandas as pd
import pyarrow as pa
import pytest

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from dashboards import access, exports, periods  # noqa: E402
from dashboards import queries as q  # noqa: E402
from dashboards.i18n import Tr  # noqa: E402

APP = REPO / "dashboards" / "app.py"
VIEWS = ["overview", "lead_flow", "stages", "resources", "lifecycle", "campaigns", "content", "journey", "reps",
         "service", "data"]
URLS = {v: v.replace("_", "-") for v in VIEWS}
STALE_ICON = "🕰️"
HEAD, CEO, ANALYST = "head@example.com", "ceo@example.com", "ana@example.com"


# ---- fixtures -----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def org(sample):
    """The department head's region (a department with teams below it), and what belongs to everyone else."""
    con = duckdb.connect(str(sample.warehouse), read_only=True)
    try:
        depts = con.execute("select * from marts.dim_department").df()
        parents = set(depts.parent_department_id.dropna())
        regions = depts[depts.department_id.isin(parents)].sort_values("department_id")
        region = regions[regions.department_name == "华东区"] if "华东区" in set(regions.department_name) else regions
        region_id = region.department_id.iloc[0]
        allowed = {region_id} | set(depts.loc[depts.parent_department_id == region_id, "department_id"])
        mine = f"({', '.join(repr(d) for d in sorted(allowed))})"
        users = con.execute("select user_id, user_name, department_id from marts.dim_user").df()
        own_user_names = set(users[users.department_id.isin(allowed)].user_name)
        leads = con.execute(f"select lead_id from marts.fct_leads where department_id not in {mine} "
                            "or department_id is null").df().lead_id
        # Opportunities of other departments, except those an own row refers to (an own lead converted into it, an
        # own rep moved it through a stage before it was transferred): those ids are attributes of own rows.
        opps = con.execute(f"""
            select opportunity_id from marts.fct_opportunities
            where (department_id not in {mine} or department_id is null)
              and opportunity_id not in (select opportunity_id from marts.fct_leads
                                         where department_id in {mine} and opportunity_id is not null)
              and opportunity_id not in (select opportunity_id from marts.fct_opportunity_stages
                                         where department_id in {mine})""").df().opportunity_id
        other_reps = users[~users.department_id.isin(allowed)]
        # Configuration text anyone sees may name a department ("市场部内容培育" is the seed's next action).
        seeds = con.execute("select next_action from config.lead_feedback_reasons").df().next_action.dropna()
        return {
            "seed_texts": sorted(set(seeds), key=len, reverse=True),
            "region_id": region_id,
            "region": region.department_name.iloc[0],
            "allowed": allowed,
            "allowed_names": set(depts[depts.department_id.isin(allowed)].department_name),
            "other_ids": set(depts.department_id) - allowed,
            "other_names": set(depts[~depts.department_id.isin(allowed)].department_name),
            "other_region": depts[depts.department_id.isin(parents - allowed)].department_name.iloc[0],
            "other_team": depts[~depts.department_id.isin(allowed | parents)].department_name.iloc[0],
            "other_rep_names": set(other_reps.user_name) - own_user_names,
            "other_user_ids": set(other_reps.user_id),
            "other_rep": other_reps.iloc[0],
            "other_leads": set(leads),
            "other_opps": set(opps),
            "team": depts[depts.parent_department_id == region_id].sort_values("department_id").iloc[0],
        }
    finally:
        con.close()


def write_config(path: Path, org: dict, **extra) -> Path:
    lines = [
        f"login: {str(extra.pop('login', False)).lower()}",
        f"allow_test_user: {str(extra.pop('allow_test_user', True)).lower()}",
        "roles:",
        f"  department_head: {extra.pop('head_rights', '{}')}",
        f"  executive: {extra.pop('exec_rights', '{}')}",
        "users:",
        f"  {HEAD}: {{role: department_head, department: {org['region_id']}}}",
        f"  {CEO}: executive",
        f"  {ANALYST}: analyst",
    ]
    lines += extra.pop("more", [])
    assert not extra, extra
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def configure(sample, org, tmp_path, monkeypatch):
    """configure(user, **config) -> the access file, with the warehouse and the test user set."""
    monkeypatch.setenv(q.ENV_WAREHOUSE, str(sample.warehouse))

    def use(user: str | None, **config) -> Path:
        path = write_config(tmp_path / f"access-{len(list(tmp_path.glob('access-*')))}.yml", org, **config)
        monkeypatch.setenv(access.ENV_ACCESS, str(path))
        if user:
            monkeypatch.setenv(access.ENV_TEST_USER, user)
        else:
            monkeypatch.delenv(access.ENV_TEST_USER, raising=False)
        return path

    return use


def run(view: str = "overview", oidc_user: dict | None = None, **params):
    """Run the app on `view` with URL parameters `params`; `oidc_user` is what Streamlit reports as st.user."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP), default_timeout=120)
    if oidc_user is not None:
        at.user = oidc_user
    for k, v in params.items():
        at.query_params[k] = v
    # A deep link (/lead-flow?dept=…): the page and its URL in the first run, as a browser opening a copied link.
    # st.Page hashes its url_path (AppTest.switch_page only knows filenames before a first run).
    from streamlit.util import calc_hash

    at._page_hash = calc_hash(URLS[view])
    at.run()
    return at


def assert_clean(at) -> None:
    assert not at.exception, [e.value for e in at.exception]
    failures = [e.value for e in at.error if e.icon != STALE_ICON]
    assert not failures, failures


def _walk(node, out: list) -> list:
    children = getattr(node, "children", None)
    if isinstance(children, dict):
        for ch in children.values():
            out.append(ch)
            _walk(ch, out)
    return out


def shown(at, warnings: bool = True) -> tuple[str, list[pd.DataFrame]]:
    """Everything a viewer can read on the page: texts (incl. tiles and the options of every picker), and the frames
    behind tables, charts and the page's exports. Without `warnings`: leaving out the warnings that repeat what a
    hand-edited link asked for ("not in your departments: …")."""
    texts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [i.value for i in at.info]
    texts += [w.value for w in at.warning if warnings or w.icon != "🔒"]
    texts += [e.value for e in at.error] + [s.value for s in at.subheader]
    texts += [s.value for s in at.success] + [t.value for t in at.title]
    texts += [m.label for m in at.metric] + [str(m.value) for m in at.metric]
    texts += [str(o) for s in at.selectbox for o in s.options] + [str(o) for m in at.multiselect for o in m.options]
    frames = [d.value for d in at.dataframe]
    for el in _walk(at._tree, []):
        if getattr(el, "type", "") == "vega_lite_chart":
            texts.append(el.proto.spec)
            for ds in el.proto.datasets:
                frames.append(pa.ipc.open_stream(ds.data.data).read_all().to_pandas())
    ctx = at.session_state.get("_ctx")
    if ctx is not None:
        frames += [df for _, df in ctx.tables]
    return "\n".join(str(t) for t in texts), frames


def leaks(at, org) -> list[str]:
    """Every trace of another department on the page: names and ids of other departments (anywhere), and their
    reps, leads and opportunities (as table or chart cells)."""
    def scrub(s: str) -> str:
        for seed in org["seed_texts"]:
            s = s.replace(seed, "")
        return s

    text, frames = shown(at, warnings=False)
    text = scrub(text)
    found = [n for n in org["other_names"] | org["other_ids"] if n in text]
    exact = org["other_rep_names"] | org["other_user_ids"] | org["other_leads"] | org["other_opps"]
    for df in frames:
        cells = {str(v) for v in df.astype(str).to_numpy().ravel()} | {str(c) for c in df.columns}
        joined = scrub("\n".join(cells))
        found += [n for n in org["other_names"] | org["other_ids"] if n in joined]
        found += sorted(cells & exact)
        found += [c for c in cells for name in org["other_rep_names"] if c.startswith(f"{name} · ")]
    return sorted(set(found))


# ---- the department head: every page, both languages, drills open, the URL naming other departments -----------

@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("view", VIEWS)
def test_a_department_head_sees_only_their_departments_on_every_page(configure, org, view, lang):
    configure(HEAD, head_rights="{row_level: true}")  # drills on: their rows must be scoped too
    t = Tr(lang)
    rep = org["other_rep"]
    params = {"dept": org["other_region"], "drill_dept": org["other_team"],
              "rep": f"{rep.user_name} · {org['other_team']}", "kpi": t("won_deals"), "drill_lead_step": t("leads"),
              "campaign": "C0001"}
    if lang == "en":
        params["lang"] = "English"
    at = run(view, **params)
    assert_clean(at)
    assert not leaks(at, org), leaks(at, org)
    c = at.session_state["_ctx"]
    assert c.viewer.role == "department_head" and set(c.scope.departments) == org["allowed"]
    assert set(c.departments.department_id) == org["allowed"]
    warnings = [w.value for w in at.warning]
    assert any(org["other_region"] in w for w in warnings), warnings  # "not in your departments", not an error
    body, frames = shown(at)
    assert org["region"] in body  # "your departments: …"
    if view in ("overview", "lead_flow", "stages", "resources", "reps", "service"):
        assert frames, f"{view}: the head's own data is shown"


def test_a_department_head_picking_one_team_and_another_departments_team_gets_only_theirs(configure, org):
    configure(HEAD)
    team = org["team"]
    at = run("stages", dept=[team.department_name, org["other_team"]])
    assert_clean(at)
    assert at.session_state["dept"] == [team.department_id]
    assert at.session_state["_ctx"].scope.departments == (team.department_id,)
    assert any(org["other_team"] in w.value for w in at.warning)
    assert not leaks(at, org)


def test_their_tiles_are_their_departments_totals(configure, org, sample, monkeypatch):
    # The same numbers an unrestricted viewer gets by filtering on the head's region (NRR is company-wide: hidden).
    monkeypatch.setenv(q.ENV_WAREHOUSE, str(sample.warehouse))
    monkeypatch.delenv(access.ENV_ACCESS, raising=False)
    reference = run("overview", dept=org["region"])
    assert_clean(reference)
    configure(HEAD)
    at = run("overview")
    assert_clean(at)
    t = Tr("zh")
    ref = {m.label: m.value for m in reference.metric}
    mine = {m.label: m.value for m in at.metric}
    assert mine.keys() == ref.keys()
    for label in ref:
        if label == t("nrr12"):
            assert mine[label] == "–"
        else:
            assert mine[label] == ref[label], label


def test_their_rollups_count_no_win_of_another_departments_deal(sample, org, monkeypatch, wh):
    # The rollups count a lead's or follow-up's win by the won deal's department: in the head's view only wins of
    # their departments' deals count, as summing their view of fct_opportunities would (issue 17).
    monkeypatch.setenv(q.ENV_WAREHOUSE, str(sample.warehouse))
    elsewhere = {}
    for table, won in (("fct_lead_rollup_daily", "created_won"), ("fct_followup_rollup", "recovered_won")):
        everyone = wh.execute(f"select * from marts.{table}").df()
        theirs = everyone[everyone.department_id.isin(org["allowed"])]
        elsewhere[table] = int(theirs.loc[~theirs.won_department_id.isin(org["allowed"]), won].sum())
        with q.viewing(head_access(org)):
            seen = q.fetch(f"select * from marts.{table}")
        assert set(seen.department_id) <= org["allowed"]
        assert seen[won].sum() == theirs[won].sum() - elsewhere[table]
        assert not seen.loc[seen[won] > 0, "won_department_id"].isin(org["other_ids"]).any()
    assert sum(elsewhere.values()) > 0  # the sample has such wins: the rule is exercised


def test_drills_are_for_analysts_by_default(configure, org):
    configure(HEAD)  # department_head: row_level false by default
    t = Tr("zh")
    for view, params in (("overview", {"kpi": t("won_deals")}), ("lead_flow", {"drill_lead_step": t("leads")}),
                         ("stages", {"drill_step": t("win_rate")}), ("reps", {})):
        at = run(view, **params)
        assert_clean(at)
        assert t("access_row_level") in [i.value for i in at.info], view
        assert not [d for d in at.dataframe if "ID" in d.value.columns], view
    configure(CEO)
    at = run("overview", kpi=t("won_deals"))
    assert t("access_row_level") in [i.value for i in at.info]
    configure(ANALYST)
    at = run("overview", kpi=t("won_deals"))
    assert_clean(at)
    assert [d for d in at.dataframe if "ID" in d.value.columns]


def test_the_url_never_changes_who_is_looking(configure, org):
    configure(HEAD)
    at = run("overview", user="ceo@example.com", email=CEO, role="executive", viewer=CEO,
             **{"is_logged_in": "true", "department": org["other_region"]})
    assert_clean(at)
    c = at.session_state["_ctx"]
    assert c.viewer.email == HEAD and c.viewer.role == "department_head"
    assert not leaks(at, org)


def test_company_wide_parts_say_so_instead_of_showing(configure, org):
    configure(HEAD)
    t = Tr("en")
    for view in ("campaigns", "lifecycle", "data"):
        at = run(view, lang="English")
        assert_clean(at)
        assert t("access_company") in [i.value for i in at.info], view
    at = run("data", lang="English")
    assert not [d for d in at.dataframe if t("rows_set_aside") in d.value.columns]  # the company's load report


def test_page_exports_are_scoped(configure, org):
    configure(HEAD, head_rights="{row_level: true}")
    t = Tr("zh")
    for view, params in (("overview", {"kpi": t("new_leads")}), ("stages", {}), ("reps", {})):
        at = run(view, **params)
        assert_clean(at)
        tables = at.session_state["_ctx"].tables
        assert tables
        book = openpyxl.load_workbook(io.BytesIO(exports.xlsx_bytes(tables)))
        cells = {str(c.value) for ws in book for row in ws.iter_rows() for c in row if c.value is not None}
        csv = "\n".join(exports.csv_bytes(df).decode("utf-8-sig") for _, df in tables)
        for name in org["other_names"] | org["other_ids"]:
            assert name not in csv and not any(name in c for c in cells), (view, name)
        assert not cells & (org["other_leads"] | org["other_opps"] | org["other_user_ids"])


# ---- the query layer: every public function, scoped and non-interfering ------------------------------------------

HELPERS = {"warehouse_path", "current_build", "set_access", "viewing", "current_access", "row_level"}


def public_queries() -> set[str]:
    return {name for name, f in inspect.getmembers(q, inspect.isfunction)
            if f.__module__ == q.__name__ and not name.startswith("_") and name not in HELPERS}


def calls(org, as_of: date) -> dict[str, list]:
    """Each public query function with the arguments a page gives it — and the ones a hand-edited link or a careless
    caller could: no department filter, every department, another department's id, user or campaign."""
    w = periods.window("quarter", periods.add_months(periods.period_start(as_of, "quarter"), -3), as_of)
    start, end = periods.add_months(w.start, -12), w.end
    mine = tuple(sorted(org["allowed"]))
    other = sorted(org["other_ids"])[0]
    everyone = tuple(sorted(org["allowed"] | org["other_ids"]))
    scopes = [q.Scope(departments=mine), q.Scope(), q.Scope(departments=everyone), q.Scope(departments=(other,)),
              q.Scope(departments=mine, channels=("官网",), grades=("A",))]
    rep = org["other_rep"].user_id
    per_scope = {
        "kpis": lambda s: (s, [(w.start, w.end), (start, end)]),
        "funnel": lambda s: (w, s), "median_days_by_department": lambda s: (w, s),
        "opportunities_closed": lambda s: (w, s, None), "stage_drill": lambda s: (w, s, None, None),
        "leads_drill": lambda s: (w, s), "opportunities_drill": lambda s: (w, s, "created"),
        "lead_funnel": lambda s: (w, s), "lead_flow": lambda s: (w, s),
        "response_distribution": lambda s: (w, s), "sla_by_department": lambda s: (w, s),
        "pool_summary": lambda s: (w, s), "feedback_reasons": lambda s: (w, s),
        "resources_by_department": lambda s: (w, s), "resources_by_rep": lambda s: (w, s),
        "resources_over_time": lambda s: (s, start, end), "value_by": lambda s: ("grade", s, end),
        "campaign_roi": lambda s: (w, s), "campaign_monthly": lambda s: (s, start, end),
        "rep_performance": lambda s: (w, s), "service_monthly": lambda s: (s, start, end),
        "service_by_grade": lambda s: (w, s), "duplicates_by_channel": lambda s: (w, s),
        "channel_attribution": lambda s: (w, s),
        "forecast_periods": lambda s: (s, "quarter"), "forecast_top_deals": lambda s: (s,),
        "forecast_backtest": lambda s: (s,),
        "followup_items": lambda s: (s,), "followup_by_owner": lambda s: (s,),
        "followup_timeliness": lambda s: (s,), "followup_earned": lambda s: (s,),
        "predicted_value_summary": lambda s: (s,), "predicted_value_bands": lambda s: (s,),
        "top_predicted_accounts": lambda s: (s,),
    }
    out = {name: [make(s) for s in scopes] for name, make in per_scope.items()}
    out["opportunities_closed"] += [(w, scopes[0], other), (w, scopes[0], None, 5000, rep)]
    out["stage_drill"] += [(w, scopes[0], None, other)]
    out["leads_drill"] += [(w, scopes[0], "created_at", "is_converted")]
    out["opportunities_drill"] += [(w, s, kind) for s in scopes[:2] for kind in ("won", "closed", "open")]
    out["value_by"] += [("channel", s, end) for s in scopes[:3]]
    out["campaign_roi"] += [(w, scopes[0], "channel")]
    out.update({
        "as_of": [()], "date_range": [()], "departments": [()], "channels": [()], "grades": [()], "stages": [()],
        "users": [()], "mart_rows": [()], "ops_tables": [()], "load_report": [()], "source_freshness": [()],
        "run_history": [()], "rejected_counts": [()], "rejected_rows": [(), ("crm/leads",)],
        "feedback_unmatched": [()],
        "comparison": [("quarter", w.start), ("month", periods.period_start(as_of, "month"))],
        "cohort_retention": [(start, end)], "nrr_by_months_since": [(end,)],
        "retention_by_rule": [(end,)], "value_backtest": [()],
        "campaign_rows": [("C0001", start, end)],
        "resolve_person": [("lead", "L00000001"), ("opportunity", "O0000001"), ("account", "A000001"),
                           ("person", "p-0")],
        "search_person": [("L00000001",), ("13800000000",)], "account_persons": [("A000001",)],
        "person": [("p-0",)], "person_identifiers": [("p-0",)], "journey_events": [("p-0",)],
        "account_events": [("A000001",)], "top_persons": [()], "identity_audit": [()], "identity_summary": [()],
        "content_performance": [(w,), (w, "markov")], "content_by_type": [(w,)],
        "forecast_reliability": [()],
        "fetch": [("select * from marts.fct_opportunities",), ("select * from marts.fct_leads",),
                  # the pages' rollups (issue 17)
                  ("select * from marts.fct_lead_rollup_daily",), ("select * from marts.fct_lead_response_daily",),
                  ("select * from marts.fct_opportunity_rollup_daily",),
                  ("select * from marts.fct_customer_rollup_daily",), ("select * from marts.fct_followup_rollup",),
                  ("select * from marts.fct_customer_predicted_rollup",),
                  ("select * from marts.fct_lead_disqualified_daily",), ("select * from marts.fct_followups",),
                  ("select * from marts.fct_resource_turnover",), ("select * from marts.dim_campaign",),
                  ("select * from marts.dim_user",)],
    })
    return out


def head_access(org, **kw) -> access.Access:
    return access.Access((org["region_id"],), row_level=kw.get("row_level", True), see_pii=False,
                         company_benchmark=kw.get("company_benchmark", False))


def results(fn, arglist) -> list:
    out = []
    for args in arglist:
        try:
            out.append(fn(*args))
        except access.AccessDenied as exc:
            out.append(exc.kind)
    return out


def test_every_public_query_function_is_covered(org, as_of):
    assert public_queries() == set(calls(org, as_of)), "a new query function needs a row in calls()"
    # The row-level ones refuse a viewer without the right, before any SQL runs.
    assert {n for n in public_queries() if getattr(getattr(q, n), "row_level", False)} == {
        "leads_drill", "opportunities_drill", "opportunities_closed", "stage_drill", "rejected_rows",
        "account_persons", "person", "person_identifiers", "journey_events", "account_events", "top_persons",
        "identity_audit", "forecast_top_deals", "followup_items",
        "top_predicted_accounts"}


def _other_rows(org, frame: pd.DataFrame, con) -> list[str]:
    """Rows of `frame` that belong to another department, by the columns that say whose a row is."""
    bad = []
    allowed = org["allowed"]
    if "department_id" in frame:  # null: a company-wide row, or a campaign or account owner that is not theirs
        bad += [f"department {d}" for d in set(frame.department_id)
                if d not in allowed and not (pd.isna(d) and ("campaign_name" in frame or "account_name" in frame))]
    if "department_name" in frame:
        bad += [f"department {d}" for d in set(frame.department_name.dropna()) if d in org["other_names"]]
    for col in ("user_id", "owner_user_id"):
        if col in frame:
            bad += [f"user {u}" for u in set(frame[col].dropna()) & org["other_user_ids"]]
    if "lead_id" in frame:
        bad += [f"lead {x}" for x in set(frame.lead_id) & org["other_leads"]]
    if "opportunity_id" in frame:
        bad += [f"opportunity {x}" for x in set(frame.opportunity_id.dropna()) & org["other_opps"]]
    for col in ("user_name", "owner_name"):
        if col in frame:
            bad += [f"rep {x}" for x in set(frame[col].dropna()) & org["other_rep_names"]]
    if "campaign_id" in frame and "budget" in frame:
        own = set(con.execute(f"select campaign_id from marts.dim_campaign where department_id in "
                              f"({', '.join(repr(d) for d in allowed)})").df().campaign_id)
        bad += [f"budget of {x}" for x in frame[frame.budget.notna()].campaign_id if x not in own]
    return bad


def test_every_query_returns_only_the_heads_departments(sample, org, as_of, monkeypatch, wh):
    monkeypatch.setenv(q.ENV_WAREHOUSE, str(sample.warehouse))
    denied: dict[str, set] = {}
    with q.viewing(head_access(org)):
        for name, arglist in calls(org, as_of).items():
            for args, res in zip(arglist, results(getattr(q, name), arglist), strict=True):
                if isinstance(res, str):
                    denied.setdefault(name, set()).add(res)
                    continue
                if not isinstance(res, pd.DataFrame):  # as_of, date_range, grades, ops_tables: no rows
                    continue
                assert not _other_rows(org, res, wh), (name, args, _other_rows(org, res, wh))
                if name in ("departments", "users"):
                    assert set(res.department_id) <= org["allowed"]
    # Company-wide data is refused, not returned; nothing else is refused.
    assert denied == {n: {"company"} for n in ("load_report", "run_history", "rejected_counts", "rejected_rows",
                                               "cohort_retention", "nrr_by_months_since", "campaign_roi",
                                               "campaign_rows", "campaign_monthly",
                                               # identity: a person's records span departments (company-wide)
                                               "resolve_person", "search_person", "account_persons", "person",
                                               "person_identifiers", "journey_events", "account_events",
                                               "top_persons", "identity_audit", "identity_summary",
                                               # attribution: company-wide like fct_campaign_roi
                                               "channel_attribution", "content_performance", "content_by_type",
                                               "feedback_unmatched", "retention_by_rule", "value_backtest",
                                               # pooled over every department's deals
                                               "forecast_reliability")}


def _rewrite_everyone_else(path: Path, org) -> None:
    """Change every value of every row a department head must not depend on: other departments' rows, company rows,
    company-wide marts, the build's reports, the company columns of their own comparison rows, every staging and
    intermediate table. Ids are kept (they say whose a row is)."""
    mine = f"({', '.join(repr(d) for d in sorted(org['allowed']))})"
    con = duckdb.connect(str(path))
    try:
        own_facts = {
            "account_id": f"""account_id in (
                          select account_id from marts.fct_opportunities where department_id in {mine}
                          union select account_id from marts.fct_customer_value where department_id in {mine}
                          union select account_id from marts.fct_service where department_id in {mine})""",
            "campaign_id": f"""campaign_id in (select campaign_id from marts.fct_leads where department_id in {mine}
                           union select campaign_id from marts.fct_opportunities where department_id in {mine})""",
        }
        cols = con.execute("""select table_schema, table_name, column_name, data_type from information_schema.columns
                              where table_schema in ('marts', 'ops', 'intermediate')
                                and table_name in (select table_name from information_schema.tables
                                                   where table_type = 'BASE TABLE')""").df()
        visible_to_all = {("marts", "dim_date"), ("marts", "dim_channel"), ("marts", "dim_stage"),
                          ("intermediate", "int_as_of"), ("ops", "closedloop_source_freshness")}
        for (schema, table), c in cols.groupby(["table_schema", "table_name"]):
            if (schema, table) in visible_to_all:
                continue
            names = set(c.column_name)
            if table == "dim_account":
                where = f"not (owner_department_id in {mine} or {own_facts['account_id']})"
            elif table == "dim_campaign":
                where = f"not (department_id in {mine} or {own_facts['campaign_id']})"
            elif "department_id" in names and schema == "marts":
                where = f"department_id is null or department_id not in {mine}"
            else:
                where = "true"  # company-wide
            sets = []
            for col, typ in zip(c.column_name, c.data_type, strict=True):
                if col.endswith("_id") or col == "department_id":
                    continue
                if typ in ("BIGINT", "INTEGER", "DOUBLE", "HUGEINT", "FLOAT", "SMALLINT") or typ.startswith("DECIMAL"):
                    sets.append(f'"{col}" = case when "{col}" > 0 then "{col}" - 1 else "{col}" + 1 end')
                elif typ == "VARCHAR":
                    sets.append(f""""{col}" = 'LEAK ' || coalesce("{col}", '')""")
                elif typ == "BOOLEAN":
                    sets.append(f'"{col}" = not coalesce("{col}", false)')
                elif typ.startswith("TIMESTAMP"):
                    sets.append(f'"{col}" = "{col}" + interval 3 day')
                elif typ == "DATE":
                    sets.append(f'"{col}" = "{col}" + 3')
            if sets:
                con.execute(f'update "{schema}"."{table}" set {", ".join(sets)} where {where}')
            if table == "dim_campaign":  # campaigns that are not theirs, even when named: budget and owner
                con.execute(f"update marts.dim_campaign set budget = budget + 7, department_id = 'D-LEAK' "
                            f"where department_id not in {mine} or department_id is null")
            if table == "dim_account":  # accounts of their deals owned by someone else: the owner
                con.execute(f"update marts.dim_account set owner_user_name = 'LEAK', owner_user_id = 'U-LEAK', "
                            f"owner_department_id = 'D-LEAK' where owner_department_id not in {mine} "
                            "or owner_department_id is null")
            if "won_department_id" in names:  # rollups: their leads' and follow-ups' wins of another department's deal
                won = [x for x in ("created_won", "recovered_won", "recovered_revenue") if x in names]
                con.execute(f'update "{schema}"."{table}" set '
                            + ", ".join(f"{x} = coalesce({x}, 0) + 1" for x in won)
                            + f" where department_id in {mine} and (won_department_id not in {mine} "
                              f"or (won_department_id is null and {won[0]} > 0))")
            for worth, whose in (("deal_amount", "deal_department_id"),
                                 ("account_lifetime_value", "account_value_department_id")):
                if whose in names:  # their follow-ups valued by another department's deal or account (issue 17)
                    con.execute(f'update "{schema}"."{table}" set {worth} = coalesce({worth}, 0) + 1 '
                                f"where department_id in {mine} and {whose} not in {mine}")
            if table == "fct_department_comparison":  # company figures inside their own rows
                con.execute("update marts.fct_department_comparison set "
                            + ", ".join(f"{x} = {x} + 7" if x != "significance" else "significance = 'LEAK'"
                                        for x in q.COMPANY_COLUMNS))
    finally:
        con.close()


def test_no_query_result_depends_on_other_departments(sample, org, as_of, tmp_path, monkeypatch):
    """Non-interference: rewrite everything the head may not see; every query gives them the same result."""
    copy = tmp_path / "rewritten.duckdb"
    shutil.copyfile(sample.warehouse, copy)
    _rewrite_everyone_else(copy, org)
    plan = calls(org, as_of)
    got = {}
    for path in (sample.warehouse, copy):
        monkeypatch.setenv(q.ENV_WAREHOUSE, str(path))
        with q.viewing(head_access(org)):
            got[path] = {name: results(getattr(q, name), args) for name, args in plan.items()}
    checked = 0
    for name, before in got[sample.warehouse].items():
        after = got[copy][name]
        for args, a, b in zip(plan[name], before, after, strict=True):
            if not isinstance(a, pd.DataFrame) or not isinstance(b, pd.DataFrame):
                assert a == b, (name, args, a, b)
                continue
            pd.testing.assert_frame_equal(_sorted(a), _sorted(b), obj=f"{name}{args}")
            checked += 1
    assert checked > 100
    # The rewrite did change what everyone else sees.
    monkeypatch.delenv(access.ENV_ACCESS, raising=False)
    frames = {}
    for path in (sample.warehouse, copy):
        monkeypatch.setenv(q.ENV_WAREHOUSE, str(path))
        frames[path] = q.comparison("quarter", plan["comparison"][0][1])
    assert not frames[sample.warehouse].equals(frames[copy])


def test_a_statement_cannot_step_around_the_views(sample, org, monkeypatch):
    monkeypatch.setenv(q.ENV_WAREHOUSE, str(sample.warehouse))
    raw = next(sample.raw.glob("crm/users*.csv"))
    with q.viewing(head_access(org)):
        with pytest.raises(access.AccessDenied):
            q.fetch(f"select * from {q._SRC}.marts.fct_leads")
        with pytest.raises(duckdb.Error):  # no file access from a scoped connection (the landing, another ATTACH)
            q.fetch(f"select * from read_csv('{raw}')")
        with pytest.raises(duckdb.Error):
            q.fetch("set enable_external_access = true")


def test_the_company_benchmark_is_a_per_role_choice(sample, org, as_of, monkeypatch):
    monkeypatch.setenv(q.ENV_WAREHOUSE, str(sample.warehouse))
    start = calls(org, as_of)["comparison"][0][1]
    with q.viewing(head_access(org)):
        off = q.comparison("quarter", start)
    with q.viewing(head_access(org, company_benchmark=True)):
        on = q.comparison("quarter", start)
    assert not off.empty and off.rest_rate.isna().all() and off.company_rate.isna().all()
    assert off.significance.isna().all() and not off.is_all_departments.any()
    assert on.rest_rate.notna().any() and set(on.department_id) <= org["allowed"]
    assert off.rate.tolist() == on.rate.tolist() and off.change.equals(on.change)


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    """Rows in a stable order (ties in a query's ORDER BY may come back in any order)."""
    return df.sort_values(list(df.columns), ignore_index=True, na_position="first") if len(df) else df


def test_executives_and_analysts_see_everything_as_before(sample, org, as_of, monkeypatch):
    monkeypatch.setenv(q.ENV_WAREHOUSE, str(sample.warehouse))
    monkeypatch.delenv(access.ENV_ACCESS, raising=False)
    plan = calls(org, as_of)
    names = ("kpis", "funnel", "lead_flow", "resources_over_time", "campaign_roi", "comparison", "departments",
             "cohort_retention", "load_report", "mart_rows")
    before = {n: results(getattr(q, n), plan[n]) for n in names}
    for viewer in (access.Access(None, row_level=False, see_pii=False), access.Access(None, True, True)):
        with q.viewing(viewer):
            for n in names:
                for a, b in zip(before[n], results(getattr(q, n), plan[n]), strict=True):
                    pd.testing.assert_frame_equal(_sorted(a), _sorted(b), obj=n)
    with q.viewing(access.Access(None, row_level=False, see_pii=False)), pytest.raises(access.AccessDenied):
        q.leads_drill(*plan["leads_drill"][0])


def test_with_access_on_and_no_viewer_nothing_is_returned(sample, monkeypatch, tmp_path, org):
    monkeypatch.setenv(q.ENV_WAREHOUSE, str(sample.warehouse))
    monkeypatch.setenv(access.ENV_ACCESS, str(write_config(tmp_path / "a.yml", org)))
    with pytest.raises(access.AccessDenied):
        q.departments()
    assert q._ACCESS.get() is None  # an app run in another thread never leaves its viewer behind


# ---- masking ------------------------------------------------------------------------------------------------

def test_masks():
    assert access.mask_text("zhou@example.com") == "z***@example.com"
    assert access.mask_text("13812345678") == "138****5678"
    assert access.mask_text("o2GH4Jd8sK1mQ9vX7pL3aZ5tYkgM") == "o2G***kgM"
    assert access.mask_text("call 86 13265019376 or +86 132-6501-9376, mail a.b+c@x.com.cn") == \
        "call 86 132****9376 or +86 132-****-9376, mail a***@x.com.cn"
    assert access.mask_text("010-12345678") == "010-****5678"
    for safe in ("L00000001", "O0000197", "2026-03-01T09:30:00", "¥1,234,567", "华东一部", "A000123"):
        assert access.mask_text(safe) == safe
    df = pd.DataFrame({"email": ["bad@@x", None], "phone": ["12345", "13812345678"], "n": [1, 2],
                       "opportunity_name": ["张总 13812345678 报价", "plain"],
                       "column_name": ["wechat_openid", "created_at"], "value": ["oABC", "13812345678"]})
    m = access.mask_frame(df)
    assert m.email.tolist()[0] != "bad@@x" and "bad" not in m.email.tolist()[0] and pd.isna(m.email[1])
    assert m.phone.tolist() == ["***", "138****5678"] and m.n.tolist() == [1, 2]
    assert m.opportunity_name.tolist() == ["张总 138****5678 报价", "plain"]
    assert m.value.tolist() == ["***", "138****5678"]  # a contact column's value, and a phone in another column
    assert df.email[0] == "bad@@x"  # the input is not changed


@pytest.fixture
def pii_warehouse(sample, tmp_path, monkeypatch, org) -> Path:
    """A copy with contact details where the dashboards show text: rows set aside, and an own team's deal names."""
    copy = tmp_path / "pii.duckdb"
    shutil.copyfile(sample.warehouse, copy)
    con = duckdb.connect(str(copy))
    con.execute("delete from ops.closedloop_rejected_rows")
    con.executemany("insert into ops.closedloop_rejected_rows values (?, ?, 'crm', ?, ?, ?, ?, ?, ?, ?, 'b1')", [
        (1, "crm/leads", "leads", "crm/leads.csv", 7, "email", "required", "zhou.jianguo@jiahe.com", "x"),
        (2, "crm/leads", "leads", "crm/leads.csv", 8, "phone", "required", "13812345678", "x"),
        (3, "campaign/touches", "touches", "campaign/touches.csv", 9, "wechat_openid", "required",
         "o2GH4Jd8sK1mQ9vX7pL3aZ5tYkgM", "x"),
    ])
    # Other spellings, in columns not named like contact details, in messages and free text (issue 13).
    con.executemany("insert into ops.closedloop_rejected_rows values (?, ?, 'crm', ?, ?, ?, ?, ?, ?, ?, 'b1')", [
        (4, "crm/leads", "leads", "crm/leads.csv", 10, "contact", "required", "01065521234", "x"),
        (5, "crm/leads", "leads", "crm/leads.csv", 11, "remark", "too_long", "(010) 6552 1235", "x"),
        (6, "crm/leads", "leads", "crm/leads.csv", 12, "notes", "required", "138.1234.5671", "x"),
        (7, "crm/leads", "leads", "crm/leads.csv", 13, "created_at", "date", "１３８１２３４５６７８",
         "'+86 139 8765 4321' is not a date"),
        (8, "crm/leads", "leads", "crm/leads.csv", 14, "owner", "required", "微信：zhou_jg88", "zhou[at]jiahe.com"),
    ])
    con.execute(f"""update marts.fct_opportunities set opportunity_name = '王总 13987654321 wang@client.cn'
                    where department_id = '{org['team'].department_id}'""")
    # Server paths in what the Data page shows: the run history's message.
    con.execute("update ops.closedloop_runs set message = $m", {"m": f"no space left on {tmp_path}/landing/crm"})
    con.close()
    monkeypatch.setenv(q.ENV_WAREHOUSE, str(copy))
    return copy


def _visible(at) -> str:
    text, frames = shown(at)
    return text + "\n" + "\n".join(df.astype(str).to_csv() for df in frames)


def test_contact_details_are_masked_except_for_roles_allowed_to_see_them(pii_warehouse, configure, monkeypatch):
    configure(ANALYST)
    monkeypatch.setenv(q.ENV_WAREHOUSE, str(pii_warehouse))
    at = run("data")
    assert_clean(at)
    body = _visible(at)
    assert "zhou.jianguo@jiahe.com" in body and "13812345678" in body and "o2GH4Jd8sK1mQ9vX7pL3aZ5tYkgM" in body
    at = run("overview", kpi=Tr("zh")("opps_created"), grain=Tr("zh")("half_year"))
    assert "13987654321" in _visible(at)

    configure(CEO, exec_rights="{row_level: true}")  # executives: masked unless see_pii
    monkeypatch.setenv(q.ENV_WAREHOUSE, str(pii_warehouse))
    at = run("data")
    assert_clean(at)
    body = _visible(at)
    assert "z***@jiahe.com" in body and "138****5678" in body and "o2G***kgM" in body
    assert not re.search(r"zhou\.jianguo|13812345678|o2GH4Jd8", body)
    xlsx = exports.xlsx_bytes(at.session_state["_ctx"].tables)
    book = openpyxl.load_workbook(io.BytesIO(xlsx))
    cells = " ".join(str(c.value) for ws in book for row in ws.iter_rows() for c in row if c.value is not None)
    assert "z***@jiahe.com" in cells and "zhou.jianguo" not in cells

    configure(CEO, exec_rights="{row_level: true, see_pii: true}")
    monkeypatch.setenv(q.ENV_WAREHOUSE, str(pii_warehouse))
    body = _visible(run("data"))
    assert "zhou.jianguo@jiahe.com" in body and "01065521234" in body and "１３８１２３４５６７８" in body

    configure(HEAD, head_rights="{row_level: true}")
    monkeypatch.setenv(q.ENV_WAREHOUSE, str(pii_warehouse))
    at = run("overview", kpi=Tr("zh")("opps_created"), grain=Tr("zh")("half_year"))
    assert_clean(at)
    body = _visible(at)
    assert "139****4321" in body and "w***@client.cn" in body and "13987654321" not in body


# Phones, e-mails and WeChat ids the pii_warehouse fixture hides in other spellings and columns.
OTHER_SPELLINGS = ("01065521234", "6552 1235", "1234.5671", "１２３４５６７８", "8765 4321", "zhou_jg88", "zhou[at]",
                   "zhou.jianguo", "13812345678", "o2GH4Jd8")


def _exports_text(at) -> str:
    """Every cell of the page's downloads (each table's CSV and the page's XLSX), as the viewer would get them."""
    tables = at.session_state["_ctx"].tables
    csv = "\n".join(exports.csv_bytes(df).decode("utf-8-sig") for _, df in tables)
    book = openpyxl.load_workbook(io.BytesIO(exports.xlsx_bytes(tables)))
    return csv + " ".join(str(c.value) for ws in book for row in ws.iter_rows() for c in row if c.value is not None)


def test_contact_details_in_any_spelling_and_column_are_masked_on_screen_and_in_downloads(
        pii_warehouse, configure, monkeypatch):
    configure(CEO, exec_rights="{row_level: true}")
    monkeypatch.setenv(q.ENV_WAREHOUSE, str(pii_warehouse))
    at = run("data", dq_table="crm/leads")
    assert_clean(at)
    body, files = _visible(at), _exports_text(at)
    for raw in OTHER_SPELLINGS:
        assert raw not in body and raw not in files, raw
    assert "010****1234" in body and "(010) **** 1235" in body and "１３８****５６７８" in body
    assert "010****1234" in files and "+86 139 **** 4321" in files and "zho***g88" in files


def test_downloads_are_made_only_when_clicked_from_what_the_viewer_sees(configure, monkeypatch):
    """Every export button gets a callable (run on click, on the scoped and masked frames), never bytes that
    Streamlit would store and serve before anyone asked (docs/access-control.md, "Download links")."""
    import streamlit as st

    configure(CEO, exec_rights="{row_level: true}")
    real, seen = st.download_button, []

    def spy(label, data, *args, **kwargs):
        seen.append((label, callable(data)))
        return real(label, data, *args, **kwargs)

    monkeypatch.setattr(st, "download_button", spy)
    for view in ("stages", "data"):
        assert_clean(run(view))
    assert seen and all(deferred for _, deferred in seen), [label for label, d in seen if not d]


def test_server_paths_are_for_analysts(pii_warehouse, configure, monkeypatch, tmp_path):
    """The Data page names the warehouse, and a build's messages name folders: the server's paths for analysts,
    file names (relative to the raw folder where they lie in it) for everyone else."""
    configure(ANALYST)
    monkeypatch.setenv(q.ENV_WAREHOUSE, str(pii_warehouse))
    body = _visible(run("data"))
    assert str(pii_warehouse) in body and f"{tmp_path}/landing/crm" in body
    for user, rights in ((CEO, {"exec_rights": "{row_level: true}"}), (HEAD, {"head_rights": "{row_level: true}"})):
        configure(user, **rights)
        monkeypatch.setenv(q.ENV_WAREHOUSE, str(pii_warehouse))
        at = run("data")
        assert_clean(at)
        body = _visible(at) + "\n" + "\n".join(c.value for c in at.caption)
        assert str(tmp_path) not in body and str(pii_warehouse.parent) not in body, user
        assert f"`{pii_warehouse.name}`" in body  # the warehouse by its file name
    configure(CEO, exec_rights="{row_level: true, server_paths: true}")  # a per-role choice
    monkeypatch.setenv(q.ENV_WAREHOUSE, str(pii_warehouse))
    assert str(pii_warehouse) in _visible(run("data"))


# ---- identity: login, unlisted users, configuration errors, access off --------------------------------------

def _no_data(at) -> None:
    assert not at.dataframe and not at.metric and "_ctx" not in at.session_state


def test_an_unlisted_user_gets_the_no_access_page_and_no_query_runs(configure, monkeypatch):
    configure("stranger@example.com")
    ran = []
    real = q.fetch
    monkeypatch.setattr(q, "fetch", lambda *a, **k: ran.append(a) or real(*a, **k))
    for lang in ("zh", "en"):
        at = run("stages", **({"lang": "English"} if lang == "en" else {}))
        assert_clean(at)
        _no_data(at)
        assert [w.value for w in at.warning] == [Tr(lang)("no_access_not_listed", email="stranger@example.com")]
        assert at.title[0].value == "closedloop"
    assert not ran


def test_login_is_required_when_the_file_says_so(configure, monkeypatch):
    from dashboards import ui

    configure(CEO, login=True)  # the test user is ignored once login is on
    monkeypatch.setattr(ui, "_auth_problem", lambda t: None)  # as if Authlib and [auth] secrets were installed
    t = Tr("zh")
    for user in ({"is_logged_in": False}, {"email": CEO}, {}):  # Streamlit's placeholder e-mail is not a login
        at = run("overview", oidc_user=user)
        assert_clean(at)
        _no_data(at)
        assert t("login_prompt") in [i.value for i in at.info]
        assert [b.label for b in at.button] == [t("log_in")]
    at = run("overview", oidc_user={"is_logged_in": True, "email": "Head@Example.COM", "email_verified": True})
    assert_clean(at)
    c = at.session_state["_ctx"]
    assert c.viewer.role == "department_head" and c.viewer.email == HEAD and c.viewer.login
    assert t("log_out") in [b.label for b in at.sidebar.button]
    at = run("overview", oidc_user={"is_logged_in": True, "email": HEAD, "email_verified": False})
    _no_data(at)
    assert at.warning and HEAD in at.warning[0].value
    at = run("overview", oidc_user={"is_logged_in": True, "email": "nobody@example.com", "email_verified": True})
    _no_data(at)
    assert [w.value for w in at.warning] == [t("no_access_not_listed", email="nobody@example.com")]
    for claim in ("false", "False", "0", 0, "", None, "no"):  # fail closed: only true is verified
        at = run("overview", oidc_user={"is_logged_in": True, "email": HEAD, "email_verified": claim})
        _no_data(at)
        assert [w.value for w in at.warning] == [t("no_access_unverified", email=HEAD)], claim


def test_login_without_authlib_or_secrets_says_so(configure):
    configure(None, login=True)
    at = run("overview", oidc_user={"is_logged_in": False})
    assert not at.exception
    _no_data(at)
    messages = [e.value for e in at.error] + [i.value for i in at.info]
    t = Tr("zh")
    assert messages and messages[0] in (t("login_no_authlib"), t("login_no_secrets"), t("login_prompt"))


def test_the_test_user_needs_the_files_consent_and_login_off(configure):
    t = Tr("zh")
    configure(CEO, allow_test_user=False)
    at = run("overview")
    _no_data(at)
    assert [w.value for w in at.warning] == [t("no_access_no_identity", email="–")]
    configure(None)
    at = run("overview")
    _no_data(at)


def test_a_default_role_for_signed_in_users_of_listed_domains(configure):
    configure("someone@corp.example", more=["default_role: executive", "default_role_domains: [corp.example]"])
    at = run("overview")
    assert_clean(at)
    assert at.session_state["_ctx"].viewer.role == "executive"
    configure("someone@gmail.com", more=["default_role: executive", "default_role_domains: [corp.example]"])
    _no_data(run("overview"))


def test_an_invalid_file_closes_the_dashboards_in_one_sentence(configure, tmp_path, monkeypatch):
    configure(HEAD)
    bad = tmp_path / "bad.yml"
    for text in ("users: {a@b.c: {role: boss}}", "users: {a@b.c: department_head}", "roles: {analyst: {see_PII: true}}",
                 "login: maybe", "{{{", "default_role: department_head"):
        bad.write_text(text, encoding="utf-8")
        monkeypatch.setenv(access.ENV_ACCESS, str(bad))
        at = run("overview")
        assert not at.exception
        _no_data(at)
        assert [e.value for e in at.error] == [Tr("zh")("access_config_error")], text
    monkeypatch.setenv(access.ENV_ACCESS, str(tmp_path / "missing.yml"))
    _no_data(run("overview"))
    # Set but unusable is never "off": blank, a folder, an empty file, a file that lets nobody in.
    (tmp_path / "empty.yml").write_text("  \n", encoding="utf-8")
    (tmp_path / "nobody.yml").write_text("login: false\n", encoding="utf-8")
    for value in ("", "   ", "\t", str(tmp_path), str(tmp_path / "empty.yml"), str(tmp_path / "nobody.yml")):
        monkeypatch.setenv(access.ENV_ACCESS, value)
        at = run("overview")
        assert not at.exception
        _no_data(at)
        assert [e.value for e in at.error] == [Tr("zh")("access_config_error")], repr(value)
        assert not at.warning and not at.info and not at.button and not at.sidebar.children, repr(value)


def test_a_head_of_a_department_not_in_the_warehouse_sees_nothing(configure, org):
    configure("lost@example.com", more=["  lost@example.com: {role: department_head, department: D999}"])
    at = run("overview")
    assert not at.exception
    assert not at.dataframe and not at.metric
    assert [w.value for w in at.warning] == [Tr("zh")("access_no_departments", ids="D999")]


def test_access_off_is_the_demo(sample, monkeypatch):
    monkeypatch.setenv(q.ENV_WAREHOUSE, str(sample.warehouse))
    monkeypatch.delenv(access.ENV_ACCESS, raising=False)
    monkeypatch.setenv(access.ENV_TEST_USER, HEAD)  # ignored without a file
    at = run("stages", drill_step=Tr("zh")("win_rate"))  # the drill reads its rows once a step is picked
    assert_clean(at)
    c = at.session_state["_ctx"]
    assert c.viewer is access.OFF and c.scope.departments is None
    assert any(d.value.shape[0] for d in at.dataframe if "ID" in d.value.columns)  # drills, as before
    assert access.decide({"is_logged_in": True, "email": CEO}, {}).status == "off"


def _verified_file(tmp_path, more: str = "") -> dict[str, str]:
    path = tmp_path / "login.yml"
    path.write_text(f"login: true\n{more}users:\n  {CEO}: executive\n", encoding="utf-8")
    return {access.ENV_ACCESS: str(path)}


def test_only_a_true_email_verified_claim_counts(tmp_path):
    env = _verified_file(tmp_path)
    user = {"is_logged_in": True, "email": CEO}
    for claim in (False, "false", "False", "FALSE", " false ", "0", 0, 1, "1", "", None, "no", "yes", "t", "truthy",
                  [], [True], {}, 0.0):
        d = access.decide({**user, "email_verified": claim}, env)
        assert (d.status, d.reason) == ("denied", "unverified"), claim
    assert access.decide(user, env).reason == "unverified"  # no claim at all
    for claim in (True, "true", "True", " TRUE "):
        assert access.decide({**user, "email_verified": claim}, env).status == "ok", claim
    # A provider that never sends the claim: the file may say so; a claim that is there must still be true.
    env = _verified_file(tmp_path, "require_verified_email: false\n")
    assert access.decide(user, env).status == "ok"
    assert access.decide({**user, "email_verified": "false"}, env).reason == "unverified"


UNUSABLE = {
    "blank": "", "spaces": "   ", "newline": "\n", "folder": "{tmp}", "missing": "{tmp}/missing.yml",
    "empty file": "{tmp}/empty.yml", "whitespace file": "{tmp}/blank.yml", "bad YAML": "{tmp}/bad.yml",
    "a list": "{tmp}/list.yml", "unknown role": "{tmp}/role.yml", "nobody listed": "{tmp}/nobody.yml",
    "not UTF-8": "{tmp}/latin1.yml",
}


def _unusable_files(tmp_path) -> None:
    for name, text in (("empty.yml", ""), ("blank.yml", " \n\t\n"), ("bad.yml", "{{{"), ("list.yml", "- a\n- b\n"),
                       ("role.yml", f"users: {{{CEO}: boss}}\n"), ("nobody.yml", "login: true\nusers: {}\n")):
        (tmp_path / name).write_text(text, encoding="utf-8")
    (tmp_path / "latin1.yml").write_bytes(b"users:\n  \xe9@x.com: analyst\n")


@pytest.mark.parametrize("case", sorted(UNUSABLE))
def test_a_set_but_unusable_access_setting_fails_closed(case, tmp_path):
    _unusable_files(tmp_path)
    env = {access.ENV_ACCESS: UNUSABLE[case].format(tmp=tmp_path)}
    assert access.decide({"is_logged_in": True, "email": CEO, "email_verified": True}, env).status == "error"
    sentence = access.check_environment(env)
    assert sentence and "\n" not in sentence and sentence.endswith("."), sentence


def test_closedloop_serve_refuses_an_unusable_access_setting_before_starting(tmp_path):
    """One sentence on stderr and exit 1, before Streamlit starts (nothing listens, "Serving at" is not printed)."""
    import os
    import subprocess

    _unusable_files(tmp_path)
    exe = Path(sys.executable).with_name("closedloop")
    for case in ("spaces", "folder", "empty file", "bad YAML", "nobody listed"):
        env = {**os.environ, access.ENV_ACCESS: UNUSABLE[case].format(tmp=tmp_path)}
        done = subprocess.run([str(exe), "serve", "--warehouse", str(tmp_path / "w.duckdb"), "--port", "8599"],
                              env=env, capture_output=True, text=True, timeout=120)
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 1 and len(lines) == 1, (case, done.stderr)
        assert lines[0].startswith("closedloop serve: access control") and "Traceback" not in done.stderr, case
        assert "Serving" not in done.stdout, case
    env = {k: v for k, v in os.environ.items() if k != access.ENV_ACCESS}
    assert access.check_environment(env) is None  # unset: access control off (the demo)
    env[access.ENV_ACCESS] = "   "
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(access.ENV_ACCESS, "   ")
        with pytest.raises(access.AccessDenied):  # the query layer too: blank is on, with nobody identified
            q.current_access()


def test_the_file_check_command(tmp_path, org, capsys):
    path = write_config(tmp_path / "a.yml", org)
    assert access.main([str(path)]) == 0
    out = capsys.readouterr().out
    assert f"{HEAD}: department_head of {org['region_id']} and below" in out
    assert "anyone else signed in: no access" in out
    (tmp_path / "b.yml").write_text("users: {x: analyst}", encoding="utf-8")
    assert access.main([str(tmp_path / "b.yml")]) == 1
    capsys.readouterr()
    assert access.main([str(REPO / "docs" / "access.example.yml")]) == 0  # the documented example is valid
    assert "zhang.wei@example.com: department_head of D100 and below" in capsys.readouterr().out
