"""Planted truths and their realised values, recounted from the rows actually written.

Each realised value follows the docs/metrics.md definition, so the dbt marts must
reproduce it exactly; the planted value is the probability the simulation used.
Counts are accumulated chunk by chunk; anything that depends on ``as_of`` (the maximum
timestamp written, known only at the end) is kept in a form that can be finished then.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import accounts, leads, pipeline, service
from . import vocab as V
from .company import DEPARTMENTS, DEPT_NUM, SALES_TEAMS
from .marketing import CPL_CENTS
from .timeutil import DAY, END_DAY, SLA_SECONDS, START_DAY, date_of, iso_of

N_MONTHS = 24
_MONTH0 = np.datetime64("2024-11", "M")
_DAY_BASE = START_DAY - 800  # renewal histogram covers subscription ends from well before the window
_DAY_SPAN = 800 + (END_DAY - START_DAY) + 800

DEFINITIONS = {
    "stage_step": (
        "P(advance beyond 方案交流 | reached 方案交流 and not still open there): advanced / (reached - open), "
        "docs/metrics.md#stage-conversion. Cohort = month of first entry into 方案交流; department = department "
        "of the owner on that first 方案交流 history row (else the current owner). 'rate' is the planted "
        "probability; 'realised_rate', 'reached', 'advanced', 'lost', 'open' are recounted from the written rows "
        "for the period (cohorts whose first entry date falls in it; 'all' = the whole window). 华东一部 runs at "
        "0.20 for every cohort before 2026-05-01 (including those before 2025-11-01) and 0.15 after."
    ),
    "channel_cost_per_lead": (
        "sum(campaign_spend.spend of campaigns of channel c) / count(leads whose campaign_id is a campaign of "
        "channel c), whole window. Exact by construction (spend = planted CPL x leads, in cents). Channels "
        "without campaigns (外呼, 转介绍) have no entry."
    ),
    "sla_compliance": (
        "met / (met + missed). first_assigned_at = first ownership_events row of the lead with event_type "
        "assigned or claimed; first response = earliest lead_events 'contacted' or activities row on the lead at "
        "or after first_assigned_at; met when response - first_assigned_at <= 5 days (lead_sla_days); missed "
        "when not met and first_assigned_at + 5 days <= as_of; otherwise pending (excluded). "
        "sla_compliance_planted = P(first owner responds within the SLA) in the simulation."
    ),
    "release_rate": (
        "leads with at least one ownership_events row (entity_type lead, event_type released) / all leads "
        "(all are created in the window). Planted = P(a lead is ever released); the simulation decides it per "
        "lead and releases those leads inside the window (超期未跟进, 手动释放, or 离职 when the owner leaves first; "
        "a leaving rep's other leads are transferred with reason 离职交接)."
    ),
    "renewal_rate": (
        "Among orders of type new or renewal with a subscription_end <= as_of (date), the share for which the "
        "same account has a renewal order whose subscription_start is within +-7 days of that "
        "subscription_end (renewals start the day after). Planted = P(renew) per subscription term."
    ),
    "referral_share": (
        "accounts with non-null referred_by_account_id / all accounts. Accounts converted from 转介绍 leads are "
        "referred by the lead's referrer; migrated customers are marked referred so that each chunk of accounts "
        "holds the planted share (exact up to rounding)."
    ),
    "as_of": "maximum timestamp present in any written table (business time, Asia/Shanghai).",
}


@dataclass
class TruthAccumulator:
    # stage step counts per (department index, cohort month)
    reached: np.ndarray = field(default_factory=lambda: np.zeros((len(DEPARTMENTS), N_MONTHS), np.int64))
    advanced: np.ndarray = field(default_factory=lambda: np.zeros((len(DEPARTMENTS), N_MONTHS), np.int64))
    lost: np.ndarray = field(default_factory=lambda: np.zeros((len(DEPARTMENTS), N_MONTHS), np.int64))
    open: np.ndarray = field(default_factory=lambda: np.zeros((len(DEPARTMENTS), N_MONTHS), np.int64))
    sla_met: int = 0
    sla_not_met_assigned: list[np.ndarray] = field(default_factory=list)
    leads: int = 0
    released: int = 0
    accounts: int = 0
    referred: int = 0
    subs_ending: np.ndarray = field(default_factory=lambda: np.zeros(_DAY_SPAN, np.int64))
    subs_renewed: np.ndarray = field(default_factory=lambda: np.zeros(_DAY_SPAN, np.int64))

    def add_stage_step(self, dept_of_user: np.ndarray, hist: tuple[np.ndarray, ...], opp_stage: np.ndarray,
                       opp_created: np.ndarray, opp_owner: np.ndarray) -> None:
        """Count 方案交流 reached/advanced/lost/open by the rules of docs/metrics.md, from history rows."""
        opp, stage, at, owner, _ = hist
        n = len(opp_stage)
        s = V.ST_PROPOSAL
        reached_any = np.zeros(n, bool)
        later = np.zeros(n, bool)
        won = opp_stage == V.ST_WON
        closed = opp_stage >= V.ST_WON
        # furthest open stage actually entered
        furthest = np.full(n, -1)
        open_rows = stage <= 4
        np.maximum.at(furthest, opp[open_rows], stage[open_rows])
        has_hist = np.zeros(n, bool)
        has_hist[opp] = True
        reached_any = (furthest >= s) | won
        later = (furthest > s) | won
        # entry into S: first row at S, else (skipped: inferred) first row at a later open stage
        entry_at = np.full(n, -1, np.int64)
        entry_owner = np.full(n, -1, np.int64)
        for cond in (stage == s, (stage > s) & open_rows, stage == V.ST_WON):
            rows = np.flatnonzero(cond)  # rows are sorted by (opp, time): np.unique keeps the earliest
            need = entry_at[opp[rows]] < 0
            rows = rows[need]
            o = opp[rows]
            uniq, first = np.unique(o, return_index=True)
            entry_at[uniq] = at[rows[first]]
            entry_owner[uniq] = owner[rows[first]]
        # no history: in the current stage since created_at, with the current owner
        nh = ~has_hist & (opp_stage >= s) & (opp_stage <= 4)
        reached_any |= nh
        entry_at[nh] = opp_created[nh]
        entry_owner[nh] = opp_owner[nh]
        furthest[nh] = opp_stage[nh]
        entry_owner = np.where(entry_owner >= 0, entry_owner, opp_owner)
        r = np.flatnonzero(reached_any)
        dept = dept_of_user[entry_owner[r]]
        month = (entry_at[r].astype("datetime64[s]").astype("datetime64[M]") - _MONTH0).astype(np.int64)
        is_open = ~closed[r] & (furthest[r] == s)
        is_lost = closed[r] & ~won[r] & (furthest[r] == s)
        for arr, mask in ((self.reached, np.ones(len(r), bool)), (self.advanced, later[r]), (self.open, is_open),
                          (self.lost, is_lost)):
            np.add.at(arr, (dept[mask], month[mask]), 1)

    def add_leads(self, n_leads: int, own: tuple[np.ndarray, ...], events: tuple[np.ndarray, ...],
                  act_lead: np.ndarray, act_at: np.ndarray) -> None:
        """SLA and release counts; ``own``/``events`` are (lead, at, type, user, reason) with local lead index."""
        self.leads += n_leads
        o_lead, o_at, o_type = own[0], own[1], own[2]
        rel = o_type == leads.OWN["released"]
        self.released += len(np.unique(o_lead[rel]))
        inf = np.iinfo(np.int64).max
        first_asg = np.full(n_leads, inf)
        asg = np.isin(o_type, (leads.OWN["assigned"], leads.OWN["claimed"]))
        np.minimum.at(first_asg, o_lead[asg], o_at[asg])
        # candidate responses: contacted events and activities on the lead, at/after first assignment
        e_lead, e_at, e_type = events[0], events[1], events[2]
        con = e_type == leads.EV["contacted"]
        r_lead = np.concatenate([e_lead[con], act_lead])
        r_at = np.concatenate([e_at[con], act_at])
        ok = r_at >= first_asg[r_lead]
        response = np.full(n_leads, inf)
        np.minimum.at(response, r_lead[ok], r_at[ok])
        assigned = first_asg < inf
        met = assigned & (response < inf) & (response - first_asg <= SLA_SECONDS)
        self.sla_met += int(met.sum())
        self.sla_not_met_assigned.append(first_asg[assigned & ~met])

    def add_accounts(self, n: int, referred: int) -> None:
        self.accounts += n
        self.referred += referred

    def add_orders(self, orders: tuple[np.ndarray, ...]) -> None:
        end, renewed = service.renewal_counts(orders)
        np.add.at(self.subs_ending, end - _DAY_BASE, 1)
        np.add.at(self.subs_renewed, end - _DAY_BASE, renewed.astype(np.int64))

    # --------------------------------------------------------------------------------------
    def finish(self, *, seed: int, scale: float, as_of: int, cpl: dict[str, float],
               row_counts: dict[str, int]) -> dict:
        not_met = np.concatenate(self.sla_not_met_assigned) if self.sla_not_met_assigned else np.zeros(0, np.int64)
        missed = int((not_met + SLA_SECONDS <= as_of).sum())
        sla = self.sla_met / (self.sla_met + missed) if self.sla_met + missed else None
        as_of_day = as_of // DAY
        upto = as_of_day - _DAY_BASE + 1
        ending = int(self.subs_ending[:upto].sum())
        renewed = int(self.subs_renewed[:upto].sum())
        return {
            "seed": seed,
            "scale": scale,
            "as_of": iso_of(as_of),
            "window_start": date_of(START_DAY),
            "window_end": date_of(END_DAY),
            "departments": {f"D{num}": name for num, name, _, _ in DEPARTMENTS},
            "stage_step": self._stage_truth(),
            "channel_cost_per_lead": {k: round(v, 6) for k, v in sorted(cpl.items())},
            "channel_cost_per_lead_planted": {k: v / 100 for k, v in sorted(CPL_CENTS.items()) if k in cpl},
            "sla_compliance": sla,
            "sla_compliance_planted": leads.SLA_PLANTED,
            "sla_counts": {"met": self.sla_met, "missed": missed},
            "release_rate": self.released / self.leads if self.leads else None,
            "release_rate_planted": round(leads.RELEASE_PLANTED, 6),
            "release_counts": {"released": self.released, "leads": self.leads},
            "renewal_rate": renewed / ending if ending else None,
            "renewal_rate_planted": service.RENEWAL_PLANTED,
            "renewal_counts": {"renewed": renewed, "ending": ending},
            "referral_share": self.referred / self.accounts if self.accounts else None,
            "referral_share_planted": accounts.REFERRAL_SHARE,
            "referral_counts": {"referred": self.referred, "accounts": self.accounts},
            "row_counts": dict(sorted(row_counts.items())),
            "definitions": DEFINITIONS,
        }

    def _counts(self, depts: np.ndarray | slice, lo: str, hi: str) -> dict[str, int | float | None]:
        m_lo = int((np.datetime64(lo[:7], "M") - _MONTH0).astype(np.int64))
        m_hi = int((np.datetime64(hi[:7], "M") - _MONTH0).astype(np.int64))
        sl = slice(max(m_lo, 0), min(m_hi, N_MONTHS - 1) + 1)
        reached, adv, lost, open_ = (int(a[depts, sl].sum()) for a in (self.reached, self.advanced, self.lost,
                                                                       self.open))
        closed = reached - open_
        return {"reached": reached, "advanced": adv, "lost": lost, "open": open_,
                "realised_rate": adv / closed if closed else None}

    def _stage_truth(self) -> dict:
        whole = (date_of(START_DAY), date_of(END_DAY))
        entries = []
        for d in SALES_TEAMS:
            num = int(DEPT_NUM[d])
            name = DEPARTMENTS[d][1]
            if d == pipeline.DROP_DEPT:
                periods = [(pipeline.BASE_RATE, pipeline.PERIOD_EARLY), (pipeline.DROP_RATE, pipeline.PERIOD_LATE)]
            elif d == pipeline.BETTER_DEPT:
                periods = [(pipeline.BETTER_RATE, None)]
            else:
                periods = [(pipeline.BASE_RATE, None)]
            for rate, period in periods:
                lo, hi = period or whole
                entries.append({"department_id": f"D{num}", "name": name, "rate": rate,
                                "period": f"{lo}/{hi}" if period else "all",
                                **self._counts(np.array([d]), lo, hi)})
        entries.sort(key=lambda e: (e["department_id"] != f"D{DEPT_NUM[pipeline.BETTER_DEPT]}",
                                    e["department_id"] != f"D{DEPT_NUM[pipeline.DROP_DEPT]}", e["department_id"],
                                    e["period"]))
        company = self._counts(slice(None), *whole)
        return {
            "from_stage": V.OPEN_STAGES[V.ST_PROPOSAL],
            "to_stage": V.OPEN_STAGES[V.ST_BIDDING],
            "company_rate": pipeline.BASE_RATE,
            "company_rate_realised": company["realised_rate"],
            "company_counts": company,
            "by_department": entries,
        }
