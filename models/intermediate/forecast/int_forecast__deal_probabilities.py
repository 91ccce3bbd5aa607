"""Win probabilities of the deals open at the as-of instant and at every past month end (the backtest), one row
per instant x open deal (docs/metrics.md#forecast-win-probability). The survival work is numpy, in
closedloop.forecast (pure functions, checked against lifelines in tests); this model only moves frames: stage visits
and deals in, probabilities out. At each past month end only what was known then is used: stages entered by then,
closes dated by then."""

import numpy as np
import pandas as pd

from closedloop import forecast as F
from closedloop.frames import to_pandas, to_result

COLUMNS = {
    "as_of_at": "datetime64[us]", "is_current": "bool", "opportunity_id": "string", "department_id": "string",
    "stage_name": "string", "stage_order": "int32", "entered_stage_at": "datetime64[us]",
    "days_in_stage": "float64", "amount": "float64", "p_win": "float64", "p_win_month": "float64",
    "p_win_quarter": "float64", "p_win_half_year": "float64", "p_win_horizon": "float64",
    "expected_close_at": "datetime64[us]", "estimate_level": "string", "estimate_cases": "int64",
    "p_stage_seed": "float64", "p_closed_only": "float64", "is_won_within_horizon": "boolean",
}
EPOCH = np.datetime64("1970-01-01T00:00:00", "us")


def days(series: pd.Series) -> np.ndarray:
    """Timestamps as float days since the epoch, nan for null."""
    values = pd.to_datetime(series).to_numpy(dtype="datetime64[us]")
    out = (values - EPOCH).astype("timedelta64[us]").astype("int64") / 86_400e6
    return np.where(np.isnat(values), np.nan, out)


def stamp(d: np.ndarray) -> np.ndarray:
    """Float days since the epoch back to timestamps (microseconds); nan to NaT."""
    us = np.where(np.isnan(d), 0, np.round(d * 86_400e6)).astype("int64")
    out = EPOCH + us.astype("timedelta64[us]")
    out[np.isnan(d)] = np.datetime64("NaT")
    return out


