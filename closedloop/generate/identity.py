"""Who is behind the leads: persons, chains that join only through touches, and junk identifiers (traps).

A person is the root lead of a chain of repeat leads (a later lead re-enters an earlier lead's person). Every
identifier of a lead is drawn from its person's pools, so identity resolution has something true to find; the
traps are values typed by many people (a front-desk phone, an office mailbox, a showroom iPad, test@ e-mails,
placeholder phones) that must merge nobody. Everything is decided per chunk: a person never spans two chunks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import text
from . import vocab as V
from .timeutil import DAY

REPEAT_SHARE = 0.05  # share of leads that are a known person's later lead
REPEAT_WITHIN = 0.8  # of those, re-entering within the duplicate window of an earlier lead (the rest later)
DUPLICATE_WINDOW = 90 * DAY  # var duplicate_lead_window_days: the 重复线索 the warehouse marks
CHAIN_SHARE = 0.004  # persons (per lead) whose two leads share no identifier and join only through touches

# Trap plan per 10k leads: (kind, identifier type, values per 10k leads, persons per value (lo, hi)).
AREA_CODES = ("010", "021", "020", "0755", "028", "0571", "027", "025")
FIXED_JUNK = {"test_email": ("email", ("test@test.com", "test@qq.com")),
              "placeholder_phone": ("phone", ("13800138000", "12345678901", "00000000000"))}


@dataclass
class PersonPlan:
    root: np.ndarray  # local index of the person's first lead
    duplicate: np.ndarray  # an earlier lead of the same person was created within DUPLICATE_WINDOW
    chain_first: np.ndarray  # L1 of every chain person (local lead index)
    chain_second: np.ndarray  # L2: shares no identifier with L1
    ident: np.ndarray  # identifier pool of each lead: the root, or the lead itself for a chain's L2


@dataclass
class Trap:
    kind: str  # front_desk_phone, office_email, showroom_device, test_email, noreply_email, placeholder_phone
    id_type: str  # email, phone, device_id
    value: str  # as written (normalisation gives one node)
    leads: np.ndarray  # local lead indexes carrying it, one per distinct person


def plan_persons(rng: np.random.Generator, created: np.ndarray) -> PersonPlan:
    """Repeat leads and their person; ``created`` is sorted, so an earlier lead has a lower index."""
    n = len(created)
    i = np.arange(n)
    repeat = (rng.random(n) < REPEAT_SHARE) & (i > 0)
    within = rng.random(n) < REPEAT_WITHIN
    lo = np.searchsorted(created, created - DUPLICATE_WINDOW + 1, side="left")  # first lead of the last 90 days
    u = rng.random(n)
    src = np.where(repeat & within & (lo < i), lo + (u * (i - lo)).astype(np.int64),
                   np.where(repeat & ~within & (lo > 0), (u * lo).astype(np.int64), i))
    root = src
    while True:  # follow src to the first lead: a repeat of a repeat is the same person
        nxt = root[root]
        if np.array_equal(nxt, root):
            break
        root = nxt
    order = np.lexsort((i, root))
    same = np.r_[False, root[order][1:] == root[order][:-1]]
    gap = np.r_[0, np.diff(created[order])]
    duplicate = np.zeros(n, bool)
    duplicate[order] = same & (gap < DUPLICATE_WINDOW)
    # chains: persons with exactly two leads
    count = np.bincount(root, minlength=n)
    two = np.flatnonzero((count == 2) & (root == i))
    k = min(len(two), max(1, round(CHAIN_SHARE * n)))
    first = np.sort(rng.choice(two, size=k, replace=False)) if k else np.zeros(0, np.int64)
    second_of = np.full(n, -1, np.int64)
    rep = np.flatnonzero(root != i)
    second_of[root[rep]] = rep
    second = second_of[first]
    ident = root.copy()
    ident[second] = second
    return PersonPlan(root, duplicate, first, second, ident)


def _pick(rng: np.random.Generator, pool: np.ndarray, taken: np.ndarray, k: int) -> np.ndarray:
    free = pool[~taken[pool]]
    out = np.sort(rng.choice(free, size=min(k, len(free)), replace=False)) if len(free) else free
    taken[out] = True
    return out


def plant_traps(rng: np.random.Generator, plan: PersonPlan, channel: np.ndarray, campaign: np.ndarray,
                attrs: dict[str, np.ndarray]) -> list[Trap]:
    """Choose the persons who type junk. Each is a person with a single lead (one person per lead).

    ``attrs`` (region, team, industry, size and the company codes, per lead) is changed in place: the people
    behind a front-desk phone or an office mailbox work at one company.
    """
    n = len(plan.root)
    scale = n / 10_000
    taken = np.zeros(n, bool)
    taken[plan.chain_first] = True
    taken[plan.chain_second] = True
    single = np.flatnonzero((np.bincount(plan.root, minlength=n) == 1) & (plan.root == np.arange(n)))
    traps: list[Trap] = []

    def same_company(leads: np.ndarray) -> None:
        for a in attrs.values():
            a[leads] = a[leads[0]]

    for _ in range(max(1, round(2 * scale))):
        leads = _pick(rng, single, taken, int(rng.integers(10, 21)))
        if len(leads) > 3:
            same_company(leads)
            area = AREA_CODES[int(rng.integers(len(AREA_CODES)))]
            tail = ("8888", "6666", "0000", "1234")[int(rng.integers(4))]
            value = f"{area}-{int(rng.integers(5000, 9000))} {tail}"
            traps.append(Trap("front_desk_phone", "phone", value, leads))
    for _ in range(max(1, round(2 * scale))):
        leads = _pick(rng, single, taken, int(rng.integers(6, 10)))
        if len(leads) > 3:
            same_company(leads)
            brand = text.BRAND_PY[int(attrs["brand"][leads[0]])]
            box = ("info", "office", "contact")[int(rng.integers(3))]
            suffix = V.DOMAIN_SUFFIXES[int(rng.integers(len(V.DOMAIN_SUFFIXES)))]
            traps.append(Trap("office_email", "email", f"{box}@{brand}{suffix}", leads))
    # a showroom iPad: the check-in device at the chunk's busiest trade show
    show = single[(channel[single] == V.CH["展会"]) & (campaign[single] >= 0)]
    for _ in range(max(1, round(scale))):
        show = show[~taken[show]]
        if len(show) == 0:
            break
        camp = np.bincount(campaign[show]).argmax()
        leads = _pick(rng, show[campaign[show] == camp], taken, 20)
        if len(leads) > 3:
            value = "DV" + "".join(np.array(list(text.HEX.upper()))[rng.integers(0, 16, 20)])
            traps.append(Trap("showroom_device", "device_id", value, leads))
    for kind, (id_type, values) in FIXED_JUNK.items():
        for value in values:
            leads = _pick(rng, single, taken, int(rng.integers(5, 9)))
            if len(leads):
                traps.append(Trap(kind, id_type, value, leads))
    leads = _pick(rng, single, taken, int(rng.integers(5, 9)))
    if len(leads):
        traps.append(Trap("noreply_email", "email", f"noreply@{text.BRAND_PY[int(rng.integers(len(text.BRAND_PY)))]}"
                                                    ".com", leads))
    return traps
