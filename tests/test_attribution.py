"""closedloop/attribution.py: Markov removal effects and Shapley values, against hand-computed answers and against
the independent implementations in tests/independent/attribution.py (brute-force Shapley over every ordering,
Markov by power iteration) on random journeys (docs/metrics.md#markov-attribution, #shapley-attribution)."""

from __future__ import annotations

import random

import pytest
from independent import attribution as oracle

from closedloop.attribution import (
    Journey,
    channel_weights,
    markov_removal_effects,
    set_values,
    shapley_values,
)


def J(path: str, converted: bool, count: int = 1) -> Journey:
    return Journey(tuple(path.split()) if path else (), converted, count)


# ---------------------------------------------------------------- hand-computed


def test_markov_one_channel_is_indispensable() -> None:
    assert markov_removal_effects([J("A", True), J("A", False)]) == {"A": pytest.approx(1.0)}


def test_markov_two_channels_by_hand() -> None:
    """start->A 2/3, start->B 1/3; A->conv 1/2, A->B 1/2; B->conv 1/2, B->null 1/2.
    P = 2/3 * 3/4 + 1/3 * 1/2 = 2/3; without A: 1/6 (RE 3/4); without B: 1/3 (RE 1/2)."""
    effects = markov_removal_effects([J("A", True), J("B", False), J("A B", True)])
    assert effects == {"A": pytest.approx(0.75, abs=1e-12), "B": pytest.approx(0.5, abs=1e-12)}


def test_markov_repeated_channel_self_loop() -> None:
    """A->A, A->conv, A->null a third each: x_A = x_A/3 + 1/3, so P = 1/2; removing A loses everything."""
    effects = markov_removal_effects([J("A A", True), J("A", False)])
    assert effects == {"A": pytest.approx(1.0)}


def test_markov_counts_weigh_like_repeated_journeys() -> None:
    once = [J("A B", True), J("A B", True), J("B", False), J("A", False)]
    counted = [J("A B", True, 2), J("B", False), J("A", False)]
    assert markov_removal_effects(once) == pytest.approx(markov_removal_effects(counted))


def test_markov_nothing_converts() -> None:
    assert markov_removal_effects([J("A B", False)]) == {"A": 0.0, "B": 0.0}


def test_shapley_two_channels_by_hand() -> None:
    """v(A) = 1/2, v(B) = 0, v(AB) = 1: phi_A = (1/2 + 1)/2 = 3/4, phi_B = (0 + 1/2)/2 = 1/4."""
    values = set_values([J("A", True), J("A", False), J("B", False), J("A B", True), J("B A", True)])
    assert values == {frozenset("A"): 0.5, frozenset("B"): 0.0, frozenset("AB"): 1.0}
    assert shapley_values("AB", values) == {"A": pytest.approx(0.75), "B": pytest.approx(0.25)}


def test_shapley_restricted_to_the_conversions_channels() -> None:
    """The value of {A, C} does not reach a conversion whose channels are {A, B}."""
    values = {frozenset("A"): 0.2, frozenset("AB"): 0.6, frozenset("AC"): 0.9}
    phi = shapley_values("AB", values)
    assert phi == {"A": pytest.approx(0.4), "B": pytest.approx(0.2)}
    assert shapley_values("A", values) == {"A": pytest.approx(0.2)}


def test_shapley_one_channel_gets_its_rate_and_unobserved_sets_are_zero() -> None:
    assert shapley_values("A", {}) == {"A": 0.0}
    assert shapley_values([], {frozenset("A"): 1.0}) == {}


def test_channel_weights_table() -> None:
    rows = [
        ("lead", "A", 1, "A", 1, True, 1),
        ("lead", "A", 1, "A", 1, False, 1),
        ("lead", "B", 1, "B", 1, False, 1),
        ("lead", "A > B", 2, "A + B", 2, True, 1),
        ("opportunity", "B > B", 2, "B", 1, True, 3),
    ]
    got = {(t, m, s, c): w for t, m, s, c, w in channel_weights(rows)}
    # lead chain: start->A 3/4 (A->conv 1/3, A->null 1/3, A->B 1/3), start->B 1/4 (B->conv 1/2, B->null 1/2)
    p = 0.75 * (1 / 3 + 1 / 3 * 0.5) + 0.25 * 0.5
    re_a = 1 - (0.25 * 0.5) / p
    re_b = 1 - (0.75 / 3) / p
    assert got == {
        ("lead", "markov", "A", "A"): pytest.approx(re_a),
        ("lead", "shapley", "A", "A"): pytest.approx(0.5),
        ("lead", "markov", "A + B", "A"): pytest.approx(re_a),
        ("lead", "markov", "A + B", "B"): pytest.approx(re_b),
        ("lead", "shapley", "A + B", "A"): pytest.approx(0.75),
        ("lead", "shapley", "A + B", "B"): pytest.approx(0.25),
        ("opportunity", "markov", "B", "B"): pytest.approx(1.0),
        ("opportunity", "shapley", "B", "B"): pytest.approx(1.0),
    }


