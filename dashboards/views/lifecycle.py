"""Lifecycle value: lifetime value by grade and by source channel, the value-journey composition, cohort
retention and net revenue retention (fct_customer_value, fct_cohort_retention); for accounts that buy without a
subscription, order-window and revenue retention beside them, the predicted 12-month value and its backtest
(fct_customer_predicted_value, fct_customer_value_backtest)."""

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

# ---- customers who buy again without a subscription ------------------------------------------------------------

with ui.section(t("retention_by_rule"), t("retention_by_rule_note"),
                metrics=("retention-rule", "order-window-retention", "revenue-retention", "net-revenue-retention")):
    ui.ignores(["department", "channel", "grade"], chart=True)
    by_rule = q.retention_by_rule(c.window.end)
    if by_rule.empty or not by_rule.order_window_accounts.any():
        ui.no_data(t("retention_by_rule"))
    else:
        series = [("order_window_retention", t("order_window_retention")),
                  ("revenue_retention", t("revenue_retention")),
                  ("net_revenue_retention", t("nrr_subscription")), ("logo_retention", t("logo_retention_all"))]
        ui.chart(ch.lines(by_rule, "months_since", series, t("months_since"), t("share"), y_format=".0%", x_type="Q",
                          present=c.present), t("retention_by_rule"), key="retention_rule")
        ui.table(by_rule, t("retention_by_rule"),
                 {"months_since": t("months_since"), "cohorts": t("cohort"),
                  "order_window_accounts": t("order_window_accounts"), **{k: v for k, v in series}},
                 {k: "pct" for k, _ in series} | {"order_window_accounts": "int"}, key="retention_rule_table",
                 height=240)

with ui.section(t("predicted_value"), metrics=("predicted-12-month-value",)):
    ui.ignores(["channel"])
    summary = q.predicted_value_summary(c.scope)
    if summary.empty or not summary.accounts.iloc[0]:
        ui.no_data(t("predicted_value"))
    else:
        row = summary.iloc[0]
        st.caption(t("predicted_value_note", when=t.date(row.as_of_date)))
        cols = st.columns(4)
        for col, (key, value) in zip(cols, [("predicted_total", t.money(row.predicted_value_12m)),
                                            ("predicted_orders", t.num(row.expected_orders_12m, 0)),
                                            ("repeat_accounts", t.int(row.accounts)),
                                            ("mean_p_alive", t.pct(row.p_alive))], strict=True):
            with col:
                ui.tile(t(key), value, None, None, t("predicted_value_note", when=t.date(row.as_of_date)), None)
        bands = q.predicted_value_bands(c.scope)
        edges = q.VALUE_BANDS
        names = [f"{t.money(lo)}–{t.money(edges[i + 1])}" if i + 1 < len(edges) else f"≥ {t.money(lo)}"
                 for i, lo in enumerate(edges)]
        bands["band_label"] = [names[int(b)] for b in bands.band]
        ui.chart(ch.bars(bands, "band_label", "accounts", t("value_band"), t("accounts"), horizontal=False,
                         keep_order=True, present=c.present), t("predicted_distribution"), key="predicted_bands")
        ui.table(bands, t("predicted_distribution"),
                 {"band_label": t("value_band"), "accounts": t("accounts"),
                  "predicted_value_12m": t("predicted_total")},
                 {"accounts": "int", "predicted_value_12m": "money"}, key="predicted_bands_table")

with ui.section(t("top_predicted"), metrics=("predicted-12-month-value",)):
    ui.ignores(["channel"])
    top = q.top_predicted_accounts(c.scope)
    if top.empty:
        ui.no_data(t("top_predicted"))
    else:
        ui.table(top, t("top_predicted"),
                 {"account_name": t("account"), "grade": t("grade"), "frequency": t("repeat_orders"),
                  "expected_orders_12m": t("predicted_orders"), "expected_avg_order_value": t("expected_order_value"),
                  "predicted_value_12m": t("predicted_value"), "p_alive": t("p_alive")},
                 {"frequency": "int", "expected_orders_12m": "%.2f", "expected_avg_order_value": "money",
                  "predicted_value_12m": "money", "p_alive": "pct"}, key="top_predicted_table")

with ui.section(t("value_backtest"), metrics=("repeat-purchase-backtest",)):
    ui.ignores(["department", "channel", "grade"], chart=True)
    backtest = q.value_backtest()
    if backtest.empty:
        ui.no_data(t("value_backtest"))
    else:
        st.caption(t("value_backtest_note", split=t.date(backtest.fitted_to.iloc[0]),
                     end=t.date(backtest.as_of_date.iloc[0])))
        totals = backtest[["predicted_orders", "actual_orders", "predicted_revenue", "actual_revenue"]].sum()
        cols = st.columns(4)
        for col, (key, value, second) in zip(cols, [
                ("predicted_orders", t.num(totals.predicted_orders, 0), None),
                ("actual_orders", t.int(totals.actual_orders),
                 f"{t('backtest_error')} {t.pct(totals.predicted_orders / totals.actual_orders - 1)}"
                 if totals.actual_orders else None),
                ("predicted_revenue", t.money(totals.predicted_revenue), None),
                ("actual_revenue", t.money(totals.actual_revenue),
                 f"{t('backtest_error')} {t.pct(totals.predicted_revenue / totals.actual_revenue - 1)}"
                 if totals.actual_revenue else None)], strict=True):
            with col:
                ui.tile(t(key), value, None, None, t("value_backtest"), None, second=second)
        backtest["decile_label"] = [str(int(d)) for d in backtest.decile]
        ui.chart(ch.compare_bars(backtest, "decile_label", [("predicted_orders", t("predicted")),
                                                            ("actual_orders", t("actual"))],
                                 t("decile"), t("orders"), present=c.present), t("value_backtest"), key="backtest")
        ui.table(backtest, t("value_backtest"),
                 {"decile": t("decile"), "accounts": t("accounts"), "predicted_orders": t("predicted_orders"),
                  "actual_orders": t("actual_orders"), "predicted_revenue": t("predicted_revenue"),
                  "actual_revenue": t("actual_revenue")},
                 {"accounts": "int", "predicted_orders": "%.1f", "actual_orders": "int", "predicted_revenue": "money",
                  "actual_revenue": "money"}, key="backtest_table")
