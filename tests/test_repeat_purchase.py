"""Customers who buy again without a subscription (docs/metrics.md#order-window-retention, #revenue-retention,
#predicted-12-month-value): the order-window rule and cohort revenue retention on the real CDNOW purchase log,
and the repeat-purchase model against its planted truth, the `lifetimes` library and its own backtest."""

from __future__ import annotations

import io
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from independent import repeat
from independent.raw import Raw

from closedloop import clv
from closedloop.build import build

CDNOW = Path(__import__("lifetimes").__file__).parent / "datasets" / "CDNOW_master.txt"
WINDOW = 12


def cdnow_orders() -> pd.DataFrame:
    """The CDNOW master purchase log (23,570 customers, 69,659 orders, Jan 1997 - Jun 1998), as shipped by lifetimes."""
    log = pd.read_csv(CDNOW, sep=r"\s+", header=0, names=["customer", "date", "quantity", "amount"],
                      dtype={"customer": str, "date": str})
    return pd.DataFrame({"order_id": np.arange(1, len(log) + 1), "account_id": "C" + log["customer"],
                         "order_date": pd.to_datetime(log["date"], format="%Y%m%d").dt.date,
                         "amount": log["amount"].round(2), "order_type": "new"})


def write_cdnow_export(raw: Path) -> pd.DataFrame:
    orders = cdnow_orders()
    (raw / "crm").mkdir(parents=True)
    (raw / "service").mkdir()
    (raw / "crm" / "users.csv").write_text("user_id,user_name,department_id,role\nU1,rep,D1,sales\n")
    (raw / "crm" / "opportunities.csv").write_text(
        "opportunity_id,account_id,owner_user_id,created_at,amount,opportunity_type,stage,is_closed,is_won\n"
        "O1,C00001,U1,1997-01-01T10:00:00,100,new,赢单,true,true\n")
    orders.to_csv(raw / "service" / "orders.csv", index=False)
    return orders


@pytest.mark.slow
def test_cdnow_cohorts_order_window_retention(tmp_path: Path) -> None:
    """On a real purchase log without subscriptions, cohorts are not 100% retained for the log's 18 months: the
    order window drops accounts 12 months after their last order, and revenue retention falls with the cohort's
    spend; both match an independent pandas computation."""
    orders = write_cdnow_export(tmp_path / "raw")
    warehouse = tmp_path / "warehouse.duckdb"
    build(tmp_path / "raw", warehouse, out=io.StringIO())
    con = duckdb.connect(str(warehouse), read_only=True)
    got = con.execute("select * from marts.fct_cohort_retention order by cohort_month, months_since").df()
    cv = con.execute("select retention_rule, count(*) as n from marts.fct_customer_value "
                     "where retention_rule is not null group by 1").df()
    con.close()
    assert dict(zip(cv["retention_rule"], cv["n"], strict=True)) == {"order_window": 23570}
    assert set(got["retention_rule"]) == {"order_window"}
    want = repeat.cohort_order_window(orders, pd.Period("1998-06", freq="M"), WINDOW)
    merged = want.merge(got.assign(cohort_month=pd.to_datetime(got["cohort_month"]).dt.date),
                        on=["cohort_month", "months_since"], suffixes=("", "_got"))
    assert len(merged) == len(want) == len(got) == 3 * 18 - 3  # cohorts Jan-Mar 1997, to June 1998
    assert (merged["order_window_accounts"] == merged["order_window_accounts_got"]).all()
    assert (merged["order_window_active"] == merged["order_window_active_got"]).all()
    assert np.allclose(merged["revenue_retention"], merged["revenue_retention_got"], rtol=1e-9)
    # the window's months are 100% by definition; every cohort falls below it afterwards
    for cohort, rows in got.groupby("cohort_month"):
        within = rows[rows["months_since"] < WINDOW]
        after = rows[rows["months_since"] >= WINDOW]
        assert (within["order_window_retention"] == 1.0).all()
        assert (after["order_window_retention"] < 0.6).all(), cohort
        assert rows["revenue_retention"].iloc[1:].max() < 0.5, cohort


# ---------------------------------------------------------------- the fit against the lifetimes library


@pytest.fixture(scope="module")
def cdnow_summary() -> pd.DataFrame:
    from lifetimes.datasets import load_cdnow_summary_data_with_monetary_value

    return load_cdnow_summary_data_with_monetary_value()


