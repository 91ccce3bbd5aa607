"""Accounts (migrated customers and converted leads), their contacts, owners and referrals."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import text
from . import vocab as V
from .activities import ACT, ActivityLog
from .company import REGION_SHARE, Staff, region_team
from .leads import ASG, ASG_OFF, OWN, REL, LeadBase, LeadSim
from .timeutil import DAY, HOUR, WINDOW_END, WINDOW_START, lognormal_days, to_office, uniform_days

LEGACY_PER_LEAD = 0.14  # customers migrated into the CRM at go-live, per generated lead
REFERRAL_SHARE = 0.10  # planted share of accounts that came by referral
GRADE_P = np.array([[.03, .2, .77], [.08, .3, .62], [.2, .4, .4], [.4, .4, .2], [.6, .3, .1]])  # by company size
# Annual contract value (CNY) median by company size.
ACV_MEDIAN = np.array([40_000, 80_000, 160_000, 320_000, 600_000])
IDLE_RELEASE = 0.5  # lost prospects handed back to the pool
TRANSFER = 0.04
ACCT_CLAIM_P = {"超期未跟进": 0.35, "手动释放": 0.4, "离职": 0.9}


@dataclass
class Accounts:
    created: np.ndarray
    region: np.ndarray
    team: np.ndarray
    industry: np.ndarray
    size: np.ndarray
    grade: np.ndarray
    company: dict[str, np.ndarray]
    owner0: np.ndarray
    source_lead: np.ndarray  # local lead index or -1
    legacy: np.ndarray
    referred_by: np.ndarray  # local account index or -1
    acv: np.ndarray  # annual contract value, cents

    @property
    def n(self) -> int:
        return len(self.created)


def build_accounts(rng: np.random.Generator, staff: Staff, base: LeadBase, sim: LeadSim) -> Accounts:
    n_leg = max(1, round(base.n * LEGACY_PER_LEAD))
    leg_created = np.sort(WINDOW_START + rng.integers(0, HOUR, n_leg))
    leg_region = rng.choice(len(V.REGIONS), size=n_leg, p=REGION_SHARE)
    leg_industry = rng.choice(len(V.INDUSTRIES), size=n_leg)
    leg_size = rng.choice(len(V.COMPANY_SIZES), size=n_leg, p=[.15, .3, .3, .17, .08])
    leg_company = text.company_codes(rng, leg_region, leg_industry)
    leg_team = region_team(rng, leg_region)
    leg_owner = staff.pick(rng, leg_team, leg_created + DAY // 2, ("sales",))

    conv = np.flatnonzero(sim.converted_at >= 0)
    conv = conv[np.argsort(sim.converted_at[conv], kind="stable")]
    size = np.concatenate([leg_size, base.size[conv]])
    n = n_leg + len(conv)
    grade_u = rng.random(n)
    cum = np.cumsum(GRADE_P[size], axis=1)
    grade = (grade_u[:, None] > cum).sum(axis=1)
    referred = np.full(n, -1, np.int64)
    # Accounts from 转介绍 leads are referred by definition; just enough migrated customers are
    # marked as referred (by an earlier customer) that the share is REFERRAL_SHARE in every chunk.
    from_referrals = int((base.channel[conv] == V.CH["转介绍"]).sum())
    k = int(np.clip(round(REFERRAL_SHARE * n) - from_referrals, 0, n_leg - 1))
    ref = np.sort(1 + rng.choice(n_leg - 1, size=k, replace=False)) if k else np.zeros(0, np.int64)
    referred[ref] = (rng.random(k) * ref).astype(np.int64)
    acv = np.rint(ACV_MEDIAN[size] * np.exp(0.45 * rng.standard_normal(n)) / 100).astype(np.int64) * 10_000
    return Accounts(
        created=np.concatenate([leg_created, sim.converted_at[conv]]),
        region=np.concatenate([leg_region, base.region[conv]]),
        team=np.concatenate([leg_team, staff.dept[sim.owner[conv]]]),
        industry=np.concatenate([leg_industry, base.industry[conv]]),
        size=size, grade=grade,
        company={k: np.concatenate([leg_company[k], base.company[k][conv]]) for k in leg_company},
        owner0=np.concatenate([leg_owner, sim.owner[conv]]),
        source_lead=np.concatenate([np.full(n_leg, -1), conv]),
        legacy=np.arange(n) < n_leg,
        referred_by=referred,
        acv=acv,
    )


def assign_referrers(rng: np.random.Generator, base: LeadBase, acc: Accounts, customer_since: np.ndarray) -> np.ndarray:
    """Referrer of every 转介绍 lead: an account that was already a customer when the lead came in."""
    ref = np.full(base.n, -1, np.int64)
    rows = np.flatnonzero(base.channel == V.CH["转介绍"])
    cand = np.flatnonzero(customer_since >= 0)
    cand = cand[np.argsort(customer_since[cand], kind="stable")]
    n_before = np.searchsorted(customer_since[cand], base.created[rows], side="left")
    ok = n_before > 0
    pick = (rng.random(len(rows)) * n_before).astype(np.int64)
    ref[rows[ok]] = cand[pick[ok]]
    # the account created from a referred lead remembers who referred it
    src = acc.source_lead >= 0
    acc.referred_by[src] = ref[acc.source_lead[src]]
    return ref


@dataclass
class Ownership:
    events: tuple[np.ndarray, ...]  # account, at, type, user, reason
    seg: tuple[np.ndarray, ...]  # account, start, end, owner (sorted by account, start)
    owner: np.ndarray  # at the end of the window, -1 = in the pool

    def owner_at(self, account: np.ndarray, t: np.ndarray) -> np.ndarray:
        a, s, e, o = self.seg
        key = a * (1 << 32) + s
        q = account * (1 << 32) + t
        i = np.searchsorted(key, q, side="right") - 1
        ok = (i >= 0) & (a[np.maximum(i, 0)] == account) & (t < e[np.maximum(i, 0)])
        return np.where(ok, o[np.maximum(i, 0)], -1)


def simulate_ownership(rng: np.random.Generator, staff: Staff, acc: Accounts, lost_at: np.ndarray,
                       customer_since: np.ndarray) -> Ownership:
    """Replay-able owner history: assignment, idle release of lost prospects, transfers, departures."""
    n = acc.n
    ev_parts: list[tuple[np.ndarray, ...]] = []
    seg_parts: list[tuple[np.ndarray, ...]] = []

    def ev(a: np.ndarray, at: np.ndarray, etype: int, user: np.ndarray, reason: np.ndarray | int) -> None:
        if len(a):
            ev_parts.append((a, at, np.full(len(a), etype), user, np.broadcast_to(np.asarray(reason), a.shape).copy()))

    ix = np.arange(n)
    ev(ix, acc.created, OWN["assigned"], acc.owner0,
       np.where(acc.legacy, ASG_OFF + ASG["迁移导入"], ASG_OFF + ASG["商机转化"]))
    owner = acc.owner0.copy()
    t = acc.created.copy()
    seg_start = acc.created.copy()
    idle_at = np.where((lost_at >= 0) & (customer_since < 0) & (rng.random(n) < IDLE_RELEASE),
                       lost_at + uniform_days(rng, 30, 120, n), -1)
    idle_at = np.where(idle_at >= 0, idle_at // DAY * DAY + 2 * HOUR + rng.integers(0, 1800, n), -1)
    xfer_at = np.where(rng.random(n) < TRANSFER, to_office(rng, acc.created + uniform_days(rng, 30, 600, n)), -1)
    in_pool = np.zeros(n, bool)
    claim_ok = np.zeros(n, bool)
    pool_reason = np.zeros(n, np.int64)
    alive = np.ones(n, bool)
    a_to = staff.active_to
    inf = np.iinfo(np.int64).max // 4
    for _ in range(12):
        ix = np.flatnonzero(alive)
        if len(ix) == 0:
            break
        m = len(ix)
        when = np.full(m, inf)
        kind = np.zeros(m, np.int64)  # 0 none, 1 idle, 2 transfer, 3 left, 4 claim
        held = ~in_pool[ix]
        cur = np.maximum(owner[ix], 0)
        i1 = held & (idle_at[ix] > t[ix])
        when[i1], kind[i1] = idle_at[ix][i1], 1
        i2 = held & (xfer_at[ix] > t[ix]) & (xfer_at[ix] < when)
        when[i2], kind[i2] = xfer_at[ix][i2], 2
        i3 = held & (a_to[cur] < when)
        when[i3], kind[i3] = a_to[cur][i3], 3
        pr = pool_reason[ix]
        delay = np.where(pr == REL["离职"], uniform_days(rng, 0.5, 10, m), lognormal_days(rng, 20, 0.8, m))
        i4 = in_pool[ix] & claim_ok[ix]
        when[i4], kind[i4] = to_office(rng, t[ix] + delay)[i4], 4
        done = (kind == 0) | (when > WINDOW_END)
        alive[ix[done]] = False
        g, w, k = ix[~done], when[~done], kind[~done]
        # close the current owner's segment
        closing = np.isin(k, (1, 2, 3))
        seg_parts.append((g[closing], seg_start[g[closing]], w[closing], owner[g[closing]]))
        rel = np.isin(k, (1, 3))
        r = g[rel]
        reason = np.where(k[rel] == 1, REL["超期未跟进"], REL["离职"])
        ev(r, w[rel], OWN["released"], owner[r], reason)
        in_pool[r] = True
        pool_reason[r] = reason
        claim_ok[r] = rng.random(len(r)) < np.array([ACCT_CLAIM_P[x] for x in V.RELEASE_REASONS])[reason]
        owner[r] = -1
        tr = g[k == 2]
        new = staff.pick(rng, acc.team[tr], w[k == 2], ("sales",), exclude=owner[tr])
        ev(tr, w[k == 2], OWN["transferred"], new, ASG_OFF + ASG["主管调配"])
        owner[tr] = new
        seg_start[tr] = w[k == 2]
        xfer_at[tr] = -1
        cl = g[k == 4]
        new = staff.pick(rng, acc.team[cl], w[k == 4], ("sales",))
        ev(cl, w[k == 4], OWN["claimed"], new, -1)
        owner[cl] = new
        in_pool[cl] = False
        seg_start[cl] = w[k == 4]
        t[g] = w
    held = owner >= 0
    seg_parts.append((np.flatnonzero(held), seg_start[held], np.full(int(held.sum()), WINDOW_END + 1), owner[held]))
    seg = [np.concatenate(x) for x in zip(*seg_parts, strict=True)]
    order = np.lexsort((seg[1], seg[0]))
    evs = [np.concatenate(x) for x in zip(*ev_parts, strict=True)]
    eorder = np.lexsort((evs[1], evs[0]))
    return Ownership(tuple(x[eorder] for x in evs), tuple(x[order] for x in seg), owner)


def add_activities(rng: np.random.Generator, own: Ownership, customer_since: np.ndarray, acts: ActivityLog) -> None:
    """Account care by the owner: customers are visited regularly, prospects now and then."""
    a, s, e, o = own.seg
    e = np.minimum(e, WINDOW_END)
    cust = customer_since[a] >= 0
    lo = np.where(cust, np.maximum(s, customer_since[a]), s)
    months = np.maximum(e - lo, 0) / (30 * DAY)
    rate = np.where(cust, 0.45, 0.12) * months
    k = np.minimum(rng.poisson(rate), 40)
    rows = np.repeat(np.arange(len(a)), k)
    if len(rows) == 0:
        return
    at = to_office(rng, lo[rows] + (rng.random(len(rows)) * (e[rows] - lo[rows])).astype(np.int64))
    keep = at < e[rows]
    rows, at = rows[keep], at[keep]
    types = np.array([ACT[x] for x in ("visit", "call", "wechat", "meeting", "email")])
    atype = types[rng.choice(len(types), size=len(rows), p=[.3, .25, .25, .1, .1])]
    acts.add(at, o[rows], atype, account=a[rows])


@dataclass
class ContactRows:
    account: np.ndarray
    created: np.ndarray
    role: np.ndarray
    name: pa.Array
    email: pa.Array
    phone: pa.Array
    lead: np.ndarray  # local index of the lead whose person this contact is, else -1 (a person of its own)


def build_contacts(rng: np.random.Generator, acc: Accounts, base: LeadBase) -> ContactRows:
    n = acc.n
    conv = acc.source_lead >= 0
    k_extra = np.where(conv, rng.choice(4, size=n, p=[.35, .35, .2, .1]), rng.choice(4, size=n, p=[.2, .4, .3, .1]))
    k = 1 + k_extra
    account = np.repeat(np.arange(n), k)
    first = np.r_[True, account[1:] != account[:-1]]
    m = len(account)
    later = acc.created[account] + uniform_days(rng, 0, 120, m)
    created = np.where(first | acc.legacy[account], acc.created[account], to_office(rng, later))
    keep = created <= WINDOW_END  # contacts added after the export are not in it
    account, first, created, m = account[keep], first[keep], created[keep], int(keep.sum())
    role = rng.choice(len(V.DECISION_ROLES), size=m, p=[.25, .2, .3, .25])
    role = np.where(first & conv[account], rng.choice(len(V.DECISION_ROLES), size=m, p=[.15, .15, .35, .35]), role)
    sur, giv = text.person_codes(rng, m)
    # colleagues are other persons: never one of the chunk's lead addresses
    known = pc.unique(base.p_email.filter(pc.is_valid(base.p_email)))
    new_email = text.unique_emails(pa.concat_arrays([known, text.emails(rng, sur, giv, acc.company["brand"][account])])
                                   )[len(known):]
    new_phone = text.phone_numbers(rng, m)
    from_lead = first & conv[account]
    lead = np.where(from_lead, acc.source_lead[account], 0)
    lead_idx = pa.array(lead)
    name = text.person_names(np.where(from_lead, base.sur[lead], sur), np.where(from_lead, base.giv[lead], giv))
    fl = pa.array(from_lead)
    # the lead's person, with the address and number sales confirmed (never a junk value the form carried)
    email = pc.if_else(fl, base.p_email.take(lead_idx), new_email)
    phone = pc.if_else(fl, base.p_phone.take(lead_idx), new_phone)
    email = text.null_where(text.noisy_emails(rng, email), ~from_lead & (rng.random(m) < 0.15))
    phone = text.null_where(text.noisy_phones(rng, phone), ~from_lead & (rng.random(m) < 0.1))
    order = np.lexsort((created, account))
    idx = pa.array(order)
    return ContactRows(account[order], created[order], role[order], name.take(idx), email.take(idx), phone.take(idx),
                       np.where(from_lead, lead, -1)[order])
