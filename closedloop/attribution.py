"""Data-driven attribution weights: Markov removal effects and Shapley values of channels, computed exactly.

Pure functions over journeys (a channel path, whether it converted, how many journeys had it); no I/O. The dbt
Python model `int_attribution__channel_weights` calls `channel_weights` once per build; everything else about
attribution (paths, rule models, the split of a weight over touches) is SQL. Definitions: docs/metrics.md,
"Attribution" (#markov-attribution, #shapley-attribution).

Why exact: public libraries estimate removal effects by simulating random walks and Shapley values by sampling
permutations, so the same data gives different credit run to run. An absorbing Markov chain's conversion
probability is one linear solve, and a Shapley value over the channel sets actually observed is a finite sum.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from math import factorial

import numpy as np

# Separators of the path and channel-set strings the SQL builds (dbt.listagg); a channel name containing one
# cannot be parsed back, which `channel_weights` detects through the counts the SQL carries beside the strings.
PATH_SEPARATOR = " > "
SET_SEPARATOR = " + "
MODELS = ("markov", "shapley")


@dataclass(frozen=True)
class Journey:
    """`count` journeys that went through `path` (channels in time order) and ended converted or not."""

    path: tuple[str, ...]
    converted: bool
    count: int = 1


# ---------------------------------------------------------------- Markov


def _transition_counts(journeys: Iterable[Journey]) -> tuple[list[str], np.ndarray]:
    """States: start, the channels (sorted), conversion, null. counts[i, j] = observed transitions i -> j."""
    journeys = list(journeys)
    channels = sorted({c for j in journeys for c in j.path})
    index = {c: i + 1 for i, c in enumerate(channels)}
    n = len(channels) + 3
    conv, null = n - 2, n - 1
    counts = np.zeros((n, n))
    for j in journeys:
        states = [0] + [index[c] for c in j.path] + [conv if j.converted else null]
        # np.add.at accumulates repeated (i, j) pairs within one path (a channel repeated back to back)
        np.add.at(counts, (states[:-1], states[1:]), j.count)
    return channels, counts


def conversion_probability(counts: np.ndarray, removed: int | None = None) -> float:
    """P(reaching conversion from start) of the absorbing chain with transition counts `counts` (states as in
    `_transition_counts`). With `removed`, that state leads straight to null: every journey through it is lost."""
    n = counts.shape[0]
    transient = n - 2
    totals = counts.sum(axis=1, keepdims=True)
    probs = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    if removed is not None:
        probs[removed, :] = 0.0
        probs[removed, n - 1] = 1.0
    q = probs[:transient, :transient]
    r = probs[:transient, n - 2]
    # (I - Q) x = r gives every transient state's absorption probability into conversion at once
    x = np.linalg.solve(np.eye(transient) - q, r)
    return float(x[0])


def markov_removal_effects(journeys: Iterable[Journey]) -> dict[str, float]:
    """RE(c) = 1 - P(conversion | c removed) / P(conversion) for every channel on any journey; all 0 when
    nothing converts (no conversion to lose)."""
    channels, counts = _transition_counts(journeys)
    if not channels:
        return {}
    base = conversion_probability(counts)
    if base <= 0:
        return {c: 0.0 for c in channels}
    return {c: 1.0 - conversion_probability(counts, removed=i + 1) / base for i, c in enumerate(channels)}


# ---------------------------------------------------------------- Shapley


def set_values(journeys: Iterable[Journey]) -> dict[frozenset[str], float]:
    """v(S) = conversions / journeys among the journeys whose channel set is exactly S (order and repeats
    ignored). Sets never observed are absent: their value is 0, as is v(empty set)."""
    converted: dict[frozenset[str], int] = {}
    total: dict[frozenset[str], int] = {}
    for j in journeys:
        s = frozenset(j.path)
        if not s:
            continue
        total[s] = total.get(s, 0) + j.count
        converted[s] = converted.get(s, 0) + (j.count if j.converted else 0)
    return {s: converted[s] / total[s] for s in total if total[s] > 0}


def shapley_values(players: Iterable[str], values: Mapping[frozenset[str], float]) -> dict[str, float]:
    """Exact Shapley values of the game v restricted to the subsets of `players` (v = 0 where `values` has no
    entry). Rewriting sum_T w(|T|) (v(T + c) - v(T)) term by term, a subset T with v(T) != 0 adds
    w(|T| - 1) v(T) to each member's value and subtracts w(|T|) v(T) from each non-member's, with
    w(k) = k! (n - k - 1)! / n!; so the cost follows the observed subsets, not the 2^n of them."""
    players = sorted(set(players))
    n = len(players)
    if n == 0:
        return {}
    weight = [factorial(k) * factorial(n - k - 1) / factorial(n) for k in range(n)]
    phi = dict.fromkeys(players, 0.0)
    grand = frozenset(players)
    for subset, v in values.items():
        if not v or not subset or not subset <= grand:
            continue
        size = len(subset)
        for p in players:
            if p in subset:
                phi[p] += weight[size - 1] * v
            else:
                phi[p] -= weight[size] * v
    return phi


# ---------------------------------------------------------------- the weights table


def parse_path(path: str) -> tuple[str, ...]:
    return tuple(path.split(PATH_SEPARATOR)) if path else ()


def parse_set(channel_set: str) -> tuple[str, ...]:
    return tuple(channel_set.split(SET_SEPARATOR)) if channel_set else ()


def channel_weights(rows: Iterable[Sequence]) -> list[tuple[str, str, str, str, float]]:
    """rows: (conversion_type, path, path_length, channel_set, channel_count, converted, journeys) as built by
    `int_attribution__journey_paths`. Returns (conversion_type, model, channel_set, channel, weight) for every
    channel of every channel set that converted at least once:
    - markov: the channel's removal effect in its conversion type's chain, clipped at 0;
    - shapley: max(phi_c, 0) of the game restricted to that channel set.
    Raises ValueError when a string does not split into the number of items the SQL counted (a channel name
    containing a separator), instead of crediting a channel that does not exist."""
    by_type: dict[str, list[Journey]] = {}
    converting_sets: dict[str, set[str]] = {}
    for conversion_type, path, path_length, channel_set, channel_count, converted, journeys in rows:
        steps, members = parse_path(path), parse_set(channel_set)
        if len(steps) != path_length or len(members) != channel_count or set(steps) != set(members):
            raise ValueError(
                f"attribution: a {conversion_type} path {path!r} / channel set {channel_set!r} does not split into "
                f"{path_length} touches and {channel_count} channels; a channel name must not contain "
                f"{PATH_SEPARATOR!r} or {SET_SEPARATOR!r}")
        by_type.setdefault(conversion_type, []).append(Journey(steps, bool(converted), int(journeys)))
        if converted:
            converting_sets.setdefault(conversion_type, set()).add(channel_set)
    out: list[tuple[str, str, str, str, float]] = []
    for conversion_type in sorted(converting_sets):
        journeys = by_type[conversion_type]
        effects = markov_removal_effects(journeys)
        values = set_values(journeys)
        for channel_set in sorted(converting_sets[conversion_type]):
            members = parse_set(channel_set)
            phi = shapley_values(members, values)
            for channel in members:
                out.append((conversion_type, "markov", channel_set, channel, max(effects[channel], 0.0)))
                out.append((conversion_type, "shapley", channel_set, channel, max(phi[channel], 0.0)))
    return out