def model(dbt, session):
    dbt.config(materialized="table")
    min_cases = int(dbt.config.get("min_cases") or 30)
    horizon = float(dbt.config.get("horizon_days") or 180)
    fiscal_start = int(dbt.config.get("fiscal_year_start_month") or 1)

    stages = to_pandas(dbt.ref("int_forecast__stages"))
    open_stages = stages[~stages["is_closed"].astype(bool)].sort_values("stage_order")
    orders = open_stages["stage_order"].astype(int)
    seed_p = dict(zip(orders, open_stages["win_probability"].astype(float), strict=True))
    exit_codes = {name: (F.WON if won else F.LOST) if closed else F.ADVANCE + int(order)
                  for name, order, closed, won in stages[["stage_name", "stage_order", "is_closed", "is_won"]]
                  .itertuples(index=False, name=None)}
    stage_names = dict(zip(orders, open_stages["stage_name"], strict=True))
    first_stage = int(open_stages["stage_order"].min()) if len(open_stages) else 1

    opps = to_pandas(dbt.ref("fct_opportunities"), ["opportunity_id", "department_id", "created_at", "closed_at",
                                                     "is_closed", "is_won", "amount"])
    opps = opps.sort_values("opportunity_id", kind="stable")
    visits_df = to_pandas(dbt.ref("fct_opportunity_stages"), ["opportunity_id", "stage_order", "department_id",
                                                               "entered_at", "exited_at", "next_stage_name"])
    visits_df = visits_df.sort_values(["opportunity_id", "stage_order"], kind="stable")
    # a ref nested in a subscript is invisible to dbt's parser: read the frame first
    as_of = to_pandas(dbt.ref("int_as_of"))
    as_of_at = pd.to_datetime(as_of["as_of_at"]).iloc[0]

    opp_ids = opps["opportunity_id"].to_numpy(dtype=object)
    created, closed = days(opps["created_at"]), days(opps["closed_at"])
    closed = np.where(opps["is_closed"].astype(bool).to_numpy(), closed, np.nan)
    won = opps["is_won"].astype(bool).to_numpy()
    amount = opps["amount"].astype(float).to_numpy()
    opp_dept = opps["department_id"].astype(object).where(opps["department_id"].notna(), None).to_numpy()
    index = pd.Index(opp_ids)
    vi = index.get_indexer(visits_df["opportunity_id"].to_numpy(dtype=object))
    visits = F.Visits(
        opportunity=visits_df["opportunity_id"].to_numpy(dtype=object),
        stage=visits_df["stage_order"].astype(int).to_numpy(),
        department=visits_df["department_id"].astype(object).where(visits_df["department_id"].notna(), None)
        .to_numpy(),
        entered=days(visits_df["entered_at"]),
        exited=days(visits_df["exited_at"]),
        exit_code=np.array([exit_codes.get(x, F.CENSORED) if isinstance(x, str) else F.CENSORED
                            for x in visits_df["next_stage_name"]], dtype=int),
        closed=closed[vi] if len(vi) else np.zeros(0),
        won=won[vi] if len(vi) else np.zeros(0, bool),
    )

    now = days(pd.Series([as_of_at]))[0]
    now_ts = np.datetime64(as_of_at.to_datetime64(), "us")
    periods = F.period_ends(now_ts, fiscal_start)
    # days ahead the timing densities reach: a year (for the expected close month), or the horizon if longer
    grid = max(365, int(np.ceil(horizon)))
    instants = [(now, True)]
    # every past month end (the first instant of the next month) whose horizon has fully passed by the as-of
    if len(created) and not np.isnan(created).all():
        first = stamp(np.array([np.nanmin(created)]))[0].astype("datetime64[M]") + np.timedelta64(1, "M")
        last = (now_ts - np.timedelta64(int(horizon * 86_400e6), "us")).astype("datetime64[M]")
        month = first
        while month <= last:
            # the month's last second: an event dated the 1st of the next month (date-only exports put it at
            # 00:00) is not known at the month end
            instants.append((days(pd.Series([month.astype("datetime64[us]")]))[0] - 1 / 86_400, False))
            month = month + np.timedelta64(1, "M")

    frames = []
    for t, is_current in instants:
        if not is_current and not (closed <= t).any():
            continue  # nothing had closed yet: no history to forecast from
        deals = F.open_at(visits, opp_ids, created, closed, first_stage, opp_dept, t)
        if len(deals.opportunity) == 0:
            continue
        chain = F.fit_chain(visits, t, min_cases, grid)
        closed_only = F.closed_only_rates(visits, t)
        if is_current:
            spans = [days(pd.Series([periods[k][1].astype("datetime64[us]")]))[0] - t
                     for k in ("month", "quarter", "half_year")]
        else:
            spans = [np.nan, np.nan, np.nan]
        scored = F.score_open(deals, chain, closed_only, [*[0.0 if np.isnan(s) else s for s in spans], horizon])
        rows = index.get_indexer(deals.opportunity)
        outcome = None
        if not is_current:
            outcome = won[rows] & (closed[rows] > t) & (closed[rows] <= t + horizon)
        frames.append(pd.DataFrame({
            "as_of_at": stamp(np.full(len(rows), t)),
            "is_current": is_current,
            "opportunity_id": deals.opportunity,
            "department_id": deals.department,
            "stage_name": pd.Series(deals.stage).map(stage_names).to_numpy(dtype=object),
            "stage_order": deals.stage,
            "entered_stage_at": stamp(deals.entered),
            "days_in_stage": deals.days_in,
            "amount": amount[rows],
            "p_win": scored.p_win,
            "p_win_month": scored.within[0] if is_current else np.nan,
            "p_win_quarter": scored.within[1] if is_current else np.nan,
            "p_win_half_year": scored.within[2] if is_current else np.nan,
            "p_win_horizon": scored.within[3],
            "expected_close_at": stamp(t + scored.median_days_to_win),
            "estimate_level": scored.level,
            "estimate_cases": scored.cases,
            "p_stage_seed": pd.Series(deals.stage).map(seed_p).to_numpy(dtype=float),
            "p_closed_only": scored.p_closed_only,
            "is_won_within_horizon": outcome if outcome is not None else pd.NA,
        }))
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame({c: [] for c in COLUMNS})
    # typed even when empty, so the table's columns never come out as nulls
    return to_result(frame[list(COLUMNS)].astype(COLUMNS), session)
