"""Lifecycle value per account from the raw orders (docs/metrics.md#lifetime-value), with the open choices taken as
documented in `metric_lifetime_value`, `metric_referral_revenue` and `metric_renewal_rate`:
- the accounts: the accounts export plus any account an order, opportunity or ticket names (dim_account);
- lifetime value = sum of the account's orders dated on or before the as-of day, any order type;
- referral revenue = sum of the lifetime values of the accounts naming it in referred_by_account_id (direct only);
- a subscription = an order with start and end, end not before start; for the renewal rate only `new` and
  `renewal` orders count (add-ons renew with the main contract); ended when its end is on or before the as-of
  day; renewed when the account has a `renewal` order starting within 7 days of that end.
Amounts are integer cents.
"""

from __future__ import annotations

import pandas as pd

from .raw import Raw

# dbt var customer_renewal_match_days
RENEWAL_MATCH_DAYS = 7
ORDER_TYPES = ("new", "renewal", "upsell", "cross_sell", "service")


def account_value(raw: Raw) -> pd.DataFrame:
    as_of_day = raw.as_of.normalize()
    orders = raw.orders[raw.orders["account_id"].notna() & (raw.orders["order_date"] <= as_of_day)]
    accounts = raw.accounts.drop_duplicates("account_id").set_index("account_id")
    # every account the export knows of: the accounts table, and (as dim_account documents) any account an order,
    # opportunity or ticket names although the accounts export lacks it
    referenced = pd.concat([raw.orders["account_id"], raw.opportunities["account_id"], raw.tickets["account_id"]])
    ids = accounts.index.union(pd.Index(referenced.dropna().unique())).rename("account_id")
    out = pd.DataFrame(index=ids)
    by_type = orders.pivot_table(index="account_id", columns="order_type", values="amount_cents", aggfunc="sum")
    for t in ORDER_TYPES:
        col = by_type[t] if t in by_type.columns else pd.Series(dtype="Int64")
        out[f"revenue_{t}_cents"] = col.reindex(ids).fillna(0).astype("int64")
    out["lifetime_value_cents"] = orders.groupby("account_id")["amount_cents"].sum().reindex(ids).fillna(0).astype(
        "int64")
    out["order_count"] = orders.groupby("account_id").size().reindex(ids).fillna(0).astype(int)
    out["first_order_date"] = orders.groupby("account_id")["order_date"].min().reindex(ids)
    referred_by = accounts["referred_by_account_id"].reindex(ids)
    out["referred_by_account_id"] = referred_by
    out["referral_revenue_cents"] = (out.groupby(referred_by)["lifetime_value_cents"].sum()
                                     .reindex(ids).fillna(0).astype("int64"))
    out["referred_accounts"] = referred_by.value_counts().reindex(ids).fillna(0).astype(int)

    subs = orders[orders["subscription_start"].notna() & orders["subscription_end"].notna()
                  & (orders["subscription_end"] >= orders["subscription_start"])]
    main = subs[subs["order_type"].isin(["new", "renewal"])]
    ended = main[main["subscription_end"] <= as_of_day]
    renewals = orders[orders["order_type"] == "renewal"][["account_id", "subscription_start"]].rename(
        columns={"subscription_start": "renewal_start"})
    pairs = ended[["order_id", "account_id", "subscription_end"]].merge(renewals, on="account_id")
    gap = (pairs["renewal_start"] - pairs["subscription_end"]).abs()
    renewed_ids = pairs.loc[gap <= pd.Timedelta(days=RENEWAL_MATCH_DAYS), "order_id"].unique()
    renewed = ended[ended["order_id"].isin(renewed_ids)]
    out["subscription_count"] = subs.groupby("account_id").size().reindex(ids).fillna(0).astype(int)
    out["subscriptions_ended"] = ended.groupby("account_id").size().reindex(ids).fillna(0).astype(int)
    out["subscriptions_renewed"] = renewed.groupby("account_id").size().reindex(ids).fillna(0).astype(int)
    return out.reset_index()
