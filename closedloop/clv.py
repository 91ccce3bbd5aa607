"""Repeat-purchase model for accounts that buy without a subscription: BG/NBD for how many repeat orders an account
places (Fader, Hardie & Lee 2005, "Counting your customers the easy way") and Gamma–Gamma for what an order is
worth (Fader, Hardie & Lee 2005, "RFM and CLV"), fitted by maximum likelihood with numpy/scipy.

Pure functions, no I/O. The dbt Python model `int_customer__repeat_purchase_model` calls `predict` and `backtest`
once per build; the tests check the fit against the generator's planted parameters and against the `lifetimes`
library. Definitions: docs/metrics.md, "Predicted 12-month value" and "Repeat-purchase backtest".

Why our own fit: the maintained Bayesian implementation (PyMC-Marketing) pulls pymc/pytensor into every build for
four-parameter likelihoods that scipy maximises in well under a second; `lifetimes` (the reference MLE code) is no
longer maintained, so it is only the tests' oracle.

Conventions (those of the papers and of `lifetimes`): an account's orders are counted per day (several orders on one
day are one purchase occasion); time is in weeks; frequency x = purchase days after the first; recency t_x = weeks
from the first to the last purchase day; T = weeks from the first purchase day to the as-of day; monetary value =
mean amount of the repeat purchase days (the first is left out, as Gamma–Gamma assumes).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import gammaln, hyp2f1

DAYS_PER_WEEK = 7.0
# 12 months in weeks: 365.25 / 7
HORIZON_WEEKS = 365.25 / DAYS_PER_WEEK
SUMMARY_COLUMNS = ["account_id", "frequency", "recency", "T", "monetary_value"]


@dataclass(frozen=True)
class BgNbd:
    """Purchase rate ~ Gamma(r, alpha) per week while alive; after each purchase the account drops out with
    probability p ~ Beta(a, b)."""

    r: float
    alpha: float
    a: float
    b: float


@dataclass(frozen=True)
class GammaGamma:
    """Order value ~ Gamma(p, nu) per account, nu ~ Gamma(q, v): population mean order value p * v / (q - 1)."""

    p: float
    q: float
    v: float

    @property
    def mean_order_value(self) -> float:
        return self.p * self.v / (self.q - 1) if self.q > 1 else float("nan")


# ---------------------------------------------------------------- summary


def rfm_summary(orders: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    """One row per account with an order on or before `as_of`: frequency, recency, T (weeks) and the mean amount of
    its repeat purchase days. `orders` has account_id, order_date (date), amount."""
    cut = orders[pd.to_datetime(orders["order_date"]) <= pd.Timestamp(as_of)]
    if cut.empty:
        return pd.DataFrame({c: pd.Series(dtype="float64") for c in SUMMARY_COLUMNS}).astype({"account_id": "string"})
    days = (cut.assign(order_date=pd.to_datetime(cut["order_date"]), amount=cut["amount"].astype("float64"))
            .groupby(["account_id", "order_date"], as_index=False)["amount"].sum()
            .sort_values(["account_id", "order_date"]))
    first = days.groupby("account_id")["order_date"].transform("min")
    days["is_repeat"] = days["order_date"] > first
    grouped = days.groupby("account_id")
    summary = pd.DataFrame({
        "frequency": grouped["is_repeat"].sum().astype("float64"),
        "recency": (grouped["order_date"].max() - grouped["order_date"].min()).dt.days / DAYS_PER_WEEK,
        "T": (pd.Timestamp(as_of) - grouped["order_date"].min()).dt.days / DAYS_PER_WEEK,
        "monetary_value": days[days["is_repeat"]].groupby("account_id")["amount"].mean(),
    })
    summary["monetary_value"] = summary["monetary_value"].fillna(0.0)
    return summary.reset_index().astype({"account_id": "string"})[SUMMARY_COLUMNS]


# ---------------------------------------------------------------- BG/NBD


def bgnbd_log_likelihood(params: BgNbd, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """Per-account log-likelihood of (x, t_x, T) under BG/NBD (the paper's equation 6, in logs)."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
    a3 = -(r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        a4 = np.where(x > 0, np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) - (r + x) * np.log(alpha + t_x),
                      -np.inf)
    return a1 + a2 + np.logaddexp(a3, a4)


def fit_bgnbd(x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> BgNbd:
    """Maximum-likelihood BG/NBD parameters (optimised on their logs, so they stay positive)."""
    x, t_x, T = (np.asarray(v, dtype="float64") for v in (x, t_x, T))
    scale = max(float(T.max()), 1.0) / 10.0  # alpha is in weeks: start it on the data's scale

    def objective(log_params: np.ndarray) -> float:
        r, alpha, a, b = np.exp(log_params)
        value = -bgnbd_log_likelihood(BgNbd(r, alpha, a, b), x, t_x, T).sum()
        return float(value) if np.isfinite(value) else 1e300

    starts = [np.log([r, scale, a, b]) for r, a, b in ((1.0, 1.0, 1.0), (0.5, 0.5, 2.0), (2.0, 2.0, 5.0))]
    result = _minimise(objective, starts, np.log([1.0, scale, 1.0, 1.0]))
    return BgNbd(*(float(v) for v in np.exp(result)))


# every parameter stays within 1e-4..1e4 times its scale: far outside it the log-gamma differences lose all their
# digits to cancellation and the "likelihood" there is rounding noise an optimiser would happily climb
LOG_BOUND = np.log(1e4)


def _minimise(objective, starts: list[np.ndarray], log_scale: np.ndarray) -> np.ndarray:
    """Bounded L-BFGS-B (numerical gradient, tight tolerances) from each start, the best kept: deterministic, and the
    few starts keep it off the ridges these likelihoods have (a and b, or q and v, can trade off)."""
    bounds = list(zip(log_scale - LOG_BOUND, log_scale + LOG_BOUND, strict=True))
    runs = [minimize(objective, start, method="L-BFGS-B", bounds=bounds,
                     options={"ftol": 1e-13, "gtol": 1e-9, "maxiter": 5000}) for start in starts]
    return min(runs, key=lambda run: run.fun).x


def _log_odds_dead(params: BgNbd, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """log of (a / (b + x - 1)) * ((alpha + T) / (alpha + t_x))^(r + x) for x > 0, -inf for x = 0."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x > 0, np.log(a) - np.log(np.maximum(b + x - 1, 1e-300))
                        + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x)), -np.inf)


def p_alive(params: BgNbd, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """P(the account has not dropped out by T | x, t_x, T); 1 for an account with no repeat purchase (BG/NBD lets
    an account drop out only right after a purchase)."""
    return 1.0 / (1.0 + np.exp(_log_odds_dead(params, np.asarray(x, float), np.asarray(t_x, float),
                                              np.asarray(T, float))))


def expected_purchases(params: BgNbd, t: float, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """E[purchases in (T, T + t] | x, t_x, T] (the paper's equation 10)."""
    x, t_x, T = (np.asarray(v, dtype="float64") for v in (x, t_x, T))
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    term1 = (a + b + x - 1) / (a - 1)
    hyp = hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + T + t))
    term2 = 1.0 - np.exp((r + x) * (np.log(alpha + T) - np.log(alpha + T + t))) * hyp
    term3 = 1.0 + np.exp(_log_odds_dead(params, x, t_x, T))
    return term1 * term2 / term3


# ---------------------------------------------------------------- Gamma–Gamma


def gamma_gamma_log_likelihood(params: GammaGamma, x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Per-account log-likelihood of the mean value m of x purchases (x > 0, m > 0)."""
    p, q, v = params.p, params.q, params.v
    return (gammaln(p * x + q) - gammaln(p * x) - gammaln(q) + q * np.log(v)
            + (p * x - 1) * np.log(m) + p * x * np.log(x) - (p * x + q) * np.log(x * m + v))


def fit_gamma_gamma(x: np.ndarray, m: np.ndarray) -> GammaGamma:
    """Maximum-likelihood Gamma–Gamma parameters from accounts with repeat purchases of positive mean value."""
    x, m = np.asarray(x, dtype="float64"), np.asarray(m, dtype="float64")
    keep = (x > 0) & (m > 0)
    x, m = x[keep], m[keep]
    scale = float(np.mean(m)) if len(m) else 1.0

    def objective(log_params: np.ndarray) -> float:
        p, q, v = np.exp(log_params)
        value = -gamma_gamma_log_likelihood(GammaGamma(p, q, v), x, m).sum()
        return float(value) if np.isfinite(value) else 1e300

    # starts whose population mean p * v / (q - 1) is the sample's
    starts = [np.log([p, q, scale * (q - 1) / p]) for p, q in ((1.0, 2.0), (4.0, 4.0), (10.0, 10.0))]
    result = _minimise(objective, starts, np.log([1.0, 1.0, scale]))
    return GammaGamma(*(float(v) for v in np.exp(result)))


def expected_order_value(params: GammaGamma, x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """E[order value | x repeat purchases of mean m]: a weighted mean of the population mean and the account's own
    mean, the account's weight growing with x. An account without repeat purchases gets the population mean."""
    x, m = np.asarray(x, dtype="float64"), np.asarray(m, dtype="float64")
    p, q, v = params.p, params.q, params.v
    own = p * (v + x * m) / (p * x + q - 1)
    return np.where((x > 0) & (m > 0), own, params.mean_order_value)


# ---------------------------------------------------------------- predictions and backtest

# the smallest history worth fitting four parameters to
MIN_ACCOUNTS = 20
MIN_REPEAT_ACCOUNTS = 10


@dataclass(frozen=True)
class Fit:
    bgnbd: BgNbd
    gamma_gamma: GammaGamma
    accounts: int


def fit(summary: pd.DataFrame) -> Fit | None:
    """Both models fitted on one summary; None when the history is too thin to fit (too few accounts, or too few
    with a repeat purchase)."""
    repeaters = summary[(summary["frequency"] > 0) & (summary["monetary_value"] > 0)]
    if len(summary) < MIN_ACCOUNTS or len(repeaters) < MIN_REPEAT_ACCOUNTS:
        return None
    bg = fit_bgnbd(summary["frequency"].to_numpy(), summary["recency"].to_numpy(), summary["T"].to_numpy())
    gg = fit_gamma_gamma(repeaters["frequency"].to_numpy(), repeaters["monetary_value"].to_numpy())
    return Fit(bg, gg, len(summary))


def score(summary: pd.DataFrame, model: Fit, horizon_weeks: float = HORIZON_WEEKS) -> pd.DataFrame:
    """The summary with expected orders over the horizon, expected order value, predicted value and p_alive."""
    x, t_x, T = (summary[c].to_numpy(dtype="float64") for c in ("frequency", "recency", "T"))
    out = summary.copy()
    out["expected_orders_12m"] = expected_purchases(model.bgnbd, horizon_weeks, x, t_x, T)
    out["expected_avg_order_value"] = expected_order_value(model.gamma_gamma, x,
                                                           summary["monetary_value"].to_numpy(dtype="float64"))
    out["predicted_value_12m"] = out["expected_orders_12m"] * out["expected_avg_order_value"]
    out["p_alive"] = p_alive(model.bgnbd, x, t_x, T)
    return out


def months_before(day: dt.date, months: int) -> dt.date:
    """The same day `months` calendar months earlier (the month's last day when it has fewer days)."""
    return (pd.Timestamp(day) - pd.DateOffset(months=months)).date()


def backtest(orders: pd.DataFrame, as_of: dt.date, holdout_months: int = 12) -> tuple[pd.DataFrame, Fit | None]:
    """Fit on the orders up to as_of - holdout_months, predict the holdout, and set the actual repeat purchase days
    and revenue of the holdout beside the prediction, per account that had ordered by the split."""
    split = months_before(as_of, holdout_months)
    summary = rfm_summary(orders, split)
    model = fit(summary)
    if model is None:
        return summary.iloc[0:0], None
    horizon = (as_of - split).days / DAYS_PER_WEEK
    scored = score(summary, model, horizon)
    dates = pd.to_datetime(orders["order_date"])
    holdout = orders[(dates > pd.Timestamp(split)) & (dates <= pd.Timestamp(as_of))]
    actual = (holdout.assign(amount=holdout["amount"].astype("float64"))
              .groupby("account_id").agg(actual_orders=("order_date", "nunique"), actual_revenue=("amount", "sum")))
    actual.index = actual.index.astype("string")
    scored = scored.merge(actual, left_on="account_id", right_index=True, how="left")
    scored[["actual_orders", "actual_revenue"]] = scored[["actual_orders", "actual_revenue"]].fillna(0).astype(float)
    scored["split_date"] = split
    return scored, model