def test_bgnbd_fit_agrees_with_lifetimes(cdnow_summary: pd.DataFrame) -> None:
    """Our maximum-likelihood BG/NBD on the CDNOW summary (2,357 customers) against lifetimes' BetaGeoFitter: same
    parameters, same conditional expectations and p_alive."""
    from lifetimes import BetaGeoFitter

    d = cdnow_summary
    ours = clv.fit_bgnbd(d["frequency"], d["recency"], d["T"])
    oracle = BetaGeoFitter().fit(d["frequency"], d["recency"], d["T"])
    for name in ("r", "alpha", "a", "b"):
        assert getattr(ours, name) == pytest.approx(oracle.params_[name], rel=1e-4), name
    x, t_x, T = (d[c].to_numpy() for c in ("frequency", "recency", "T"))
    want = oracle.conditional_expected_number_of_purchases_up_to_time(52, d["frequency"], d["recency"], d["T"])
    assert np.allclose(clv.expected_purchases(ours, 52, x, t_x, T), want.to_numpy(), rtol=1e-3, atol=1e-6)
    alive = oracle.conditional_probability_alive(d["frequency"], d["recency"], d["T"])
    assert np.allclose(clv.p_alive(ours, x, t_x, T), np.asarray(alive), rtol=1e-3, atol=1e-6)


def test_gamma_gamma_fit_agrees_with_lifetimes(cdnow_summary: pd.DataFrame) -> None:
    from lifetimes import GammaGammaFitter

    d = cdnow_summary[cdnow_summary["frequency"] > 0]
    ours = clv.fit_gamma_gamma(d["frequency"], d["monetary_value"])
    oracle = GammaGammaFitter().fit(d["frequency"], d["monetary_value"])
    for name, theirs in (("p", "p"), ("q", "q"), ("v", "v")):
        assert getattr(ours, name) == pytest.approx(oracle.params_[theirs], rel=1e-3), name
    want = oracle.conditional_expected_average_profit(d["frequency"], d["monetary_value"])
    got = clv.expected_order_value(ours, d["frequency"].to_numpy(), d["monetary_value"].to_numpy())
    assert np.allclose(got, want.to_numpy(), rtol=1e-3)


# ---------------------------------------------------------------- the warehouse's model on the sample


@pytest.fixture(scope="module")
def fitted(wh) -> pd.DataFrame:
    return wh.execute("select * from intermediate.int_customer__repeat_purchase_model").df()


@pytest.fixture(scope="module")
def raw_orders(sample) -> tuple[pd.DataFrame, pd.Timestamp]:
    raw = Raw(sample.raw)
    as_of_day = raw.as_of.normalize()
    return repeat.order_window_orders(raw.orders, as_of_day), as_of_day


def test_fit_recovers_planted_process(sample, fitted: pd.DataFrame) -> None:
    """The forecast fit (every purchase day to as_of) recovers the generator's planted repeat-purchase process:
    mean purchase rate, mean dropout and mean order value within stated tolerances (about 1,600 buyers at scale 1)."""
    planted = sample.truth["repeat_purchase"]
    row = fitted[fitted["scope"] == "forecast"].iloc[0]
    assert row["fit_accounts"] >= 0.9 * planted["buyers"]
    rate = row["bgnbd_r"] / row["bgnbd_alpha"]
    dropout = row["bgnbd_a"] / (row["bgnbd_a"] + row["bgnbd_b"])
    value = row["gamma_gamma_p"] * row["gamma_gamma_v"] / (row["gamma_gamma_q"] - 1)
    assert rate == pytest.approx(planted["mean_rate_per_week"], rel=0.15)
    assert dropout == pytest.approx(planted["mean_dropout"], abs=0.08)
    assert value == pytest.approx(planted["mean_order_value"], rel=0.10)
    assert row["gamma_gamma_p"] == pytest.approx(planted["gamma_gamma"]["p"], rel=0.35)


def test_predictions_match_lifetimes_on_independent_summary(raw_orders, mart) -> None:
    """fct_customer_predicted_value against an independent route: the summary recomputed from raw orders with
    pandas, both models fitted by lifetimes, 12 months = 365.25 / 7 weeks."""
    from lifetimes import BetaGeoFitter, GammaGammaFitter

    orders, as_of_day = raw_orders
    want = repeat.purchase_summary(orders, as_of_day)
    got = mart("fct_customer_predicted_value").set_index("account_id").sort_index()
    assert sorted(got.index) == sorted(want.index)
    want = want.loc[got.index]
    for column, theirs in (("frequency", "frequency"), ("recency_weeks", "recency"), ("t_weeks", "T"),
                           ("monetary_value", "monetary_value")):
        assert np.allclose(got[column].astype(float), want[theirs], rtol=1e-9, atol=1e-9), column
    bg = BetaGeoFitter().fit(want["frequency"], want["recency"], want["T"])
    expected = bg.conditional_expected_number_of_purchases_up_to_time(365.25 / 7, want["frequency"],
                                                                       want["recency"], want["T"])
    assert np.allclose(got["expected_orders_12m"], expected.to_numpy(), rtol=1e-2, atol=1e-3)
    repeaters = want[want["frequency"] > 0]
    gg = GammaGammaFitter().fit(repeaters["frequency"], repeaters["monetary_value"])
    value = gg.conditional_expected_average_profit(want["frequency"], want["monetary_value"])
    assert got["predicted_value_12m"].sum() == pytest.approx((expected * value).sum(), rel=1e-2)
    assert ((got["p_alive"] > 0) & (got["p_alive"] <= 1)).all()


