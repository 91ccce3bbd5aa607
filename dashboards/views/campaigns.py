"""Campaigns and ROI: spend → leads → opportunities → won per campaign and per channel, cost per lead, per
opportunity, CAC and ROI (fct_campaign_roi, default attribution: the lead's campaign); with a model picked, the
channels under that attribution model (fct_channel_attribution); and the 8 models side by side per channel, with
the channels whose rank moves between last touch and the data-driven models said in words."""

from __future__ import annotations

import streamlit as st

from dashboards import charts as ch
from dashboards import periods, ranking, ui
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

MODELS = ranking.MODELS
model = st.selectbox(t("attr_model"), ["", *MODELS], key="model", bind="query-params",
                     format_func=lambda m: t(f"model_{m}") if m else t("model_default"))


def model_channel_table(model: str) -> None:
    """The channel table under one attribution model (fct_channel_attribution)."""
    name = t("channel_table_model", model=t(f"model_{model}"))
    with ui.section(name, t("model_rule"), metrics=("channel-attribution", "attribution-models")):
        attr = q.channel_attribution(c.window, c.scope)
        mine = attr[attr.model == model].assign(channel=lambda d: d.channel.fillna("—"))  # kept by the pivot
        if mine.empty:
            ui.no_data(name)
            return
        wide = mine.pivot_table(index="channel", columns="conversion_type", values="conversions", aggfunc="sum")
        wide = wide.reindex(columns=list(q.CONVERSION_TYPES)).reset_index()
        won = mine[mine.conversion_type == "won"].set_index("channel")
        spend = mine.groupby("channel").spend.max()  # the same spend on every conversion type's row
        wide["spend"] = wide.channel.map(spend)
        wide["revenue"] = wide.channel.map(won.revenue)
        wide["roi"] = wide.channel.map(won.roi)
        wide["cost_per_opportunity"] = wide.spend / wide.opportunity.where(wide.opportunity > 0)
        wide["channel_label"] = [c.channel_label(x) for x in wide.channel]
        wide = wide.sort_values("opportunity", ascending=False)
        left, right = st.columns(2)
        with left:
            ui.chart(ch.bars(wide.dropna(subset=["opportunity"]), "channel_label", "opportunity", t("channel"),
                             t("credited_opportunities"), fmt=",.1f", present=c.present),
                     t("credited_opportunities"), key="model_opps")
        with right:
            ui.chart(ch.bars(wide.dropna(subset=["roi"]), "channel_label", "roi", t("channel"), t("roi"), fmt=".0%",
                             present=c.present), t("roi"), key="model_roi")
        ui.table(wide, name,
                 {"channel_label": t("channel"), "spend": t("spend"), "lead": t("credited_leads"),
                  "opportunity": t("credited_opportunities"), "won": t("credited_wins"),
                  "revenue": t("credited_revenue"), "cost_per_opportunity": t("cost_per_credited"), "roi": t("roi")},
                 {"spend": "money", "lead": "%.1f", "opportunity": "%.1f", "won": "%.1f", "revenue": "money",
                  "cost_per_opportunity": "money", "roi": "pct"}, key="model_channel_table")


def models_side_by_side() -> None:
    """Every model per channel: conversions credited (small multiples), ROI, and the ranks that move."""
    with ui.section(t("models_side_by_side"), t("models_caption"),
                    metrics=("attribution-models", "channel-attribution")):
        conv = st.segmented_control(t("conv_type"), list(q.CONVERSION_TYPES), default="opportunity",
                                    format_func=lambda k: t(f"conv_{k}"), key="conv", bind="query-params",
                                    required=True) or "opportunity"
        attr = q.channel_attribution(c.window, c.scope)
        rows = attr[attr.conversion_type == conv].copy()
        if rows.empty:
            ui.no_data(t("models_side_by_side"))
            return
        rows["channel_label"] = [c.channel_label(x) for x in rows.channel]
        rows["model_label"] = [t(f"model_{m}") for m in rows.model]
        # Ranks are of channels: conversions without one (a deal without a lead) are in the chart, not ranked.
        ranked = rows.dropna(subset=["channel"])
        changes = ranking.rank_changes(ranked, base="last_touch", value="conversions", channel="channel_label")
        for change in changes:
            st.markdown(t("rank_sentence", channel=change.channel, r1=t.ordinal(change.base_rank),
                          base=t(f"model_{change.base_model}"), r2=t.ordinal(change.other_rank),
                          other=t(f"model_{change.other_model}")))
        if not changes:
            st.caption(t("rank_same"))
        order = [t(f"model_{m}") for m in MODELS if m in set(rows.model)]
        ui.chart(ch.small_multiples(rows, "channel_label", "conversions", "model_label", order, t("channel"),
                                    t("credited_conversions"), present=c.present),
                 t("models_side_by_side"), key="models_chart")
        ranks = ranking.ranks(ranked, channel="channel_label", value="conversions")
        ranks.columns = [t(f"model_{m}") for m in ranks.columns]
        ranks = ranks.reset_index().rename(columns={"channel_label": t("channel")})
        st.markdown(f"**{t('ranks_table')}**")
        ui.table(ranks, t("ranks_table"), {k: k for k in ranks.columns}, key="model_ranks")
        won = attr[attr.conversion_type == "won"].copy()
        if not won.empty:
            won["channel_label"] = [c.channel_label(x) for x in won.channel]
            roi = won.pivot(index="channel_label", columns="model", values="roi")
            roi = roi[[m for m in MODELS if m in roi.columns]]
            roi.columns = [t(f"model_{m}") for m in roi.columns]
            roi = roi.reset_index().rename(columns={"channel_label": t("channel")})
            st.markdown(f"**{t('roi_by_model')}**")
            ui.table(roi, t("roi_by_model"), {k: k for k in roi.columns},
                     {k: "pct" for k in roi.columns if k != t("channel")}, key="model_roi_table")


by_channel = q.campaign_roi(c.window, c.scope, "channel")
if model:
    model_channel_table(model)
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

models_side_by_side()

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
