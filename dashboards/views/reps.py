"""Reps: behaviour (activities), results (opportunities, wins, revenue) and state (win rate, cycle, SLA) per rep,
how concentrated won revenue is (20/80), and one rep against the best of the department (fct_rep_performance)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboards import charts as ch
from dashboards import queries as q
from dashboards import ui

c = ui.ctx()
t = c.tr
ui.ignores(["channel", "grade"])
# (column, label key, format, higher is better)
METRICS = [
    ("activities_total", "activities", "int", True),
    ("opportunities_created", "opps_created", "int", True),
    ("won_deals", "won_deals", "int", True),
    ("won_revenue", "won_revenue", "money", True),
    ("win_rate", "win_rate", "pct", True),
    ("avg_cycle_days_won", "cycle_days", "%.1f", False),
    ("sla_compliance", "sla_compliance", "pct", True),
]

reps = q.rep_performance(c.window, c.scope)
if not reps.empty:
    reps["role_label"] = [t(f"role_{r}") for r in reps.role]

with ui.section(t("rep_table"), metrics=("rep-performance", "win-rate", "lead-response-and-sla")):
    if reps.empty:
        ui.no_data(t("rep_table"))
    else:
        ui.table(
            reps,
            t("rep_table"),
            {
                "user_name": t("rep"),
                "department_name": t("department"),
                "role_label": t("role"),
                "calls": t("act_calls"),
                "visits": t("act_visits"),
                "meetings": t("act_meetings"),
                "demos": t("act_demos"),
                **{m: t(k) for m, k, _, _ in METRICS},
            },
            {m: f for m, _, f, _ in METRICS if f != "int"},
            key="rep_table",
            height=380,
        )

left, right = st.columns(2)
with left, ui.section(t("pareto")):
    ranked = reps.sort_values("won_revenue", ascending=False) if not reps.empty else reps
    total = float(ranked.won_revenue.sum()) if not ranked.empty else 0.0
    if ranked.empty or total <= 0:
        ui.no_data(t("pareto"))
    else:
        n = len(ranked)
        curve = pd.DataFrame(
            {
                "rep_share": [(i + 1) / n for i in range(n)],
                "revenue_share": ranked.won_revenue.cumsum().to_numpy() / total,
                "user_name": ranked.user_name.tolist(),
            }
        )
        curve = pd.concat([pd.DataFrame({"rep_share": [0.0], "revenue_share": [0.0], "user_name": [""]}), curve])
        k = max(1, round(n * 0.2))
        st.markdown(
            t(
                "pareto_note",
                k=k,
                share_reps=t.pct(k / n, 0),
                share_rev=t.pct(float(ranked.won_revenue.head(k).sum()) / total, 0),
            )
        )
        ui.chart(
            ch.pareto(curve, "rep_share", "revenue_share", t("rep_share"), t("revenue_share"), present=c.present),
            t("pareto"),
            key="pareto",
        )

with right, ui.section(t("rep_vs_best")):
    if reps.empty:
        ui.no_data(t("rep_vs_best"))
    else:
        labels = {r.user_id: f"{r.user_name} · {r.department_name}" for r in reps.itertuples()}
        ui.check_link("rep", labels.values())
        rep_id = st.selectbox(
            t("choose_rep"), list(labels), format_func=lambda u: labels.get(u, u), key="rep", bind="query-params"
        )
        me = reps[reps.user_id == rep_id].iloc[0]
        peers = reps[reps.department_id == me.department_id]
        rows = []
        show = {"int": t.int, "money": t.money, "pct": t.pct, "%.1f": t.num}
        for col, key, fmt, higher in METRICS:
            best = peers[col].max() if higher else peers[col].min()
            rows.append(
                {
                    "metric": t(key),
                    "this_rep": show[fmt](me[col]),
                    "best": show[fmt](best),
                    "of_best": (me[col] / best if higher else best / me[col])
                    if pd.notna(me[col]) and pd.notna(best) and (best if higher else me[col])
                    else None,
                }
            )
        comp = pd.DataFrame(rows)
        ui.chart(
            ch.bars(
                comp.dropna(subset=["of_best"]),
                "metric",
                "of_best",
                t("metric"),
                f"{t('this_rep')} ÷ {t('dept_best')}",
                fmt=".0%",
                sort_desc=False,
                keep_order=True,
                present=c.present,
            ),
            t("rep_vs_best"),
            key="rep_vs_best",
        )
        ui.table(
            comp,
            t("rep_vs_best"),
            {
                "metric": t("metric"),
                "this_rep": t("this_rep"),
                "best": t("dept_best"),
                "of_best": f"{t('this_rep')} ÷ {t('dept_best')}",
            },
            {"of_best": "pct"},
            key="rep_vs_best_table",
        )

if not reps.empty:
    with ui.section(t("drill")):
        rep_id = st.session_state.get("rep") or reps.user_id.iloc[0]
        rows = q.opportunities_closed(c.window, c.scope, None, owner_user_id=rep_id)
        st.caption(
            t("drill_rows", what=f"{reps.set_index('user_id').user_name.get(rep_id, rep_id)} · {t('win_rate')}")
            + " · "
            + t("rows", n=t.int(len(rows)))
        )
        if rows.empty:
            ui.no_data(t("drill"))
        else:
            rows["status_label"] = [t(f"status_{x}") for x in rows.status]
            rows["journey"] = [ui.journey_url("opportunity", x) for x in rows.opportunity_id]
            ui.table(
                rows,
                t("drill"),
                {
                    "journey": t("journey_link"),
                    "opportunity_id": "ID",
                    "opportunity_name": t("opportunity"),
                    "account_name": t("account"),
                    "closed_at": t("exited_at"),
                    "status_label": t("status"),
                    "amount": t("amount"),
                    "cycle_days": t("cycle_days"),
                },
                {"closed_at": "datetime", "amount": "money", "cycle_days": "%.1f", "journey": "link"},
                key="rep_drill",
            )
