"""`closedloop summary`: the headline numbers of the meeting, printed from the marts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from closedloop.status import as_of, connect_read_only, read_error

# Stage steps compared between departments only count departments with this many decided opportunities,
# so a team with three deals is not called the best.
MIN_DECIDED = 30


@dataclass(frozen=True)
class Headlines:
    as_of: object
    month: object
    new_leads: int
    new_leads_previous: int
    lead_to_opportunity_rate: float | None
    win_rate: float | None
    win_rate_previous: float | None
    stage_name: str | None
    best: tuple[str, float, int] | None
    worst: tuple[str, float, int] | None
    nrr_12: float | None


def _one(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None):
    rows = con.execute(sql, params or []).fetchall()
    return rows[0] if rows else None


def headlines(con: duckdb.DuckDBPyConnection) -> Headlines:
    month = _one(con, "select as_of_month from intermediate.int_as_of")[0]
    leads = _one(con, """
        select count(*) filter (where date_trunc('month', created_at) = $1),
               count(*) filter (where date_trunc('month', created_at) = $1 - interval 1 month)
        from marts.fct_leads""", [month])
    # Lead conversion by creation cohort: the six full months before this one, old enough to have converted.
    conversion = _one(con, """
        select avg(case when is_converted then 1.0 else 0.0 end) from marts.fct_leads
        where created_at >= $1 - interval 6 month and created_at < $1""", [month])[0]
    wins = con.execute("""
        select date_trunc('month', closed_at) as m, sum(is_won::int) / count(*)::double
        from marts.fct_opportunities
        where is_closed and date_trunc('month', closed_at) in ($1, $1 - interval 1 month)
        group by 1""", [month]).fetchall()
    win = {r[0].date() if hasattr(r[0], "date") else r[0]: r[1] for r in wins}
    steps = con.execute("""
        with by_dept as (
            select c.stage_name, c.stage_order, d.department_name,
                   sum(c.advanced) as advanced, sum(c.reached - c.open) as decided
            from marts.fct_stage_conversion c
            join marts.dim_department d using (department_id)
            where c.department_id is not null and c.cohort_month >= $1 - interval 6 month and c.cohort_month < $1
            group by all
        )
        select stage_name, department_name, advanced / decided as rate, decided,
               max(advanced / decided) over (partition by stage_name)
                 - min(advanced / decided) over (partition by stage_name) as spread
        from by_dept where decided >= $2
        order by spread desc, stage_order, rate desc""", [month, MIN_DECIDED]).fetchall()
    stage = steps[0][0] if steps else None
    at_stage = [s for s in steps if s[0] == stage]
    nrr = _one(con, """
        select sum(mrr) filter (where months_since = 12) / nullif(sum(mrr) filter (where months_since = 0), 0)
        from marts.fct_cohort_retention
        where cohort_month in (select cohort_month from marts.fct_cohort_retention where months_since = 12)""")[0]
    previous = (month.month - 2) % 12 + 1
    prev_key = month.replace(year=month.year - (1 if month.month == 1 else 0), month=previous)
    return Headlines(
        as_of=as_of(con), month=month, new_leads=leads[0], new_leads_previous=leads[1],
        lead_to_opportunity_rate=conversion, win_rate=win.get(month), win_rate_previous=win.get(prev_key),
        stage_name=stage,
        best=(at_stage[0][1], at_stage[0][2], at_stage[0][3]) if at_stage else None,
        worst=(at_stage[-1][1], at_stage[-1][2], at_stage[-1][3]) if at_stage else None,
        nrr_12=nrr,
    )


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.1%}"


def print_summary(warehouse: Path) -> None:
    con = connect_read_only(warehouse)
    try:
        h = headlines(con)
    except duckdb.Error as exc:
        raise read_error(warehouse, exc) from None
    finally:
        con.close()
    print(f"closedloop — data as of {h.as_of:%Y-%m-%d %H:%M} (month {h.month:%Y-%m})")
    change = h.new_leads - h.new_leads_previous
    print(f"  New leads this month            {h.new_leads:>8,}  ({change:+,} vs previous month)")
    rate = _pct(h.lead_to_opportunity_rate)
    print(f"  Lead → opportunity rate         {rate:>8}  (leads created in the 6 months before)")
    print(f"  Win rate this month             {_pct(h.win_rate):>8}  (previous month {_pct(h.win_rate_previous)})")
    if h.best and h.worst:
        print(f"  Stage {h.stage_name} → next, last 6 months' cohorts:")
        print(f"    best  {h.best[0]:<10} {_pct(h.best[1]):>8}  (n={h.best[2]})")
        print(f"    worst {h.worst[0]:<10} {_pct(h.worst[1]):>8}  (n={h.worst[2]})")
    print(f"  Net revenue retention, month 12 {_pct(h.nrr_12):>8}  (cohorts with 12 months of history)")
