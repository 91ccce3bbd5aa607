"""Follow-ups from the raw exports (docs/metrics.md#follow-up-status), written from the definition, not from the SQL:
- feedback = a disqualified lead's reason (leads.disqualify_reason, else its latest disqualified event's reason) and
  a lost opportunity's loss_reason; its text normalised with Unicode NFKC (full-width → half-width) and OpenCC's
  t2s (traditional → simplified; the SQL uses a small translate table), spaces dropped, lower-cased, then matched
  to the seed's reason, else its '|'-separated aliases; unmatched = `other`;
- a follow-up for every matched reason with recontact_after_days: due = feedback + those days; owner = who gave it
  (the disqualified event's user, else the lead owner; the opportunity owner), the department's longest-serving
  manager still employed when that rep left;
- done at the first recontact from max(feedback, due − 7 days) on: an activity on the lead, on the account or on a
  lead of the person; a direct touch (email_open, webinar_attend, event_checkin, form_submit) of the person; a new
  lead of the person; overdue after due + 7 days, due from due − 7 days, upcoming before;
- recovered when an opportunity of the account, or from a lead of the person, was created after the feedback.
Who a person is comes from the identity marts (fct_leads.person_id, fct_touches.person_id, dim_person.account_id),
checked on their own in tests/independent/identity.py.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd

from .leads import lead_facts
from .pipeline import close_times
from .raw import Raw

EARLY, GRACE = pd.Timedelta(days=7), pd.Timedelta(days=7)
DIRECT_TOUCHES = {"email_open", "webinar_attend", "event_checkin", "form_submit"}
SEED = Path(__file__).resolve().parents[2] / "seeds" / "lead_feedback_reasons.csv"


def normalise(text: object) -> str:
    import opencc

    if text is None or (isinstance(text, float) and np.isnan(text)) or text is pd.NA:
        return ""
    folded = unicodedata.normalize("NFKC", str(text))
    return "".join(opencc.OpenCC("t2s").convert(folded).split()).lower()


def match_reason(text: object, seed: pd.DataFrame) -> str:
    key = normalise(text)
    if not key:
        return "other"
    for _, row in seed.iterrows():
        if normalise(row["reason"]) == key:
            return row["reason"]
    for _, row in seed.iterrows():
        aliases = [] if pd.isna(row["aliases"]) else str(row["aliases"]).split("|")
        if key in {normalise(a) for a in aliases}:
            return row["reason"]
    return "other"


def feedback(raw: Raw, persons: pd.Series, person_accounts: pd.Series, sources: pd.DataFrame) -> pd.DataFrame:
    seed = pd.read_csv(SEED, dtype=str)
    facts = lead_facts(raw).set_index("lead_id")
    leads = raw.leads.set_index("lead_id")
    ev = raw.lead_events[raw.lead_events["event_type"] == "disqualified"].sort_values(["event_at", "user_id"])
    last_ev = ev.groupby("lead_id").agg(ev_reason=("reason", "last"), ev_user=("user_id", "last"),
                                        ev_at=("event_at", "last"))
    dq = facts[facts["final_status"] == "disqualified"].join(last_ev)
    dq["text"] = leads["disqualify_reason"].reindex(dq.index).fillna(dq["ev_reason"])
    dq = dq[dq["text"].notna()]
    lead_rows = pd.DataFrame({
        "entity_type": "lead", "entity_id": dq.index, "text": dq["text"].to_numpy(),
        "feedback_at": dq["disqualified_at"].fillna(dq["ev_at"]).to_numpy(),
        "giver": dq["ev_user"].fillna(leads["owner_user_id"].reindex(dq.index)).to_numpy()})
    lead_rows["person_id"] = lead_rows["entity_id"].map(persons)
    lead_rows["account_id"] = lead_rows["person_id"].map(person_accounts)

    opps = close_times(raw).set_index("opportunity_id")
    loss = raw.table("crm/opportunities", ["opportunity_id", "loss_reason"]).set_index("opportunity_id")["loss_reason"]
    info = sources.set_index("opportunity_id")
    lost = opps[(opps["status"] == "lost") & loss.reindex(opps.index).notna() & opps["closed_at"].notna()]
    opp_rows = pd.DataFrame({
        "entity_type": "opportunity", "entity_id": lost.index, "text": loss.reindex(lost.index).to_numpy(),
        "feedback_at": lost["closed_at"].to_numpy(), "giver": info["owner_user_id"].reindex(lost.index).to_numpy(),
        "account_id": info["account_id"].reindex(lost.index).to_numpy(),
        "person_id": info["source_lead_id"].reindex(lost.index).map(persons).to_numpy()})
    out = pd.concat([lead_rows, opp_rows], ignore_index=True)
    reasons = {t: match_reason(t, seed) for t in out["text"].unique()}
    out["reason"] = out["text"].map(reasons)
    days = seed.set_index("reason")["recontact_after_days"].astype(float)
    out["recontact_days"] = out["reason"].map(days)
    return out


def opportunity_sources(raw: Raw) -> pd.DataFrame:
    """Opportunities with the lead they came from: the lead naming it as converted_opportunity_id, else its own
    source_lead_id (metric_lead_conversion)."""
    links = raw.leads.dropna(subset=["converted_opportunity_id"])
    by_link = links.groupby("converted_opportunity_id")["lead_id"].min()  # several leads claiming it: the first id
    opps = raw.opportunities[["opportunity_id", "account_id", "created_at", "source_lead_id", "owner_user_id"]].copy()
    opps["source_lead_id"] = opps["opportunity_id"].map(by_link).fillna(opps["source_lead_id"])
    return opps


def followups(raw: Raw, lead_persons: pd.DataFrame, touches: pd.DataFrame, person_accounts: pd.Series) -> pd.DataFrame:
    """One row per follow-up with owner, status, done_at and recovery."""
    persons = lead_persons.set_index("lead_id")["person_id"]
    opportunities = opportunity_sources(raw)
    fb = feedback(raw, persons, person_accounts, opportunities)
    fu = fb[fb["recontact_days"].notna()].copy()
    fu["due_at"] = fu["feedback_at"] + pd.to_timedelta(fu["recontact_days"], unit="D")
    fu["start"] = np.maximum(fu["feedback_at"], fu["due_at"] - EARLY)
    fu["key"] = fu["entity_type"] + ":" + fu["entity_id"].astype(str)
    as_of = raw.as_of

    users = raw.users.set_index("user_id")
    employed = raw.users["left_at"].isna() | (raw.users["left_at"] > as_of)
    heads = (raw.users[(raw.users["role"] == "manager") & employed]
             .sort_values(["hired_at", "user_id"]).groupby("department_id")["user_id"].first())
    fu["department_id"] = fu["giver"].map(users["department_id"])
    left = fu["giver"].map(users["left_at"])
    fu["owner_user_id"] = np.where(left.notna() & (left <= as_of),
                                   fu["department_id"].map(heads).fillna(fu["giver"]), fu["giver"])

    # recontact candidates, each as (key, at)
    acts = raw.activities
    cands = []
    lf = fu[fu["entity_type"] == "lead"]
    cands.append(lf[["key", "start", "entity_id"]].merge(acts, left_on="entity_id", right_on="lead_id")
                 [["key", "start", "activity_at"]].rename(columns={"activity_at": "at"}))
    cands.append(fu[["key", "start", "account_id"]].dropna().merge(acts, on="account_id")
                 [["key", "start", "activity_at"]].rename(columns={"activity_at": "at"}))
    person_leads = lead_persons.merge(raw.leads[["lead_id", "created_at"]], on="lead_id")
    pl = fu[["key", "start", "person_id", "entity_type", "entity_id"]].dropna(subset=["person_id"]).merge(
        person_leads, on="person_id")
    cands.append(pl.merge(acts, on="lead_id")[["key", "start", "activity_at"]].rename(columns={"activity_at": "at"}))
    new_leads = pl[~((pl["entity_type"] == "lead") & (pl["lead_id"] == pl["entity_id"]))]
    cands.append(new_leads[["key", "start", "created_at"]].rename(columns={"created_at": "at"}))
    direct = touches[touches["touch_type"].isin(DIRECT_TOUCHES)]
    cands.append(fu[["key", "start", "person_id"]].dropna().merge(direct, on="person_id")
                 [["key", "start", "touched_at"]].rename(columns={"touched_at": "at"}))
    c = pd.concat(cands, ignore_index=True)
    c = c[(c["at"] >= c["start"]) & (c["at"] <= as_of)]
    fu["done_at"] = fu["key"].map(c.groupby("key")["at"].min())
    fu["status"] = np.select(
        [fu["done_at"].notna(), as_of > fu["due_at"] + GRACE, as_of >= fu["due_at"] - EARLY],
        ["done", "overdue", "due"], "upcoming")

    # recovery: opportunities of the account or from a lead of the person, created after the feedback
    opps = opportunities[["opportunity_id", "account_id", "created_at", "source_lead_id"]]
    rec = [fu[["key", "feedback_at", "account_id", "entity_type", "entity_id"]].dropna(subset=["account_id"])
           .merge(opps, on="account_id")]
    rec.append(pl[["key", "lead_id", "entity_type", "entity_id"]].merge(
        fu[["key", "feedback_at"]], on="key").merge(opps, left_on="lead_id", right_on="source_lead_id"))
    r = pd.concat(rec, ignore_index=True)
    r = r[(r["created_at"] > r["feedback_at"])
          & ~((r["entity_type"] == "opportunity") & (r["opportunity_id"] == r["entity_id"]))]
    fu["is_recovered"] = fu["key"].isin(set(r["key"]))
    return fu.rename(columns={"key": "followup_id"})
