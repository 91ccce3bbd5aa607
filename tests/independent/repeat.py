"""Repeat purchases of the accounts that buy without a subscription, from raw orders with pandas only
(docs/metrics.md#order-window-retention, #revenue-retention, #predicted-12-month-value), with the open choices
taken as the docs state them:

- an order-window account has no order with both subscription ends (end not before start) to as-of;
- active in month m when it ordered in one of the `window` calendar months ending with m;
- a purchase occasion is an account's order day; frequency = occasions after the first, recency and T in weeks
  (days / 7) from the first occasion to the last one and to the cut-off day; monetary = mean amount of the repeat
  occasions.
"""

from __future__ import annotations

import pandas as pd


def order_window_orders(orders: pd.DataFrame, as_of_day: pd.Timestamp) -> pd.DataFrame:
    """account_id, order_date (Timestamp), amount (currency) of the order-window accounts' orders to as-of."""
    o = orders[orders["order_date"] <= as_of_day].copy()
    subscription = (o["subscription_start"].notna() & o["subscription_end"].notna()
                    & (o["subscription_end"] >= o["subscription_start"]))
    with_subscription = set(o.loc[subscription, "account_id"])
    o = o[~o["account_id"].isin(with_subscription)]
    amount = o["amount_cents"] / 100 if "amount_cents" in o else o["amount"]
    return pd.DataFrame({"account_id": o["account_id"], "order_date": pd.to_datetime(o["order_date"]),
                         "amount": amount.astype(float)})


def cohort_order_window(orders: pd.DataFrame, as_of_month: pd.Period, window: int = 12) -> pd.DataFrame:
    """cohort_month x months_since: order-window accounts, those active and revenue retention (per account sets
    of order months)."""
    o = orders.assign(month=pd.PeriodIndex(pd.to_datetime(orders["order_date"]), freq="M"))
    cohort_of = o.groupby("account_id")["month"].min().rename("cohort")
    o = o.join(cohort_of, on="account_id")
    o["k"] = [(m - c).n for m, c in zip(o["month"], o["cohort"], strict=True)]
    months = o.groupby("account_id")["k"].apply(set)
    revenue = o.groupby(["cohort", "k"])["amount"].sum()
    rows = []
    for cohort, accounts in cohort_of.groupby(cohort_of):
        ids = list(accounts.index)
        for k in range((as_of_month - cohort).n + 1):
            active = sum(1 for a in ids if any(k - window < m <= k for m in months[a]))
            rows.append({"cohort_month": cohort.to_timestamp().date(), "months_since": k,
                         "order_window_accounts": len(ids), "order_window_active": active,
                         "revenue_retention": revenue.get((cohort, k), 0.0) / revenue[(cohort, 0)]})
    return pd.DataFrame(rows)


def purchase_summary(orders: pd.DataFrame, cut: pd.Timestamp) -> pd.DataFrame:
    """Per account with an order to `cut`: frequency, recency, T (weeks), monetary_value."""
    o = orders[orders["order_date"] <= cut]
    occasions = o.groupby(["account_id", "order_date"])["amount"].sum().reset_index()
    rows = []
    for account, days in occasions.groupby("account_id"):
        days = days.sort_values("order_date")
        first, last = days["order_date"].iloc[0], days["order_date"].iloc[-1]
        repeats = days["amount"].iloc[1:]
        rows.append({"account_id": account, "frequency": len(repeats), "recency": (last - first).days / 7,
                     "T": (cut - first).days / 7, "monetary_value": float(repeats.mean()) if len(repeats) else 0.0})
    return pd.DataFrame(rows).set_index("account_id")


def holdout(orders: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """Per account: order days and revenue in (start, end]."""
    o = orders[(orders["order_date"] > start) & (orders["order_date"] <= end)]
    return o.groupby("account_id").agg(actual_orders=("order_date", "nunique"), actual_revenue=("amount", "sum"))
