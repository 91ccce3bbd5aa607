"""Campaign month figures from the raw exports under the default attribution (docs/metrics.md#campaign-roi,
`metric_campaign_roi`): spend in the month of spend_date; leads, MQL, SQL, opportunities, won deals and won
revenue in the month the lead was created; touches in the month they happened; an opportunity belongs to its source
lead (source_lead_id, else the lead whose converted_opportunity_id points at it). Cost per lead, cost per
opportunity, CAC (spend / won deals) and ROI ((won revenue - spend) / spend) are missing when their denominator is
0."""

from __future__ import annotations

import pandas as pd

from .pipeline import opportunities
from .raw import Raw, month_start
from .stats import ratio


def campaign_months(raw: Raw, facts: pd.DataFrame) -> pd.DataFrame:
    spend = raw.campaign_spend.dropna(subset=["campaign_id", "spend_date"])
    spend = spend.assign(month=month_start(spend["spend_date"])).groupby(["month", "campaign_id"])[
        "spend_cents"].sum().rename("spend_cents")

    touches = raw.touches.dropna(subset=["campaign_id", "touched_at"])
    touches = touches.assign(month=month_start(touches["touched_at"])).groupby(["month", "campaign_id"]).size().rename(
        "touches")

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

    out = pd.concat([spend, touches, lead_counts, opp_counts], axis=1).fillna(0).astype("int64").reset_index()
    spend = out["spend_cents"] / 100
    out["cost_per_lead"] = ratio(spend, out["leads"])
    out["cost_per_opportunity"] = ratio(spend, out["opportunities"])
    out["cac"] = ratio(spend, out["won_deals"])
    out["roi"] = ratio(out["won_revenue_cents"] - out["spend_cents"], out["spend_cents"])
    return out
