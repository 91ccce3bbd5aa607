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


def independent_order_window(orders: pd.DataFrame, as_of_month: pd.Period) -> pd.DataFrame:
    """cohort_month x months_since: order-window retention and revenue retention, by a different route (per account
    sets of order months)."""
    o = orders.assign(month=pd.PeriodIndex(pd.to_datetime(orders["order_date"]), freq="M"))
    first = o.groupby("account_id")["month"].min().rename("cohort")
    o = o.join(first, on="account_id")
    o["k"] = (o["month"] - o["cohort"]).apply(lambda d: d.n)
    months = o.groupby("account_id")["k"].apply(set)
    cohort_of = first
    rows = []
    revenue = o.groupby(["cohort", "k"])["amount"].sum()
    for cohort, accounts in cohort_of.groupby(cohort_of):
        ids = accounts.index
        for k in range((as_of_month - cohort).n + 1):
            active = sum(1 for a in ids if any(k - WINDOW < m <= k for m in months[a]))
            rows.append({"cohort_month": cohort.to_timestamp().date(), "months_since": k,
                         "order_window_accounts": len(ids), "order_window_active": active,
                         "revenue_retention": revenue.get((cohort, k), 0.0) / revenue[(cohort, 0)]})
    return pd.DataFrame(rows)


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
    want = independent_order_window(orders, pd.Period("1998-06", freq="M"))
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
