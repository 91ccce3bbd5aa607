"""Attribution's data-driven weights computed another way (docs/metrics.md#markov-attribution,
#shapley-attribution), as oracles for closedloop/attribution.py:

- Shapley by brute force: the average marginal contribution over every ordering of the players (n! orderings),
  not the subset formula.
- Markov by power iteration: transition probabilities kept in dictionaries, the removed channel's outgoing edges
  sent to null, and the probability mass pushed through the chain step by step until it has been absorbed,
  instead of one linear solve.
Both take plain (path, converted, count) triples so they share no code with the module under test.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from itertools import permutations

START, CONVERSION, NULL = "<start>", "<conversion>", "<null>"


def brute_force_shapley(players: Iterable[str], value: Mapping[frozenset, float]) -> dict[str, float]:
    players = list(players)
    totals = dict.fromkeys(players, 0.0)
    orderings = 0
    for order in permutations(players):
        orderings += 1
        coalition: frozenset = frozenset()
        for p in order:
            grown = coalition | {p}
            totals[p] += value.get(grown, 0.0) - value.get(coalition, 0.0)
            coalition = grown
    return {p: t / orderings for p, t in totals.items()}


def exact_set_rates(journeys: Iterable[tuple[tuple[str, ...], bool, int]]) -> dict[frozenset, float]:
    conv: dict[frozenset, int] = defaultdict(int)
    seen: dict[frozenset, int] = defaultdict(int)
    for path, converted, count in journeys:
        key = frozenset(path)
        seen[key] += count
        conv[key] += count if converted else 0
    return {k: conv[k] / seen[k] for k in seen if k}


def _transitions(journeys: Iterable[tuple[tuple[str, ...], bool, int]]) -> dict[str, dict[str, float]]:
    counts: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for path, converted, count in journeys:
        walk = [START, *path, CONVERSION if converted else NULL]
        for a, b in zip(walk, walk[1:], strict=False):
            counts[a][b] += count
    return {a: {b: n / sum(row.values()) for b, n in row.items()} for a, row in counts.items()}


def power_iteration_conversion(transitions: Mapping[str, Mapping[str, float]], removed: str | None = None,
                               tol: float = 1e-15, max_steps: int = 1_000_000) -> float:
    mass = {START: 1.0}
    absorbed = 0.0
    for _ in range(max_steps):
        nxt: dict[str, float] = defaultdict(float)
        for state, m in mass.items():
            if state == removed:
                continue  # the removed channel sends its walkers to null
            for b, p in transitions[state].items():
                if b == CONVERSION:
                    absorbed += m * p
                elif b != NULL:
                    nxt[b] += m * p
        mass = nxt
        if sum(mass.values()) < tol:
            return absorbed
    raise AssertionError("power iteration did not converge")


def markov_removal_effects(journeys: list[tuple[tuple[str, ...], bool, int]]) -> dict[str, float]:
    transitions = _transitions(journeys)
    channels = sorted({c for path, _, _ in journeys for c in path})
    base = power_iteration_conversion(transitions)
    if base == 0:
        return dict.fromkeys(channels, 0.0)
    return {c: 1 - power_iteration_conversion(transitions, removed=c) / base for c in channels}
