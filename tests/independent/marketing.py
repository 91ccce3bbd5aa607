"""Campaign month figures from the raw exports under the default attribution (SPEC §4 "Campaign ROI",
`metric_campaign_roi`): spend in the month of spend_date; leads, MQL, SQL, opportunities, won deals and won
revenue in the month the lead was created; an opportunity belongs to its source lead (source_lead_id, else the
lead whose converted_opportunity_id points at it)."""

from __future__ import annotations

import pandas as pd

from .pipeline import opportunities
from .raw import Raw, month_start
from .stats import ratio


def campaign_months(raw: Raw, facts: pd.DataFrame) -> pd.DataFrame:
    spend = raw.campaign_spend.dropna(subset=["campaign_id", "spend_date"])
    spend = spend.assign(month=month_start(spend["spend_date"])).groupby(["month", "campaign_id"])[
        "spend_cents"].sum().rename("spend_cents")

    leads = facts[facts["campaign_id"].notna()].assign(month=lambda f: month_start(f["created_at"]))
    lead_counts = leads.groupby(["month", "campaign_id"]).agg(
        leads=("lead_id", "size"), mql=("is_mql", "sum"), sql=("is_sql", "sum"),
        converted_leads=("is_converted", "sum"))

    opps = opportunities(raw)
    pointed = raw.leads.dropna(subset=["converted_opportunity_id"]).drop_duplicates("converted_opportunity_id")
    pointed = pointed.set_index("converted_opportunity_id")["lead_id"]
    lead_of = opps["source_lead_id"].fillna(opps["opportunity_id"].map(pointed))
    opps = opps.assign(lead_id=lead_of).dropna(subset=["lead_id"])
    opps = opps.merge(leads[["lead_id", "campaign_id", "month"]], on="lead_id")
    opps["won"] = opps["status"] == "won"
    opps["won_cents"] = opps["amount_cents"].where(opps["won"], 0).fillna(0)
    opp_counts = opps.groupby(["month", "campaign_id"]).agg(
        opportunities=("opportunity_id", "size"), won_deals=("won", "sum"), won_revenue_cents=("won_cents", "sum"))

    out = pd.concat([spend, lead_counts, opp_counts], axis=1).fillna(0).astype("int64").reset_index()
    out["cost_per_lead"] = ratio(out["spend_cents"] / 100, out["leads"])
    return out
