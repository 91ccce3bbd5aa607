"""Orders (subscriptions and their renewals, upsell, cross-sell, services) and service tickets."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import vocab as V
from .schema import Cat, Frame
from .timeutil import DAY, END_DAY, HOUR, NA, START_DAY, WINDOW_END, office_seconds, to_office, uniform_days

RENEWAL_PLANTED = 0.70
TERM = 365  # subscription_end = subscription_start + TERM - 1
RENEW_MATCH_DAYS = 7  # a renewal "starts at" the previous end within this many days
ORD = {t: i for i, t in enumerate(V.ORDER_TYPES)}
UPSELL_PER_YEAR = 0.6
CROSS_SELL_PER_YEAR = 0.3
SERVICE_PER_YEAR = 0.25
WINBACK = 0.3
TICKETS_PER_MONTH = np.array([0.45, 0.35, 0.25])  # by grade A, B, C


@dataclass
class Orders:
    parts: list[tuple[np.ndarray, ...]] = field(default_factory=list)

    def add(self, account: np.ndarray, day: np.ndarray, amount: np.ndarray, otype: int | np.ndarray,
            opp: np.ndarray | int = -1, start: np.ndarray | int = NA, end: np.ndarray | int = NA) -> None:
        n = len(account)
        if n:
            self.parts.append(tuple(np.broadcast_to(np.asarray(v, np.int64), (n,)).copy()
                                    for v in (account, day, amount, otype, opp, start, end)))

    def arrays(self) -> tuple[np.ndarray, ...]:
        if not self.parts:
            return tuple(np.zeros(0, np.int64) for _ in range(7))
        cols = [np.concatenate(c) for c in zip(*self.parts, strict=True)]
        keep = cols[1] <= END_DAY
        cols = [c[keep] for c in cols]
        order = np.lexsort((cols[3], cols[1]))
        return tuple(c[order] for c in cols)


@dataclass
class Periods:
    """Subscription periods (days, inclusive) of the main contract of each account."""

    account: list[np.ndarray] = field(default_factory=list)
    start: list[np.ndarray] = field(default_factory=list)
    end: list[np.ndarray] = field(default_factory=list)

    def add(self, a: np.ndarray, s: np.ndarray, e: np.ndarray) -> None:
        self.account.append(a)
        self.start.append(s)
        self.end.append(e)

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        a, s, e = (np.concatenate(x) if x else np.zeros(0, np.int64) for x in (self.account, self.start, self.end))
        order = np.lexsort((s, a))
        return a[order], s[order], e[order]


def chains(rng: np.random.Generator, orders: Orders, periods: Periods, account: np.ndarray, start: np.ndarray,
           amount: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Renew each subscription year after year with the planted probability.

    The given subscriptions are already ordered (or pre-date the window); returns the
    accounts and first days without a contract of the chains that lapsed in the window.
    """
    lapse_acc, lapse_day = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    acc, st, amt = account.copy(), start.copy(), amount.copy()
    for _ in range(6):
        if len(acc) == 0:
            break
        end = st + TERM - 1
        periods.add(acc, np.maximum(st, START_DAY), end)
        renew = rng.random(len(acc)) < RENEWAL_PLANTED
        nxt = end + 1
        order_day = np.maximum(nxt - rng.integers(1, 15, len(acc)), START_DAY)
        ok = renew & (order_day <= END_DAY)
        lapsed = ~renew & (nxt <= END_DAY)
        lapse_acc.append(acc[lapsed])
        lapse_day.append(nxt[lapsed])
        new_amt = (np.rint(amt[ok] * rng.uniform(0.97, 1.2, int(ok.sum())) / 10_000) * 10_000).astype(np.int64)
        orders.add(acc[ok], order_day[ok], new_amt, ORD["renewal"], -1, nxt[ok], nxt[ok] + TERM - 1)
        acc, st, amt = acc[ok], nxt[ok], new_amt
    return np.concatenate(lapse_acc), np.concatenate(lapse_day)


def period_end_at(periods: tuple[np.ndarray, ...], account: np.ndarray, day: np.ndarray) -> np.ndarray:
    """End of the main subscription period covering ``day`` (-1 when none)."""
    a, s, e = periods
    key = a * (1 << 20) + s
    i = np.searchsorted(key, account * (1 << 20) + day, side="right") - 1
    j = np.maximum(i, 0)
    ok = (i >= 0) & (a[j] == account) & (day <= e[j]) if len(a) else np.zeros(len(account), bool)
    return np.where(ok, e[j] if len(a) else -1, -1)


