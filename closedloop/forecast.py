"""Win probabilities of open deals from the deals' own history, their distribution of bookings, and the backtest.

Pure functions over arrays; no I/O. The dbt Python models `int_forecast__deal_probabilities` and
`int_forecast__period_bands` call these once per build; everything else about the forecast (periods, won to date,
targets, coverage, Brier scores, reliability bins) is SQL. Definitions: docs/metrics.md, "Forecast".

The estimate is a multi-state survival model over the stages (a semi-Markov chain). For every open stage s, a
visit's clock starts when the deal enters s and stops when it leaves s: to a later stage k, won, or lost (competing
events); a deal still in s at the as-of instant is censored there, never counted as a loss. The Aalen–Johansen
estimator gives the cumulative incidence CIF_j(t) of every exit j over time in the stage, and S(t) = still in s.
A deal that has spent d days in s is scored from d on, conditioned on being still in s at d:

    P(exit j after d | in s at d) = (CIF_j(tau) - CIF_j(d)) / sum over j of the same      (tau = last event seen)
    P(won | in s at d) = P(exit won) + sum over later stages k of P(exit to k) x P(won | entered k)

and P(won | entered k) is the same at d = 0, from the last stage backwards. Timing: the daily densities of the
exits convolve with the entered stages' densities of time to a win, so P(won within h days) comes from the same
chain (deals still in a stage past the horizon are simply not won within it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.signal import fftconvolve

CENSORED, WON, LOST = 0, 1, 2
ADVANCE = 10  # event code of a move to the open stage of order k: ADVANCE + k
DAY_SECONDS = 86_400.0
# Draws of the seeded simulation of a period's bookings; the P10/P50/P90 move by well under 1% between seeds.
SIMULATION_DRAWS = 20_000


@dataclass(frozen=True)
class Incidence:
    """Aalen–Johansen estimate on the distinct event times (ascending): survival S (no exit yet) and the
    cumulative incidence of every cause (rows of `cif`, in the order of `causes`) just after each time.
    `cases` = visits that ended in an event."""

    times: np.ndarray
    survival: np.ndarray
    causes: tuple[int, ...]
    cif: np.ndarray  # causes x times
    cases: int

    def at(self, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """S(d) and CIF(d) (causes x len(d)): right-continuous steps (events at exactly d count as past)."""
        k = np.searchsorted(self.times, np.asarray(d, dtype=float), side="right")
        s = np.concatenate([[1.0], self.survival])[k]
        c = np.concatenate([np.zeros((len(self.causes), 1)), self.cif], axis=1)[:, k]
        return s, c

    def cause(self, code: int) -> np.ndarray:
        """CIF of one cause on `times` (zeros when the cause never happened)."""
        return self.cif[self.causes.index(code)] if code in self.causes else np.zeros(len(self.times))


def aalen_johansen(durations: np.ndarray, events: np.ndarray) -> Incidence:
    """Competing-risks estimate from durations (days, >= 0) and events (0 censored, any positive code a cause).
    At each event time t the risk set is every visit with duration >= t (a visit censored at t is still at risk
    at t, as in Kaplan–Meier), cause j's hazard is d_j/n, and S drops by the sum of them."""
    durations = np.asarray(durations, dtype=float)
    events = np.asarray(events, dtype=int)
    ended = events != CENSORED
    times = np.unique(durations[ended])
    causes = tuple(int(c) for c in np.unique(events[ended]))
    if len(times) == 0:
        return Incidence(np.zeros(0), np.zeros(0), (), np.zeros((0, 0)), 0)
    at_risk = len(durations) - np.searchsorted(np.sort(durations), times, side="left")
    idx = np.searchsorted(times, durations[ended])
    counts = np.stack([np.bincount(idx[events[ended] == c], minlength=len(times)) for c in causes]).astype(float)
    survival = np.cumprod(1.0 - counts.sum(axis=0) / at_risk)
    before = np.concatenate([[1.0], survival[:-1]])
    cif = np.cumsum(before * counts / at_risk, axis=1)
    return Incidence(times, survival, causes, cif, int(ended.sum()))