def test_backtest_totals_within_tolerance(raw_orders, mart) -> None:
    """The time-split backtest: the actual side equals raw orders after fitted_to (independent), and the model's
    predicted repeat orders and revenue for the 12 months to as_of are within 25% of the actual totals."""
    orders, as_of_day = raw_orders
    bt = mart("fct_customer_value_backtest").set_index("account_id")
    split = pd.Timestamp(bt["fitted_to"].iloc[0])
    assert split == as_of_day - pd.DateOffset(months=12)
    members = repeat.purchase_summary(orders, split)
    assert sorted(bt.index) == sorted(members.index)
    actual = repeat.holdout(orders, split, as_of_day).reindex(bt.index).fillna(0)
    assert (bt["actual_orders"] == actual["actual_orders"]).all()
    assert np.allclose(bt["actual_revenue"], actual["actual_revenue"], rtol=1e-9)
    predicted, observed = bt["predicted_orders"].sum(), bt["actual_orders"].sum()
    assert observed > 300
    assert predicted == pytest.approx(observed, rel=0.25)
    assert bt["predicted_revenue"].sum() == pytest.approx(bt["actual_revenue"].sum(), rel=0.25)
    # per account the model ranks: accounts it expected more from bought more
    assert np.corrcoef(bt["predicted_orders"], bt["actual_orders"])[0, 1] > 0.3


# ---------------------------------------------------------------- the Lifecycle value page


def test_lifecycle_page_shows_rules_prediction_and_backtest(sample, raw_orders, monkeypatch) -> None:
    """The Lifecycle value page in both languages: order-window and revenue retention beside NRR, the predicted
    value tiles and the backtest tiles, each against figures computed here from the raw orders."""
    from test_dashboard_apptest import assert_clean, metric, run

    from dashboards import queries as q
    from dashboards.i18n import Tr

    monkeypatch.setenv(q.ENV_WAREHOUSE, str(sample.warehouse))
    orders, as_of_day = raw_orders
    as_of_month = pd.Period(as_of_day, freq="M")
    cohorts = repeat.cohort_order_window(orders, as_of_month, WINDOW)
    cohorts["month"] = [pd.Period(c, freq="M") + k for c, k in zip(cohorts["cohort_month"], cohorts["months_since"],
                                                                     strict=True)]
    complete = cohorts[cohorts["month"] < as_of_month]
    pooled = complete.groupby("months_since")[["order_window_active", "order_window_accounts"]].sum()
    want_retention = pooled["order_window_active"] / pooled["order_window_accounts"]
    split = as_of_day - pd.DateOffset(months=12)
    members = repeat.purchase_summary(orders, split).index
    holdout = repeat.holdout(orders[orders["account_id"].isin(members)], split, as_of_day)
    for lang, label in (("zh", {}), ("en", {"lang": "English"})):
        t = Tr(lang)
        at = run("lifecycle", **label)
        assert_clean(at)
        table = [d.value for d in at.dataframe if t("order_window_retention") in d.value.columns][0]
        assert {t("revenue_retention"), t("nrr_subscription")} <= set(table.columns)
        got = table.set_index(t("months_since"))[t("order_window_retention")] / 100
        assert np.allclose(got.loc[want_retention.index], want_retention, atol=1e-9)
        assert metric(at, t("repeat_accounts")).value == t.int(orders["account_id"].nunique())
        assert metric(at, t("actual_orders")).value == t.int(holdout["actual_orders"].sum())
        assert metric(at, t("actual_revenue")).value == t.money(holdout["actual_revenue"].sum())
        top = [d.value for d in at.dataframe if t("p_alive") in d.value.columns][0]
        assert len(top) == 20 and top[t("predicted_value")].is_monotonic_decreasing
