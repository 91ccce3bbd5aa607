"""Leads: who they are, and their life as a vectorised event simulation.

Every lead is advanced one event at a time, all leads of a chunk in parallel: at each
step the earliest of the competing next events wins -- its lifecycle step, a planned
release to the public pool (公海), a rebalancing transfer, or its owner leaving the
company. The loop runs over *steps* (about 15), never over rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from . import identity as ID
from . import text, workdays
from . import vocab as V
from .activities import ACT, NO_ANSWER, OUTCOMES, ActivityLog
from .company import MARKETING, REGION_SHARE, REGION_TEAMS, ROLE, TEAM_REGION, Staff, region_team
from .marketing import Campaigns, assign_campaigns
from .timeutil import (
    DAY,
    HOUR,
    MINUTE,
    WINDOW_END,
    WINDOW_START,
    day_weights,
    lognormal_days,
    office_seconds,
    sample_days,
    to_office,
    uniform_days,
)

# Lead mix by channel and the share of each channel's leads that carry a campaign_id.
CHANNEL_MIX = {"官网": 0.14, "SEM": 0.21, "微信公众号": 0.12, "直播": 0.10, "内容下载": 0.12, "展会": 0.08,
               "外呼": 0.08, "转介绍": 0.08, "合作伙伴": 0.07}
ATTRIBUTED = {"官网": 0.5, "SEM": 1.0, "微信公众号": 0.85, "直播": 1.0, "内容下载": 1.0, "展会": 1.0, "外呼": 0.0,
              "转介绍": 0.0, "合作伙伴": 0.7}
# P(contacted lead becomes an MQL) by channel: referrals and partners are warmer.
MQL_RATE = {"官网": 0.40, "SEM": 0.35, "微信公众号": 0.33, "直播": 0.33, "内容下载": 0.28, "展会": 0.42, "外呼": 0.30,
            "转介绍": 0.62, "合作伙伴": 0.50}
P_DISQ_AFTER_CONTACT = 0.28

# Planted truths.
SLA_PLANTED = 0.80  # P(first owner responds within lead_sla_days)
RELEASE_PLANTED = 0.15  # P(lead is released to the pool at least once)
# Slow responders are the ones whose leads go back to the pool 超期未跟进; the others are
# released by hand after a first call. Mixed so that P(release) is exactly RELEASE_PLANTED.
RELEASE_IF_LATE = 0.45

UNREACHABLE = 0.06
INVALID = 0.03
TRANSFER = 0.03
TZ_OFFSET_SHARE = 0.02
CLAIM_P = {"超期未跟进": 0.55, "手动释放": 0.45, "离职": 0.9}

# Simulation states.
NEW, ATTEMPTED, CONTACTED, NURTURING, MQL, SQL, CONVERTED, DISQUALIFIED = range(8)
STATUS_OF_STATE = np.array([V.LEAD_STATUSES.index(s) for s in
                            ("new", "new", "contacted", "nurturing", "mql", "sql", "converted", "disqualified")])
EV = {e: i for i, e in enumerate(V.LEAD_EVENT_TYPES)}
OWN = {e: i for i, e in enumerate(V.OWNERSHIP_EVENT_TYPES)}
REL = {r: i for i, r in enumerate(V.RELEASE_REASONS)}
ASG = {r: i for i, r in enumerate(V.ASSIGN_REASONS)}
# Ownership reason vocabulary: release reasons first, then assignment reasons.
OWN_REASONS = V.RELEASE_REASONS + V.ASSIGN_REASONS
ASG_OFF = len(V.RELEASE_REASONS)
# Candidate next-event kinds.
K_NONE, K_LIFE, K_CONTACT, K_REL_NOFOLLOW, K_REL_MANUAL, K_REL_LEFT, K_CLAIM, K_XFER, K_XFER_LEFT = range(9)
INF = np.iinfo(np.int64).max // 4


@dataclass
class LeadBase:
    created: np.ndarray
    channel: np.ndarray
    campaign: np.ndarray
    region: np.ndarray
    team: np.ndarray
    industry: np.ndarray
    size: np.ndarray
    company: dict[str, np.ndarray]
    sur: np.ndarray
    giv: np.ndarray
    email: pa.Array  # as typed on the lead and its form (a trap value where one was typed), clean form
    phone: pa.Array
    p_email: pa.Array  # the person's own address on this lead's side (a chain person has two sides)
    p_phone: pa.Array  # null on a chain's first side
    wechat: np.ndarray  # has a WeChat identity
    openid: pa.Array
    unionid: pa.Array
    duplicate: np.ndarray  # 重复线索: the person had another lead in the last DUPLICATE_WINDOW
    invalid: np.ndarray
    tz_offset: np.ndarray
    persons: ID.PersonPlan
    traps: list[ID.Trap]
    keep_email: np.ndarray  # the lead's e-mail / phone is never left empty (chains and traps need them)
    keep_phone: np.ndarray

    @property
    def n(self) -> int:
        return len(self.created)

    @property
    def person(self) -> np.ndarray:
        return self.persons.root

    @property
    def ident(self) -> np.ndarray:
        return self.persons.ident


def make_leads(rng: np.random.Generator, n: int, camps: Campaigns) -> LeadBase:
    ch_p = np.array([CHANNEL_MIX[c] for c in V.CHANNELS])
    channel = rng.choice(len(V.CHANNELS), size=n, p=ch_p / ch_p.sum())
    attributed = rng.random(n) < np.array([ATTRIBUTED[c] for c in V.CHANNELS])[channel]
    campaign, day = assign_campaigns(rng, camps, channel, attributed)
    free = day < 0
    day[free] = sample_days(rng, int(free.sum()), day_weights(0.6))
    created = np.minimum(day * DAY + office_seconds(rng, n), WINDOW_END)
    # A referral needs an existing customer; migrated customers exist from 01:00 on day one.
    created = np.where(channel == V.CH["转介绍"], np.maximum(created, WINDOW_START + 2 * HOUR), created)
    order = np.argsort(created, kind="stable")
    created, channel, campaign = created[order], channel[order], campaign[order]

    region = rng.choice(len(V.REGIONS), size=n, p=REGION_SHARE)
    team = region_team(rng, region)
    industry = rng.choice(len(V.INDUSTRIES), size=n, p=[.22, .12, .1, .1, .08, .12, .08, .06, .05, .07])
    size = rng.choice(len(V.COMPANY_SIZES), size=n, p=[.28, .32, .22, .12, .06])
    company = text.company_codes(rng, region, industry)
    sur, giv = text.person_codes(rng, n)
    wechat = rng.random(n) < 0.5
    # Repeat leads re-enter their person's company and identity (a second form fill, a second show).
    plan = ID.plan_persons(rng, created)
    attrs = {"region": region, "team": team, "industry": industry, "size": size, **company}
    traps = ID.plant_traps(rng, plan, channel, campaign, attrs)
    root = plan.root
    region, team, industry, size = region[root], team[root], industry[root], size[root]
    company = {k: v[root] for k, v in company.items()}
    sur, giv = sur[root], giv[root]
    in_chain = np.zeros(n, bool)
    in_chain[plan.chain_first] = in_chain[plan.chain_second] = True
    wechat = wechat[root] & ~in_chain  # a chain person's WeChat ids would join the two sides directly
    # identifier pools, one entry per lead, used through plan.ident (the person, or a chain's second side)
    ident = pa.array(plan.ident)
    p_email = text.unique_emails(text.emails(rng, sur, giv, company["brand"])).take(ident)
    p_phone = text.phone_numbers(rng, n).take(ident)
    p_phone = text.null_where(p_phone, np.isin(np.arange(n), plan.chain_first))
    openid = text.tokens(rng, n, 27, text.B64, "o").take(ident)
    unionid = text.tokens(rng, n, 27, text.B64, "o").take(ident)
    email, phone = p_email, p_phone
    keep_email, keep_phone = in_chain.copy(), in_chain.copy()
    for trap in traps:
        if trap.id_type == "email":
            email = text.patch(email, trap.leads, pa.array([trap.value] * len(trap.leads)))
        elif trap.id_type == "phone":
            phone = text.patch(phone, trap.leads, pa.array([trap.value] * len(trap.leads)))
        keep_email[trap.leads] = keep_phone[trap.leads] = True  # a junk value next to the person's own
    invalid = (rng.random(n) < INVALID) & ~plan.duplicate
    return LeadBase(created, channel, campaign, region, team, industry, size, company, sur, giv, email, phone,
                    p_email, p_phone, wechat, openid, unionid, plan.duplicate, invalid,
                    rng.random(n) < TZ_OFFSET_SHARE, plan, traps, keep_email, keep_phone)


def _sla_probability(assigned: np.ndarray, due: np.ndarray, quick: np.ndarray) -> np.ndarray:
    """P(quick first response) per lead, so that E[met / (met + missed)] is exactly SLA_PLANTED.

    Under the rule of docs/metrics.md a lead assigned in the last SLA days of the window is counted only if
    already contacted, i.e. only as 'met'. Those leads keep SLA_PLANTED; the fully observed
    leads get a slightly lower probability that offsets the expected extra 'met' ones.
    """
    observed = assigned & (due <= WINDOW_END)
    extra = SLA_PLANTED * float((assigned & ~observed & (quick <= WINDOW_END)).sum())
    n_obs = int(observed.sum())
    p_obs = SLA_PLANTED - (1 - SLA_PLANTED) * extra / n_obs if n_obs else SLA_PLANTED
    return np.where(observed, p_obs, SLA_PLANTED)


@dataclass
class LeadSim:
    events: tuple[np.ndarray, ...]  # lead, at, type, user, reason
    ownership: tuple[np.ndarray, ...]  # lead, at, type, user, reason
    state: np.ndarray
    owner: np.ndarray  # -1 = in the pool
    converted_at: np.ndarray
    disq_reason: np.ndarray
    released: np.ndarray  # released at least once


class _Log:
    def __init__(self) -> None:
        self.parts: list[tuple[np.ndarray, ...]] = []

    def add(self, lead: np.ndarray, at: np.ndarray, etype: np.ndarray | int, user: np.ndarray | int,
            reason: np.ndarray | int = -1) -> None:
        n = len(lead)
        if n:
            self.parts.append(tuple(np.broadcast_to(np.asarray(v, np.int64), (n,)).copy()
                                    for v in (lead, at, etype, user, reason)))

    def arrays(self) -> tuple[np.ndarray, ...]:
        if not self.parts:
            return tuple(np.zeros(0, np.int64) for _ in range(5))
        cols = [np.concatenate(c) for c in zip(*self.parts, strict=True)]
        order = np.lexsort((cols[1], cols[0]))
        return tuple(c[order] for c in cols)


def _claimers(rng: np.random.Generator, staff: Staff, team: np.ndarray, t: np.ndarray,
              sales_only: np.ndarray) -> np.ndarray:
    """Reps of the same region take leads from the pool: the pool is shared across the region's teams."""
    region = TEAM_REGION[team]
    new_team = team.copy()
    for r, (teams, share) in REGION_TEAMS.items():
        rows = np.flatnonzero(region == r)
        new_team[rows] = np.asarray(teams)[rng.choice(len(teams), size=len(rows), p=share)]
    out = staff.pick(rng, new_team, t, ("sdr", "sales"))
    so = np.flatnonzero(sales_only)
    if len(so):
        out[so] = staff.pick(rng, new_team[so], t[so], ("sales",))
    return out


