"""Planted truths and their realised values, recounted from the rows actually written.

Each realised value follows the docs/metrics.md definition, so the dbt marts must
reproduce it exactly; the planted value is the probability the simulation used.
Counts are accumulated chunk by chunk; anything that depends on ``as_of`` (the maximum
timestamp written, known only at the end) is kept in a form that can be finished then.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from . import accounts, leads, pipeline, repeat, service
from . import followups as FU
from . import vocab as V
from .company import DEPARTMENTS, DEPT_NUM, SALES_TEAMS
from .marketing import CPL_CENTS
from .timeutil import DAY, END_DAY, START_DAY, date_of, iso_of
from .workdays import sla_due

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
        "or after first_assigned_at; met when the response comes by the SLA due moment: the same time of day on "
        "the 5th working day (lead_sla_days, business_calendar seed: holidays and 调休 workdays) after "
        "first_assigned_at's date; missed when not met and the due moment <= as_of; otherwise pending (excluded). "
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
    "repeat_purchase": (
        "accounts that never won a subscription deal and buy without one (closedloop/generate/repeat.py): first "
        "order `new`, repeats `service`, no subscription period. Planted BG/NBD (per week: rate ~ Gamma(r, alpha), "
        "dropout after each repeat ~ Beta(a, b)) and Gamma-Gamma (value ~ Gamma(p, nu), nu ~ Gamma(q, v)) "
        "parameters; buyers and orders realised."
    ),
}


@dataclass
class TruthAccumulator:
    # stage step counts per (department index, cohort month)
    reached: np.ndarray = field(default_factory=lambda: np.zeros((len(DEPARTMENTS), N_MONTHS), np.int64))
    advanced: np.ndarray = field(default_factory=lambda: np.zeros((len(DEPARTMENTS), N_MONTHS), np.int64))
    lost: np.ndarray = field(default_factory=lambda: np.zeros((len(DEPARTMENTS), N_MONTHS), np.int64))
    open: np.ndarray = field(default_factory=lambda: np.zeros((len(DEPARTMENTS), N_MONTHS), np.int64))
    sla_met: int = 0
    followups: FU.FollowupTruth = field(default_factory=FU.FollowupTruth)
    sla_not_met_assigned: list[np.ndarray] = field(default_factory=list)
    leads: int = 0
    released: int = 0
    accounts: int = 0
    referred: int = 0
    subs_ending: np.ndarray = field(default_factory=lambda: np.zeros(_DAY_SPAN, np.int64))
    subs_renewed: np.ndarray = field(default_factory=lambda: np.zeros(_DAY_SPAN, np.int64))
    repeat_buyers: int = 0
    repeat_orders: int = 0

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
        met = assigned & (response < inf) & (response <= sla_due(np.where(assigned, first_asg, 0)))
        self.sla_met += int(met.sum())
        self.sla_not_met_assigned.append(first_asg[assigned & ~met])

    def add_repeat(self, buyers: int, orders: int) -> None:
        self.repeat_buyers += buyers
        self.repeat_orders += orders

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
        missed = int((sla_due(not_met) <= as_of).sum())
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
            "repeat_purchase": {**repeat.planted(), "buyers": self.repeat_buyers, "orders": self.repeat_orders},
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


PERSONS_FILE = "truth_persons.parquet"
# Above this many leads (about 2M leads + touches + contacts) the person of every record goes to PERSONS_FILE
# (streamed chunk by chunk) instead of truth.json.
INLINE_MAX_LEADS = 300_000
_PERSON_SCHEMA = pa.schema([("record_type", pa.string()), ("record_number", pa.int64()), ("person", pa.int64())])

IDENTITY_DEFINITION = (
    "The true person behind every record. Persons are numbered 1..persons; a person of leads is the root of its "
    "repeat leads (numbered in the order of their first lead, chunk by chunk), every anonymous visitor (touches "
    "without a lead) is a person of its own, every contact that is not a converted lead's person is a person of "
    "its own. person_of_lead[i] is the person of lead L(i+1) (the number in lead_id), likewise person_of_touch "
    "(touch_id) and person_of_contact (contact_id). When persons_file is set the three arrays are in that "
    "Parquet file (record_type lead|touch|contact, record_number, person) next to truth.json; load either form "
    "with closedloop.generate.truth.load_persons(folder). duplicate_leads: leads whose person had another lead "
    "created less than duplicate_window_days before (the 重复线索 fct_leads.duplicate_of_lead_id marks; they are "
    "disqualified with reason 重复线索). chains: persons whose two leads share no identifier; they join only "
    "through three touches (lead_numbers = [first, second]). traps: values typed by several persons that must "
    "merge nobody (persons = distinct persons carrying the value; value as written on the first record, "
    "normalisation gives one node)."
)


class PersonTruth:
    """The true person of every lead, touch and contact, and the planted identity counts."""

    def __init__(self, out: Path, n_leads: int) -> None:
        self.inline = n_leads <= INLINE_MAX_LEADS
        self.path = out / PERSONS_FILE
        self.parts: dict[str, list[np.ndarray]] = {"lead": [], "touch": [], "contact": []}
        self.writer = None if self.inline else pq.ParquetWriter(self.path, _PERSON_SCHEMA)
        self.persons = 0
        self.multi = 0
        self.repeat_leads = 0
        self.duplicates = 0
        self.visitors = 0
        self.chains: list[list[int]] = []
        self.n_chains = 0
        self.traps: dict[tuple[str, str, str], int] = {}

    def add(self, record_type: str, first_number: int, person: np.ndarray) -> None:
        """person[i] is the (1-based, global) person of record number first_number + i."""
        if self.writer is None:
            self.parts[record_type].append(np.asarray(person, np.int64))
            return
        self.writer.write_table(pa.table({"record_type": pa.array([record_type] * len(person)),
                                          "record_number": first_number + np.arange(len(person), dtype=np.int64),
                                          "person": np.asarray(person, np.int64)}, schema=_PERSON_SCHEMA))

    def add_chunk(self, persons: int, visitors: int, lead_person: np.ndarray, duplicates: int,
                  chains: np.ndarray, traps: list[tuple[str, str, str, int]]) -> None:
        self.persons += persons
        self.visitors += visitors
        counts = np.bincount(lead_person)
        self.multi += int((counts >= 2).sum())
        self.repeat_leads += int(len(lead_person) - (counts > 0).sum())
        self.duplicates += duplicates
        self.n_chains += len(chains)
        if self.inline:
            self.chains.extend([int(a), int(b)] for a, b in chains)
        for kind, id_type, value, k in traps:
            key = (kind, id_type, value)
            self.traps[key] = self.traps.get(key, 0) + k

    def finish(self, window_days: int) -> dict:
        if self.writer is not None:
            self.writer.close()
        out: dict = {
            "persons": self.persons,
            "persons_with_2plus_leads": self.multi,
            "repeat_leads": self.repeat_leads,
            "duplicate_leads": self.duplicates,
            "duplicate_window_days": window_days,
            "anonymous_visitors": self.visitors,
            "chains": self.n_chains,
            "traps": [{"kind": k, "identifier_type": t, "value": v, "persons": p}
                      for (k, t, v), p in sorted(self.traps.items())],
            "persons_file": None if self.inline else PERSONS_FILE,
            "definition": IDENTITY_DEFINITION,
        }
        if self.inline:
            out["chain_lead_numbers"] = self.chains
            for kind, parts in self.parts.items():
                out[f"person_of_{kind}"] = np.concatenate(parts).tolist() if parts else []
        return out


def load_persons(folder: str | Path) -> dict[str, np.ndarray]:
    """{'lead': person_of_lead, 'touch': ..., 'contact': ...} from truth.json, or its persons file."""
    folder = Path(folder)
    identity = json.loads((folder / "truth.json").read_text(encoding="utf-8"))["identity"]
    if not identity.get("persons_file"):
        return {k: np.asarray(identity[f"person_of_{k}"], np.int64) for k in ("lead", "touch", "contact")}
    table = pq.read_table(folder / identity["persons_file"])
    out = {}
    for kind in ("lead", "touch", "contact"):
        part = table.filter(pc.equal(table["record_type"], kind))
        number = part["record_number"].to_numpy()
        person = np.zeros(int(number.max()) if len(number) else 0, np.int64)
        person[number - 1] = part["person"].to_numpy()
        out[kind] = person
    return out
