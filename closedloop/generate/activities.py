"""Collects activity rows from leads, opportunities and accounts, then gives them types' details."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from . import vocab as V
from .schema import Cat, Frame
from .timeutil import DAY, NA, office_seconds

ACT = {a: i for i, a in enumerate(V.ACTIVITY_TYPES)}
OUTCOMES: tuple[str, ...] = tuple(o for a in V.ACTIVITY_TYPES for o in V.ACTIVITY_OUTCOMES[a])
OUT_START = np.cumsum([0] + [len(V.ACTIVITY_OUTCOMES[a]) for a in V.ACTIVITY_TYPES])
NO_ANSWER = OUTCOMES.index(V.NO_ANSWER)
# Minutes (low, high) per activity type: calls are short, visits and demos take a morning.
DURATION = {"call": (1, 25), "visit": (30, 180), "email": (3, 15), "wechat": (2, 20), "meeting": (30, 120),
            "demo": (45, 150), "proposal": (60, 240)}


def _map(numbers: np.ndarray, local: np.ndarray) -> np.ndarray:
    return np.where(local >= 0, numbers[np.maximum(local, 0)] if len(numbers) else NA, NA)


@dataclass
class ActivityLog:
    """Appends activity rows as arrays; ``outcome`` -1 means 'draw one for the type'."""

    parts: list[tuple[np.ndarray, ...]] = field(default_factory=list)

    def add(self, at: np.ndarray, user: np.ndarray, atype: np.ndarray, lead: np.ndarray | int = NA,
            account: np.ndarray | int = NA, opp: np.ndarray | int = NA, outcome: np.ndarray | int = -1) -> None:
        n = len(at)
        if n == 0:
            return

        def full(v: np.ndarray | int) -> np.ndarray:
            return np.broadcast_to(np.asarray(v, dtype=np.int64), (n,)).copy()

        self.parts.append((np.asarray(at, np.int64), full(user), full(atype), full(lead), full(account), full(opp),
                           full(outcome)))

    def between(self, rng: np.random.Generator, lo: np.ndarray, hi: np.ndarray, user: np.ndarray, rate: float,
                types: tuple[str, ...], p: tuple[float, ...], cap: int = 4, outcome: int = -1,
                **ids: np.ndarray) -> None:
        """Follow-up work: a Poisson number of activities at office hours strictly inside (lo, hi)."""
        k = np.minimum(rng.poisson(rate, size=len(lo)), cap)
        rows = np.repeat(np.arange(len(lo)), k)
        if len(rows) == 0:
            return
        lo_d, hi_d = lo[rows] // DAY, hi[rows] // DAY
        day = lo_d + (rng.random(len(rows)) * (hi_d - lo_d + 1)).astype(np.int64)
        at = day * DAY + office_seconds(rng, len(rows))
        keep = (at > lo[rows]) & (at < hi[rows])
        rows, at = rows[keep], at[keep]
        atype = np.array([ACT[t] for t in types])[rng.choice(len(types), size=len(rows), p=p)]
        self.add(at, user[rows], atype, outcome=outcome, **{k2: v[rows] for k2, v in ids.items()})

    def frame(self, rng: np.random.Generator, active: Callable[[np.ndarray, np.ndarray], np.ndarray],
              lead_num: np.ndarray, account_num: np.ndarray, opp_num: np.ndarray) -> Frame:
        """Rows sorted by time, local indexes mapped to id numbers.

        Rows by a user who had already left (or not joined) are dropped: a CRM cannot hold them.
        """
        if self.parts:
            cols = [np.concatenate(c) for c in zip(*self.parts, strict=True)]
        else:
            cols = [np.zeros(0, np.int64) for _ in range(7)]
        at, user, atype, lead, account, opp, outcome = cols
        keep = active(user, at)
        order = np.flatnonzero(keep)[np.argsort(at[keep], kind="stable")]
        at, user, atype, lead, account, opp, outcome = (c[order] for c in cols)
        n = len(at)
        n_out = np.diff(OUT_START)[atype]
        drawn = OUT_START[atype] + (rng.random(n) * n_out).astype(np.int64)
        outcome = np.where(outcome >= 0, outcome, drawn)
        lo = np.array([DURATION[a][0] for a in V.ACTIVITY_TYPES])[atype]
        hi = np.array([DURATION[a][1] for a in V.ACTIVITY_TYPES])[atype]
        minutes = lo + (rng.random(n) * (hi - lo + 1)).astype(np.int64)
        minutes = np.where(outcome == NO_ANSWER, 0, minutes)
        # Not every CRM entry records a duration.
        minutes = np.where(rng.random(n) < 0.1, NA, minutes)
        return {"activity_id": np.zeros(n, np.int64), "activity_at": at, "user_id": user + 1,
                "activity_type": Cat(atype, V.ACTIVITY_TYPES), "lead_id": _map(lead_num, lead),
                "account_id": _map(account_num, account), "opportunity_id": _map(opp_num, opp),
                "duration_minutes": minutes, "outcome": Cat(outcome, OUTCOMES)}
