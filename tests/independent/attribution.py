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


def subset_shapley(players: Iterable[str], value: Mapping[frozenset, float]) -> dict[str, float]:
    """The textbook subset formula, every subset enumerated (for games too large to permute)."""
    from itertools import combinations
    from math import factorial

    players = list(players)
    n = len(players)
    out = {}
    for p in players:
        others = [q for q in players if q != p]
        total = 0.0
        for k in range(n):
            w = factorial(k) * factorial(n - k - 1) / factorial(n)
            for subset in combinations(others, k):
                s = frozenset(subset)
                total += w * (value.get(s | {p}, 0.0) - value.get(s, 0.0))
        out[p] = total
    return out


# ---------------------------------------------------------------- the whole attribution, from the facts

NONE = "(none)"
RULES = ("first_touch", "last_touch", "linear", "time_decay", "position_based", "w_shaped")


def _persons(record_persons, record_type: str) -> dict[str, str]:
    rows = record_persons[record_persons["record_type"] == record_type]
    return dict(zip(rows["record_id"], rows["person_id"], strict=True))


def journeys(leads, opportunities, accounts, contacts, record_persons, touches, as_of) -> list[dict]:
    """Every journey (docs/metrics.md#attribution-paths) as a dict, before its path is drawn. Inputs are frames:
    fct_leads, fct_opportunities, raw accounts and contacts, int_identity__record_persons, fct_touches."""
    lead_person = _persons(record_persons, "lead")
    contact_person = _persons(record_persons, "contact")
    lead_rows = {r.lead_id: r for r in leads.itertuples()}
    account_lead = dict(zip(accounts["account_id"], accounts["source_lead_id"], strict=True))
    first_contact: dict[str, str] = {}
    ordered = contacts.assign(_missing=contacts["created_at"].isna()).sort_values(
        ["_missing", "created_at", "contact_id"])
    for r in ordered.itertuples():
        if r.contact_id in contact_person:
            first_contact.setdefault(r.account_id, contact_person[r.contact_id])
    out = []
    for r in leads.itertuples():
        out.append(dict(type="lead", id=r.lead_id, converted=True, person=lead_person.get(r.lead_id), end=r.created_at,
                        revenue=None, channel=r.channel, campaign=r.campaign_id, lead_at=r.created_at, opp_at=None))
    lead_persons = {lead_person.get(i) for i in leads["lead_id"]}
    last_touch = touches.groupby("person_id")["touched_at"].max()
    for person, at in last_touch.items():
        if person not in lead_persons:
            out.append(dict(type="lead", id=person, converted=False, person=person, end=at, revenue=None,
                            channel=None, campaign=None, lead_at=None, opp_at=None))
    for r in opportunities.itertuples():
        person, lead_at = None, None
        for lead_id in (r.source_lead_id, account_lead.get(r.account_id)):
            if isinstance(lead_id, str) and lead_id in lead_rows and lead_person.get(lead_id) is not None:
                person, lead_at = lead_person[lead_id], lead_rows[lead_id].created_at
                break
        if person is None:
            person = first_contact.get(r.account_id)
        base = dict(person=person, channel=r.channel, campaign=r.campaign_id, lead_at=lead_at, opp_at=r.created_at)
        out.append(dict(base, type="opportunity", id=r.opportunity_id, converted=True, end=r.created_at,
                        revenue=None))
        if r.is_closed and r.closed_at is not None and r.closed_at == r.closed_at:
            out.append(dict(base, type="won", id=r.opportunity_id, converted=bool(r.is_won), end=r.closed_at,
                            revenue=float(r.amount) if r.is_won else None))
    for r in leads[~leads["is_converted"].astype(bool)].itertuples():
        end = r.disqualified_at if r.disqualified_at == r.disqualified_at and r.disqualified_at is not None else as_of
        out.append(dict(type="opportunity", id=r.lead_id, converted=False, person=lead_person.get(r.lead_id), end=end,
                        revenue=None, channel=r.channel, campaign=r.campaign_id, lead_at=r.created_at, opp_at=None))
    return out


def draw_paths(all_journeys: list[dict], touches, lookback_days: Mapping[str, float]) -> None:
    """Adds `path` (a list of touch dicts, or one synthetic touch) to every journey, in place."""
    import bisect

    import pandas as pd

    by_person: dict[str, list] = defaultdict(list)
    for t in touches.sort_values(["touched_at", "touch_id"]).itertuples():
        by_person[t.person_id].append(t)
    conversions: dict[tuple, list] = defaultdict(list)
    for j in all_journeys:
        if j["converted"] and j["person"] is not None:
            conversions[(j["type"], j["person"])].append(j["end"])
    for times in conversions.values():
        times.sort()
    for j in all_journeys:
        end, person = j["end"], j["person"]
        start = end - pd.Timedelta(days=lookback_days[j["type"]])
        times = conversions.get((j["type"], person), [])
        before = times[: bisect.bisect_left(times, end)]
        previous = before[-1] if before else None
        path = [dict(touch_id=t.touch_id, at=t.touched_at, channel=t.channel, campaign=t.campaign_id,
                     content=t.content_id)
                for t in by_person.get(person, []) if person is not None
                and start <= t.touched_at <= end and (previous is None or t.touched_at > previous)]
        j["synthetic"] = not path
        j["path"] = path or [dict(touch_id=None, at=end, channel=j["channel"], campaign=j["campaign"], content=None)]


