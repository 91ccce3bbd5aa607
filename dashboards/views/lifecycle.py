"""Lifecycle value: lifetime value by grade and by source channel, the value-journey composition, cohort
retention and net revenue retention (fct_customer_value, fct_cohort_retention)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboards import charts as ch
from dashboards import periods, ui
from dashboards import queries as q

c = ui.ctx()
t = c.tr
JOURNEY = [
    ("revenue_new", "revenue_new"),
    ("revenue_renewal", "revenue_renewal"),
    ("revenue_upsell", "revenue_upsell"),
    ("revenue_cross_sell", "revenue_cross_sell"),
    ("revenue_service", "revenue_service"),
    ("referral_revenue", "referral_revenue"),
]
VALUE_COLS = {
    "customers": "customers",
    "active": "active_customers",
    "churned": "churned",
    "avg_lifetime_value": "avg_ltv",
    "lifetime_value": "total_ltv",
}
st.caption(t("lifecycle_note"))

by_grade = q.value_by("grade", c.scope, c.window.end)
by_channel = q.value_by("channel", c.scope, c.window.end)
by_channel["key_label"] = [c.channel_label(k) for k in by_channel.key] if not by_channel.empty else []

left, right = st.columns(2)
with left, ui.section(t("ltv_by_grade"), metrics=("lifetime-value", "active-customer-and-churn")):
    if by_grade.empty:
        ui.no_data(t("ltv_by_grade"))
    else:
        ui.chart(
            ch.bars(
                by_grade,
                "key",
                "avg_lifetime_value",
                t("grade"),
                t("avg_ltv"),
                fmt=",.0f",
                sort_desc=False,
                present=c.present,
            ),
            t("ltv_by_grade"),
            key="ltv_grade",
        )
        ui.table(
            by_grade,
            t("ltv_by_grade"),
            {"key": t("grade"), **{k: t(v) for k, v in VALUE_COLS.items()}},
            {"avg_lifetime_value": "money", "lifetime_value": "money"},
            key="grade_table",
        )
with right, ui.section(t("ltv_by_channel"), metrics=("lifetime-value",)):
    if by_channel.empty:
        ui.no_data(t("ltv_by_channel"))
    else:
        ui.chart(
            ch.bars(
                by_channel, "key_label", "avg_lifetime_value", t("channel"), t("avg_ltv"), fmt=",.0f", present=c.present
            ),
            t("ltv_by_channel"),
            key="ltv_channel",
        )
        ui.table(
            by_channel,
            t("ltv_by_channel"),
            {"key_label": t("channel"), **{k: t(v) for k, v in VALUE_COLS.items()}},
            {"avg_lifetime_value": "money", "lifetime_value": "money"},
            key="channel_table",
        )

with ui.section(t("journey"), metrics=("lifetime-value", "referral-revenue", "renewal-rate", "tenure")):
    if by_grade.empty:
        ui.no_data(t("journey"))
    else:
        total = by_grade[[k for k, _ in JOURNEY]].sum().to_frame().T.assign(key=t("all"))
        comp = pd.concat([total, by_grade[["key"] + [k for k, _ in JOURNEY]]], ignore_index=True)
        ui.chart(
            ch.stacked_share(comp, "key", [(k, t(v)) for k, v in JOURNEY], t("grade"), t("share"), present=c.present),
            t("journey"),
            key="journey",
        )
        ui.table(
            comp,
            t("journey"),
            {"key": t("grade"), **{k: t(v) for k, v in JOURNEY}},
            {k: "money" for k, _ in JOURNEY},
            key="journey_table",
        )

cohort_start = periods.add_months(periods.period_start(c.window.last_day, "month"), -23)
with ui.section(t("cohort_heatmap"), metrics=("logo-retention", "net-revenue-retention", "mrr")):
    ui.ignores(["department", "channel", "grade"], chart=True)
    coh = q.cohort_retention(cohort_start, c.window.end)
    coh = coh[coh.month < pd.Timestamp(c.window.end)] if not coh.empty else coh
    if coh.empty:
        ui.no_data(t("cohort_heatmap"))
    else:
        metric = (
            st.segmented_control(
                t("metric"),
                ["logo_retention", "net_revenue_retention"],
                default="logo_retention",
                format_func=lambda m: t("logo_retention") if m == "logo_retention" else t("nrr"),
                key="cohort_metric",
                bind="query-params",
                required=True,
            )
            or "logo_retention"
        )
        coh = coh.assign(cohort=[t.month(d.date()) for d in coh.cohort_month], text=[t.pct(v, 0) for v in coh[metric]])
        order = [t.month(d.date()) for d in sorted(coh.cohort_month.unique())]
        hi = float(coh[metric].max() or 1)
        ui.chart(
            ch.heatmap(
                coh,
                "months_since",
                "cohort",
                metric,
                "text",
                t("months_since"),
                t("cohort"),
                t("logo_retention") if metric == "logo_retention" else t("nrr"),
                x_order=sorted(coh.months_since.unique().tolist()),
                y_order=order,
                scheme="greens",
                domain=[0, max(1.0, hi)],
                present=c.present,
            ),
            t("cohort_heatmap"),
            key="cohorts",
        )

with ui.section(t("nrr_curve"), metrics=("net-revenue-retention", "mrr")):
    nrr = q.nrr_by_months_since(c.window.end)
    if nrr.empty:
        ui.no_data(t("nrr_curve"))
    else:
        ui.chart(
            ch.lines(
                nrr,
                "months_since",
                [("net_revenue_retention", t("nrr")), ("logo_retention", t("logo_retention"))],
                t("months_since"),
                t("share"),
                y_format=".0%",
                x_type="Q",
                present=c.present,
            ),
            t("nrr_curve"),
            key="nrr",
        )
        ui.table(
            nrr,
            t("nrr_curve"),
            {
                "months_since": t("months_since"),
                "cohorts": t("cohort"),
                "net_revenue_retention": t("nrr"),
                "logo_retention": t("logo_retention"),
            },
            {"net_revenue_retention": "pct", "logo_retention": "pct"},
            key="nrr_table",
            height=240,
        )
