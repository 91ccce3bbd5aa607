"""Customer resources: holdings per rep and per department, each rep against the department's holdings per rep,
turnover, idle holdings, and pool releases and claims over time (fct_resource_turnover)."""

from __future__ import annotations

import streamlit as st

from dashboards import charts as ch
from dashboards import periods, ui
from dashboards import queries as q

c = ui.ctx()
t = c.tr
ui.ignores(["channel", "grade"])
trend_start = periods.add_months(periods.period_start(c.window.last_day, "month"), -11)

with ui.section(t("holdings_by_dept"), metrics=("holdings", "holdings-per-rep", "turnover-rate", "idle-holdings")):
    dept = q.resources_by_department(c.window, c.scope)
    if dept.empty:
        ui.no_data(t("holdings_by_dept"))
    else:
        left, right = st.columns([2, 3])
        with left:
            ui.chart(
                ch.bars(
                    dept.dropna(subset=["holdings_per_rep"]),
                    "department_name",
                    "holdings_per_rep",
                    t("department"),
                    t("holdings_per_rep"),
                    fmt=",.0f",
                    present=c.present,
                ),
                t("holdings_per_rep"),
                key="per_rep",
            )
        with right:
            ui.table(
                dept,
                t("holdings_by_dept"),
                {
                    "department_name": t("department"),
                    "holdings_end": t("holdings_end"),
                    "active_reps": t("active_reps"),
                    "holdings_per_rep": t("holdings_per_rep"),
                    "idle_holdings": t("idle_holdings"),
                    "assigned": t("assigned"),
                    "claimed": t("claimed"),
                    "converted": t("converted"),
                    "released": t("released"),
                    "turnover_rate": t("turnover_rate"),
                },
                {"holdings_per_rep": "%.1f", "turnover_rate": "pct"},
                key="dept_table",
            )

with ui.section(t("holdings_by_rep"), metrics=("holdings", "holdings-per-rep")):
    reps = q.resources_by_rep(c.window, c.scope)
    if reps.empty:
        ui.no_data(t("holdings_by_rep"))
    else:
        reps["rep_label"] = reps.user_name.fillna(reps.user_id) + " · " + reps.department_name.fillna("—")
        ui.chart(
            ch.bars_with_ref(
                reps.fillna({"holdings_end": 0}),
                "rep_label",
                "holdings_end",
                "dept_holdings_per_rep",
                "department_name",
                t("rep"),
                t("holdings_end"),
                t("dept_per_rep"),
                t("department"),
                present=c.present,
            ),
            t("holdings_by_rep"),
            key="rep_holdings",
        )
        with st.expander(t("drill")):
            ui.table(
                reps,
                t("holdings_by_rep"),
                {
                    "user_name": t("rep"),
                    "department_name": t("department"),
                    "holdings_end": t("holdings_end"),
                    "dept_holdings_per_rep": t("dept_per_rep"),
                    "idle_holdings": t("idle_holdings"),
                    "assigned": t("assigned"),
                    "claimed": t("claimed"),
                    "converted": t("converted"),
                    "released": t("released"),
                    "turnover_rate": t("turnover_rate"),
                },
                {"dept_holdings_per_rep": "%.1f", "turnover_rate": "pct"},
                key="rep_table",
            )

trend = q.resources_over_time(c.scope, trend_start, c.window.end)
left, right = st.columns(2)
with left, ui.section(t("turnover_over_time"), metrics=("turnover-rate", "idle-holdings")):
    if trend.empty:
        ui.no_data(t("turnover_over_time"))
    else:
        ui.chart(
            ch.lines(
                trend,
                "month",
                [("turnover_rate", t("turnover_rate")), ("idle_share", t("idle_share"))],
                t("month"),
                t("share"),
                y_format=".0%",
                present=c.present,
                time_format=t.time_axis("month"),
            ),
            t("turnover_over_time"),
            key="turnover",
        )
with right, ui.section(t("pool_over_time"), metrics=("released-and-recovered-leads",)):
    if trend.empty:
        ui.no_data(t("pool_over_time"))
    else:
        ui.chart(
            ch.lines(
                trend,
                "month",
                [
                    ("assigned", t("assigned")),
                    ("claimed", t("claimed")),
                    ("released", t("released")),
                    ("converted", t("converted")),
                ],
                t("month"),
                t("count"),
                present=c.present,
                time_format=t.time_axis("month"),
            ),
            t("pool_over_time"),
            key="pool_trend",
        )
if not trend.empty:
    with st.expander(t("drill")):
        ui.table(
            trend,
            t("turnover_over_time"),
            {
                "month": t("month"),
                "holdings_start": t("holdings_end") + " (−1)",
                "holdings_end": t("holdings_end"),
                "idle_holdings": t("idle_holdings"),
                "idle_share": t("idle_share"),
                "assigned": t("assigned"),
                "claimed": t("claimed"),
                "converted": t("converted"),
                "released": t("released"),
                "turnover_rate": t("turnover_rate"),
            },
            {"month": "date", "idle_share": "pct", "turnover_rate": "pct"},
            key="trend_table",
        )
