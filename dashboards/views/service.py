"""Service: tickets opened and resolved, resolution time and CSAT, over time and by customer grade
(fct_service)."""

from __future__ import annotations

import streamlit as st

from dashboards import charts as ch
from dashboards import periods, ui
from dashboards import queries as q

c = ui.ctx()
t = c.tr
ui.ignores(["channel"])
start = periods.add_months(periods.period_start(c.window.last_day, "month"), -11)
monthly = q.service_monthly(c.scope, start, c.window.end)
by_grade = q.service_by_grade(c.window, c.scope)

with ui.section(t.window(c.window), metrics=("service",)):
    if by_grade.empty:
        ui.no_data(t("tickets_over_time"))
    else:
        a, b, d, e = st.columns(4)
        opened, resolved = int(by_grade.tickets_opened.sum()), int(by_grade.tickets_resolved.sum())
        a.metric(t("tickets_opened"), t.int(opened))
        b.metric(t("tickets_resolved"), t.int(resolved))
        w = by_grade.assign(
            h=by_grade.mean_resolution_hours * by_grade.tickets_resolved, s=by_grade.csat_avg * by_grade.csat_count
        )
        d.metric(t("resolution_hours"), t.num(w.h.sum() / resolved) if resolved else "–")
        e.metric(t("csat"), t.num(w.s.sum() / w.csat_count.sum(), 2) if w.csat_count.sum() else "–")

left, right = st.columns(2)
with left, ui.section(t("tickets_over_time")):
    if monthly.empty:
        ui.no_data(t("tickets_over_time"))
    else:
        ui.chart(
            ch.lines(
                monthly,
                "month",
                [("tickets_opened", t("tickets_opened")), ("tickets_resolved", t("tickets_resolved"))],
                t("month"),
                t("count"),
                present=c.present,
                time_format=t.time_axis("month"),
            ),
            t("tickets_over_time"),
            key="tickets",
        )
        ui.chart(
            ch.lines(
                monthly,
                "month",
                [("csat_avg", t("csat"))],
                t("month"),
                t("csat"),
                y_format=".2f",
                y_zero=False,
                present=c.present,
                height=220,
                time_format=t.time_axis("month"),
            ),
            t("csat"),
            key="csat",
        )
with right, ui.section(t("by_grade")):
    if by_grade.empty:
        ui.no_data(t("by_grade"))
    else:
        ui.chart(
            ch.bars(
                by_grade, "grade", "csat_avg", t("grade"), t("csat"), fmt=".2f", sort_desc=False, present=c.present
            ),
            t("by_grade"),
            key="csat_grade",
        )
        ui.chart(
            ch.bars(
                by_grade,
                "grade",
                "mean_resolution_hours",
                t("grade"),
                t("resolution_hours"),
                fmt=".1f",
                sort_desc=False,
                present=c.present,
            ),
            t("resolution_hours"),
            key="hours_grade",
        )
if not by_grade.empty or not monthly.empty:
    with st.expander(t("drill")):
        ui.table(
            by_grade,
            t("by_grade"),
            {
                "grade": t("grade"),
                "accounts": t("customers"),
                "tickets_opened": t("tickets_opened"),
                "tickets_resolved": t("tickets_resolved"),
                "mean_resolution_hours": t("resolution_hours"),
                "csat_avg": t("csat"),
                "csat_count": t("ratings"),
            },
            {"mean_resolution_hours": "%.1f", "csat_avg": "%.2f"},
            key="grade_table",
        )
        ui.table(
            monthly,
            t("tickets_over_time"),
            {
                "month": t("month"),
                "tickets_opened": t("tickets_opened"),
                "tickets_resolved": t("tickets_resolved"),
                "mean_resolution_hours": t("resolution_hours"),
                "csat_avg": t("csat"),
                "csat_count": t("ratings"),
            },
            {"month": "date", "mean_resolution_hours": "%.1f", "csat_avg": "%.2f"},
            key="monthly_table",
        )