@dataclass(frozen=True)
class Visits:
    """Stage visits (one per opportunity x open stage reached, first entry, as fct_opportunity_stages) with how they
    ended: exited (days since the epoch, nan while in the stage) and exit_code (WON, LOST or ADVANCE + the later
    stage's order; CENSORED while in the stage), and the deal's close (nan while open) and outcome."""

    opportunity: np.ndarray
    stage: np.ndarray  # stage_order
    department: np.ndarray  # object array; None when unknown
    entered: np.ndarray
    exited: np.ndarray
    exit_code: np.ndarray
    closed: np.ndarray
    won: np.ndarray  # bool
    # the departments as integer codes (-1 for None) in the order of `departments` (sorted names), derived once:
    # every instant's fit selects by them with array operations instead of comparing the object array per name
    department_code: np.ndarray = field(init=False, repr=False, compare=False)
    departments: tuple = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        codes, names = department_codes(self.department)
        object.__setattr__(self, "department_code", codes)
        object.__setattr__(self, "departments", names)


def department_codes(department: np.ndarray) -> tuple[np.ndarray, tuple]:
    """Integer codes of an object array of department ids (None = -1), and the sorted names the codes index."""
    names = tuple(sorted({x for x in department if x is not None}))
    lookup = {name: i for i, name in enumerate(names)}
    codes = np.fromiter((-1 if x is None else lookup[x] for x in department), dtype=np.int64, count=len(department))
    return codes, names


