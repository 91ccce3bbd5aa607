"""Stage conversion and departments: funnel with Wilson intervals, department × stage heat map with significance
flags, each department against the rest of the company and against its previous period, median days in stage,
and the opportunities behind any cell."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboards import charts as ch
from dashboards import queries as q
from dashboards import ui

c = ui.ctx()
t = c.tr
MARK = {"significant": "●", "not_significant": "○", "too_few": "·"}
K_DRILL_DEPT, K_DRILL_STEP, K_STEP = "drill_dept", "drill_step", "step"
# A department head without the company benchmark gets no rest-of-company figures (the query layer nulls them).
BENCHMARK = not c.viewer.access.scoped or c.viewer.access.company_benchmark


def metric_label(r) -> str:
    if r.metric == "win_rate":
        return t("win_rate")
    return c.step_label(r.stage_name, r.next_stage_name)


def flag_key(r) -> str:
    if r.significance == "significant":
        return "above" if r.difference_vs_rest > 0 else "below"
    return r.significance or "too_few"


# ---- Funnel -------------------------------------------------------------------------------------------------
with ui.section(t("funnel_by_stage"), t("funnel_rule"),
                metrics=("stage-reached", "stage-conversion", "cumulative-conversion-rate")):
    f = q.funnel(c.window, c.scope)
    if c.scope.channels or c.scope.grades:
        st.caption(t("stage_filter_note"))
    if f.empty:
        ui.no_data(t("funnel_by_stage"))
    else:
        f["step"] = [c.step_label(s, n) for s, n in zip(f.stage_name, f.next_stage_name, strict=False)]
        f["label"] = [
            f"{t.pct(r)}  [{t.pct(lo, 0)}–{t.pct(hi, 0)}]  n={t.int(n)}" if pd.notna(r) else "–"
            for r, lo, hi, n in zip(f.conversion_rate, f.ci_low, f.ci_high, f.decided, strict=False)
        ]
        left, right = st.columns(2)
        with left:
            ui.chart(
                ch.rate_with_ci(
                    f, "step", t("step"), t("step_rate"), order="stage_order", text_col="label", present=c.present
                ),
                t("step_rate"),
                key="funnel_rate",
            )
        with right:
            ui.chart(
                ch.funnel_bars(
                    f,
                    "step",
                    t("step"),
                    [
                        ("reached", t("reached")),
                        ("decided", t("decided")),
                        ("advanced", t("advanced")),
                        ("open", t("open")),
                    ],
                    t("count"),
                    order="stage_order",
                    present=c.present,
                ),
                t("reached"),
                key="funnel_counts",
            )
        ui.table(
            f,
            t("funnel_by_stage"),
            {
                "step": t("step"),
                "reached": t("reached"),
                "advanced": t("advanced"),
                "lost": t("lost"),
                "open": t("open"),
                "decided": t("decided"),
                "conversion_rate": t("step_rate"),
                "ci_low": t("ci_low"),
                "ci_high": t("ci_high"),
                "cumulative_rate": t("cumulative_rate"),
                "median_days_in_stage": t("median_days"),
            },
            {
                "conversion_rate": "pct",
                "ci_low": "pct",
                "ci_high": "pct",
                "cumulative_rate": "pct",
                "median_days_in_stage": "%.1f",
            },
            key="funnel_table",
        )

# ---- Department comparison (fct_department_comparison) ------------------------------------------------------
comp = q.comparison(c.grain, c.window.start)
depts = comp[~comp.is_all_departments].copy() if not comp.empty else comp
if c.selected_departments and not depts.empty:
    depts = depts[depts.department_id.isin(c.scope.departments or ())]
if not depts.empty:
    depts["metric_key"] = depts.stage_name.fillna("win_rate")
    depts["metric_name"] = [metric_label(r) for r in depts.itertuples()]
    depts["flag"] = [flag_key(r) for r in depts.itertuples()]
    depts["flag_label"] = [t(r.significance) if r.significance else "" for r in depts.itertuples()]
    depts["change_label"] = [t(s) if isinstance(s, str) else "" for s in depts.change_significance]
    depts["cell"] = [
        f"{t.pct(r.rate, 0)} {MARK.get(r.significance, '')}" if pd.notna(r.rate) else "–" for r in depts.itertuples()
    ]
metric_order = (
    depts.sort_values(["stage_order"], na_position="last").drop_duplicates("metric_key")[["metric_key", "metric_name"]]
    if not depts.empty
    else pd.DataFrame(columns=["metric_key", "metric_name"])
)

event = None
with ui.section(t("heatmap_title"), t("heatmap_note") if BENCHMARK else t("heatmap_note_own"),
                metrics=("stage-conversion", "win-rate", "significance")):
    ui.ignores(["channel", "grade"], chart=True)
    if depts.empty:
        ui.no_data(t("heatmap_title"))
    else:
        tooltip = [
            alt.Tooltip("department_name:N", title=t("department")),
            alt.Tooltip("metric_name:N", title=t("metric")),
            alt.Tooltip("rate:Q", format=".1%", title=t("rate")),
            alt.Tooltip("rest_rate:Q", format=".1%", title=t("rest_rate")),
            alt.Tooltip("denominator:Q", title=t("n")),
            alt.Tooltip("flag_label:N", title=t("significance")),
        ]
        heat = depts.assign(
            diff=depts.difference_vs_rest.fillna(0).clip(-0.3, 0.3),
            weight=depts.significance.map({"significant": 1.0, "not_significant": 0.7}).fillna(0.3),
        )
        event = ui.chart(
            ch.heatmap(
                heat,
                "metric_name",
                "department_name",
                "diff",
                "cell",
                t("step"),
                t("department"),
                t("difference"),
                x_order=metric_order.metric_name.tolist(),
                tooltip=tooltip,
                select_fields=["department_id", "metric_key"],
                fmt="+.0%",
                scheme="redblue",
                domain=[-0.3, 0.3],
                present=c.present,
                opacity="weight",
            ),
            t("heatmap_title"),
            key="heatmap",
            on_select="rerun",
        )
        st.caption(t("pick_to_drill"))

# ---- Against the rest of the company, and against the previous period ----------------------------------------
if not depts.empty:
    keys = metric_order.metric_key.tolist()
    names = dict(zip(metric_order.metric_key, metric_order.metric_name, strict=False))
    default_step = "方案交流" if "方案交流" in keys else keys[0]
    step = st.selectbox(
        t("step"),
        keys,
        index=keys.index(default_step),
        format_func=lambda k: names.get(k, k),
        key=K_STEP,
        bind="query-params",
    )
    one = depts[depts.metric_key == step]
    left, right = st.columns(2)
    with left, ui.section(t("vs_rest"), metrics=("significance",)):
        flags = {
            k: t(k) if k in ("not_significant", "too_few") else (t("significant") + (" ↑" if k == "above" else " ↓"))
            for k in ("above", "below", "not_significant", "too_few")
        }
        d1 = one.dropna(subset=["rate"]).assign(flag_label=lambda x: x.flag.map(flags))
        if not BENCHMARK:
            st.info(t("access_company"), icon=ui.ACCESS_ICON)
        elif d1.empty:
            ui.no_data(names.get(step, step))
        else:
            ui.chart(
                ch.dumbbell(
                    d1,
                    "department_name",
                    "rate",
                    "rest_rate",
                    "flag",
                    t("department"),
                    t("rate"),
                    t("rest_rate"),
                    names.get(step, step),
                    present=c.present,
                    flag_labels=flags,
                ),
                t("vs_rest"),
                key="vs_rest",
            )
    with right, ui.section(t("vs_previous"), metrics=("significance",)):
        d2 = one.dropna(subset=["rate", "previous_rate"])
        if d2.empty:
            ui.no_data(names.get(step, step))
        else:
            d2 = d2.assign(
                flag=[
                    ("above" if r.change > 0 else "below")
                    if r.change_significance == "significant"
                    else r.change_significance
                    for r in d2.itertuples()
                ]
            )
            d2 = d2.assign(flag_label=d2.flag.map(flags))
            ui.chart(
                ch.dumbbell(
                    d2,
                    "department_name",
                    "rate",
                    "previous_rate",
                    "flag",
                    t("department"),
                    t("rate"),
                    t("previous_rate"),
                    names.get(step, step),
                    present=c.present,
                    flag_labels=flags,
                ),
                t("vs_previous"),
                key="vs_prev",
            )
    with ui.section(t("heatmap_title") + " · " + t("drill")):
        ui.table(
            depts,
            t("heatmap_title"),
            {
                "department_name": t("department"),
                "metric_name": t("metric"),
                "numerator": t("advanced"),
                "denominator": t("n"),
                "rate": t("rate"),
                "ci_low": t("ci_low"),
                "ci_high": t("ci_high"),
                **({"rest_rate": t("rest_rate"), "company_rate": t("company_rate"),
                    "difference": t("difference"), "flag_label": t("significance")} if BENCHMARK else {}),
                "previous_rate": t("previous_rate"),
                "change": t("change"),
                "change_label": t("change_significance"),
            },
            {
                k: "pct"
                for k in (
                    "rate",
                    "ci_low",
                    "ci_high",
                    "rest_rate",
                    "company_rate",
                    "difference",
                    "previous_rate",
                    "change",
                )
            },
            key="comparison_table",
            height=320,
        )

# ---- Median days in stage ------------------------------------------------------------------------------------
with ui.section(t("median_days"), metrics=("median-days-in-stage",)):
    ui.ignores(["channel", "grade"], chart=True)
    md = q.median_days_by_department(c.window, c.scope)
    if md.empty:
        ui.no_data(t("median_days"))
    else:
        md["stage_label"] = [c.stage_label(s) for s in md.stage_name]
        md["text"] = [t.num(v) for v in md.median_days_in_stage]
        order = [c.stage_label(s) for s in c.stages.stage_name]
        ui.chart(
            ch.heatmap(
                md,
                "stage_label",
                "department_name",
                "median_days_in_stage",
                "text",
                t("stage"),
                t("department"),
                t("median_days"),
                x_order=order,
                fmt=".0f",
                scheme="oranges",
                domain=[0, float(md.median_days_in_stage.max() or 1)],
                present=c.present,
                tooltip=[
                    alt.Tooltip("department_name:N", title=t("department")),
                    alt.Tooltip("stage_label:N", title=t("stage")),
                    alt.Tooltip("median_days_in_stage:Q", format=".1f", title=t("median_days")),
                    alt.Tooltip("timed_exits:Q", title=t("n")),
                ],
            ),
            t("median_days"),
            key="median_days",
        )

# ---- Drill: the opportunities behind a cell ------------------------------------------------------------------
with ui.section(t("drill"), t("pick_to_drill")):
    sel = (event.selection.get("cell") if event is not None and hasattr(event, "selection") else None) or []
    if sel:
        sig = (sel[0].get("department_id"), sel[0].get("metric_key"))
        if st.session_state.get("_last_cell") != sig:
            st.session_state["_last_cell"] = sig
            st.session_state[K_DRILL_DEPT] = sig[0] or ""
            st.session_state[K_DRILL_STEP] = sig[1] or ""
    dept_opts = [""] + sorted(set(depts.department_id) if not depts.empty else set(), key=lambda d: c.dept_name(d))
    step_opts = [""] + c.stages.stage_name.tolist() + ["win_rate"]
    ui.check_link(K_DRILL_DEPT, [c.dept_name(d) if d else c.all_departments for d in dept_opts])
    a, b = st.columns(2)
    with a:
        d_id = st.selectbox(
            t("department"),
            dept_opts,
            key=K_DRILL_DEPT,
            bind="query-params",
            format_func=lambda d: c.dept_name(d) if d else c.all_departments,
        )
    with b:
        s_key = st.selectbox(
            t("step"),
            step_opts,
            key=K_DRILL_STEP,
            bind="query-params",
            format_func=lambda s: (
                t("all")
                if not s
                else (
                    t("win_rate")
                    if s == "win_rate"
                    else c.step_label(s, c.stages.set_index("stage_name").next_stage_name.get(s))
                )
            ),
        )
    # Nothing picked, nothing read: the drill's stage rows cost more than the rest of the page at 10M leads
    # (issue 17), and the caption above already says how to open it.
    if not d_id and not s_key:
        rows = None
    elif s_key == "win_rate":
        rows = q.opportunities_closed(c.window, c.scope, d_id or None)
        if not rows.empty:
            rows["status_label"] = [t(f"status_{x}") for x in rows.status]
        what = f"{c.dept_name(d_id) if d_id else c.all_departments} · {t('win_rate')}"
        cols = {
            "opportunity_id": "ID",
            "opportunity_name": t("opportunity"),
            "account_name": t("account"),
            "department_name": t("department"),
            "owner_name": t("owner"),
            "closed_at": t("exited_at"),
            "status_label": t("status"),
            "amount": t("amount"),
            "cycle_days": t("cycle_days"),
            "grade": t("grade"),
        }
        fmts = {"closed_at": "datetime", "amount": "money"}
    else:
        rows = q.stage_drill(c.window, c.scope, s_key or None, d_id or None)
        what = f"{c.dept_name(d_id) if d_id else c.all_departments} · {c.stage_label(s_key) if s_key else t('all')}"
        if not rows.empty:
            rows["outcome_label"] = rows.outcome.map(
                {"advanced": t("advanced_o"), "lost_here": t("lost_here"), "open_here": t("open_here")}
            )
            rows["stage_label"] = [c.stage_label(s) for s in rows.stage_name]
        cols = {
            "opportunity_id": "ID",
            "opportunity_name": t("opportunity"),
            "account_name": t("account"),
            "stage_label": t("stage"),
            "department_name": t("department"),
            "owner_name": t("owner"),
            "entered_at": t("entered_at"),
            "exited_at": t("exited_at"),
            "days_in_stage": t("days_in_stage"),
            "outcome_label": t("outcome"),
            "is_inferred": t("inferred"),
            "amount": t("amount"),
            "grade": t("grade"),
        }
        fmts = {"entered_at": "datetime", "exited_at": "datetime", "amount": "money", "days_in_stage": "%.1f"}
    if rows is not None:
        st.caption(t("drill_rows", what=what) + " · " + t("rows", n=t.int(len(rows))))
    if rows is not None and rows.empty:
        ui.no_data(what)
    elif rows is not None:
        rows["journey"] = [ui.journey_url("opportunity", x) for x in rows.opportunity_id]
        ui.table(rows, t("drill"), {"journey": t("journey_link"), **cols}, {**fmts, "journey": "link"},
                 key="drill_table", height=360)
