"""The pages' rolled-up figures (issue 17: Overview, Lead flow, Lifecycle and Follow-ups read the rollup marts of
models/marts/rollups/ instead of scanning the facts) equal an independent recomputation from the row-grain marts
(tests/independent/pages.py, pandas over fct_leads, fct_opportunities, fct_customer_value, fct_followups,
fct_customer_predicted_value, fct_customer_value_backtest), for
several windows and filter combinations, and for a department head whose view is limited to their region.

Over the session's `sample` warehouse; no extra build.
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from independent import pages

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from dashboards import access, periods  # noqa: E402
from dashboards import queries as q  # noqa: E402


@pytest.fixture(scope="module")
def marts(sample) -> dict[str, pd.DataFrame]:
    con = duckdb.connect(str(sample.warehouse), read_only=True)
    try:
        return {n: con.execute(f"select * from marts.{n}").df() for n in (
            "fct_leads", "fct_opportunities", "dim_account", "fct_customer_value", "fct_followups",
            "dim_department", "fct_customer_predicted_value", "fct_customer_value_backtest")}
    finally:
        con.close()


@pytest.fixture(scope="module")
def region(marts) -> tuple[str, set[str]]:
    """A department with teams below it, and the departments a head of it sees."""
    depts = marts["dim_department"]
    parents = sorted(set(depts.parent_department_id.dropna()) - {None})
    root = next(d for d in parents if depts.parent_department_id.isin([d]).sum() >= 2)
    return root, pages.descendants(depts, [root])


@pytest.fixture()
def served(sample, monkeypatch):
    monkeypatch.setenv(q.ENV_WAREHOUSE, str(sample.warehouse))
    monkeypatch.delenv(access.ENV_ACCESS, raising=False)


def _windows(as_of: date) -> list[tuple[date, date]]:
    month = periods.period_start(as_of, "month")
    quarter = periods.period_start(as_of, "quarter")
    return [(month, periods.add_months(month, 1)),                      # the current, partial month
            (periods.add_months(quarter, -3), quarter),                 # the last whole quarter
            (periods.add_months(month, -12), month),                    # a year
            (date(as_of.year - 1, 3, 4), date(as_of.year - 1, 3, 11)),  # a week
            (date(1990, 1, 1), date(1990, 2, 1))]                       # before any data


def _cases(marts, region) -> list[tuple[str, q.Scope, object]]:
    """(name, page filters, viewer) — viewer None is a company-wide one."""
    _, mine = region
    channels = marts["fct_leads"].channel.value_counts().index[:2].tolist()
    one_team = sorted(mine)[-1]
    head = access.Access((region[0],), row_level=True, see_pii=False, company_benchmark=False)
    return [
        ("company", q.Scope(), None),
        ("department", q.Scope(departments=tuple(sorted(mine))), None),
        ("channels", q.Scope(channels=tuple(channels)), None),
        ("grade", q.Scope(grades=("A",)), None),
        ("all filters", q.Scope(departments=tuple(sorted(mine)), channels=(channels[0],), grades=("A", "B")), None),
        ("head", q.Scope(), head),
        ("head, one team and a channel", q.Scope(departments=(one_team,), channels=(channels[1],)), head),
    ]


def _visible(frame: pd.DataFrame, viewer, region, department_col: str = "department_id") -> pd.DataFrame:
    return frame if viewer is None else frame[frame[department_col].isin(region[1])]


def _run(viewer, fn, *args):
    if viewer is None:
        return fn(*args)
    with q.viewing(viewer):
        return fn(*args)


def _leads(marts, scope, viewer, region) -> pd.DataFrame:
    return pages.filtered(_visible(marts["fct_leads"], viewer, region), scope.departments, scope.channels)


def _opps(marts, scope, viewer, region) -> pd.DataFrame:
    opps = marts["fct_opportunities"].merge(marts["dim_account"][["account_id", "grade"]], on="account_id",
                                            how="left")
    return pages.filtered(_visible(opps, viewer, region), scope.departments, scope.channels, scope.grades)


def _close(got: float, want: float) -> bool:
    return bool(np.isclose(got, want, rtol=1e-9, atol=1e-6))


def test_kpi_tiles_equal_a_recount_of_the_leads_and_deals(served, marts, region, as_of):
    windows = _windows(as_of)
    checked = 0
    for name, scope, viewer in _cases(marts, region):
        got = _run(viewer, q.kpis, scope, windows).set_index("i")
        leads, opps = _leads(marts, scope, viewer, region), _opps(marts, scope, viewer, region)
        for i, (start, end) in enumerate(windows):
            want = pages.lead_kpis(leads, start, end) | pages.opportunity_kpis(opps, start, end)
            for key, value in want.items():
                assert _close(float(got.loc[i, key]), value), (name, (start, end), key, got.loc[i, key], value)
                checked += value != 0
    assert checked > 100  # the windows hold data, not only zeros


def _frames_equal(got: pd.DataFrame, want: pd.DataFrame, keys: list[str], what: str) -> None:
    got = got.copy()
    for k in keys:  # a null key compares as a value
        got[k], want[k] = got[k].astype(object).where(got[k].notna(), "∅"), want[k].astype(object).where(
            want[k].notna(), "∅")
    cols = keys + [c for c in want.columns if c not in keys]
    got = got[cols].sort_values(keys).reset_index(drop=True)
    want = want[cols].sort_values(keys).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want, check_dtype=False, check_exact=False, rtol=1e-9, obj=what)


def test_lead_flow_figures_equal_a_recount_of_the_leads(served, marts, region, as_of):
    windows = _windows(as_of)[:4]
    rows = 0
    for name, scope, viewer in _cases(marts, region):
        leads = _leads(marts, scope, viewer, region)
        for start, end in windows:
            w = periods.Window("custom", start, end, end)
            what = f"{name} {start}–{end}"
            got = _run(viewer, q.lead_funnel, w, scope)
            want = pages.lead_funnel(leads, _visible(marts["fct_opportunities"], viewer, region), start, end)
            want = want[(want.leads > 0) | want.channel.isna()]
            _frames_equal(got.drop(columns="is_total"), want, ["channel"], f"lead_funnel {what}")
            rows += len(got)

            got = _run(viewer, q.duplicates_by_channel, w, scope)
            want = pages.duplicates_by_channel(leads, start, end)
            want["duplicate_share"] = want.duplicates / want.leads
            _frames_equal(got, want, ["channel"], f"duplicates_by_channel {what}")

            got = _run(viewer, q.pool_summary, w, scope).iloc[0].to_dict()
            assert {k: int(v) for k, v in got.items()} == pages.pool_summary(leads, start, end), what

            got = _run(viewer, q.response_distribution, w, scope)
            want = pages.response_distribution(leads, q.RESPONSE_BINS, start, end)
            _frames_equal(got, want, ["band", "sla_status"], f"response_distribution {what}")

            got = _run(viewer, q.feedback_reasons, w, scope)[["reason", "leads"]]
            _frames_equal(got, pages.feedback_reasons(leads, start, end), ["reason"], f"feedback_reasons {what}")

            got = _run(viewer, q.sla_by_department, w, scope).drop(columns="department_name")
            want = pages.sla_by_department(leads, start, end)
            _frames_equal(got, want, ["department_id"], f"sla_by_department {what}")
    assert rows > 50


def test_lifecycle_value_equals_a_recount_of_the_customers(served, marts, region, as_of):
    ends = [w[1] for w in _windows(as_of)]
    for name, scope, viewer in _cases(marts, region):
        customers = pages.filtered(_visible(marts["fct_customer_value"], viewer, region), scope.departments,
                                   None, scope.grades)
        accounts = marts["dim_account"]
        if scope.channels:
            customers = customers[customers.account_id.isin(
                accounts.loc[accounts.source_channel.isin(scope.channels), "account_id"])]
        for dim in ("grade", "channel"):
            for end in ends:
                got = _run(viewer, q.value_by, dim, scope, end)
                want = pages.value_by(customers, accounts, dim, end)
                _frames_equal(got, want, ["key"], f"value_by {dim} {name} {end}")


def test_followups_equal_a_recount_of_the_followups(served, marts, region):
    for name, scope, viewer in _cases(marts, region):
        followups = pages.filtered(_visible(marts["fct_followups"], viewer, region), scope.departments)
        got = _run(viewer, q.followup_by_owner, scope)
        names = dict(zip(marts["dim_department"].department_name, marts["dim_department"].department_id,
                         strict=True))
        got = got.assign(department_id=got.department_name.map(names).fillna(got.department_name),
                         owner_user_id=got.owner_user_id.fillna("∅")).drop(columns=["owner_name", "department_name"])
        got["department_id"] = got.department_id.fillna("∅")
        _frames_equal(got, pages.followups_by_owner(followups), ["owner_user_id", "department_id"],
                      f"followup_by_owner {name}")
        got = _run(viewer, q.followup_earned, scope).drop(columns="category")
        _frames_equal(got, pages.followups_earned(followups, _visible(marts["fct_opportunities"], viewer, region)),
                      ["reason"],
                      f"followup_earned {name}")



def test_the_followups_to_act_on_are_valued_and_ranked_as_recounted(served, marts, region):
    for name, scope, viewer in _cases(marts, region):
        followups = pages.filtered(_visible(marts["fct_followups"], viewer, region), scope.departments)
        opps = _visible(marts["fct_opportunities"], viewer, region)
        customers = _visible(marts["fct_customer_value"], viewer, region)
        for statuses, limit in ((("overdue", "due"), 5000), (("overdue", "due", "upcoming"), 7)):
            got = _run(viewer, q.followup_items, scope, statuses, limit)
            want = pages.followup_items(followups, opps, customers, statuses, limit)
            assert len(want), (name, statuses)
            pd.testing.assert_frame_equal(got[["followup_id", "status", "value"]].astype({"value": float}), want,
                                          check_dtype=False, obj=f"followup_items {name} {statuses}")
    # the head's cases above held follow-ups of theirs valued by another department's deal or account (so the
    # hiding was exercised, not only the ranking)
    _, mine = region
    theirs = marts["fct_followups"][marts["fct_followups"].department_id.isin(mine)]
    deal_dept = theirs.entity_id.map(marts["fct_opportunities"].set_index("opportunity_id").department_id)
    value_dept = theirs.account_id.map(marts["fct_customer_value"].set_index("account_id").department_id)
    assert (deal_dept.notna() & ~deal_dept.isin(mine)).any() or (value_dept.notna() & ~value_dept.isin(mine)).any()


def test_predicted_value_and_the_backtest_equal_a_recount_of_the_accounts(served, marts, region):
    for name, scope, viewer in _cases(marts, region):
        predicted = pages.filtered(_visible(marts["fct_customer_predicted_value"], viewer, region),
                                   scope.departments, None, scope.grades)
        tiles, bands = pages.predicted_value(predicted, q.VALUE_BANDS)
        got = _run(viewer, q.predicted_value_summary, scope).iloc[0]
        for key, value in tiles.items():
            assert (pd.isna(got[key]) and pd.isna(value)) or _close(float(got[key]), value), (name, key)
        _frames_equal(_run(viewer, q.predicted_value_bands, scope), bands, ["band"], f"predicted_value_bands {name}")
    want = pages.backtest_deciles(marts["fct_customer_value_backtest"])
    got = q.value_backtest()
    _frames_equal(got.assign(fitted_to=pd.to_datetime(got.fitted_to), as_of_date=pd.to_datetime(got.as_of_date)),
                  want.assign(fitted_to=pd.to_datetime(want.fitted_to), as_of_date=pd.to_datetime(want.as_of_date)),
                  ["decile"], "value_backtest")


def test_the_journey_list_equals_a_ranking_of_every_person(served, marts, sample):
    con = duckdb.connect(str(sample.warehouse), read_only=True)
    try:
        persons = con.execute("select * from marts.dim_person").df()
    finally:
        con.close()
    for limit in (1, 20, q.TOP_PERSONS):
        want = pages.top_persons(persons, marts["fct_leads"], marts["dim_account"], limit)
        got = q.top_persons(limit)[want.columns].reset_index(drop=True)
        pd.testing.assert_frame_equal(got, want, check_dtype=False, obj=f"top_persons {limit}")
    assert want.lead_count.iloc[0] > want.lead_count.iloc[-1]  # a ranking, not ties throughout
    with pytest.raises(ValueError):
        q.top_persons(q.TOP_PERSONS + 1)
