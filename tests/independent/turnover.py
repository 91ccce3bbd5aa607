"""Customer resources (客户资源) per rep and month, replayed from the public-pool log (docs/metrics.md#holdings),
with the choices the definitions leave open taken as documented in `metric_holdings_turnover`:
- `assigned`, `claimed`, `transferred` (with a user) start a holding for that user and end the holder's;
  `released` ends it. Same-instant events apply in the order released, assigned, claimed, transferred.
- A lead also leaves its holder when it closes: at conversion (`converted`) or at its final disqualification;
  ownership logged after the lead closed is ignored. Accounts stay held until released or moved.
- holdings_end = held at the end of the month (at as-of for the running month); holdings_start = held at the
  end of the previous month. Turnover rate = (converted + released) / mean(holdings_start, holdings_end).
- Active rep: role sales or sdr, employed at some point of the month.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .leads import lead_facts
from .raw import Raw
from .stats import ratio

_APPLY_ORDER = {"released": 0, "assigned": 1, "claimed": 2, "transferred": 3}
_STARTS = {"assigned", "claimed", "transferred"}


def holdings_intervals(raw: Raw, facts: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per holding: entity, user, how it started, [start, end) and why it ended (None = still held)."""
    facts = lead_facts(raw) if facts is None else facts
    ev = raw.ownership_events
    ev = ev[ev["entity_type"].isin(["lead", "account"]) & ev["entity_id"].notna() & ev["event_at"].notna()
            & ev["event_type"].isin(list(_APPLY_ORDER))].copy()
    # a lead's log ends when the lead closes
    lead_close = facts.set_index("lead_id")["closed_at"]
    close_reason = facts.set_index("lead_id")["final_status"]
    ev["closed_at"] = np.where(ev["entity_type"] == "lead", ev["entity_id"].map(lead_close), pd.NaT)
    ev["closed_at"] = pd.to_datetime(ev["closed_at"]).astype("datetime64[us]")
    ev = ev[ev["closed_at"].isna() | (ev["event_at"] <= ev["closed_at"])]
    ev["apply"] = ev["event_type"].map(_APPLY_ORDER)
    ev = ev.sort_values(["entity_type", "entity_id", "event_at", "apply", "row_number"]).reset_index(drop=True)

    same = (ev["entity_type"] == ev["entity_type"].shift(-1)) & (ev["entity_id"] == ev["entity_id"].shift(-1))
    ev["next_at"] = ev["event_at"].shift(-1).where(same)
    ev["next_type"] = ev["event_type"].shift(-1).where(same)

    h = ev[ev["event_type"].isin(_STARTS) & ev["user_id"].notna()].copy()
    h["ended_at"] = h["next_at"]
    h["end_reason"] = np.where(h["next_type"].eq("released").fillna(False), "released",
                               np.where(h["next_type"].notna(), "moved", None))
    # still held at the last logged event: a closed lead leaves at its close
    closes = h["ended_at"].isna() & h["closed_at"].notna()
    h.loc[closes, "ended_at"] = h.loc[closes, "closed_at"]
    h.loc[closes, "end_reason"] = h.loc[closes, "entity_id"].map(close_reason)
    return h.rename(columns={"event_at": "started_at", "event_type": "start_type"})[
        ["entity_type", "entity_id", "user_id", "start_type", "started_at", "ended_at", "end_reason"]
    ].reset_index(drop=True)


def _months(first: pd.Timestamp, last: pd.Timestamp) -> pd.DatetimeIndex:
    return pd.date_range(first.to_period("M").start_time, last.to_period("M").start_time, freq="MS").astype(
        "datetime64[us]")


