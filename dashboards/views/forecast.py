"""Forecast: this period's expected bookings with their P10–P90 band per department, the open deals that move it
most, what customers without a subscription are expected to buy again, and how right past forecasts were
(backtest Brier scores against two baselines, reliability) — fct_forecast, fct_forecast_periods,
fct_customer_predicted_value, fct_forecast_backtest, fct_forecast_reliability."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboards import charts as ch
from dashboards import queries as q
from dashboards import ui

c = ui.ctx()
t = c.tr
# the forecast looks forward from the as-of instant: the period picker of the sidebar does not apply
ui.ignores(["channel", "grade"])
PERIODS = ("quarter", "month", "half_year")
METHODS = ("model", "closed_only", "stage_seed")

period = st.radio(t("fc_period"), PERIODS, key="fc_period", bind="query-params", horizontal=True,
                  format_func=lambda p: t(p))
bands = q.forecast_periods(c.scope, period or "quarter")

with ui.section(t("fc_bookings"), metrics=("forecast-bookings", "forecast-win-probability")):
    if bands.empty:
        ui.no_data(t("fc_bookings"))
    else:
        first = bands.iloc[0]
        st.caption(t("fc_bookings_caption", period=first.period_label, as_of=t.datetime(first.as_of)))
        total = bands[bands.is_company] if bands.is_company.any() else None
        if total is not None and not total.empty:
            row = total.iloc[0]
        else:
            sums = bands[["won_to_date", "expected_bookings", "open_pipeline"]].sum()
            row = pd.Series({**sums.to_dict(), "p10": None, "p90": None, "coverage": None})
        a, b, d, e = st.columns(4)
        band = (t("fc_band", low=t.money(row.p10), high=t.money(row.p90))
                if row.p10 is not None and not pd.isna(row.p10) else None)
        a.metric(t("fc_expected"), t.money(row.expected_bookings), help=band)
        if band:
            a.caption(band)
        b.metric(t("fc_won_to_date"), t.money(row.won_to_date))
        d.metric(t("fc_open_pipeline"), t.money(row.open_pipeline))
        e.metric(t("fc_coverage"), t.num(row.coverage, 2) if not pd.isna(row.coverage) else "–")
        if bands.target_amount.isna().all():
            st.caption(t("fc_no_target"))
        depts = bands[~bands.is_company].copy()
        if not depts.empty:
            ui.chart(ch.band_bars(depts, "department_name", "expected_bookings", "p10", "p90", t("department"),
                                  t("fc_expected"), present=c.present), t("fc_bookings"), key="fc_bands")
        with st.expander(t("drill")):
            ui.table(bands.assign(department_name=bands.department_name.where(~bands.is_company, c.all_departments)),
                     t("fc_bookings"),
                     {"department_name": t("department"), "period_label": t("fc_period"),
                      "won_to_date": t("fc_won_to_date"), "expected_bookings": t("fc_expected"), "p10": "P10",
                      "p50": "P50", "p90": "P90", "open_pipeline": t("fc_open_pipeline"), "target_amount":
                      t("fc_target"), "coverage": t("fc_coverage")},
                     {"won_to_date": "money", "expected_bookings": "money", "p10": "money", "p50": "money",
                      "p90": "money", "open_pipeline": "money", "target_amount": "money", "coverage": "%.2f"},
                     key="fc_band_table")

with ui.section(t("fc_repeat"), t("fc_repeat_caption"), metrics=("predicted-12-month-value",)):
    # the other half of "predictable": what customers without a subscription are expected to buy again, which no
    # open deal carries (Lifecycle value page: the accounts and the backtest)
    repeat = q.predicted_value_summary(c.scope)
    if repeat.empty or not repeat.accounts.iloc[0]:
        ui.no_data(t("fc_repeat"))
    else:
        row = repeat.iloc[0]
        a, b, d = st.columns(3)
        a.metric(t("predicted_total"), t.money(row.predicted_value_12m))
        b.metric(t("predicted_orders"), t.num(row.expected_orders_12m, 0))
        d.metric(t("repeat_accounts"), t.int(row.accounts))

with ui.section(t("fc_movers"), t("fc_movers_caption"), metrics=("forecast-win-probability",)):
    deals = q.forecast_top_deals(c.scope)
    if deals.empty:
        ui.no_data(t("fc_movers"))
    else:
        deals["stage_name"] = deals.stage_name.map(c.stage_label)
        ui.table(deals, t("fc_movers"),
                 {"opportunity_id": "ID", "opportunity_name": t("fc_deal"), "department_name": t("department"),
                  "stage_name": t("stage"),
                  "days_in_stage": t("fc_days_in_stage"), "amount": t("amount"),
                  "p_win": t("fc_p_win"), "p_win_in_period": t("fc_p_win_period"),
                  "expected_amount_in_period": t("fc_expected_in_period"),
                  "expected_close_month": t("fc_close_month"), "estimate_level": t("fc_estimate_level")},
                 {"days_in_stage": "%.0f", "amount": "money", "p_win": "pct", "p_win_in_period": "pct",
                  "expected_amount_in_period": "money", "expected_close_month": "date"},
                 key="fc_movers_table")

backtest = q.forecast_backtest(c.scope)
with ui.section(t("fc_how_right"), metrics=("forecast-backtest",)):
    if backtest.empty:
        ui.no_data(t("fc_how_right"))
    else:
        head = backtest.iloc[0]
        st.caption(t("fc_how_right_caption", n=int(head.month_ends), first=t.date(head.first_month_end),
                     last=t.date(head.last_month_end), h=int(head.horizon_days)))
        scores = backtest.set_index("method")
        cols = st.columns(len(METHODS))
        for col, method in zip(cols, [m for m in METHODS if m in scores.index], strict=False):
            r = scores.loc[method]
            delta = None
            if method == "model":
                baselines = [(m, scores.loc[m].brier_score) for m in METHODS[1:] if m in scores.index]
                best = min(baselines, key=lambda x: x[1]) if baselines else None
                if best is not None and best[1]:
                    # against the better baseline; a difference under 0.1% is no difference
                    gain = 1 - r.brier_score / best[1]
                    key = ("fc_brier_better" if gain >= 0.001 else "fc_brier_worse" if gain <= -0.001
                           else "fc_brier_same")
                    delta = t(key, method=t(f"fc_method_{best[0]}"), pct=t.pct(abs(gain)))
            col.metric(f"{t('fc_brier')} · {t(f'fc_method_{method}')}", t.num(r.brier_score, 4), help=delta)
            if delta:
                col.caption(delta)
        shown = backtest.assign(method=backtest.method.map(lambda m: t(f"fc_method_{m}")))
        ui.table(shown, t("fc_how_right"),
                 {"method": t("fc_method"), "brier_score": t("fc_brier"), "deals": t("fc_deals_scored"),
                  "predicted_bookings": t("fc_predicted"), "actual_bookings": t("fc_actual")},
                 {"brier_score": "%.4f", "deals": "int", "predicted_bookings": "money", "actual_bookings": "money"},
                 key="fc_brier_table")

with ui.section(t("fc_reliability"), metrics=("forecast-backtest",)):
    rel = q.forecast_reliability()
    rel = rel[rel.n > 0]
    if rel.empty:
        ui.no_data(t("fc_reliability"))
    else:
        if c.selected_departments:
            ui.ignores(["department"], chart=True)
        rel = rel.assign(series=rel.method.map(lambda m: t(f"fc_method_{m}")))
        ui.chart(ch.reliability(rel, t("fc_method"), t("fc_predicted_prob"), t("fc_observed"), present=c.present,
                                order=[t(f"fc_method_{m}") for m in METHODS]),
                 t("fc_reliability"), key="fc_reliability")
        with st.expander(t("drill")):
            ui.table(rel, t("fc_reliability"),
                     {"series": t("fc_method"), "bin_low": "≥", "bin_high": "<", "n": t("fc_cases"),
                      "predicted_mean": t("fc_predicted_prob"), "observed_rate": t("fc_observed")},
                     {"n": "int", "predicted_mean": "pct", "observed_rate": "pct"}, key="fc_rel_table")