def simulate(rng: np.random.Generator, base: LeadBase, staff: Staff, acts: ActivityLog) -> LeadSim:
    n = base.n
    ev, own = _Log(), _Log()
    lead_ix = np.arange(n)
    created = base.created
    outbound = base.channel == V.CH["外呼"]

    # created / cleansed / assigned -------------------------------------------------------
    first_owner = np.empty(n, dtype=np.int64)
    first_owner[outbound] = staff.pick(rng, base.team[outbound], created[outbound], ("sdr",))
    ev.add(lead_ix, created, EV["created"], np.where(outbound, first_owner, -1))
    # marketing reviews new leads in office hours; the system assigns right after the review
    t_clean = to_office(rng, created + np.minimum(lognormal_days(rng, 1.5 / 24, 1.0, n), DAY))
    cleansed = ~outbound & (rng.random(n) < 0.92) & (t_clean <= WINDOW_END)
    cl = np.flatnonzero(cleansed)
    ev.add(cl, t_clean[cl], EV["cleansed"], staff.pick(rng, np.full(len(cl), MARKETING), t_clean[cl],
                                                       ("marketing",)))
    t_assign = np.where(cleansed, t_clean, created) + rng.integers(MINUTE, 30 * MINUTE, size=n)
    inb = np.flatnonzero(~outbound)
    to_sdr = rng.random(len(inb)) < 0.6
    first_owner[inb[to_sdr]] = staff.pick(rng, base.team[inb[to_sdr]], t_assign[inb[to_sdr]], ("sdr",))
    first_owner[inb[~to_sdr]] = staff.pick(rng, base.team[inb[~to_sdr]], t_assign[inb[~to_sdr]], ("sales",))
    t_assign[outbound] = created[outbound] + MINUTE
    # leads that arrive in the last minutes of the window are not distributed yet
    assigned = t_assign <= WINDOW_END
    first_owner[~assigned] = -1
    asg = np.flatnonzero(assigned)
    own.add(asg, t_assign[asg], OWN["assigned"], first_owner[asg],
            np.where(outbound[asg], ASG_OFF + ASG["外呼自建"], ASG_OFF + ASG["按区域自动分配"]))

    # per-lead plans -------------------------------------------------------------------------
    # First response: quick (within the SLA) with the planted probability, else late.
    # The SLA counts working days (调休 and holidays included): its due moment is a lead's own.
    sla_window = workdays.sla_due(t_assign) - t_assign
    quick = t_assign + np.clip(lognormal_days(rng, 5 / 24, 1.0, n), 5 * MINUTE, sla_window - 2 * HOUR)
    shifted = to_office(rng, quick)
    # office-hour shifting must not move a planted in-SLA response out of the SLA
    quick = np.where(shifted - t_assign > sla_window - HOUR, quick, shifted)
    # Assigned on the last workday before 春节 or 国庆 and not answered that day: answered on the first workday
    # after the break (10:00 plus the minutes it would have taken), in time on working days, not on plain ones.
    back = workdays.after_long_break(t_assign)
    held = (back >= 0) & (quick // DAY > t_assign // DAY)
    quick = np.where(held, back * DAY + 10 * HOUR + (quick - t_assign) % HOUR, quick)
    late = to_office(rng, t_assign + sla_window + HOUR + lognormal_days(rng, 2.5, 0.8, n))
    p_quick = _sla_probability(assigned, t_assign + sla_window, quick)
    in_sla = rng.random(n) < p_quick
    first_contact = np.where(in_sla, quick, late)
    # Whether a lead is ever released is decided here, once: releases only happen to these
    # leads (a leaving rep's other leads are handed over directly), and they always happen
    # inside the window, so the realised share is an unbiased estimate of RELEASE_PLANTED.
    # Per lead, P(release) = p_quick * r_quick + (1 - p_quick) * RELEASE_IF_LATE = RELEASE_PLANTED.
    r_quick = (RELEASE_PLANTED - (1 - p_quick) * RELEASE_IF_LATE) / p_quick
    to_release = rng.random(n) < np.where(in_sla, r_quick, RELEASE_IF_LATE)
    rel_plan = np.where(to_release, np.where(in_sla, 2, 1), 0)  # 1: 超期未跟进, 2: 手动释放
    unreachable = rng.random(n) < UNREACHABLE
    forced = np.where(base.duplicate, V.RS["重复线索"], np.where(base.invalid, V.RS["无效线索"], -1))
    xfer_plan = rng.random(n) < TRANSFER
    p_mql = np.array([MQL_RATE[c] for c in V.CHANNELS])[base.channel]

    # state ------------------------------------------------------------------------------------
    t = t_assign.copy()
    owner = first_owner.copy()
    team = base.team.copy()
    state = np.full(n, NEW)
    in_pool = np.zeros(n, bool)
    claim_ok = np.zeros(n, bool)
    pool_reason = np.zeros(n, np.int64)
    first_pending = np.ones(n, bool)
    rel_done = np.zeros(n, bool)
    xfer_done = np.zeros(n, bool)
    alive = assigned.copy()
    converted_at = np.full(n, -1, np.int64)
    disq_reason = np.full(n, -1, np.int64)
    released = np.zeros(n, bool)
    a_to = staff.active_to
    sdr = ROLE["sdr"]

    for _step in range(40):
        ix = np.flatnonzero(alive)
        if len(ix) == 0:
            break
        m = len(ix)
        tt, st = t[ix], state[ix]
        when = np.full(m, INF)
        kind = np.full(m, K_NONE)
        nxt = np.full(m, -1)  # next lifecycle state
        reason = np.full(m, -1)
        pool = in_pool[ix]

        # waiting in the pool: someone claims it, or it stays there
        c = pool & claim_ok[ix]
        pr = pool_reason[ix]
        delay = np.select([pr == REL["离职"], pr == REL["超期未跟进"]],
                          [uniform_days(rng, 0.2, 4, m), lognormal_days(rng, 4, 0.8, m)],
                          lognormal_days(rng, 10, 0.8, m))
        when[c] = to_office(rng, tt + delay)[c]
        kind[c] = K_CLAIM

        held = ~pool
        # a planned release that would fall after the export happens earlier, by hand
        before_end = tt + ((WINDOW_END - tt) * rng.uniform(0.2, 0.9, m)).astype(np.int64)
        planned = (rel_plan[ix] > 0) & ~rel_done[ix]

        # NEW: first contact, unless the lead is to be released for lack of follow-up
        s_new = held & (st == NEW)
        soon = to_office(rng, tt + lognormal_days(rng, 1 / 3, 0.8, m))  # after a claim
        contact_at = np.where(first_pending[ix], first_contact[ix], soon)
        nf = s_new & planned & (rel_plan[ix] == 1)
        sys_time = (t_assign[ix] + uniform_days(rng, 6, 15, m)) // DAY * DAY + 2 * HOUR + rng.integers(0, 1800, m)
        when[nf] = np.where(sys_time <= WINDOW_END, sys_time, before_end)[nf]
        kind[nf] = np.where(sys_time <= WINDOW_END, K_REL_NOFOLLOW, K_REL_MANUAL)[nf]
        mf = s_new & planned & (rel_plan[ix] == 2) & (contact_at > WINDOW_END)
        when[mf] = before_end[mf]
        kind[mf] = K_REL_MANUAL
        ct = s_new & ~nf & ~mf
        when[ct] = contact_at[ct]
        kind[ct] = K_CONTACT
        manual_at = to_office(rng, tt + uniform_days(rng, 7, 45, m))
        manual_at = np.where(manual_at <= WINDOW_END, manual_at, before_end)

        # ATTEMPTED: give up after a few tries (or hand the lead back to the pool)
        s_att = held & (st == ATTEMPTED)
        when[s_att] = to_office(rng, tt + uniform_days(rng, 2, 14, m))[s_att]
        kind[s_att] = K_LIFE
        nxt[s_att] = DISQUALIFIED
        reason[s_att] = V.REASONS.index("联系不上")
        am = s_att & planned
        when[am] = manual_at[am]
        kind[am] = K_REL_MANUAL

        u = rng.random(m)
        # CONTACTED: manual release, forced disqualification, or the funnel branch
        s_con = held & (st == CONTACTED)
        man = s_con & planned
        when[man] = manual_at[man]
        kind[man] = K_REL_MANUAL
        fd = s_con & ~man & (forced[ix] >= 0)
        when[fd] = to_office(rng, tt + uniform_days(rng, 0.05, 2, m))[fd]
        kind[fd] = K_LIFE
        nxt[fd] = DISQUALIFIED
        reason[fd] = forced[ix][fd]
        br = s_con & ~man & ~fd
        pm = p_mql[ix]
        to_mql = br & (u < pm)
        to_disq = br & (u >= pm) & (u < pm + P_DISQ_AFTER_CONTACT)
        to_nurt = br & ~to_mql & ~to_disq
        for mask, target, med in ((to_mql, MQL, 5), (to_disq, DISQUALIFIED, 4), (to_nurt, NURTURING, 3)):
            when[mask] = to_office(rng, tt + lognormal_days(rng, med, 0.8, m))[mask]
            kind[mask] = K_LIFE
            nxt[mask] = target
        reason[to_disq] = rng.choice([V.REASONS.index(r) for r in ("需求不明确", "预算不足", "无决策权", "明年再买",
                                                                   "无效线索", "输给竞品")],
                                     size=m, p=[.3, .2, .15, .15, .1, .1])[to_disq]
        reason[to_nurt] = rng.choice([V.RS[r] for r in ("明年再买", "需求不明确", "预算不足")], size=m)[to_nurt]

        # NURTURING: re-engages as MQL, drops out, or simply stays in nurture
        s_nur = held & (st == NURTURING)
        for mask, target, med in ((s_nur & (u < 0.35), MQL, 60), (s_nur & (u >= 0.35) & (u < 0.6), DISQUALIFIED, 45)):
            when[mask] = to_office(rng, tt + lognormal_days(rng, med, 0.7, m))[mask]
            kind[mask] = K_LIFE
            nxt[mask] = target
        nd = s_nur & (u >= 0.35) & (u < 0.6)
        reason[nd] = rng.choice([V.REASONS.index(r) for r in ("明年再买", "预算不足", "需求不明确")], size=m,
                                p=[.4, .3, .3])[nd]

        # MQL -> SQL -> converted, each with a chance to drop out
        for s_from, s_to, p_on, med_on, med_off, reasons, rp in (
            (MQL, SQL, 0.75, 6, 8, ("需求不明确", "预算不足", "无决策权", "输给竞品"), (.3, .3, .25, .15)),
            (SQL, CONVERTED, 0.85, 10, 12, ("输给竞品", "预算不足", "明年再买", "无决策权"), (.45, .25, .2, .1)),
        ):
            s = held & (st == s_from)
            on, off = s & (u < p_on), s & (u >= p_on)
            when[on] = to_office(rng, tt + lognormal_days(rng, med_on, 0.6, m))[on]
            when[off] = to_office(rng, tt + lognormal_days(rng, med_off, 0.6, m))[off]
            kind[on | off] = K_LIFE
            nxt[on] = s_to
            nxt[off] = DISQUALIFIED
            reason[off] = rng.choice([V.REASONS.index(r) for r in reasons], size=m, p=rp)[off]

        # competing: a manager rebalancing the book, and the owner leaving the company
        xf = held & xfer_plan[ix] & ~xfer_done[ix] & np.isin(st, (CONTACTED, NURTURING))
        x_at = to_office(rng, tt + uniform_days(rng, 3, 30, m))
        xw = xf & (x_at < when)
        when[xw] = x_at[xw]
        kind[xw] = K_XFER
        cur = np.maximum(owner[ix], 0)
        dep = held & (a_to[cur] < when)
        when[dep] = a_to[cur][dep]
        # a leaving rep's leads: those meant for the pool go there (离职), the rest to a colleague
        kind[dep] = np.where(to_release[ix], K_REL_LEFT, K_XFER_LEFT)[dep]

        done = (kind == K_NONE) | (when > WINDOW_END)
        alive[ix[done]] = False
        go = ~done
        g = ix[go]
        w, k, nx, rs = when[go], kind[go], nxt[go], reason[go]
        prev_t = t[g]
        t[g] = w

        # --- apply ---------------------------------------------------------------------------
        sel = k == K_CONTACT
        if sel.any():
            li = g[sel]
            reach = ~unreachable[li]
            ev.add(li[reach], w[sel][reach], EV["contacted"], owner[li[reach]])
            pick = rng.choice(3, size=len(li), p=[.6, .25, .15])
            atype = np.where(reach, np.array([ACT["call"], ACT["wechat"], ACT["email"]])[pick], ACT["call"])
            outcome = np.where(reach, np.array([OUTCOMES.index(o) for o in ("已接通", "已加微信", "已回复")])[pick],
                               NO_ANSWER)
            acts.add(w[sel], owner[li], atype, lead=li, outcome=outcome)
            state[li] = np.where(reach, CONTACTED, ATTEMPTED)
            first_pending[li] = False

        sel = np.isin(k, (K_REL_NOFOLLOW, K_REL_MANUAL, K_REL_LEFT))
        if sel.any():
            li = g[sel]
            rr = np.select([k[sel] == K_REL_NOFOLLOW, k[sel] == K_REL_MANUAL], [REL["超期未跟进"], REL["手动释放"]],
                           REL["离职"])
            own.add(li, w[sel], OWN["released"], owner[li], rr)
            # after a last call the rep gives the lead back (never before a first contact: that call
            # would itself be the lead's first response)
            logged = (k[sel] == K_REL_MANUAL) & (state[li] != NEW)
            if logged.any():
                mm = li[logged]
                call_at = np.maximum(w[sel][logged] - rng.integers(HOUR, 3 * HOUR, len(mm)), prev_t[sel][logged] + 1)
                acts.add(call_at, owner[mm], np.full(len(mm), ACT["call"]), lead=mm)
            rel_done[li] = True
            in_pool[li] = True
            pool_reason[li] = rr
            claim_ok[li] = rng.random(len(li)) < np.array([CLAIM_P[r] for r in V.RELEASE_REASONS])[rr]
            owner[li] = -1
            first_pending[li] = False
            released[li] = True

        sel = k == K_CLAIM
        if sel.any():
            li = g[sel]
            new = _claimers(rng, staff, team[li], w[sel], state[li] >= SQL)
            own.add(li, w[sel], OWN["claimed"], new)
            owner[li] = new
            team[li] = staff.dept[new]
            in_pool[li] = False

        sel = k == K_XFER_LEFT
        if sel.any():
            li = g[sel]
            new = staff.pick(rng, team[li], w[sel], ("sdr", "sales"), exclude=owner[li])
            own.add(li, w[sel], OWN["transferred"], new, ASG_OFF + ASG["离职交接"])
            owner[li] = new

        sel = k == K_XFER
        if sel.any():
            li = g[sel]
            new = staff.pick(rng, team[li], w[sel], ("sdr", "sales"), exclude=owner[li])
            own.add(li, w[sel], OWN["transferred"], new, ASG_OFF + ASG["主管调配"])
            owner[li] = new
            xfer_done[li] = True

        sel = k == K_LIFE
        if sel.any():
            li = g[sel]
            nx_s, at = nx[sel], w[sel]
            etype = np.array([EV[e] for e in ("created", "created", "contacted", "nurturing", "mql", "sql", "converted",
                                              "disqualified")])[nx_s]
            ev.add(li, at, etype, owner[li], np.where(np.isin(nx_s, (DISQUALIFIED, NURTURING)), rs[sel], -1))
            # follow-up work between the previous step and this one
            work = state[li] != ATTEMPTED
            acts.between(rng, prev_t[sel][work], at[work], owner[li[work]], 0.9,
                         ("call", "wechat", "email", "visit", "meeting"), (.4, .25, .15, .1, .1), lead=li[work])
            att = li[~work]
            acts.between(rng, prev_t[sel][~work], at[~work], owner[att], 1.5, ("call",), (1.0,), cap=3,
                         outcome=NO_ANSWER, lead=att)
            state[li] = nx_s
            # SDRs hand qualified leads to an account executive of their team
            hand = (nx_s == SQL) & (staff.role[owner[li]] == sdr)
            if hand.any():
                hl = li[hand]
                ae = staff.pick(rng, team[hl], at[hand] + MINUTE, ("sales",))
                own.add(hl, at[hand] + MINUTE, OWN["transferred"], ae, ASG_OFF + ASG["SQL移交销售"])
                owner[hl] = ae
                t[hl] = at[hand] + MINUTE
            conv = nx_s == CONVERTED
            converted_at[li[conv]] = at[conv]
            dq = nx_s == DISQUALIFIED
            disq_reason[li[dq]] = rs[sel][dq]
            alive[li[conv | dq]] = False

    return LeadSim(ev.arrays(), own.arrays(), state, owner, converted_at, disq_reason, released)
