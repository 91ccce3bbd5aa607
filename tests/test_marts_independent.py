"""The marts against an independent pandas implementation over the raw export (tests/independent).

Counts must be equal, rates equal to 1e-9, amounts to the cent; every failure prints the first differing rows,
joined on the mart's keys, with both values side by side. The last test rebuilds the same raw folder into a
second warehouse and requires every mart to come out the same.
"""

from __future__ import annotations

import io

import duckdb
import pandas as pd
import pytest
from independent import customer, leads, marketing, pipeline, turnover
from independent.compare import assert_match
from independent.raw import Raw, month_start
from independent.stats import two_proportion

TOL = 1e-9
COUNTS = ["reached", "advanced", "lost", "open"]
RATES = ["conversion_rate", "ci_low", "ci_high"]


@pytest.fixture(scope="module")
def raw(sample) -> Raw:
    return Raw(sample.raw)


@pytest.fixture(scope="module")
def reached(raw: Raw) -> pd.DataFrame:
    return pipeline.stages_reached(raw)


@pytest.fixture(scope="module")
def facts(raw: Raw) -> pd.DataFrame:
    return leads.lead_facts(raw)


def _cents(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    out = frame.copy()
    for c in columns:
        out[f"{c}_cents"] = (pd.to_numeric(out[c]).astype("float64") * 100).round().astype("Int64")
    return out


# ---------------------------------------------------------------- raw contract (docs/input-contract.md)

def test_user_dimension(raw: Raw, mart) -> None:
    """An offset-less timestamp is business time, a date-only one is its midnight (docs/input-contract.md):
    `2020-01-01` in users.hired_at must stay 2020-01-01 00:00, not be read as carrying a `-01` offset."""
    assert_match(raw.users, mart("dim_user"), ["user_id"], "dim_user (raw users, input-contract timestamps)",
                 exact=["department_id", "role", "hired_at", "left_at"])


# ---------------------------------------------------------------- pipeline

def test_sample_has_data(raw: Raw, reached: pd.DataFrame, facts: pd.DataFrame) -> None:
    """Guard against comparing two empty results."""
    assert len(reached) > 100 and len(facts) > 100, (len(reached), len(facts))


def test_stages_reached_per_opportunity(reached: pd.DataFrame, mart) -> None:
    assert_match(reached, mart("fct_opportunity_stages"), ["opportunity_id", "stage_name"],
                 "fct_opportunity_stages (docs/metrics.md#stage-reached)",
                 exact=["stage_order", "entered_at", "is_inferred", "owner_user_id", "department_id", "outcome"])


def test_stage_conversion(raw: Raw, reached: pd.DataFrame, mart) -> None:
    mine = pipeline.stage_conversion(raw, reached)
    theirs = mart("fct_stage_conversion")
    # a stage nobody in the cohort reached is a zero row in the mart (so the funnel has no holes)
    zero = {"reached": 0, "advanced": 0, "lost": 0, "open": 0, "conversion_rate": None, "ci_low": None,
            "ci_high": None}
    assert_match(mine, theirs, ["cohort_month", "department_id", "stage_name"],
                 "fct_stage_conversion (docs/metrics.md#stage-conversion)", exact=COUNTS, approx=RATES, tol=TOL,
                 fill_mine=zero)
    seed_order = raw.stages.set_index("stage_name")["stage_order"]
    assert (theirs["stage_order"] == theirs["stage_name"].map(seed_order)).all(), "stage_order is not the seed's"


def test_win_rate_by_close_month(raw: Raw, mart) -> None:
    closes = pipeline.close_times(raw)
    opps = mart("fct_opportunities")
    assert_match(closes.assign(is_closed=closes["status"] != "open", is_won=closes["status"] == "won"), opps,
                 ["opportunity_id"], "fct_opportunities close (metric_closed_at)",
                 exact=["is_closed", "is_won", "closed_at", "owner_user_id"])
    mine = pipeline.win_rate_by_month(raw)
    closed = opps[opps["is_closed"]].assign(month=lambda f: month_start(pd.to_datetime(f["closed_at"])))
    theirs = closed.groupby("month").agg(won=("is_won", "sum"), closed=("is_won", "size")).reset_index()
    theirs["lost"] = theirs["closed"] - theirs["won"]
    theirs["win_rate"] = theirs["won"] / theirs["closed"]
    assert_match(mine, theirs, ["month"], "win rate by month of close (fct_opportunities)", exact=["won", "lost"],
                 approx=["win_rate"], tol=TOL)


def test_win_rate_per_rep_month(raw: Raw, mart) -> None:
    mine = pipeline.win_rate_by_month(raw, by_owner=True).rename(
        columns={"owner_user_id": "user_id", "won": "won_deals", "lost": "lost_deals"})
    theirs = mart("fct_rep_performance")
    zero = {"won_deals": 0, "lost_deals": 0, "win_rate": None}
    assert_match(mine, theirs, ["month", "user_id"], "fct_rep_performance win rate", exact=["won_deals", "lost_deals"],
                 approx=["win_rate"], tol=TOL, fill_mine=zero)


def _periods(months: pd.Series, grain: str) -> pd.Series:
    m = pd.to_datetime(months)
    if grain == "month":
        return m
    step = {"quarter": 3, "half_year": 6}[grain]
    return pd.to_datetime(pd.DataFrame({"year": m.dt.year, "month": (m.dt.month - 1) // step * step + 1, "day": 1}))


def _comparison(cases: pd.DataFrame, grain: str, metric: str) -> pd.DataFrame:
    """cases: month, department_id (NA = company), stage_name, numerator, denominator (company rows included)."""
    c = cases.assign(period_start=_periods(cases["month"], grain), period_grain=grain, metric=metric)
    keys = ["period_grain", "period_start", "metric", "stage_name"]
    c["department_id"] = c["department_id"].astype("string").fillna("<company>")
    p = c.groupby([*keys, "department_id"], dropna=False)[["numerator", "denominator"]].sum().reset_index()
    company = p[p["department_id"] == "<company>"].drop(columns="department_id").rename(
        columns={"numerator": "company_numerator", "denominator": "company_denominator"})
    p = p.merge(company, on=keys, how="left")
    p["rest_numerator"] = p["company_numerator"] - p["numerator"]
    p["rest_denominator"] = p["company_denominator"] - p["denominator"]
    step = {"month": 1, "quarter": 3, "half_year": 6}[grain]
    prev = p[[*keys, "department_id", "numerator", "denominator"]].rename(
        columns={"numerator": "previous_numerator", "denominator": "previous_denominator"})
    prev["period_start"] = prev["period_start"] + pd.DateOffset(months=step)
    p = p.merge(prev, on=[*keys, "department_id"], how="left").fillna(
        {"previous_numerator": 0, "previous_denominator": 0})
    p["rate"] = p["numerator"] / p["denominator"].where(p["denominator"] > 0)
    is_dept = p["department_id"] != "<company>"
    p["significance"] = [two_proportion(*r) if d else None for r, d in zip(
        p[["numerator", "denominator", "rest_numerator", "rest_denominator"]].itertuples(index=False), is_dept,
        strict=True)]
    p["change_significance"] = [two_proportion(*r) for r in
                                p[["numerator", "denominator", "previous_numerator", "previous_denominator"]]
                                .itertuples(index=False)]
    p.loc[~is_dept, ["rest_numerator", "rest_denominator"]] = None
    p["department_id"] = p["department_id"].where(is_dept)
    return p


@pytest.mark.parametrize("grain", ["month", "quarter", "half_year"])
def test_department_comparison(raw: Raw, reached: pd.DataFrame, mart, grain: str) -> None:
    conv = pipeline.stage_conversion(raw, reached)
    stage_cases = pd.DataFrame({"month": conv["cohort_month"], "department_id": conv["department_id"],
                                "stage_name": conv["stage_name"], "numerator": conv["advanced"],
                                "denominator": conv["reached"] - conv["open"]})
    closes = pipeline.close_times(raw)
    closes = closes[closes["status"] != "open"]
    dept = raw.users.set_index("user_id")["department_id"]
    closes = closes.assign(month=month_start(closes["closed_at"]), won=(closes["status"] == "won").astype(int),
                           one=1, department_id=closes["owner_user_id"].map(dept))
    per_dept = closes[closes["department_id"].notna()].groupby(["month", "department_id"])[["won", "one"]].sum()
    company = closes.groupby("month")[["won", "one"]].sum().assign(department_id=pd.NA)
    win = pd.concat([per_dept.reset_index(), company.reset_index()], ignore_index=True).rename(
        columns={"won": "numerator", "one": "denominator"}).assign(stage_name=pd.NA)
    mine = pd.concat([_comparison(stage_cases, grain, "stage_conversion"), _comparison(win, grain, "win_rate")],
                     ignore_index=True)
    theirs = mart("fct_department_comparison")
    theirs = theirs[theirs["period_grain"] == grain]
    # the mart also keeps zero rows (a funnel without holes); compare every period with something decided in it
    mine = mine[mine["denominator"] > 0]
    theirs = theirs[theirs["denominator"] > 0]
    assert_match(mine, theirs, ["period_start", "department_id", "metric", "stage_name"],
                 f"fct_department_comparison ({grain})",
                 exact=["numerator", "denominator", "rest_numerator", "rest_denominator", "previous_numerator",
                        "previous_denominator", "significance", "change_significance"],
                 approx=["rate"], tol=TOL)


# ---------------------------------------------------------------- leads

def test_lead_funnel_flags_per_lead(facts: pd.DataFrame, mart) -> None:
    assert_match(facts, mart("fct_leads"), ["lead_id"], "fct_leads funnel flags (metric_lead_conversion)",
                 exact=["created_at", "channel", "campaign_id", "owner_user_id", "department_id", "is_mql", "mql_at",
                        "is_sql", "sql_at", "is_converted", "converted_at", "final_status"])


def test_lead_conversion_by_channel(facts: pd.DataFrame, mart) -> None:
    mine = leads.conversion_by_channel(facts)
    theirs = leads.conversion_by_channel(mart("fct_leads").assign(created_at=lambda f: pd.to_datetime(
        f["created_at"])))
    assert_match(mine, theirs, ["cohort_month", "channel"], "lead conversion by cohort month × channel",
                 exact=["leads", "mql", "sql", "converted"], approx=["mql_rate", "sql_rate", "converted_rate"],
                 tol=TOL)


def test_lead_response_sla(facts: pd.DataFrame, mart) -> None:
    assert_match(facts, mart("fct_leads"), ["lead_id"], "fct_leads response / SLA (metric_lead_response)",
                 exact=["first_assigned_at", "first_response_at", "sla_status"],
                 approx=["response_hours", "response_working_hours"], tol=TOL)


def test_lead_releases_and_recovery(facts: pd.DataFrame, mart) -> None:
    assert_match(facts, mart("fct_leads"), ["lead_id"], "fct_leads releases (metric_recovered_lead)",
                 exact=["release_count", "is_recovered"])


def test_campaign_months(raw: Raw, facts: pd.DataFrame, mart) -> None:
    mine = marketing.campaign_months(raw, facts)
    theirs = _cents(mart("fct_campaign_roi"), ["spend", "won_revenue"])
    counts = ["spend_cents", "touches", "leads", "mql", "sql", "converted_leads", "opportunities", "won_deals",
              "won_revenue_cents"]
    ratios = ["cost_per_lead", "cost_per_opportunity", "cac", "roi"]
    zero = dict.fromkeys(counts, 0) | dict.fromkeys(ratios)
    assert_match(mine, theirs, ["month", "campaign_id"], "fct_campaign_roi (metric_campaign_roi)", exact=counts,
                 approx=ratios, tol=TOL, fill_mine=zero, fill_mart=zero)


def test_lead_flow_daily(raw: Raw, facts: pd.DataFrame, mart) -> None:
    """Every day × department × channel and company row of fct_lead_flow_daily, milestone and ownership counts and
    the open backlog (metric_lead_backlog), zero days included."""
    mine = leads.lead_flow_daily(raw, facts)
    company = mine[mine["department_id"].isna()]
    assert company["created"].sum() == len(facts), "every lead is created on some day, once in the company rows"
    assert_match(mine, mart("fct_lead_flow_daily"), ["flow_date", "department_id", "channel"],
                 "fct_lead_flow_daily (metric_lead_backlog)", exact=[*leads.FLOW_COUNTS, "open_backlog"])


# ---------------------------------------------------------------- customer resources

@pytest.fixture(scope="module")
def rep_months(raw: Raw, facts: pd.DataFrame) -> pd.DataFrame:
    return turnover.turnover_by_rep_month(raw, turnover.holdings_intervals(raw, facts))


TURNOVER_COUNTS = turnover.TURNOVER_COUNTS


def test_turnover_per_rep_month(rep_months: pd.DataFrame, mart) -> None:
    theirs = mart("fct_resource_turnover")
    theirs = theirs[theirs["user_id"].notna()]
    zero = dict.fromkeys(TURNOVER_COUNTS, 0) | {"turnover_rate": None}
    assert_match(rep_months, theirs, ["month", "user_id"], "fct_resource_turnover user rows (metric_holdings_turnover)",
                 exact=TURNOVER_COUNTS, approx=["turnover_rate"], tol=TOL, fill_mine=zero, fill_mart=zero)


def test_turnover_per_department_and_company_month(raw: Raw, rep_months: pd.DataFrame, mart) -> None:
    mine = turnover.turnover_by_department_month(raw, rep_months)
    theirs = mart("fct_resource_turnover")
    theirs = theirs[theirs["user_id"].isna()]
    cols = [*TURNOVER_COUNTS, "active_reps"]
    zero = dict.fromkeys(cols, 0) | {"turnover_rate": None, "holdings_per_rep": None}
    assert_match(mine, theirs, ["month", "department_id"],
                 "fct_resource_turnover department and company rows (department_id null)",
                 exact=cols, approx=["turnover_rate", "holdings_per_rep"], tol=TOL, fill_mine=zero, fill_mart=zero)


# ---------------------------------------------------------------- customer value

def test_customer_value(raw: Raw, mart) -> None:
    mine = customer.account_value(raw)
    money = ["revenue_new", "revenue_renewal", "revenue_upsell", "revenue_cross_sell", "revenue_service",
             "lifetime_value", "referral_revenue"]
    theirs = _cents(mart("fct_customer_value"), money)
    assert_match(mine, theirs, ["account_id"], "fct_customer_value (metric_lifetime_value, metric_referral_revenue)",
                 exact=[f"{c}_cents" for c in money] + ["order_count", "first_order_date", "referred_accounts",
                                                       "subscription_count", "subscriptions_ended",
                                                       "subscriptions_renewed"])


# ---------------------------------------------------------------- reproducibility

def _mart_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [r[0] for r in con.execute(
        "select table_name from information_schema.tables where table_schema = 'marts' order by 1").fetchall()]


@pytest.mark.slow
def test_rebuild_gives_identical_marts(sample, wh: duckdb.DuckDBPyConnection, tmp_path) -> None:
    from closedloop.build import build

    again = tmp_path / "again.duckdb"
    build(sample.raw, again, out=io.StringIO())
    con = duckdb.connect(str(again), read_only=True)
    try:
        tables = _mart_tables(wh)
        assert tables == _mart_tables(con), "the rebuild has different marts"
        differing = []
        for t in tables:
            a = wh.execute(f'select * from marts."{t}" order by all').df()
            b = con.execute(f'select * from marts."{t}" order by all').df()
            try:
                # floats may differ in the last bits when a parallel sum adds in another order; nothing else may
                pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-12, atol=0)
            except AssertionError as exc:
                differing.append(f"{t}: {str(exc).splitlines()[0]} …\n{exc}")
        assert not differing, "marts differ after rebuilding the same raw data:\n" + "\n".join(differing)
    finally:
        con.close()
