"""Lead flow from the raw exports: conversion, MQL/SQL, response SLA, releases (docs/metrics.md#lead-conversion,
"Lead response", "Recovered lead"), with the open choices taken as documented in `metric_lead_conversion`,
`metric_lead_response` and `metric_recovered_lead`:
- converted when any source says so (converted_at, converted_opportunity_id, status, a `converted` event, an
  opportunity naming the lead as its source); converted time = converted_at, else the first `converted` event,
  else the creation of its opportunity;
- funnel flags are monotone: SQL or converted implies MQL (at the SQL / conversion time), converted implies SQL;
- the SLA clock starts at the first `assigned` or `claimed` ownership event (never a `transferred` one), the
  response is the first `contacted` event or activity on the lead at or after it; met within lead_sla_days
  workdays (China's holidays and 调休, workdays.py; boundary included), missed when later or when unanswered and
  the window has passed by as-of, else pending;
  never assigned = no status;
- final status converted > disqualified > open.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .raw import Raw, month_start
from .stats import ratio
from .workdays import sla_due, working_hours

LEAD_SLA_DAYS = 5


def _first(frame: pd.DataFrame, key: str, at: str) -> pd.Series:
    return frame.dropna(subset=[key, at]).groupby(key)[at].min()


def lead_facts(raw: Raw, sla_days: int = LEAD_SLA_DAYS) -> pd.DataFrame:
    leads = raw.leads.drop_duplicates("lead_id").set_index("lead_id")
    ev = raw.lead_events[raw.lead_events["lead_id"].notna()]
    opps = raw.opportunities.drop_duplicates("opportunity_id")
    idx = leads.index
    out = pd.DataFrame(index=idx)
    out["created_at"] = leads["created_at"]
    out["channel"] = leads["channel"]
    out["campaign_id"] = leads["campaign_id"]
    out["owner_user_id"] = leads["owner_user_id"]
    out["department_id"] = leads["owner_user_id"].map(raw.users.set_index("user_id")["department_id"])

    def first_event(kind: str) -> pd.Series:
        return _first(ev[ev["event_type"] == kind], "lead_id", "event_at").reindex(idx)

    # -- the opportunity it became, and when
    by_source = opps.dropna(subset=["source_lead_id"]).sort_values(["created_at", "opportunity_id"])
    by_source = by_source.drop_duplicates("source_lead_id").set_index("source_lead_id")
    opp_created = opps.set_index("opportunity_id")["created_at"]
    opportunity_id = leads["converted_opportunity_id"].where(
        leads["converted_opportunity_id"].notna(), by_source["opportunity_id"].reindex(idx))
    converted_event = first_event("converted")
    is_converted = (leads["converted_at"].notna() | leads["converted_opportunity_id"].notna()
                    | leads["status"].eq("converted").fillna(False) | converted_event.notna()
                    | idx.isin(by_source.index))
    converted_at = leads["converted_at"].fillna(converted_event).fillna(opportunity_id.map(opp_created))
    out["is_converted"] = is_converted.astype(bool)
    out["converted_at"] = converted_at.where(out["is_converted"])
    out["opportunity_id"] = opportunity_id

    sql_event, mql_event = first_event("sql"), first_event("mql")
    out["is_sql"] = sql_event.notna() | out["is_converted"]
    out["sql_at"] = sql_event.fillna(out["converted_at"]).where(out["is_sql"])
    out["is_mql"] = mql_event.notna() | out["is_sql"]
    out["mql_at"] = mql_event.fillna(out["sql_at"]).where(out["is_mql"])

    # -- first assignment and first response
    own = raw.ownership_events
    own = own[(own["entity_type"] == "lead") & own["entity_id"].isin(idx) & own["event_at"].notna()]
    own = own.sort_values(["entity_id", "event_at", "row_number"])
    # a `transferred` event moves a lead someone already owned: it never starts the clock
    first_assign = own[own["event_type"].isin(["assigned", "claimed"])].groupby("entity_id")["event_at"].min()
    first_assign = first_assign.reindex(idx)
    out["first_assigned_at"] = first_assign

    contacts = ev.loc[ev["event_type"] == "contacted", ["lead_id", "event_at"]].rename(columns={"event_at": "at"})
    acts = raw.activities.loc[raw.activities["lead_id"].notna(), ["lead_id", "activity_at"]].rename(
        columns={"activity_at": "at"})
    responses = pd.concat([contacts, acts]).dropna()
    responses = responses[responses["lead_id"].isin(idx)]
    responses = responses.merge(first_assign.rename("assigned_at").dropna().rename_axis("lead_id").reset_index(),
                                on="lead_id")
    responses = responses[responses["at"] >= responses["assigned_at"]]
    out["first_response_at"] = responses.groupby("lead_id")["at"].min().reindex(idx)
    out["response_hours"] = (out["first_response_at"] - out["first_assigned_at"]).dt.total_seconds() / 3600.0

    out["response_working_hours"] = [working_hours(a, r) for a, r in
                                     zip(out["first_assigned_at"], out["first_response_at"], strict=True)]
    due = sla_due(out["first_assigned_at"], sla_days)
    answered = out["first_response_at"].notna()
    status = np.select(
        [out["first_assigned_at"].isna(),
         answered & (out["first_response_at"] <= due),
         answered,
         raw.as_of > due],
        [None, "met", "missed", "missed"], "pending")
    out["sla_status"] = pd.Series(status, index=idx, dtype="object").where(out["first_assigned_at"].notna())

    # -- releases, recovery, final status
    releases = own[own["event_type"] == "released"]
    out["release_count"] = releases.groupby("entity_id").size().reindex(idx).fillna(0).astype(int)
    first_release = releases.groupby("entity_id")["event_at"].min().reindex(idx)
    out["is_recovered"] = out["is_converted"] & (out["release_count"] > 0) & (
        out["converted_at"].isna() | (first_release < out["converted_at"]))
    dq_event = ev[ev["event_type"] == "disqualified"].groupby("lead_id")["event_at"].max().reindex(idx)
    is_dq = dq_event.notna() | leads["status"].eq("disqualified").fillna(False)
    out["final_status"] = np.where(out["is_converted"], "converted", np.where(is_dq, "disqualified", "open"))
    out["disqualified_at"] = dq_event.where(out["final_status"] == "disqualified")
    out["closed_at"] = out["converted_at"].where(out["is_converted"], out["disqualified_at"])
    return out.reset_index()


def conversion_by_channel(facts: pd.DataFrame) -> pd.DataFrame:
    """Creation cohort month × channel: leads created, and those that became MQL, SQL, an opportunity."""
    f = facts.assign(cohort_month=month_start(facts["created_at"]))
    out = f.groupby(["cohort_month", "channel"], dropna=False).agg(
        leads=("lead_id", "size"), mql=("is_mql", "sum"), sql=("is_sql", "sum"), converted=("is_converted", "sum"),
    ).reset_index()
    for c in ("mql", "sql", "converted"):
        out[f"{c}_rate"] = ratio(out[c], out["leads"])
    return out


# fct_lead_flow_daily: each lead counts once on the day it reached a milestone (the lead_facts times) …
FLOW_MILESTONES = {"created": "created_at", "first_assigned": "first_assigned_at", "contacted": "first_response_at",
                   "mql": "mql_at", "sql": "sql_at", "converted": "converted_at", "disqualified": "disqualified_at",
                   "closed": "closed_at"}
# … and every `assigned`, `claimed`, `released` ownership event on a lead counts on the day it was logged
FLOW_EVENTS = ("assigned", "claimed", "released")
FLOW_COUNTS = [*FLOW_MILESTONES, *FLOW_EVENTS]


def lead_flow_daily(raw: Raw, facts: pd.DataFrame) -> pd.DataFrame:
    """flow_date × department × channel, plus company rows (department_id missing) per flow_date × channel, as
    `fct_lead_flow_daily` defines them (`metric_lead_backlog`):
    - department = the department of the lead's current owner, one per lead; a lead without one is in the company
      rows only (so company rows = department rows + unowned leads);
    - one row per day from the group's first counted flow to the as-of day, zero rows included;
    - open_backlog at day end = leads created on or before the day and not closed by its end (closed = converted or
      finally disqualified); a closed lead whose closing time is unknown never counts as open.
    """
    as_of_day = raw.as_of.normalize()
    lead_cols = ["lead_id", "department_id", "channel"]
    leads = facts[lead_cols]

    # one row per counted flow: (lead's department, channel, day, which count)
    flows = []
    for name, at in FLOW_MILESTONES.items():
        hit = facts[at].notna()
        flows.append(pd.DataFrame({"department_id": facts.loc[hit, "department_id"],
                                   "channel": facts.loc[hit, "channel"],
                                   "flow_date": facts.loc[hit, at].dt.normalize(), "count": name}))
    own = raw.ownership_events
    own = own[(own["entity_type"] == "lead") & own["event_type"].isin(FLOW_EVENTS) & own["event_at"].notna()]
    own = own[["entity_id", "event_type", "event_at"]].merge(leads, left_on="entity_id", right_on="lead_id")
    flows.append(pd.DataFrame({"department_id": own["department_id"], "channel": own["channel"],
                               "flow_date": own["event_at"].dt.normalize(), "count": own["event_type"]}))
    flows = pd.concat(flows, ignore_index=True)
    flows = flows[flows["channel"].notna() & (flows["flow_date"] <= as_of_day)]
    flows["count"] = pd.Categorical(flows["count"], categories=FLOW_COUNTS)

    # backlog: +1 on the creation day, -1 on the closing day (a lead closed before it was created never opens)
    created = facts["created_at"].dt.normalize()
    closed = facts["closed_at"].dt.normalize()
    is_closed = facts["final_status"] != "open"
    counted = facts["created_at"].notna() & ~(is_closed & (closed.isna() | (closed < created)))
    opens = facts.loc[counted, ["department_id", "channel"]].assign(flow_date=created[counted], delta=1)
    shut = counted & is_closed
    closes = facts.loc[shut, ["department_id", "channel"]].assign(flow_date=closed[shut], delta=-1)
    deltas = pd.concat([opens, closes], ignore_index=True)
    deltas = deltas[deltas["channel"].notna() & (deltas["flow_date"] <= as_of_day)]

    def grouped(keys: list[str]) -> pd.DataFrame:
        f = flows.dropna(subset=keys)
        counts = f.groupby([*keys, "flow_date", "count"], observed=False).size().unstack("count", fill_value=0)
        counts = counts[counts.sum(axis=1) > 0]
        first = f.groupby(keys)["flow_date"].min().rename("first").reset_index()
        # every day from the group's first flow to the as-of day
        days = ((as_of_day - first["first"]).dt.days + 1).clip(lower=0)
        spine = first.loc[first.index.repeat(days), keys].reset_index(drop=True)
        offsets = np.concatenate([np.arange(n) for n in days]) if len(days) else np.array([], dtype=int)
        spine["flow_date"] = (first["first"].repeat(days).to_numpy() + pd.to_timedelta(offsets, unit="D"))
        out = spine.merge(counts.reset_index(), on=[*keys, "flow_date"], how="left")
        out[FLOW_COUNTS] = out[FLOW_COUNTS].fillna(0).astype("int64")
        d = deltas.dropna(subset=keys).groupby([*keys, "flow_date"])["delta"].sum().rename("delta").reset_index()
        out = out.merge(d, on=[*keys, "flow_date"], how="left").fillna({"delta": 0})
        out = out.sort_values([*keys, "flow_date"])
        out["open_backlog"] = out.groupby(keys)["delta"].cumsum().astype("int64")
        return out.drop(columns="delta")

    per_dept = grouped(["department_id", "channel"])
    company = grouped(["channel"])
    company.insert(0, "department_id", pd.Series(pd.NA, index=company.index, dtype="string"))
    out = pd.concat([per_dept, company], ignore_index=True)
    out["flow_date"] = out["flow_date"].astype("datetime64[us]")
    return out[["flow_date", "department_id", "channel", *FLOW_COUNTS, "open_backlog"]]
