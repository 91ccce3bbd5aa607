"""The dashboard pages' rolled-up figures recomputed from the row-grain marts with pandas (fct_leads,
fct_opportunities, dim_account, fct_customer_value, fct_followups): what tests/test_rollups.py holds the page
queries to. Written from the metric definitions the page queries document, not from their SQL or the rollups'.

Every function takes the mart frames already limited to what the viewer may see and the filters of the page
(`departments`, `channels`, `grades`: None = not filtered), and a window as half-open days [start, end).
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd


def _day(col: pd.Series) -> pd.Series:
    return pd.to_datetime(col).dt.normalize()


def in_window(col: pd.Series, start: date, end: date) -> pd.Series:
    day = _day(col)
    return (day >= pd.Timestamp(start)) & (day < pd.Timestamp(end))


def filtered(frame: pd.DataFrame, departments=None, channels=None, grades=None, *, channel_col: str = "channel",
             grade_col: str = "grade", department_col: str = "department_id") -> pd.DataFrame:
    keep = pd.Series(True, index=frame.index)
    if departments:
        keep &= frame[department_col].isin(departments)
    if channels:
        keep &= frame[channel_col].isin(channels)
    if grades:
        keep &= frame[grade_col].isin(grades)
    return frame[keep]


def descendants(departments: pd.DataFrame, roots) -> set[str]:
    """The departments under `roots` (themselves included), walking parent links."""
    out, frontier = set(roots), set(roots)
    while frontier:
        frontier = set(departments.loc[departments.parent_department_id.isin(frontier), "department_id"]) - out
        out |= frontier
    return out


def lead_kpis(leads: pd.DataFrame, start: date, end: date) -> dict:
    """The Overview's lead tiles for one window; the conversion cohort is the six months before the window."""
    cohort_start = (pd.Timestamp(start) - pd.DateOffset(months=6)).date()
    created = in_window(leads.created_at, start, end)
    cohort = in_window(leads.created_at, cohort_start, start)
    assigned = in_window(leads.first_assigned_at, start, end)
    return {"new_leads": int(created.sum()), "mqls": int(in_window(leads.mql_at, start, end).sum()),
            "cohort_leads": int(cohort.sum()), "cohort_converted": int((cohort & leads.is_converted).sum()),
            "sla_calc": int((assigned & leads.sla_status.isin(["met", "missed"])).sum()),
            "sla_met": int((assigned & (leads.sla_status == "met")).sum())}


def opportunity_kpis(opps: pd.DataFrame, start: date, end: date) -> dict:
    """The Overview's opportunity tiles for one window: created, won and closed in it, open at its end (created
    before the end and not closed before it)."""
    closed_in = in_window(opps.closed_at, start, end)
    open_at_end = (_day(opps.created_at) < pd.Timestamp(end)) & ~(_day(opps.closed_at) < pd.Timestamp(end))
    won = closed_in & opps.is_won.fillna(False).astype(bool)
    amount = opps.amount.astype(float)
    return {"opps_created": int(in_window(opps.created_at, start, end).sum()), "won_deals": int(won.sum()),
            "won_revenue": float(amount[won].sum()),
            "closed_deals": int((closed_in & opps.is_closed.fillna(False).astype(bool)).sum()),
            "open_pipeline": float(amount[open_at_end].sum()), "open_deals": int(open_at_end.sum())}


def lead_funnel(leads: pd.DataFrame, opps: pd.DataFrame, start: date, end: date) -> pd.DataFrame:
    """Leads created in the window per channel (and the total, channel None): leads, mql, sql, opportunities, won."""
    cohort = leads[in_window(leads.created_at, start, end)]
    won = set(opps.loc[opps.is_won.fillna(False).astype(bool), "opportunity_id"])
    frame = pd.DataFrame({"channel": cohort.channel, "leads": 1, "mql": cohort.is_mql.astype(int),
                          "sql": cohort.is_sql.astype(int), "opportunities": cohort.is_converted.astype(int),
                          "won": cohort.opportunity_id.isin(won).astype(int)})
    by_channel = frame.groupby("channel", dropna=False).sum().reset_index()
    total = frame.drop(columns="channel").sum().to_frame().T.assign(channel=None)
    return pd.concat([total, by_channel], ignore_index=True)