def _history(v: Visits, as_of: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Visits known at `as_of` (entered by then), with their durations and exits as they stood then."""
    known = v.entered <= as_of
    left_then = known & ~np.isnan(v.exited) & (v.exited <= as_of)
    end = np.where(left_then, v.exited, as_of)
    durations = np.maximum(end - v.entered, 0.0)
    events = np.where(left_then, v.exit_code, CENSORED)
    return known, durations, events


@dataclass
class Chain:
    """The stage curves known at one instant and, per department (None = company), the win probability and the
    daily density of time to a win on entering every stage (computed once, reused by every deal)."""

    curves: dict[tuple[int | None, object], Incidence]
    grid: int
    enter_p: dict[tuple[int, object], float] = field(default_factory=dict)
    enter_g: dict[tuple[int, object], np.ndarray] = field(default_factory=dict)

    def curve_key(self, stage: int, dept: object) -> tuple[tuple[int | None, object], str]:
        if dept is not None and (stage, dept) in self.curves:
            return (stage, dept), "department"
        if (stage, None) in self.curves and self.curves[(stage, None)].cases:
            return (stage, None), "company"
        return (None, None), "all_stages"

    def entering(self, stage: int, dept: object) -> tuple[float, np.ndarray]:
        """P(won | just entered `stage`) and its daily density of time to a win, for a deal of `dept`."""
        key = (stage, dept)
        if key not in self.enter_p:
            p, g, _ = self.from_day(stage, dept, np.zeros(1), entering=True)
            self.enter_p[key], self.enter_g[key] = float(p[0]), g[0]
        return self.enter_p[key], self.enter_g[key]

    def from_day(self, stage: int, dept: object, d: np.ndarray, entering: bool = False
                 ) -> tuple[np.ndarray, np.ndarray, str]:
        """For deals in `stage` for `d` days: P(won eventually) and the daily density (len(d) x grid+1) of the
        days from now to a win (its sum up to h = P(won within h days)). `entering`: the deal enters the stage
        now, so exits at duration 0 (a skipped stage) are still ahead of it."""
        key, level = self.curve_key(stage, dept)
        inc = self.curves[key]
        d = np.asarray(d, dtype=float)
        if key == (None, None):
            return self._pooled(inc, d), np.zeros((len(d), self.grid + 1)), level
        s_d, c_d = inc.at(d)
        if entering:
            s_d, c_d = np.ones(len(d)), np.zeros_like(c_d)
        rest = (inc.cif[:, -1:] - c_d) if len(inc.times) else np.zeros((0, len(d)))
        closing = rest.sum(axis=0)
        stalled = closing <= 1e-12
        if stalled.any():
            # stalled past every exit the history saw: the stage's exit shares at entry
            rest0 = inc.cif[:, -1:]
            rest[:, stalled] = rest0
            closing[stalled] = rest0.sum()
        share = np.divide(rest, closing, out=np.zeros_like(rest), where=closing > 1e-12)
        # daily exit densities from d on: f_j(t) = (CIF_j(d + t) - CIF_j(d - or at)) / S(d), t = 0..grid
        steps = d[:, None] + np.arange(self.grid + 1)[None, :]
        _, c_grid = inc.at(steps.ravel())
        c_grid = c_grid.reshape(len(inc.causes), len(d), self.grid + 1)
        dens = np.diff(np.concatenate([c_d[:, :, None], c_grid], axis=2), axis=2)
        dens = np.divide(dens, s_d[None, :, None], out=np.zeros_like(dens), where=s_d[None, :, None] > 1e-12)
        p = np.zeros(len(d))
        g = np.zeros((len(d), self.grid + 1))
        for j, code in enumerate(inc.causes):
            if code == WON:
                p += share[j]
                g += dens[j]
            elif code >= ADVANCE:
                w, gk = self.entering(code - ADVANCE, dept)
                p += share[j] * w
                g += fftconvolve(dens[j], gk[None, :], axes=1)[:, : self.grid + 1]
        return np.clip(p, 0.0, 1.0), np.clip(g, 0.0, None), level

    @staticmethod
    def _pooled(inc: Incidence, d: np.ndarray) -> np.ndarray:
        """Last resort (nobody has left the stage yet): wins among every stage exit that closed a deal."""
        won, lost = inc.cause(WON), inc.cause(LOST)
        total = (won[-1] + lost[-1]) if len(inc.times) else 0.0
        return np.full(len(d), won[-1] / total if total > 0 else np.nan)


def fit_chain(v: Visits, as_of: float, min_cases: int, grid: int) -> Chain:
    """Curves known at `as_of`: per stage for the company (dept None), per stage x department for departments
    with at least `min_cases` of their deals that reached the stage closed (won or lost) by then, and one over
    all stages (stage None) as the last resort for a stage nobody has left yet."""
    known, durations, events = _history(v, as_of)
    deal_closed = known & ~np.isnan(v.closed) & (v.closed <= as_of)
    curves: dict[tuple[int | None, object], Incidence] = {(None, None): aalen_johansen(durations[known],
                                                                                     events[known])}
    # the known visits sorted by stage, then department code: every (stage, department) is one contiguous slice
    # (aalen_johansen does not depend on the order of its rows, so the curves are the ones a mask would give)
    rows = np.flatnonzero(known)
    rows = rows[np.lexsort((v.department_code[rows], v.stage[rows]))]
    stage, code = v.stage[rows], v.department_code[rows]
    closed_count = np.concatenate([[0], np.cumsum(deal_closed[rows])])
    stage_starts = np.flatnonzero(np.r_[True, stage[1:] != stage[:-1]]) if len(rows) else np.zeros(0, int)
    for lo, hi in zip(stage_starts, [*stage_starts[1:], len(rows)], strict=True):
        s = int(stage[lo])
        at_s = rows[lo:hi]
        curves[(s, None)] = aalen_johansen(durations[at_s], events[at_s])
        group_starts = lo + np.flatnonzero(np.r_[True, code[lo + 1:hi] != code[lo:hi - 1]])
        for glo, ghi in zip(group_starts, [*group_starts[1:], hi], strict=True):
            if code[glo] < 0 or int(closed_count[ghi] - closed_count[glo]) < min_cases:
                continue
            group = rows[glo:ghi]
            curves[(s, v.departments[code[glo]])] = aalen_johansen(durations[group], events[group])
    return Chain(curves, grid)


def closed_only_rates(v: Visits, as_of: float) -> dict[int | None, float]:
    """Baseline: per stage, won / (won + lost) among deals that reached the stage and had closed by `as_of`
    (open deals ignored: the naive rate that forgets deals still open). Key None = over all stages."""
    known = v.entered <= as_of
    decided = known & ~np.isnan(v.closed) & (v.closed <= as_of)
    rates: dict[int | None, float] = {}
    if decided.any():
        rates[None] = float(v.won[decided].mean())
    for s in np.unique(v.stage[decided]):
        rows = decided & (v.stage == s)
        rates[int(s)] = float(v.won[rows].mean())
    return rates


@dataclass(frozen=True)
class OpenDeals:
    """Deals open at an instant, in the stage they stood in then."""

    opportunity: np.ndarray
    stage: np.ndarray
    department: np.ndarray
    entered: np.ndarray
    days_in: np.ndarray


def open_at(v: Visits, opp_ids: np.ndarray, created: np.ndarray, closed: np.ndarray, first_stage: int,
            fallback_department: np.ndarray, as_of: float) -> OpenDeals:
    """Rebuild the open pipeline at `as_of` from the stage history: deals created by then and not closed by
    then, each in the furthest open stage entered by then (first entries, as in fct_opportunity_stages). A deal
    with no stage entered by then (lost before any recorded stage, recorded later) is in the first stage since
    its creation, with its current department."""
    is_open = (created <= as_of) & (np.isnan(closed) | (closed > as_of))
    ids = opp_ids[is_open]
    kv = np.flatnonzero(v.entered <= as_of)
    # furthest stage entered by then, per deal: sort by (deal, stage) and keep each deal's last row
    order = kv[np.lexsort((v.stage[kv], v.opportunity[kv]))]
    last = np.ones(len(order), bool)
    if len(order):
        last[:-1] = v.opportunity[order][1:] != v.opportunity[order][:-1]
    top = order[last]  # sorted by deal
    stage = np.full(len(ids), first_stage, dtype=int)
    dept = fallback_department[is_open].astype(object)
    entered = created[is_open].copy()
    if len(top) and len(ids):
        top_ids = v.opportunity[top]
        at = np.minimum(np.searchsorted(top_ids, ids), len(top) - 1)
        found = top_ids[at] == ids
        r = top[at[found]]
        stage[found], dept[found], entered[found] = v.stage[r], v.department[r], v.entered[r]
    return OpenDeals(ids, stage, dept, entered, np.maximum(as_of - entered, 0.0))


@dataclass(frozen=True)
class Scored:
    """Per open deal at one instant: the model's probabilities, where they came from, and the closed-only
    baseline."""

    p_win: np.ndarray
    within: list[np.ndarray]
    median_days_to_win: np.ndarray
    level: np.ndarray  # department, company or all_stages
    cases: np.ndarray
    p_closed_only: np.ndarray


def score_open(deals: OpenDeals, chain: Chain, closed_only: dict, horizons: Sequence[float]) -> Scored:
    """Each deal takes its department's curve for a stage when the department has enough history there, else
    the company's; P(won within h) for every horizon h (days from the instant, at most the chain's grid)."""
    n = len(deals.opportunity)
    p_win = np.full(n, np.nan)
    within = [np.zeros(n) for _ in horizons]
    median = np.full(n, np.nan)
    level = np.empty(n, dtype=object)
    cases = np.zeros(n, dtype=int)
    codes, names = department_codes(deals.department)
    key = deals.stage.astype(np.int64) * (len(names) + 1) + codes + 1
    order = np.argsort(key, kind="stable")
    starts = np.flatnonzero(np.r_[True, key[order][1:] != key[order][:-1]]) if n else np.zeros(0, int)
    for lo, hi in zip(starts, [*starts[1:], n], strict=True):
        rows = order[lo:hi]
        stage, code = int(deals.stage[rows[0]]), codes[rows[0]]
        dept = None if code < 0 else names[code]
        p, g, lvl = chain.from_day(stage, dept, deals.days_in[rows])
        cum = np.cumsum(g, axis=1)
        p_win[rows] = p
        for k, h in enumerate(horizons):
            within[k][rows] = np.minimum(cum[:, min(int(np.floor(h)), chain.grid)], p)
        half = cum >= 0.5 * p[:, None] - 1e-12
        reach = half.any(axis=1) & (p > 1e-12)
        median[rows[reach]] = half[reach].argmax(axis=1)
        level[rows] = lvl
        cases[rows] = chain.curves[chain.curve_key(stage, dept)[0]].cases
    p_closed = np.array([closed_only.get(int(s), closed_only.get(None, np.nan)) for s in deals.stage], dtype=float)
    return Scored(p_win, within, median, level, cases, p_closed)


# ---------------------------------------------------------------- periods and bands


def period_ends(as_of: np.datetime64, fiscal_year_start_month: int) -> dict[str, tuple[np.datetime64, np.datetime64]]:
    """Start and end (exclusive, first instant after) of the month, fiscal quarter and fiscal half-year holding
    `as_of`."""
    month = as_of.astype("datetime64[M]")
    index = (month.astype(int) % 12 + 1 - fiscal_year_start_month) % 12  # month of the fiscal year, 0-based
    out = {}
    for name, size in (("month", 1), ("quarter", 3), ("half_year", 6)):
        start = month - np.timedelta64(int(index % size), "M")
        out[name] = (start.astype("datetime64[D]"), (start + np.timedelta64(size, "M")).astype("datetime64[D]"))
    return out


def period_label(period: str, start: np.datetime64, fiscal_year_start_month: int) -> str:
    """`2026-10` for a month, `FY2026-Q4` / `FY2026-H2` for fiscal quarters and halves; a fiscal year is named
    after the calendar year it ends in (as dim_date names it)."""
    month = start.astype("datetime64[M]")
    if period == "month":
        return str(month)
    index = (month.astype(int) % 12 + 1 - fiscal_year_start_month) % 12
    fy_end = month - np.timedelta64(int(index), "M") + np.timedelta64(11, "M")
    fy = int(str(fy_end)[:4])
    return f"FY{fy}-Q{index // 3 + 1}" if period == "quarter" else f"FY{fy}-H{index // 6 + 1}"


def bookings_totals(amount: np.ndarray, probabilities: Sequence[np.ndarray], seed: int | Sequence[int],
                    draws: int = SIMULATION_DRAWS) -> np.ndarray:
    """Simulated bookings, one row per probability vector and one column per draw: Σ amount_i × [U_ij < p_i] with
    U_ij uniform, independent across deals i and draws j, from a seeded generator (same inputs, same numbers).
    The vectors share the draws U, which is what makes one pass serve them all: each vector's totals are still a
    simulation of independent wins with its own probabilities, a deal that wins within the month in a draw also wins
    within the quarter there whenever its month probability is the lower (so the month's percentiles never exceed
    the quarter's), and the totals of disjoint groups of deals add up, per draw, to those of their union."""
    amount = np.asarray(amount, dtype=float)
    totals = np.zeros((len(probabilities), draws))
    if len(amount) == 0:
        return totals
    # float32 uniforms, hits and amounts: numpy multiplies a bool matrix by a float64 vector without BLAS, ten
    # times slower. Rounding an amount to float32 changes it by at most 6e-8 of itself, and each chunk's sum (at
    # most 1,000 deals, summed in float32) by at most 1e-4 of itself before it is added to the float64 totals: far
    # inside the simulation's own spread of a percent or so (docs/benchmarks.md)
    p = np.stack([np.asarray(x, dtype=float) for x in probabilities]).astype(np.float32)
    amount32 = amount.astype(np.float32)
    rng = np.random.default_rng(seed)
    step = max(1, 20_000_000 // draws)
    for lo in range(0, len(amount), step):
        hi = min(len(amount), lo + step)
        u = rng.random((hi - lo, draws), dtype=np.float32)
        for k in range(len(p)):
            totals[k] += amount32[lo:hi] @ (u < p[k, lo:hi, None]).astype(np.float32)
    return totals


def band_quantiles(totals: np.ndarray, quantiles: Sequence[float] = (0.1, 0.5, 0.9)) -> np.ndarray:
    """Quantiles of simulated totals (one draw per value), each one of the drawn totals (no interpolation)."""
    return np.quantile(totals, quantiles, method="inverted_cdf")


def bookings_bands(amount: np.ndarray, p: np.ndarray, seed: int | Sequence[int], draws: int = SIMULATION_DRAWS,
                   quantiles: Sequence[float] = (0.1, 0.5, 0.9)) -> np.ndarray:
    """Quantiles of sum(amount_i x Bernoulli(p_i)), independent deals, from a seeded simulation: the same
    inputs and seed give the same numbers. The exact distribution of an amount-weighted sum has up to 2^n
    atoms; the simulation's quantiles are within a fraction of a percent at 20,000 draws."""
    if len(amount) == 0:
        return np.zeros(len(quantiles))
    return band_quantiles(bookings_totals(amount, [p], seed, draws)[0], quantiles)


def brier(p: np.ndarray, outcome: np.ndarray) -> float:
    return float(np.mean((np.asarray(p, float) - np.asarray(outcome, float)) ** 2))
