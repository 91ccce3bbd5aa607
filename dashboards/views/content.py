"""Content: which whitepapers, webinars, cases … reach people, sit on converting paths and earn credit under an
attribution model (fct_content_performance) — the feedback the touches give on the content (触点又会反馈内容的好坏)."""

from __future__ import annotations

import streamlit as st

from dashboards import charts as ch
from dashboards import queries as q
from dashboards import ranking, ui

c = ui.ctx()
t = c.tr
ui.ignores(["department", "channel", "grade"])
# Linear by default: contents sit in the middle of paths, which first and last touch would not credit.
DEFAULT_MODEL = "linear"
model = st.selectbox(t("attr_model"), list(ranking.MODELS), index=ranking.MODELS.index(DEFAULT_MODEL),
                     key="cmodel", bind="query-params", format_func=lambda m: t(f"model_{m}"))


def type_label(x) -> str:
    return t(f"ctype_{x}") if isinstance(x, str) and f"ctype_{x}" in _TYPES else (x if isinstance(x, str) else "–")


_TYPES = {f"ctype_{k}" for k in ("whitepaper", "article", "video", "webinar", "case_study")}

with ui.section(t("content_by_type"), metrics=("content-performance", "content-page")):
    by_type = q.content_by_type(c.window)
    if by_type.empty:
        ui.no_data(t("content_by_type"))
    else:
        by_type["type_label"] = [type_label(x) for x in by_type.content_type]
        mine = by_type[by_type.model == model].copy()
        left, right = st.columns([2, 3])
        with left:
            ui.chart(ch.bars(mine, "type_label", "credited_opportunities", t("content_type"),
                             t("credited_opportunities"), fmt=",.1f", present=c.present),
                     t("content_by_type"), key="content_types")
        with right:
            ui.table(mine, t("content_by_type"),
                     {"type_label": t("content_type"), "contents": t("count"), "touches": t("touches"),
                      "opportunities_influenced": t("opportunities_influenced"),
                      "wins_influenced": t("wins_influenced"), "credited_opportunities": t("credited_opportunities"),
                      "credited_revenue": t("credited_revenue")},
                     {"credited_opportunities": "%.1f", "credited_revenue": "money"}, key="content_types_table")

with ui.section(t("content_reach"), t("content_caption"), metrics=("content-performance", "content-page")):
    perf = q.content_performance(c.window, model)
    if perf.empty:
        ui.no_data(t("content_reach"))
    else:
        perf["type_label"] = [type_label(x) for x in perf.content_type]
        perf["title_label"] = perf.title.fillna(perf.content_id)
        twice = perf.title_label.duplicated(keep=False)  # the same title on two contents: say which is which
        perf.loc[twice, "title_label"] = perf.title_label[twice] + " (" + perf.content_id[twice] + ")"
        top = perf.dropna(subset=["credited_opportunities"])
        if len(top) and top.credited_opportunities.iloc[0] > 0:
            best = top.iloc[0]
            st.markdown(t("content_best", model=t(f"model_{model}"), title=f"**{best.title_label}**",
                          type=best.type_label, credit=t.num(best.credited_opportunities, 1),
                          persons=t.int(best.persons_reached)))
        # no axis title: beside long titles it is drawn over them
        ui.chart(ch.bars(top.head(15), "title_label", "credited_opportunities", "",
                         t("credited_opportunities"), fmt=",.1f", color="type_label", color_title=t("content_type"),
                         color_scale=ch.CATEGORY_SCALE, present=c.present),
                 t("content_reach"), key="content_top")
        ui.table(perf, t("content_reach"),
                 {"content_id": "ID", "title_label": t("content_title"), "type_label": t("content_type"),
                  "campaign_name": t("campaign"),
                  "touches": t("touches"), "persons_reached": t("persons_reached"),
                  "leads_influenced": t("leads_influenced"), "opportunities_influenced": t("opportunities_influenced"),
                  "wins_influenced": t("wins_influenced"), "revenue_influenced": t("revenue_influenced"),
                  "credited_opportunities": t("credited_opportunities"), "credited_revenue": t("credited_revenue"),
                  "opportunities_per_person": t("opportunities_per_person")},
                 {"revenue_influenced": "money", "credited_opportunities": "%.2f", "credited_revenue": "money",
                  "opportunities_per_person": "%.3f"}, key="content_table", height=460)
