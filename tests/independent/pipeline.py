"""Opportunity funnel from the raw CRM exports: stages reached, stage conversion, win rate (docs/metrics.md).

Read as an analyst reads docs/metrics.md, with the choices it leaves open taken as documented in the marts' docs
(models/docs, `metric_stage_reached`, `metric_closed_at`, `metric_win_rate`):
- The funnel is the open stages of the `stages` seed in stage order; a history row names a stage by its seed name
  (or its English label, any case); rows naming no known stage say nothing about the funnel.
- Won / lost / open: the opportunity's own flags (is_closed, is_won); only a missing flag is read from the seed's
  meaning of the current stage.
- Reached S: the history shows S or a later open stage, or the deal was won. Re-entry counts once, at the first
  entry (and the owner at it). A lost deal is lost at its furthest open stage, an open deal open there. No
  history rows: the deal sits in its current stage since created_at. A deal that never entered an open stage
  (and was not won) still reached the first one ("every deal is born in the funnel").
- A reached stage never entered is inferred: entry time and owner of the next stage (in stage order) the deal
  entered; beyond the last one, of the closing stage it went to (first row), else of the close.
- Owner at entry: the history row's owner, else the current owner; department: that owner's department.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .raw import Raw, month_start
from .stats import ratio, wilson


def _stage_lookup(raw: Raw) -> dict[str, str]:
    s = raw.stages
    lookup = {name.lower(): name for name in s["stage_name"]}
    for name, label in zip(s["stage_name"], s["label_en"], strict=True):
        if label:
            lookup.setdefault(label.lower(), name)
    return lookup


def _seed(raw: Raw) -> dict[str, object]:
    s = raw.stages
    return {
        "order": s.set_index("stage_name")["stage_order"],
        "closed": s.set_index("stage_name")["is_closed"],
        "open_stages": s.loc[~s["is_closed"], ["stage_name", "stage_order"]].reset_index(drop=True),
        "won_stage": s.loc[s["is_won"], "stage_name"].iloc[0],
        "lost_stage": s.loc[s["is_closed"] & ~s["is_won"], "stage_name"].iloc[0],
    }


def opportunities(raw: Raw) -> pd.DataFrame:
    """One row per opportunity with its status (won, lost, open) and current stage mapped to the seed."""
    o = raw.opportunities.drop_duplicates("opportunity_id").copy()
    stages = raw.stages.set_index("stage_name")
    o["stage_name"] = o["stage"].str.lower().map(_stage_lookup(raw))
    stage_closed = o["stage_name"].map(stages["is_closed"])
    stage_won = o["stage_name"].map(stages["is_won"])
    is_closed = o["is_closed"].astype("object").where(o["is_closed"].notna(), stage_closed).fillna(False).astype(bool)
    is_won = o["is_won"].astype("object").where(o["is_won"].notna(), stage_won).fillna(False).astype(bool)
    o["status"] = np.where(is_won, "won", np.where(is_closed, "lost", "open"))
    return o.reset_index(drop=True)


def _entry_rows(raw: Raw, opps: pd.DataFrame) -> pd.DataFrame:
    """Every usable stage entry: the history rows, or the current stage at created_at for a deal without any."""
    h = raw.stage_history.copy()
    h["stage_name"] = h["stage"].str.lower().map(_stage_lookup(raw))
    h = h[h["stage_name"].notna() & h["entered_at"].notna() & h["opportunity_id"].isin(opps["opportunity_id"])]
    h = h[["opportunity_id", "stage_name", "entered_at", "owner_user_id", "row_number"]].assign(from_history=True)
    without = opps[~opps["opportunity_id"].isin(raw.stage_history["opportunity_id"])]
    without = without[without["stage_name"].notna() & without["created_at"].notna()]
    created = pd.DataFrame({
        "opportunity_id": without["opportunity_id"], "stage_name": without["stage_name"],
        "entered_at": without["created_at"], "owner_user_id": pd.Series(pd.NA, index=without.index, dtype="string"),
        "row_number": -1, "from_history": False,
    })
    rows = pd.concat([h, created], ignore_index=True)
    seed = _seed(raw)
    rows["stage_order"] = rows["stage_name"].map(seed["order"]).astype(int)
    rows["is_closed_stage"] = rows["stage_name"].map(seed["closed"]).astype(bool)
    return rows


def stage_entries(raw: Raw) -> pd.DataFrame:
    """First entry (time, owner) of every stage, open or closed, each opportunity actually entered."""
    opps = opportunities(raw)
    rows = _entry_rows(raw, opps).sort_values(["opportunity_id", "stage_name", "entered_at", "row_number"])
    first = rows.drop_duplicates(["opportunity_id", "stage_name"], keep="first").copy()
    current_owner = opps.set_index("opportunity_id")["owner_user_id"]
    first["owner_user_id"] = first["owner_user_id"].fillna(first["opportunity_id"].map(current_owner))
    return first.drop(columns="row_number").reset_index(drop=True)


def close_times(raw: Raw) -> pd.DataFrame:
    """Every opportunity with `closed_at` (null while open), as documented in `metric_closed_at`: the latest
    history row into the closing stage matching the outcome, else close_date (midnight), else the last stage
    entry, else created_at; never before the last open-stage entry or created_at."""
    opps = opportunities(raw)
    seed = _seed(raw)
    rows = _entry_rows(raw, opps)
    hist = rows[rows["from_history"]]
    closing_stage = opps["status"].map({"won": seed["won_stage"], "lost": seed["lost_stage"]})
    latest = hist.groupby(["opportunity_id", "stage_name"])["entered_at"].max()
    key = pd.MultiIndex.from_arrays([opps["opportunity_id"], closing_stage.fillna("")])
    from_history = pd.Series(latest.reindex(key).to_numpy(), index=opps.index)
    last_entry = opps["opportunity_id"].map(rows.groupby("opportunity_id")["entered_at"].max())
    last_open = opps["opportunity_id"].map(rows[~rows["is_closed_stage"]].groupby("opportunity_id")["entered_at"].max())
    closed_at = from_history.fillna(opps["close_date"]).fillna(last_entry).fillna(opps["created_at"])
    closed_at = pd.concat([closed_at, last_open, opps["created_at"]], axis=1).max(axis=1)
    opps["closed_at"] = closed_at.where(opps["status"] != "open").astype("datetime64[us]")
    return opps[["opportunity_id", "owner_user_id", "status", "created_at", "close_date", "closed_at", "amount_cents",
                 "account_id", "source_lead_id", "opportunity_type"]]


def stages_reached(raw: Raw) -> pd.DataFrame:
    """One row per opportunity × open stage reached: entered_at, owner, department, inferred, outcome, cohort."""
    seed = _seed(raw)
    opps = close_times(raw)
    entries = stage_entries(raw)
    open_stages = seed["open_stages"]
    first_open, last_open = int(open_stages["stage_order"].min()), int(open_stages["stage_order"].max())

    furthest = entries[~entries["is_closed_stage"]].groupby("opportunity_id")["stage_order"].max()
    opps = opps.assign(furthest=opps["opportunity_id"].map(furthest))
    opps.loc[opps["status"] == "won", "furthest"] = last_open
    opps["furthest"] = opps["furthest"].fillna(first_open).astype(int)

    grid = opps[["opportunity_id", "status", "furthest", "owner_user_id", "closed_at"]].rename(
        columns={"owner_user_id": "current_owner"}).merge(open_stages, how="cross")
    grid = grid[grid["stage_order"] <= grid["furthest"]]
    grid = grid.merge(entries[["opportunity_id", "stage_name", "entered_at", "owner_user_id"]],
                      on=["opportunity_id", "stage_name"], how="left")
    grid["is_inferred"] = grid["entered_at"].isna()

    # Inferred: the next stage in stage order actually entered; candidates are the open stages entered and the
    # closing stage matching the outcome.
    closing = opps.set_index("opportunity_id")["status"].map({"won": seed["won_stage"], "lost": seed["lost_stage"]})
    candidates = entries[~entries["is_closed_stage"]
                         | (entries["stage_name"] == entries["opportunity_id"].map(closing))]
    candidates = candidates[["opportunity_id", "stage_order", "entered_at", "owner_user_id"]].sort_values("stage_order")
    todo = grid[grid["is_inferred"]].drop(columns=["entered_at", "owner_user_id"]).sort_values("stage_order")
    filled = pd.merge_asof(todo, candidates, on="stage_order", by="opportunity_id", direction="forward",
                           allow_exact_matches=False)
    # nothing entered after it: the close, by the current owner
    none_after = filled["entered_at"].isna()
    filled.loc[none_after, "entered_at"] = filled.loc[none_after, "closed_at"]
    filled.loc[none_after, "owner_user_id"] = filled.loc[none_after, "current_owner"]
    grid = pd.concat([grid[~grid["is_inferred"]], filled], ignore_index=True)

    grid["outcome"] = np.select(
        [(grid["status"] == "won") | (grid["stage_order"] < grid["furthest"]), grid["status"] == "lost"],
        ["advanced", "lost_here"], "open_here")
    dept = raw.users.set_index("user_id")["department_id"]
    grid["department_id"] = grid["owner_user_id"].map(dept)
    grid["entered_at"] = grid["entered_at"].astype("datetime64[us]")
    grid["cohort_month"] = month_start(grid["entered_at"])
    cols = ["opportunity_id", "stage_name", "stage_order", "entered_at", "is_inferred", "owner_user_id",
            "department_id", "outcome", "status", "cohort_month"]
    return grid[cols].sort_values(["opportunity_id", "stage_order"]).reset_index(drop=True)


def _conversion(r: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    counts = pd.crosstab([r[k] for k in keys], r["outcome"])
    for c in ("advanced", "lost_here", "open_here"):
        if c not in counts.columns:
            counts[c] = 0
    out = counts.reset_index().rename(columns={"lost_here": "lost", "open_here": "open"})
    out.columns.name = None
    out["reached"] = out["advanced"] + out["lost"] + out["open"]
    decided = out["reached"] - out["open"]
    out["conversion_rate"] = ratio(out["advanced"], decided)
    out["ci_low"], out["ci_high"] = wilson(out["advanced"], decided)
    return out[[*keys, "reached", "advanced", "lost", "open", "conversion_rate", "ci_low", "ci_high"]]


def stage_conversion(raw: Raw, reached: pd.DataFrame | None = None) -> pd.DataFrame:
    """cohort_month × department × stage, plus all-departments rows (department_id missing), for every
    combination with at least one opportunity."""
    r = stages_reached(raw) if reached is None else reached
    per_dept = _conversion(r[r["department_id"].notna()], ["cohort_month", "department_id", "stage_name"])
    company = _conversion(r, ["cohort_month", "stage_name"])
    company["department_id"] = pd.Series(pd.NA, index=company.index, dtype="string")
    out = pd.concat([per_dept, company], ignore_index=True)
    out["stage_order"] = out["stage_name"].map(_seed(raw)["order"]).astype(int)
    return out


def win_rate_by_month(raw: Raw, by_owner: bool = False) -> pd.DataFrame:
    """won / (won + lost) among the deals closed in each month (optionally per current owner)."""
    c = close_times(raw)
    c = c[c["status"] != "open"].copy()
    c["month"] = month_start(c["closed_at"])
    keys = ["month", "owner_user_id"] if by_owner else ["month"]
    c["won"] = (c["status"] == "won").astype(int)
    c["lost"] = (c["status"] == "lost").astype(int)
    out = c.groupby(keys)[["won", "lost"]].sum().reset_index()
    out["win_rate"] = ratio(out["won"], out["won"] + out["lost"])
    return out