def _state(channel) -> str:
    return channel if isinstance(channel, str) else NONE


def data_driven_weights(all_journeys: list[dict]) -> dict[tuple[str, str], dict]:
    """(type, model) -> weights: markov {channel: RE}, shapley {frozenset S*: {channel: phi}}."""
    out: dict[tuple[str, str], dict] = {}
    for ctype in ("lead", "opportunity", "won"):
        mine = [j for j in all_journeys if j["type"] == ctype]
        triples = [(tuple(_state(t["channel"]) for t in j["path"]), j["converted"], 1) for j in mine]
        if not any(c for _, c, _ in triples):
            continue
        out[(ctype, "markov")] = {c: max(v, 0.0) for c, v in markov_removal_effects(triples).items()}
        rates = exact_set_rates(triples)
        sets = {frozenset(p) for p, c, _ in triples if c}
        out[(ctype, "shapley")] = {
            s: {c: max(v, 0.0) for c, v in (brute_force_shapley(sorted(s), rates) if len(s) <= 6
                                              else subset_shapley(sorted(s), rates)).items()}
            for s in sets}
    return out


def rule_credits(j: dict, half_life_days: float) -> dict[str, list[float]]:
    path, n = j["path"], len(j["path"])
    if j["synthetic"]:
        return {m: [1.0] for m in RULES}
    out = {"first_touch": [1.0 if i == 0 else 0.0 for i in range(n)],
           "last_touch": [1.0 if i == n - 1 else 0.0 for i in range(n)],
           "linear": [1.0 / n] * n}
    decay = [0.5 ** ((j["end"] - t["at"]).total_seconds() / 86400 / half_life_days) for t in path]
    out["time_decay"] = [d / sum(decay) for d in decay]
    if n == 1:
        out["position_based"] = [1.0]
    elif n == 2:
        out["position_based"] = [0.5, 0.5]
    else:
        out["position_based"] = [0.4] + [0.2 / (n - 2)] * (n - 2) + [0.4]

    def last_at_or_before(instant) -> int | None:
        if instant is None or instant != instant:
            return None
        found = [i for i, t in enumerate(path) if t["at"] <= instant]
        return found[-1] if found else None

    named = {0, last_at_or_before(j["lead_at"]), last_at_or_before(j["opp_at"])}
    raw = [0.0] * n
    for position in (0, last_at_or_before(j["lead_at"]), last_at_or_before(j["opp_at"])):
        if position is not None:
            raw[position] += 0.3
    rest = [i for i in range(n) if i not in named]
    for i in rest:
        raw[i] += 0.1 / len(rest)
    out["w_shaped"] = [r / sum(raw) for r in raw]
    return out


def split_weights(j: dict, weight_of) -> list[float]:
    states = [_state(t["channel"]) for t in j["path"]]
    distinct = sorted(set(states))
    w = {c: weight_of(c) for c in distinct}
    total = sum(w.values())
    share = {c: (w[c] / total if total > 0 else 1 / len(distinct)) for c in distinct}
    return [share[s] / states.count(s) for s in states]


def credits(all_journeys: list[dict], half_life_days: float) -> list[dict]:
    """One dict per conversion x model x path touch: the fct_attribution rows, computed here."""
    weights = data_driven_weights(all_journeys)
    rows = []
    for j in all_journeys:
        if not j["converted"]:
            continue
        by_model = rule_credits(j, half_life_days)
        if j["type"] == "lead":
            del by_model["w_shaped"]
        markov = weights[(j["type"], "markov")]
        shapley = weights[(j["type"], "shapley")][frozenset(_state(t["channel"]) for t in j["path"])]
        by_model["markov"] = split_weights(j, lambda c, m=markov: m.get(c, 0.0))
        by_model["shapley"] = split_weights(j, lambda c, s=shapley: s.get(c, 0.0))
        for model, shares in by_model.items():
            for t, share in zip(j["path"], shares, strict=True):
                rows.append(dict(conversion_type=j["type"], conversion_id=j["id"], model=model,
                                 touch_id=t["touch_id"], channel=t["channel"], campaign_id=t["campaign"],
                                 content_id=t["content"], touched_at=t["at"], credit=share,
                                 revenue_credit=None if j["revenue"] is None else share * j["revenue"]))
    return rows