def turnover_by_rep_month(raw: Raw, intervals: pd.DataFrame | None = None) -> pd.DataFrame:
    """month × user: holdings_start, holdings_end, assigned, claimed, converted, released, turnover_rate."""
    h = holdings_intervals(raw) if intervals is None else intervals
    as_of = raw.as_of
    months = _months(h["started_at"].min(), as_of)
    rows = []
    for m in months:
        nxt = m + pd.offsets.MonthBegin(1)
        started = h[h["started_at"] < m]
        held_start = started[started["ended_at"].isna() | (started["ended_at"] >= m)]
        if nxt > as_of:  # running month: at as-of
            in_now = h[h["started_at"] <= as_of]
            held_end = in_now[in_now["ended_at"].isna() | (in_now["ended_at"] > as_of)]
        else:
            in_now = h[h["started_at"] < nxt]
            held_end = in_now[in_now["ended_at"].isna() | (in_now["ended_at"] >= nxt)]
        began = h[(h["started_at"] >= m) & (h["started_at"] < nxt)]
        ended = h[(h["ended_at"] >= m) & (h["ended_at"] < nxt)]
        parts = {
            "holdings_start": held_start.groupby("user_id").size(),
            "holdings_end": held_end.groupby("user_id").size(),
            "assigned": began[began["start_type"] == "assigned"].groupby("user_id").size(),
            "claimed": began[began["start_type"] == "claimed"].groupby("user_id").size(),
            "converted": ended[ended["end_reason"] == "converted"].groupby("user_id").size(),
            "released": ended[ended["end_reason"] == "released"].groupby("user_id").size(),
        }
        frame = pd.DataFrame(parts).fillna(0).astype(int)
        frame.index.name = "user_id"
        frame = frame.reset_index()
        frame.insert(0, "month", m)
        rows.append(frame)
    out = pd.concat(rows, ignore_index=True)
    mean = (out["holdings_start"] + out["holdings_end"]) / 2.0
    out["turnover_rate"] = ratio(out["converted"] + out["released"], mean)
    return out


def active_reps(raw: Raw, months: pd.Series) -> pd.DataFrame:
    """department × month: reps (sales, sdr) employed at some point of the month."""
    u = raw.users[raw.users["role"].isin(["sales", "sdr"])]
    rows = []
    for m in pd.Series(months).drop_duplicates():
        nxt = m + pd.offsets.MonthBegin(1)
        employed = (u["hired_at"].isna() | (u["hired_at"] < nxt)) & (u["left_at"].isna() | (u["left_at"] >= m))
        counts = u[employed].groupby("department_id").size().rename("active_reps").reset_index()
        counts.insert(0, "month", m)
        rows.append(counts)
    return pd.concat(rows, ignore_index=True)


TURNOVER_COUNTS = ["holdings_start", "holdings_end", "assigned", "claimed", "converted", "released"]


def turnover_by_department_month(raw: Raw, rep_months: pd.DataFrame) -> pd.DataFrame:
    """month × department (the holder's department, users), plus company rows (department_id missing): the rep
    rows summed, active reps, turnover rate and holdings per rep = holdings_end / active reps."""
    dept = raw.users.set_index("user_id")["department_id"]
    rows = rep_months.assign(department_id=rep_months["user_id"].map(dept))
    per_dept = rows.groupby(["month", "department_id"])[TURNOVER_COUNTS].sum().reset_index()
    company = rows.groupby("month")[TURNOVER_COUNTS].sum().reset_index()
    reps = active_reps(raw, rep_months["month"])
    company_reps = reps.groupby("month")["active_reps"].sum().reset_index()
    out = pd.concat([
        per_dept.merge(reps, on=["month", "department_id"], how="outer"),
        company.merge(company_reps, on="month", how="outer").assign(department_id=pd.NA),
    ], ignore_index=True).fillna(dict.fromkeys([*TURNOVER_COUNTS, "active_reps"], 0))
    mean = (out["holdings_start"] + out["holdings_end"]) / 2
    out["turnover_rate"] = ratio(out["converted"] + out["released"], mean)
    out["holdings_per_rep"] = ratio(out["holdings_end"], out["active_reps"])
    return out
