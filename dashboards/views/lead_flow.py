"""Lead flow: channel → MQL → SQL → opportunity → won, daily flow and backlog, response times and SLA by
department, the public pool, and feedback reasons with their next actions."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboards import charts as ch
from dashboards import queries as q
from dashboards import ui

c = ui.ctx()
t = c.tr
STEPS = [("leads", "leads"), ("mql", "mql"), ("sql", "sql"), ("opportunities", "opportunities"), ("won", "won")]

ui.ignores(["grade"])

# ---- Funnel --------------------------------------------------------------------------------------------------
with ui.section(t("lead_funnel"), t("lead_funnel_rule"), metrics=("lead-conversion",)):
    lf = q.lead_funnel(c.window, c.scope)
    total = lf[lf.is_total]
    if total.empty or int(total.leads.iloc[0]) == 0:
        ui.no_data(t("lead_funnel"))
    else:
        row = total.iloc[0]
        steps = pd.DataFrame(
            {"key": [k for k, _ in STEPS], "step": [t(k) for _, k in STEPS], "count": [int(row[k]) for k, _ in STEPS]}
        )
        steps["step_rate"] = steps["count"] / steps["count"].shift(1)
        steps["cumulative_rate"] = steps["count"] / steps["count"].iloc[0]
        steps["label"] = [
            f"{t.int(n)}" + ("" if i == 0 else f" · {t.pct(s)} · {t.pct(cu)}")
            for i, (n, s, cu) in enumerate(zip(steps["count"], steps.step_rate, steps.cumulative_rate, strict=False))
        ]
        left, right = st.columns([2, 3])
        with left:
            ui.chart(
                ch.step_funnel(steps, "step", "count", "label", t("step"), t("count"), present=c.present),
                t("lead_funnel"),
                key="lead_funnel",
            )
            st.caption(f"{t('step_rate')} · {t('cumulative_rate')}")
        with right:
            by = lf[~lf.is_total].copy()
            by["channel_label"] = [c.channel_label(x) for x in by.channel]
            for k in ("mql", "sql", "opportunities", "won"):
                by[f"{k}_rate"] = by[k] / by.leads.where(by.leads > 0)
            ui.table(
                by,
                t("by_channel"),
                {
                    "channel_label": t("channel"),
                    "leads": t("leads"),
                    "mql": t("mql"),
                    "sql": t("sql"),
                    "opportunities": t("opportunities"),
                    "won": t("won"),
                    "mql_rate": f"{t('mql')} %",
                    "opportunities_rate": f"{t('opportunities')} %",
                    "won_rate": f"{t('won')} %",
                },
                {"mql_rate": "pct", "opportunities_rate": "pct", "won_rate": "pct"},
                key="by_channel",
            )
        with st.expander(t("drill"), expanded=bool(st.session_state.get("drill_lead_step"))):
            a, b = st.columns(2)
            chans = [""] + [x for x in lf[~lf.is_total].channel.tolist() if isinstance(x, str)]
            ch_pick = a.selectbox(
                t("channel"),
                chans,
                key="drill_channel",
                bind="query-params",
                format_func=lambda x: c.channel_label(x) if x else t("all"),
            )
            step_pick = b.selectbox(
                t("step"),
                [""] + [k for k, _ in STEPS],
                key="drill_lead_step",
                bind="query-params",
                format_func=lambda k: t(k) if k else t("pick"),
            )
            if step_pick:  # rows load on demand: the expander's body runs even while it is closed
                flag = {
                    "leads": None,
                    "mql": "is_mql",
                    "sql": "is_sql",
                    "opportunities": "is_converted",
                    "won": "is_won",
                }[step_pick]
                what = f"{c.channel_label(ch_pick) if ch_pick else t('all')} · {t(step_pick)}"
                with ui.guard(what):  # rows behind a total: only for viewers with row-level access
                    ui.lead_rows(q.leads_drill(c.window, c.scope, "created_at", flag, ch_pick or None), what,
                                 "lead_rows")
        ui.table(
            steps,
            t("lead_funnel"),
            {
                "step": t("step"),
                "count": t("count"),
                "step_rate": t("step_rate"),
                "cumulative_rate": t("cumulative_rate"),
            },
            {"step_rate": "pct", "cumulative_rate": "pct"},
            key="lead_steps",
        )

# ---- Duplicates per channel ----------------------------------------------------------------------------------
with ui.section(t("duplicates_by_channel"), t("duplicates_caption"), metrics=("duplicate-leads",)):
    dup = q.duplicates_by_channel(c.window, c.scope)
    if dup.empty:
        ui.no_data(t("duplicates_by_channel"))
    else:
        dup["channel_label"] = [c.channel_label(x) for x in dup.channel]
        worst = dup.dropna(subset=["duplicate_share"]).iloc[0] if dup.duplicate_share.notna().any() else None
        if worst is not None and worst.duplicates > 0:
            st.markdown(t("duplicates_top", channel=worst.channel_label, share=t.pct(worst.duplicate_share),
                          n=t.int(worst.leads), d=t.int(worst.duplicates)))
        left, right = st.columns([3, 2])
        with left:
            ui.chart(ch.bars(dup.dropna(subset=["duplicate_share"]), "channel_label", "duplicate_share", t("channel"),
                             t("duplicate_share"), fmt=".0%", present=c.present),
                     t("duplicates_by_channel"), key="duplicates")
        with right:
            ui.table(dup, t("duplicates_by_channel"),
                     {"channel_label": t("channel"), "leads": t("leads"), "duplicates": t("duplicates"),
                      "duplicate_share": t("duplicate_share")},
                     {"duplicate_share": "pct"}, key="duplicates_table")

# ---- Daily flow and backlog ----------------------------------------------------------------------------------
with ui.section(t("daily_flow"), metrics=("daily-lead-flow-and-open-backlog",)):
    bucket = "day" if c.grain == "month" else "week"
    flow = q.lead_flow(c.window, c.scope, bucket)
    if flow.empty:
        ui.no_data(t("daily_flow"))
    else:
        x_title = t("day") if bucket == "day" else t("week")
        left, right = st.columns(2)
        with left:
            ui.chart(
                ch.lines(
                    flow,
                    "bucket",
                    [
                        ("created", t("created")),
                        ("contacted", t("contacted")),
                        ("mql", t("mql")),
                        ("converted", t("converted")),
                        ("disqualified", t("disqualified")),
                    ],
                    x_title,
                    t("leads"),
                    present=c.present,
                    time_format=t.time_axis("day"),
                ),
                t("daily_flow"),
                key="flow",
            )
        with right:
            ui.chart(
                ch.lines(
                    flow,
                    "bucket",
                    [("open_backlog", t("open_backlog"))],
                    x_title,
                    t("leads"),
                    present=c.present,
                    y_zero=False,
                    time_format=t.time_axis("day"),
                ),
                t("open_backlog"),
                key="backlog",
            )
        with st.expander(t("drill")):
            ui.table(
                flow,
                t("daily_flow"),
                {
                    "bucket": x_title,
                    "created": t("created"),
                    "contacted": t("contacted"),
                    "mql": t("mql"),
                    "sql": t("sql"),
                    "converted": t("converted"),
                    "disqualified": t("disqualified"),
                    "released": t("released"),
                    "claimed": t("claimed"),
                    "open_backlog": t("open_backlog"),
                },
                {"bucket": "date"},
                key="flow_table",
            )

# ---- Response time and SLA -----------------------------------------------------------------------------------
left, right = st.columns(2)
with left, ui.section(t("response_time"), metrics=("lead-response-and-sla",)):
    rd = q.response_distribution(c.window, c.scope)
    if rd.empty:
        ui.no_data(t("response_time"))
    else:
        edges = list(q.RESPONSE_BINS)
        names = [f"{a}–{b}h" for a, b in zip(edges[:-1], edges[1:], strict=False)] + [f"≥{edges[-1]}h"]
        rd["band_label"] = [names[int(b)] for b in rd.band]
        rd["status"] = rd.sla_status.map({"met": t("sla_met"), "missed": t("sla_missed"), "pending": t("sla_pending")})
        ui.chart(
            ch.histogram(
                rd,
                "band_label",
                "leads",
                "status",
                t("response_hours"),
                t("leads"),
                t("sla_compliance"),
                names,
                [t("sla_met"), t("sla_missed"), t("sla_pending")],
                [ch.GREEN, ch.RED, ch.GREY],
                present=c.present,
            ),
            t("response_time"),
            key="response",
        )
with right, ui.section(t("sla_by_dept"), metrics=("lead-response-and-sla",)):
    sla = q.sla_by_department(c.window, c.scope)
    if sla.empty:
        ui.no_data(t("sla_by_dept"))
    else:
        sla["department_name"] = [c.dept_name(d) if isinstance(d, str) else t("no_owner") for d in sla.department_id]
        ui.chart(
            ch.bars(
                sla.dropna(subset=["compliance"]),
                "department_name",
                "compliance",
                t("department"),
                t("sla_compliance"),
                fmt=".0%",
                present=c.present,
            ),
            t("sla_by_dept"),
            key="sla",
        )
        ui.table(
            sla,
            t("sla_by_dept"),
            {
                "department_name": t("department"),
                "met": t("sla_met"),
                "missed": t("sla_missed"),
                "pending": t("sla_pending"),
                "compliance": t("sla_compliance"),
                "median_response_hours": t("response_hours"),
            },
            {"compliance": "pct", "median_response_hours": "%.1f"},
            key="sla_table",
        )

# ---- Pool ----------------------------------------------------------------------------------------------------
with ui.section(t("pool"), metrics=("released-and-recovered-leads",)):
    pool = q.pool_summary(c.window, c.scope)
    flow_all = q.lead_flow(c.window, c.scope, "day" if c.grain == "month" else "week")
    a, b, d = st.columns(3)
    released = int(pool.released_leads.iloc[0]) if not pool.empty else 0
    recovered = int(pool.recovered.iloc[0]) if not pool.empty else 0
    a.metric(t("leads_released"), t.int(released))
    share = f" ({t.pct(recovered / released)})" if released else ""
    b.metric(t("leads_recovered"), t.int(recovered) + share, help=t("help_recovered"))
    d.metric(t("claimed"), t.int(flow_all.claimed.sum() if not flow_all.empty else 0))
    if flow_all.empty:
        ui.no_data(t("pool"))
    else:
        ui.chart(
            ch.lines(
                flow_all,
                "bucket",
                [("released", t("released")), ("claimed", t("claimed"))],
                t("day") if c.grain == "month" else t("week"),
                t("leads"),
                present=c.present,
                time_format=t.time_axis("day"),
            ),
            t("pool"),
            key="pool",
        )

# ---- Feedback reasons ----------------------------------------------------------------------------------------
with ui.section(t("feedback")):
    fb = q.feedback_reasons(c.window, c.scope)
    if fb.empty:
        ui.no_data(t("feedback"))
    else:
        fb["reason_label"] = fb.reason if t.zh else fb.label_en.fillna(fb.reason)
        fb["share"] = fb.leads / fb.leads.sum()
        left, right = st.columns([2, 3])
        with left:
            ui.chart(
                ch.bars(fb, "reason_label", "leads", t("reason"), t("leads"), present=c.present),
                t("feedback"),
                key="feedback",
            )
        with right:
            ui.table(
                fb,
                t("feedback"),
                {
                    "reason_label": t("reason"),
                    "leads": t("leads"),
                    "share": t("share"),
                    "next_action": t("next_action"),
                    "recontact_after_days": t("recontact_days"),
                },
                {"share": "pct"},
                key="feedback_table",
            )
