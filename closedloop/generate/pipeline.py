"""Opportunities through the stages of seeds/stages.csv, with the planted 方案交流 -> 招投标 step.

Each stage ends in one decision, advance or lose, taken after a dwell time drawn from
the *same* distribution whatever the outcome. A deal is "open" only because the window
ends before its decision: so advanced / (reached - open) is an unbiased estimate of the
planted probability, exactly the conversion rate of docs/metrics.md. Skips never jump over 方案交流 or
招投标, and moves back are detours that return to the stage before its one decision.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import vocab as V
from .activities import ACT, ActivityLog
from .company import DEPT_INDEX, SALES_TEAMS, Staff
from .timeutil import DAY, WINDOW_END, lognormal_days, to_office, to_sec, uniform_days

# Planted 方案交流 -> 招投标 rates.
BASE_RATE = 0.20
BETTER_DEPT = DEPT_INDEX[220]  # 华南二部
BETTER_RATE = 0.35
DROP_DEPT = DEPT_INDEX[110]  # 华东一部
DROP_FROM = to_sec("2026-05-01T00:00:00")
DROP_RATE = 0.15
PERIOD_EARLY = ("2025-11-01", "2026-04-30")
PERIOD_LATE = ("2026-05-01", "2026-10-31")

# P(advance) per open stage by opportunity type (new business vs. existing customers);
# the 方案交流 entry is replaced by the planted rate.
ADVANCE_NEW = np.array([0.88, 0.88, np.nan, 0.70, 0.80])
ADVANCE_EXISTING = np.array([0.95, 0.93, np.nan, 0.80, 0.85])
DWELL_MEDIAN_DAYS = np.array([8.0, 12.0, 20.0, 16.0, 12.0])
DWELL_SIGMA = 0.6
SKIP = 0.10  # at 初步接洽 (over 需求确认) and at 招投标 (over 商务谈判 to 赢单)
BACK = 0.03
OWNER_CHANGE = 0.07
AMOUNT_CHANGE = 0.20
NO_HISTORY = 0.02
START_AT_NEEDS = 0.10
LOSS_REASONS = tuple(V.REASONS.index(r) for r in ("输给竞品", "预算不足", "明年再买", "需求不明确", "无决策权"))
STAGE_ACTIVITIES = (
    (("call", "visit", "wechat"), (.5, .3, .2)),
    (("visit", "meeting", "call"), (.4, .35, .25)),
    (("demo", "meeting", "visit"), (.45, .3, .25)),
    (("proposal", "meeting", "call"), (.4, .3, .3)),
    (("meeting", "visit", "call", "proposal"), (.4, .25, .2, .15)),
)


def planted_rate(dept: np.ndarray, entered: np.ndarray) -> np.ndarray:
    rate = np.full(len(dept), BASE_RATE)
    rate[dept == BETTER_DEPT] = BETTER_RATE
    rate[(dept == DROP_DEPT) & (entered >= DROP_FROM)] = DROP_RATE
    return rate


@dataclass
class Pipeline:
    hist: tuple[np.ndarray, ...]  # opp, stage, entered_at, owner, amount (sorted by opp, time)
    stage: np.ndarray  # current stage code
    closed_at: np.ndarray  # -1 while open
    won: np.ndarray
    loss_reason: np.ndarray
    owner: np.ndarray  # current owner
    amount: np.ndarray  # current amount (cents)


def _round_amount(cents: np.ndarray) -> np.ndarray:
    return np.maximum(np.rint(cents / 10_000) * 10_000, 10_000).astype(np.int64)


def simulate(rng: np.random.Generator, staff: Staff, created: np.ndarray, owner0: np.ndarray,
             amount0: np.ndarray, existing: np.ndarray) -> Pipeline:
    n = len(created)
    rows: list[tuple[np.ndarray, ...]] = []

    def emit(o: np.ndarray, stage: np.ndarray | int, at: np.ndarray, who: np.ndarray, amt: np.ndarray) -> None:
        keep = at <= WINDOW_END
        if keep.any():
            rows.append((o[keep], np.broadcast_to(np.asarray(stage), o.shape)[keep].astype(np.int64), at[keep],
                         who[keep], amt[keep]))

    no_hist = rng.random(n) < NO_HISTORY
    cur = np.where(rng.random(n) < START_AT_NEEDS, 1, 0)
    # Opportunities without history are stale early-stage deals (imported, never updated).
    stage_final = cur.copy()
    closed_at = np.full(n, -1, np.int64)
    won = np.zeros(n, bool)
    loss = np.full(n, -1, np.int64)
    owner = owner0.copy()
    amount = amount0.copy()
    t = created.copy()
    prev = np.full(n, -1)
    advance_table = np.where(existing[:, None], ADVANCE_EXISTING[None, :], ADVANCE_NEW[None, :])

    def handover(rows: np.ndarray, at: np.ndarray) -> None:
        """Deals of someone who has left pass to a colleague of the same team before the next row."""
        gone = ~staff.active(owner[rows], at)
        if gone.any():
            g = rows[gone]
            owner[g] = staff.pick(rng, staff.dept[owner[g]], at[gone], ("sales",))

    ix0 = np.flatnonzero(~no_hist)
    emit(ix0, cur[ix0], t[ix0], owner[ix0], amount[ix0])
    alive = ~no_hist
    for _step in range(12):
        ix = np.flatnonzero(alive)
        if len(ix) == 0:
            break
        m = len(ix)
        c, tt = cur[ix], t[ix]
        dwell = lognormal_days(rng, DWELL_MEDIAN_DAYS[c], DWELL_SIGMA, m)
        # detour back to the previous stage and return, before this stage's decision
        back = (prev[ix] >= 0) & (rng.random(m) < BACK)
        part = (dwell * rng.uniform(0.2, 0.6, m)).astype(np.int64)
        back_at = to_office(rng, tt + part)
        re_at = to_office(rng, back_at + uniform_days(rng, 3, 14, m))
        # the decision at 方案交流 belongs to the department of the owner who entered it
        p = advance_table[ix, np.minimum(c, 4)]
        at_prop = c == V.ST_PROPOSAL
        p[at_prop] = planted_rate(staff.dept[owner[ix][at_prop]], tt[at_prop])
        b = np.flatnonzero(back)
        handover(ix[b], back_at[b])
        emit(ix[b], prev[ix][b], back_at[b], owner[ix][b], amount[ix][b])
        handover(ix[b], re_at[b])
        emit(ix[b], c[b], re_at[b], owner[ix][b], amount[ix][b])
        decide_at = np.where(back, re_at + (dwell - part), tt + dwell)
        decide_at = to_office(rng, decide_at)
        handover(ix[decide_at <= WINDOW_END], decide_at[decide_at <= WINDOW_END])
        adv = rng.random(m) < p
        # the stage this deal sits in when the window closes (after a detour it may be the earlier one)
        truncated = decide_at > WINDOW_END
        stage_final[ix] = np.where(back & (re_at > WINDOW_END) & (back_at <= WINDOW_END), prev[ix], c)
        alive[ix[truncated]] = False

        lost = ~truncated & ~adv
        li = ix[lost]
        emit(li, V.ST_LOST, decide_at[lost], owner[li], amount[li])
        closed_at[li] = decide_at[lost]
        loss[li] = np.array(LOSS_REASONS)[rng.choice(len(LOSS_REASONS), size=len(li), p=[.35, .25, .15, .15, .1])]
        stage_final[li] = V.ST_LOST
        alive[li] = False

        go = ~truncated & adv
        nxt = c + 1
        skip = rng.random(m) < SKIP
        nxt = np.where((c == 0) & skip, 2, np.where((c == 3) & skip, V.ST_WON, nxt))
        win = go & (nxt == V.ST_WON)
        wi = ix[win]
        emit(wi, V.ST_WON, decide_at[win], owner[wi], amount[wi])
        closed_at[wi] = decide_at[win]
        won[wi] = True
        stage_final[wi] = V.ST_WON
        alive[wi] = False

        mv = go & ~win
        mi = ix[mv]
        at = decide_at[mv]
        # owner changes at a stage entry: reassignment, or forced when the owner has left
        gone = ~staff.active(owner[mi], at)
        change = gone | (rng.random(len(mi)) < OWNER_CHANGE)
        ci = np.flatnonzero(change)
        if len(ci):
            team = staff.dept[owner[mi[ci]]]
            cross = ~gone[ci] & (rng.random(len(ci)) < 0.2)
            team = np.where(cross, SALES_TEAMS[rng.integers(0, len(SALES_TEAMS), len(ci))], team)
            owner[mi[ci]] = staff.pick(rng, team, at[ci], ("sales",), exclude=owner[mi[ci]])
        amt = rng.random(len(mi)) < AMOUNT_CHANGE
        amount[mi[amt]] = _round_amount(amount[mi[amt]] * rng.uniform(0.75, 1.25, int(amt.sum())))
        emit(mi, nxt[mv], at, owner[mi], amount[mi])
        prev[mi] = c[mv]
        cur[mi] = nxt[mv]
        t[mi] = at
        stage_final[mi] = nxt[mv]

    # open deals of someone who left are handed over (no history row: nothing moved)
    open_ = closed_at < 0
    gone = open_ & ~staff.active(owner, np.full(n, WINDOW_END))
    gi = np.flatnonzero(gone)
    if len(gi):
        owner[gi] = staff.pick(rng, staff.dept[owner[gi]], np.full(len(gi), WINDOW_END), ("sales",))

    empty = [np.zeros(0, np.int64) for _ in range(5)]
    cols = [np.concatenate(x) for x in zip(*rows, strict=True)] if rows else empty
    order = np.lexsort((cols[2], cols[0]))
    hist = tuple(x[order] for x in cols)
    return Pipeline(hist, stage_final, closed_at, won, loss, owner, amount)


def add_activities(rng: np.random.Generator, staff: Staff, pipe: Pipeline, account: np.ndarray,
                   acts: ActivityLog) -> None:
    """Work on each stage by the stage owner (presales joins demos and bids)."""
    opp, stage, at, who, _ = pipe.hist
    if len(opp) == 0:
        return
    last = np.r_[opp[1:] != opp[:-1], True]
    nxt_at = np.r_[at[1:], WINDOW_END]
    end = np.where(last, WINDOW_END, nxt_at)
    open_row = stage <= 4
    for s, (types, p) in enumerate(STAGE_ACTIVITIES):
        r = np.flatnonzero(open_row & (stage == s))
        days = (end[r] - at[r]) / DAY
        rate = np.minimum(days / 6.0, 5.0) + 0.3
        lo, hi = at[r], end[r]
        k = np.minimum(rng.poisson(rate), 8)
        rr = np.repeat(np.arange(len(r)), k)
        if len(rr) == 0:
            continue
        tt = lo[rr] + (rng.random(len(rr)) * (hi[rr] - lo[rr])).astype(np.int64)
        tt = to_office(rng, tt)
        keep = tt < hi[rr]
        rr, tt = rr[keep], tt[keep]
        atype = np.array([ACT[x] for x in types])[rng.choice(len(types), size=len(rr), p=p)]
        user = who[r][rr]
        pres = np.isin(atype, (ACT["demo"], ACT["proposal"])) & (rng.random(len(rr)) < 0.4)
        if pres.any():
            user[pres] = staff.pick(rng, staff.dept[user[pres]], tt[pres], ("presales",))
        o = opp[r][rr]
        acts.add(tt, user, atype, account=account[o], opp=o)