def events_in_periods(rng: np.random.Generator, periods: tuple[np.ndarray, ...], per_year: np.ndarray | float,
                      cap: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """Poisson events inside each in-window period: returns (account, seconds)."""
    a, s, e = periods
    e = np.minimum(e, END_DAY)
    days = np.maximum(e - s + 1, 0)
    k = np.minimum(rng.poisson(days / 365 * per_year), cap)
    rows = np.repeat(np.arange(len(a)), k)
    day = s[rows] + (rng.random(len(rows)) * days[rows]).astype(np.int64)
    return a[rows], day * DAY + office_seconds(rng, len(rows))


def expansion_opps(rng: np.random.Generator, periods: tuple[np.ndarray, ...], lapse: tuple[np.ndarray, np.ndarray],
                   acv: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Upsell / cross-sell on active customers, and win-back renewals some time after a lapse."""
    ua, ut = events_in_periods(rng, periods, UPSELL_PER_YEAR)
    ca, ct = events_in_periods(rng, periods, CROSS_SELL_PER_YEAR)
    la, ld = lapse
    wb = rng.random(len(la)) < WINBACK
    wa = la[wb]
    wt = to_office(rng, ld[wb] * DAY + uniform_days(rng, 60, 200, int(wb.sum())))
    account = np.concatenate([ua, ca, wa])
    t = np.concatenate([ut, ct, wt])
    otype = np.concatenate([np.full(len(ua), V.OPP_TYPES.index("upsell")),
                            np.full(len(ca), V.OPP_TYPES.index("cross_sell")),
                            np.full(len(wa), V.OPP_TYPES.index("renewal"))])
    share = np.where(otype == V.OPP_TYPES.index("renewal"), rng.uniform(0.8, 1.1, len(t)),
                     rng.uniform(0.1, 0.4, len(t)))
    amount = np.maximum(np.rint(acv[account] * share / 10_000) * 10_000, 10_000).astype(np.int64)
    keep = t <= WINDOW_END
    return account[keep], t[keep], otype[keep], amount[keep]


def tickets_frame(rng: np.random.Generator, periods: tuple[np.ndarray, ...], grade: np.ndarray,
                  created: np.ndarray, account_num: np.ndarray, first_ticket: int) -> Frame:
    a, s, e = periods
    e = np.minimum(e, END_DAY)
    days = np.maximum(e - s + 1, 0)
    k = np.minimum(rng.poisson(days / 30 * TICKETS_PER_MONTH[grade[a]]), 60)
    rows = np.repeat(np.arange(len(a)), k)
    n = len(rows)
    acc = a[rows]
    prio = rng.choice(4, size=n, p=[.05, .2, .45, .3])
    day = s[rows] + (rng.random(n) * days[rows]).astype(np.int64)
    opened = day * DAY + np.where(prio == 0, rng.integers(0, DAY, n), office_seconds(rng, n))
    opened = np.maximum(opened, created[acc] + HOUR)
    res_h = np.array([4.0, 12.0, 36.0, 72.0])[prio] * np.exp(0.9 * rng.standard_normal(n))
    resolved = opened + (res_h * HOUR).astype(np.int64) + 60
    open_ = (resolved > WINDOW_END) | (rng.random(n) < 0.03)
    resolved = np.where(open_, NA, resolved)
    score = np.rint(4.4 - 0.35 * np.log1p(res_h / 24) + 0.8 * rng.standard_normal(n))
    csat = np.where(open_ | (rng.random(n) < 0.3), NA, np.clip(score, 1, 5)).astype(np.int64)
    order = np.flatnonzero(opened <= WINDOW_END)
    order = order[np.argsort(opened[order], kind="stable")]
    return {
        "ticket_id": first_ticket + np.arange(len(order)),
        "account_id": account_num[acc[order]],
        "opened_at": opened[order],
        "resolved_at": resolved[order],
        "priority": Cat(prio[order], V.TICKET_PRIORITIES),
        "category": Cat(rng.choice(len(V.TICKET_CATEGORIES), size=n, p=[.2, .3, .15, .1, .15, .1])[order],
                        V.TICKET_CATEGORIES),
        "channel": Cat(rng.choice(len(V.TICKET_CHANNELS), size=n, p=[.25, .15, .3, .2, .1])[order], V.TICKET_CHANNELS),
        "csat": csat[order],
    }


def renewal_counts(orders: tuple[np.ndarray, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Per subscription_end day: subscriptions (new/renewal) ending then, and how many were renewed."""
    acc, _day, _amt, otype, _opp, start, end = orders
    subs = np.flatnonzero(np.isin(otype, (ORD["new"], ORD["renewal"])) & (end >= 0))
    ren = np.flatnonzero(otype == ORD["renewal"])
    key = np.sort(acc[ren] * (1 << 20) + start[ren])
    lo = np.searchsorted(key, acc[subs] * (1 << 20) + end[subs] - RENEW_MATCH_DAYS, side="left")
    hi = np.searchsorted(key, acc[subs] * (1 << 20) + end[subs] + RENEW_MATCH_DAYS, side="right")
    return end[subs], hi > lo
