"""Time handling: the window, day weights, and vectorised time sampling.

All instants are int64 seconds since 1970-01-01 on the *business clock* (Asia/Shanghai,
written without offset), so arithmetic needs no time-zone library and stays vectorised.
Dates are int64 days since 1970-01-01. ``NA`` (-1) marks a missing value in both.
"""

from __future__ import annotations

import numpy as np

NA = -1
DAY = 86_400
HOUR = 3_600
MINUTE = 60


def to_sec(iso: str) -> int:
    return int(np.datetime64(iso, "s").astype(np.int64))


WINDOW_START = to_sec("2024-11-01T00:00:00")
WINDOW_END = to_sec("2026-10-31T23:59:59")
START_DAY = WINDOW_START // DAY
END_DAY = WINDOW_END // DAY
N_DAYS = END_DAY - START_DAY + 1  # 730
SLA_SECONDS = 5 * DAY  # vars.lead_sla_days

# Spring Festival weeks: lead flow and sales work nearly stop, which a real export shows.
_HOLIDAYS = (("2025-01-27", "2025-02-05"), ("2026-02-14", "2026-02-24"), ("2025-10-01", "2025-10-07"),
             ("2026-10-01", "2026-10-07"))


def iso_of(sec: int) -> str:
    return str(np.datetime64(int(sec), "s"))


def date_of(day: int) -> str:
    return str(np.datetime64(int(day), "D"))


def day_weights(growth: float = 0.6) -> np.ndarray:
    """Relative business activity per window day: growing company, quiet weekends and holidays."""
    days = np.arange(START_DAY, END_DAY + 1)
    w = 1.0 + growth * (days - START_DAY) / N_DAYS
    weekday = (days + 3) % 7  # 1970-01-01 was a Thursday -> 0 = Monday
    w *= np.where(weekday == 5, 0.3, np.where(weekday == 6, 0.2, 1.0))
    month = days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64) % 12 + 1
    # Budgets are spent before the year-end: Q4 and Mar/Jun quarter-ends are busier.
    w *= np.select([np.isin(month, (3, 6, 9)), np.isin(month, (11, 12))], [1.15, 1.1], 1.0)
    for lo, hi in _HOLIDAYS:
        mask = (days >= to_sec(lo + "T00:00:00") // DAY) & (days <= to_sec(hi + "T00:00:00") // DAY)
        w[mask] *= 0.15
    return w / w.sum()


# Hour-of-day profile of office work (China: 9-12, 13:30-18, some evening WeChat).
_HOUR_W = np.array([0.2, 0.1, 0.05, 0.05, 0.05, 0.1, 0.3, 0.8, 2.5, 6, 7, 6.5, 3, 4.5, 6.5, 7, 6.5, 5.5,
                    3.5, 2, 1.8, 1.5, 0.9, 0.4])
_HOUR_P = _HOUR_W / _HOUR_W.sum()


def office_seconds(rng: np.random.Generator, n: int) -> np.ndarray:
    """Seconds into the day following the office-hour profile."""
    return rng.choice(24, size=n, p=_HOUR_P) * HOUR + rng.integers(0, HOUR, size=n)


def sample_days(rng: np.random.Generator, n: int, weights: np.ndarray) -> np.ndarray:
    return START_DAY + rng.choice(len(weights), size=n, p=weights)


def to_office(rng: np.random.Generator, t: np.ndarray, weekend_move: float = 0.75) -> np.ndarray:
    """Move human actions that fall at night (or mostly at weekends) to the next office morning."""
    t = np.asarray(t, dtype=np.int64)
    sod = t % DAY
    day = t // DAY
    night = (sod < 8 * HOUR) | (sod >= 21 * HOUR)
    day = np.where(sod >= 21 * HOUR, day + 1, day)
    new_sod = np.where(night, 9 * HOUR + rng.integers(0, 2 * HOUR, size=t.shape), sod)
    weekday = (day + 3) % 7
    move = (weekday >= 5) & (rng.random(t.shape) < weekend_move)
    day = np.where(move, day + (7 - weekday), day)
    new_sod = np.where(move & ~night, 9 * HOUR + rng.integers(0, 3 * HOUR, size=t.shape), new_sod)
    return day * DAY + new_sod


def lognormal_days(rng: np.random.Generator, median_days: float | np.ndarray, sigma: float, n: int) -> np.ndarray:
    """Durations in seconds with the given median; lognormal like most human waiting times."""
    return (np.asarray(median_days) * DAY * np.exp(sigma * rng.standard_normal(n))).astype(np.int64)


def uniform_days(rng: np.random.Generator, lo: float, hi: float, n: int) -> np.ndarray:
    return (rng.uniform(lo, hi, size=n) * DAY).astype(np.int64)