def duplicates_by_channel(leads: pd.DataFrame, start: date, end: date) -> pd.DataFrame:
    cohort = leads[in_window(leads.created_at, start, end)]
    out = cohort.groupby("channel", dropna=False).agg(leads=("lead_id", "size"), duplicates=("is_duplicate", "sum"))
    return out.reset_index()


def pool_summary(leads: pd.DataFrame, start: date, end: date) -> dict:
    released = leads[in_window(leads.first_released_at, start, end)]
    return {"released_leads": len(released), "recovered": int(released.is_recovered.fillna(False).sum()),
            "still_open": int((released.final_status == "open").sum()),
            "disqualified": int((released.final_status == "disqualified").sum())}


def response_distribution(leads: pd.DataFrame, bounds, start: date, end: date) -> pd.DataFrame:
    """Leads first assigned in the window with a response, by band (bounds[i] <= hours < bounds[i + 1]) and status."""
    answered = leads[in_window(leads.first_assigned_at, start, end) & leads.response_hours.notna()]
    band = np.searchsorted(np.asarray(bounds[1:], dtype=float), answered.response_hours.to_numpy(), side="right")
    frame = pd.DataFrame({"band": band, "sla_status": answered.sla_status.to_numpy()})
    return frame.groupby(["band", "sla_status"], dropna=False).size().rename("leads").reset_index()


def sla_by_department(leads: pd.DataFrame, start: date, end: date) -> pd.DataFrame:
    assigned = leads[in_window(leads.first_assigned_at, start, end)]
    out = assigned.groupby("department_id", dropna=False).agg(
        met=("sla_status", lambda s: int((s == "met").sum())),
        missed=("sla_status", lambda s: int((s == "missed").sum())),
        pending=("sla_status", lambda s: int((s == "pending").sum())),
        median_response_hours=("response_hours", "median")).reset_index()
    decided = out.met + out.missed
    out["compliance"] = (out.met / decided.where(decided > 0)).astype(float)
    return out


def value_by(customers: pd.DataFrame, accounts: pd.DataFrame, dim: str, end: date) -> pd.DataFrame:
    """Customers whose first order came before `end` by grade or source channel ('—' for none)."""
    frame = customers[customers.first_order_date.notna()
                      & (pd.to_datetime(customers.first_order_date) < pd.Timestamp(end))]
    frame = frame.merge(accounts[["account_id", "source_channel"]], on="account_id", how="left")
    col = {"grade": "grade", "channel": "source_channel"}[dim]
    frame = frame.assign(key=frame[col].fillna("—"))
    money = ["lifetime_value", "revenue_new", "revenue_renewal", "revenue_upsell", "revenue_cross_sell",
             "revenue_service", "referral_revenue"]
    frame[money] = frame[money].astype(float)
    out = frame.groupby("key").agg(customers=("account_id", "size"), active=("is_active", "sum"),
                                   churned=("churned_at", "count"),
                                   avg_lifetime_value=("lifetime_value", "mean"),
                                   **{m: (m, "sum") for m in money})
    return out.reset_index()


def followups_by_owner(followups: pd.DataFrame) -> pd.DataFrame:
    counts = pd.crosstab([followups.owner_user_id.fillna("∅"), followups.department_id.fillna("∅")],
                         followups.status)
    for status in ("overdue", "due", "upcoming", "done"):
        if status not in counts:
            counts[status] = 0
    counts = counts[["overdue", "due", "upcoming", "done"]]
    counts.columns.name = None
    return counts.reset_index()


def followups_earned(followups: pd.DataFrame, opps: pd.DataFrame) -> pd.DataFrame:
    won = opps[opps.is_won.fillna(False).astype(bool)].set_index("opportunity_id").amount.astype(float)
    revenue = followups.recovered_opportunity_id.map(won)
    frame = followups.assign(done=(followups.status == "done").astype(int),
                             recovered=followups.is_recovered.fillna(False).astype(int),
                             recovered_won=followups.recovered_opportunity_id.isin(won.index).astype(int),
                             recovered_revenue=revenue.fillna(0.0))
    out = frame.groupby("reason", dropna=False).agg(followups=("followup_id", "size"), done=("done", "sum"),
                                                    recovered=("recovered", "sum"),
                                                    recovered_won=("recovered_won", "sum"),
                                                    recovered_revenue=("recovered_revenue", "sum"))
    return out.reset_index()


