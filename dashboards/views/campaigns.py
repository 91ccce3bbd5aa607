"""Campaigns and ROI: spend → leads → opportunities → won per campaign and per channel, cost per lead, per
opportunity, CAC and ROI (fct_campaign_roi, default attribution: the lead's campaign)."""

from __future__ import annotations

import streamlit as st

from dashboards import charts as ch
from dashboards import periods, ui
from dashboards import queries as q

c = ui.ctx()
t = c.tr
ui.ignores(["department", "grade"])
st.caption(t("roi_rule") + " " + t("roi_maturity"))
COLS = {
    "spend": "spend",
    "leads": "leads",
    "opportunities": "opportunities",
    "won_deals": "won_deals",
    "won_revenue": "won_revenue_short",
    "cost_per_lead": "cpl",
    "cost_per_opportunity": "cpo",
    "cac": "cac",
    "roi": "roi",
}
FMT = {
    "spend": "money",
    "won_revenue": "money",
    "cost_per_lead": "money",
    "cost_per_opportunity": "money",
    "cac": "money",
    "roi": "pct",
}

by_channel = q.campaign_roi(c.window, c.scope, "channel")
with ui.section(t("channel_table"), metrics=("campaign-roi",)):
    if by_channel.empty:
        ui.no_data(t("channel_table"))
    else:
        by_channel["channel_label"] = [c.channel_label(x) for x in by_channel.channel]
        left, right = st.columns(2)
        with left:
            ui.chart(
                ch.bars(
                    by_channel.dropna(subset=["cost_per_lead"]),
                    "channel_label",
                    "cost_per_lead",
                    t("channel"),
                    t("cpl"),
                    fmt=",.0f",
                    present=c.present,
                ),
                t("cpl"),
                key="cpl",
            )
        with right:
            ui.chart(
                ch.bars(
                    by_channel.dropna(subset=["roi"]),
                    "channel_label",
                    "roi",
                    t("channel"),
                    t("roi"),
                    fmt=".0%",
                    present=c.present,
                ),
                t("roi"),
                key="roi",
            )
        ui.table(
            by_channel,
            t("channel_table"),
            {"channel_label": t("channel"), **{k: t(v) for k, v in COLS.items()}},
            FMT,
            key="channel_table",
        )

with ui.section(t("campaign_table"), metrics=("campaign-roi",)):
    camp = q.campaign_roi(c.window, c.scope, "campaign")
    if camp.empty:
        ui.no_data(t("campaign_table"))
    else:
        camp["channel_label"] = [c.channel_label(x) for x in camp.channel]
        ui.table(
            camp,
            t("campaign_table"),
            {"campaign_name": t("campaign"), "channel_label": t("channel"), **{k: t(v) for k, v in COLS.items()}},
            FMT,
            key="campaign_table",
            height=380,
        )
        ids = camp.campaign_id.tolist()
        names = dict(zip(camp.campaign_id, camp.campaign_name.fillna(camp.campaign_id), strict=False))
        with st.expander(t("drill")):
            pick = st.selectbox(
                t("campaign"), ids, format_func=lambda i: names.get(i, i), key="campaign", bind="query-params"
            )
            rows = q.campaign_rows(pick, c.window.start, c.window.end) if pick else camp.iloc[0:0]
            ui.table(
                rows,
                t("drill") + " · " + str(names.get(pick, pick)),
                {
                    "month": t("month"),
                    "spend": t("spend"),
                    "touches": t("touches"),
                    "leads": t("leads"),
                    "mql": t("mql"),
                    "sql": t("sql"),
                    "opportunities": t("opportunities"),
                    "won_deals": t("won_deals"),
                    "won_revenue": t("won_revenue_short"),
                    "roi": t("roi"),
                },
                {"month": "date", "spend": "money", "won_revenue": "money", "roi": "pct"},
                key="campaign_rows",
            )

with ui.section(t("spend_funnel")):
    start = periods.add_months(periods.period_start(c.window.last_day, "month"), -11)
    monthly = q.campaign_monthly(c.scope, start, c.window.end)
    if monthly.empty:
        ui.no_data(t("spend_funnel"))
    else:
        left, right = st.columns(2)
        with left:
            ui.chart(
                ch.lines(
                    monthly,
                    "month",
                    [("spend", t("spend")), ("won_revenue", t("won_revenue_short"))],
                    t("month"),
                    t("amount"),
                    y_format=",.0f",
                    present=c.present,
                    time_format=t.time_axis("month"),
                ),
                t("spend_funnel"),
                key="spend",
            )
        with right:
            ui.chart(
                ch.lines(
                    monthly,
                    "month",
                    [("leads", t("leads")), ("opportunities", t("opportunities")), ("won_deals", t("won_deals"))],
                    t("month"),
                    t("count"),
                    present=c.present,
                    time_format=t.time_axis("month"),
                ),
                t("leads"),
                key="campaign_counts",
            )