def test_channel_weights_clip_negative_shapley_values() -> None:
    """B alone converts; with A it never does: phi_A < 0 on the set {A, B}, clipped to 0."""
    rows = [("won", "B", 1, "B", 1, True, 1), ("won", "A > B", 2, "A + B", 2, False, 3),
            ("won", "A > B", 2, "A + B", 2, True, 1), ("won", "A", 1, "A", 1, False, 1)]
    got = {(m, s, c): w for _, m, s, c, w in channel_weights(rows)}
    # v(B) = 1, v(AB) = 1/4, v(A) = 0: phi_A = (0 + (1/4 - 1))/2 < 0
    assert got[("shapley", "A + B", "A")] == 0.0
    assert got[("shapley", "A + B", "B")] == pytest.approx((1 + 0.25) / 2)


def test_channel_weights_refuse_a_channel_containing_a_separator() -> None:
    with pytest.raises(ValueError, match="must not contain"):
        channel_weights([("lead", "A > B > C", 2, "A > B + C", 2, True, 1)])


# ---------------------------------------------------------------- against the independent implementations


def _random_journeys(rng: random.Random, channels: str, n: int) -> list[tuple[tuple[str, ...], bool, int]]:
    out = []
    for _ in range(n):
        path = tuple(rng.choice(channels) for _ in range(rng.randint(1, 5)))
        # channel A helps, D hurts: the effects are not all alike
        p = 0.2 + 0.3 * ("A" in path) - 0.15 * ("D" in path)
        out.append((path, rng.random() < p, rng.randint(1, 4)))
    return out


@pytest.mark.parametrize("seed", range(12))
def test_markov_matches_power_iteration(seed: int) -> None:
    rng = random.Random(seed)
    journeys = _random_journeys(rng, "ABCDEF"[: rng.randint(2, 6)], rng.randint(5, 120))
    mine = markov_removal_effects([Journey(p, c, n) for p, c, n in journeys])
    theirs = oracle.markov_removal_effects(journeys)
    assert mine.keys() == theirs.keys()
    for channel in mine:
        assert mine[channel] == pytest.approx(theirs[channel], abs=1e-9), channel


@pytest.mark.parametrize("seed", range(12))
def test_shapley_matches_brute_force(seed: int) -> None:
    rng = random.Random(100 + seed)
    journeys = _random_journeys(rng, "ABCDEFG"[: rng.randint(2, 7)], rng.randint(5, 200))
    values = oracle.exact_set_rates(journeys)
    assert set_values([Journey(p, c, n) for p, c, n in journeys]) == pytest.approx(values)
    for players in {frozenset(p) for p, converted, _ in journeys if converted}:
        mine = shapley_values(players, values)
        theirs = oracle.brute_force_shapley(sorted(players), values)
        assert mine == pytest.approx(theirs, abs=1e-12)
        # efficiency: the values add up to the rate of the conversion's own channel set
        assert sum(mine.values()) == pytest.approx(values[players], abs=1e-12)


def test_exact_results_are_the_same_run_to_run() -> None:
    journeys = [Journey(p, c, n) for p, c, n in _random_journeys(random.Random(5), "ABCDE", 300)]
    assert markov_removal_effects(journeys) == markov_removal_effects(list(reversed(journeys)))


def test_sql_and_python_agree_on_the_separators() -> None:
    """The path and channel-set strings are built by macros/attribution.sql and parsed back by this module."""
    import re
    from pathlib import Path

    from closedloop.attribution import PATH_SEPARATOR, SET_SEPARATOR

    macros = (Path(__file__).resolve().parents[1] / "macros" / "attribution.sql").read_text(encoding="utf-8")
    found = dict(re.findall(r"macro attribution_(path|set)_separator\(\) -%\}'([^']*)'", macros))
    assert found == {"path": PATH_SEPARATOR, "set": SET_SEPARATOR}