def predicted_value(predicted: pd.DataFrame, bounds) -> tuple[dict, pd.DataFrame]:
    """The Lifecycle page's predicted-value tiles (accounts, value, orders, mean P(alive)) and its distribution by
    band (bounds[i] <= value < bounds[i + 1])."""
    tiles = {"accounts": len(predicted), "predicted_value_12m": float(predicted.predicted_value_12m.sum()),
             "expected_orders_12m": float(predicted.expected_orders_12m.sum()),
             "p_alive": float(predicted.p_alive.mean()) if predicted.p_alive.notna().any() else np.nan}
    band = np.searchsorted(np.asarray(bounds[1:], dtype=float), predicted.predicted_value_12m.to_numpy(), side="right")
    bands = (predicted.assign(band=band).groupby("band")
             .agg(accounts=("account_id", "size"), predicted_value_12m=("predicted_value_12m", "sum")).reset_index())
    return tiles, bands


def backtest_deciles(backtest: pd.DataFrame) -> pd.DataFrame:
    """Accounts ranked by predicted orders (then id) cut into ten groups as equal as can be, the first ones one
    larger when the count does not divide by ten."""
    ranked = backtest.sort_values(["predicted_orders", "account_id"]).reset_index(drop=True)
    n = len(ranked)
    sizes = [n // 10 + (1 if i < n % 10 else 0) for i in range(10)]
    ranked["decile"] = np.repeat(np.arange(1, 11), sizes)
    out = ranked.groupby("decile").agg(fitted_to=("fitted_to", "min"), as_of_date=("as_of_date", "max"),
                                       accounts=("account_id", "size"), predicted_orders=("predicted_orders", "sum"),
                                       actual_orders=("actual_orders", "sum"),
                                       predicted_revenue=("predicted_revenue", "sum"),
                                       actual_revenue=("actual_revenue", "sum"))
    return out.reset_index()


def feedback_reasons(leads: pd.DataFrame, start: date, end: date) -> pd.DataFrame:
    """Leads disqualified in the window, per disqualify reason."""
    out = leads[in_window(leads.disqualified_at, start, end) & leads.disqualify_reason.notna()]
    return out.groupby("disqualify_reason").size().rename("leads").rename_axis("reason").reset_index()


def top_persons(persons: pd.DataFrame, leads: pd.DataFrame, accounts: pd.DataFrame, limit: int) -> pd.DataFrame:
    """The Journey page's opening list: persons by leads (counted from fct_leads), then identifiers (every count
    dim_person keeps, leads included), then person id; with their account's name."""
    counted = persons.drop(columns="lead_count").merge(
        leads.groupby("person_id").size().rename("lead_count").reset_index(), on="person_id", how="left")
    counted["lead_count"] = counted.lead_count.fillna(0).astype("int64")
    kinds = [c for c in persons.columns if c.endswith("_count") and c != "lead_count"]
    counted["identifiers"] = counted[kinds].sum(axis=1).astype("int64") + counted.lead_count
    top = counted.sort_values(["lead_count", "identifiers", "person_id"], ascending=[False, False, True])
    top = top.head(limit).assign(account_name=lambda x: x.account_id.map(
        accounts.set_index("account_id").account_name))
    return top[["person_id", "lead_count", "identifiers", "first_lead_id", "account_id", "account_name",
                "is_customer"]].reset_index(drop=True)


def followup_items(followups: pd.DataFrame, opps: pd.DataFrame, customers: pd.DataFrame, statuses, limit: int
                   ) -> pd.DataFrame:
    """The Follow-ups page's list: open follow-ups by urgency (overdue, then due), then worth (the lost deal's
    amount, else the account's lifetime value, each only when the viewer sees it), then due date and id."""
    f = followups[followups.status.isin(statuses)][["followup_id", "status", "entity_type", "entity_id",
                                                     "account_id", "due_at"]]
    amount = f.entity_id.map(opps.set_index("opportunity_id").amount).where(f.entity_type == "opportunity")
    lifetime = f.account_id.map(customers.set_index("account_id").lifetime_value)
    f = f.assign(value=amount.astype(float).fillna(lifetime.astype(float)),
                 urgency=f.status.map({"overdue": 0, "due": 1}).fillna(2))
    f = f.assign(worth=-f.value.fillna(0)).sort_values(["urgency", "worth", "due_at", "followup_id"])
    return f.head(limit)[["followup_id", "status", "value"]].reset_index(drop=True)
