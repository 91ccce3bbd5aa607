"""Accounts that buy again and again without a subscription (hardware, consumables, projects).

A share of the accounts that never won a subscription deal buy through the web shop or a distributor instead: a
first order (`new`), then repeat orders (`service`), none with a subscription period. The process is the one a
BG/NBD + Gamma–Gamma model assumes, so its parameters are a truth the repeat-purchase model must recover
(truth.json `repeat_purchase`):

- while alive, an account orders as a Poisson process with rate lambda ~ Gamma(shape r, rate alpha) per week;
- after each repeat order it drops out for good with probability p ~ Beta(a, b);
- its order values are Gamma(shape p_value, rate nu) with nu ~ Gamma(shape q, rate gamma) per account.

Its own random stream (spawn key 2) per chunk: every other table of the chunk is drawn exactly as before.
"""

from __future__ import annotations

import numpy as np

from .timeutil import END_DAY

# share of the never-won accounts that buy this way
REPEAT_SHARE = 0.8
# BG/NBD (time unit: week)
R, ALPHA, A, B = 0.9, 12.0, 1.2, 4.0
# Gamma–Gamma (in cents, as every generated amount): mean order value P_VALUE * GAMMA / (Q - 1) = 18,000.00 CNY
P_VALUE, Q, GAMMA = 6.0, 8.0, 2_100_000.0
# the first order follows the account's creation within this many days
FIRST_ORDER_DAYS = 90
MAX_ORDERS = 200  # a guard on the loop; the planted rates never reach it in a two-year window
ROUND_TO = 10_000  # whole hundreds of CNY


def repeat_rng(seed: int, index: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy=seed, spawn_key=(2, index))))


def planted() -> dict:
    return {"share_of_never_won_accounts": REPEAT_SHARE, "time_unit": "week",
            "bgnbd": {"r": R, "alpha": ALPHA, "a": A, "b": B},
            "gamma_gamma": {"p": P_VALUE, "q": Q, "v": GAMMA / 100},
            "mean_rate_per_week": R / ALPHA, "mean_dropout": A / (A + B),
            "mean_order_value": P_VALUE * GAMMA / (Q - 1) / 100, "money_unit": "CNY"}


def repeat_orders(rng: np.random.Generator, candidates: np.ndarray, created_day: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(account, day, amount, is_first) of the repeat buyers' orders, for the accounts in `candidates` (local
    indexes) created on `created_day` (days). Orders after the window's end are not drawn."""
    buyers = candidates[rng.random(len(candidates)) < REPEAT_SHARE]
    n = len(buyers)
    rate = rng.gamma(R, 1.0 / ALPHA, n)  # per week
    dropout = rng.beta(A, B, n)
    nu = rng.gamma(Q, 1.0 / GAMMA, n)
    # continuous time in days, so two orders a few hours apart stay apart in the draw (they share a day in the data)
    t = created_day[buyers] + rng.random(n) * FIRST_ORDER_DAYS
    alive = t <= END_DAY
    accounts, days, first = [buyers[alive]], [t[alive]], [np.ones(int(alive.sum()), bool)]
    for _ in range(MAX_ORDERS):
        if not alive.any():
            break
        t = t + rng.exponential(1.0, n) / np.maximum(rate, 1e-12) * 7.0
        alive &= t <= END_DAY
        accounts.append(buyers[alive])
        days.append(t[alive])
        first.append(np.zeros(int(alive.sum()), bool))
        # BG/NBD: the account may drop out after each repeat order, never after the first
        alive &= rng.random(n) >= dropout
    account = np.concatenate(accounts)
    day = np.floor(np.concatenate(days)).astype(np.int64)
    # candidates are sorted local indexes, so the buyers are too
    value = rng.gamma(P_VALUE, 1.0 / nu[np.searchsorted(buyers, account)]) if n else np.zeros(0)
    amount = np.maximum(np.rint(value / ROUND_TO) * ROUND_TO, ROUND_TO).astype(np.int64)
    return account, day, amount, np.concatenate(first)

