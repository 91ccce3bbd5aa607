"""Repeat-purchase model of the accounts that buy without a subscription (docs/metrics.md#predicted-12-month-value,
#repeat-purchase-backtest): one row per account x scope. scope `forecast`: BG/NBD + Gamma-Gamma fitted on every
purchase day to as_of, predicting the next 12 months; scope `backtest`: fitted on the purchase days up to as_of - 12
months, predicting the 12 months to as_of, with what the account actually bought then. The maximum-likelihood fits
are numpy/scipy in closedloop.clv (pure functions, tested against the lifetimes library); this model only moves the
purchase days in and the predictions out."""

import pandas as pd

from closedloop import clv
from closedloop.frames import to_pandas, to_result

COLUMNS = {
    "scope": "string", "account_id": "string", "as_of_date": "datetime64[us]", "fitted_to": "datetime64[us]",
    "frequency": "int64", "recency_weeks": "float64", "t_weeks": "float64", "monetary_value": "float64",
    "expected_orders_12m": "float64", "expected_avg_order_value": "float64", "predicted_value_12m": "float64",
    "p_alive": "float64", "actual_orders": "Int64", "actual_revenue": "float64",
    "fit_accounts": "int64", "bgnbd_r": "float64", "bgnbd_alpha": "float64", "bgnbd_a": "float64",
    "bgnbd_b": "float64", "gamma_gamma_p": "float64", "gamma_gamma_q": "float64", "gamma_gamma_v": "float64",
}


def _rows(scope: str, scored: pd.DataFrame, model: clv.Fit | None, as_of, fitted_to) -> pd.DataFrame:
    if model is None or scored.empty:
        return pd.DataFrame(columns=list(COLUMNS))
    out = scored.rename(columns={"recency": "recency_weeks", "T": "t_weeks"})
    out["scope"] = scope
    out["as_of_date"] = pd.Timestamp(as_of)
    out["fitted_to"] = pd.Timestamp(fitted_to)
    out["fit_accounts"] = model.accounts
    bg, gg = model.bgnbd, model.gamma_gamma
    for name, value in (("bgnbd_r", bg.r), ("bgnbd_alpha", bg.alpha), ("bgnbd_a", bg.a), ("bgnbd_b", bg.b),
                        ("gamma_gamma_p", gg.p), ("gamma_gamma_q", gg.q), ("gamma_gamma_v", gg.v)):
        out[name] = value
    for column in ("actual_orders", "actual_revenue"):
        if column not in out:
            out[column] = None
    return out[list(COLUMNS)]


def model(dbt, session):
    dbt.config(materialized="table")
    as_of = to_pandas(dbt.ref("int_as_of"))["as_of_date"].iloc[0]
    as_of = pd.Timestamp(as_of).date()
    # sorted, so the optimiser sees the same sums in the same order on every build (a rebuild gives the same bits)
    days = to_pandas(dbt.ref("int_customer__repeat_purchase_days")).sort_values(["account_id", "order_date"])
    days["order_date"] = pd.to_datetime(days["order_date"]).dt.date
    summary = clv.rfm_summary(days, as_of)
    fitted = clv.fit(summary)
    forecast = clv.score(summary, fitted) if fitted is not None else summary.iloc[0:0]
    scored, back = clv.backtest(days, as_of)
    split = clv.months_before(as_of, 12)
    frame = pd.concat([_rows("forecast", forecast, fitted, as_of, as_of),
                       _rows("backtest", scored, back, as_of, split)], ignore_index=True)
    # typed even when empty (too little history to fit), so the table's columns never come out as nulls
    return to_result(frame.astype(COLUMNS), session)
