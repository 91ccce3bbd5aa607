"""Overview — the meeting page: what changed since the previous period, in words, then the KPI tiles."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import streamlit as st

from dashboards import periods, ui
from dashboards import queries as q

c = ui.ctx()
t = c.tr

# KPI: (key, kind) — kind decides the format and how a change is shown (relative % or percentage points).
KPIS = [
    ("new_leads", "int"),
    ("mqls", "int"),
    ("opps_created", "int"),
    ("won_deals", "int"),
    ("won_revenue", "money"),
    ("win_rate", "rate"),
    ("open_pipeline", "money"),
    ("lead_to_opp", "rate"),
    ("sla_compliance", "rate"),
    ("nrr12", "rate"),
]
# The rows behind each tile: leads by (date column, flag), opportunities by kind (queries.opportunities_drill).
LEAD_DRILLS = {
    "new_leads": ("created_at", None),
    "mqls": ("mql_at", None),
    "lead_to_opp": ("created_at", None),
    "sla_compliance": ("first_assigned_at", "is_sla_calc"),
}
OPPORTUNITY_DRILLS = {
    "opps_created": "created",
    "won_deals": "won",
    "won_revenue": "won",
    "win_rate": "closed",
    "open_pipeline": "open",
}
NOT_FILTERED = {
    "new_leads": ["grade"],
    "mqls": ["grade"],
    "lead_to_opp": ["grade"],
    "sla_compliance": ["grade"],
    "nrr12": ["department", "channel", "grade"],
}


def fmt(kind: str, v) -> str:
    return {"int": t.int, "money": t.money, "rate": t.pct}[kind](v)


def delta(kind: str, cur, base) -> str | None:
    if cur is None or base is None or pd.isna(cur) or pd.isna(base):
        return None
    if kind == "rate":
        return t.pp(cur - base)
    return t.signed_pct_change(cur, base) or (f"{cur - base:+,.0f}" if kind == "int" else None)


def spark_windows() -> list[periods.Window]:
    """The selected period and the ones before it, oldest first (the last one is `c.window`)."""
    step = periods.GRAIN_MONTHS[c.grain]
    return [
        periods.window(c.grain, periods.add_months(c.window.start, -k * step), c.as_of["as_of_date"])
        for k in range(ui.SPARK_PERIODS - 1, -1, -1)
    ]


def moves(comp: pd.DataFrame) -> list[str]:
    """Significant moves in words, department changes first, then departments against the rest."""
    if comp.empty:
        return []
    label = "metric_label" if t.zh else "metric_label_en"
    depts = comp[~comp.is_all_departments]
    if c.selected_departments:
        depts = depts[depts.department_id.isin(c.scope.departments or ())]
    out: list[tuple[float, str]] = []
    for r in depts[depts.change_significance == "significant"].itertuples():
        out.append(
            (
                abs(r.change or 0) + 1,
                t(
                    "move_change",
                    dept=r.department_name,
                    metric=getattr(r, label),
                    prev=t.pct(r.previous_rate),
                    rate=t.pct(r.rate),
                    dir=t("move_rose") if r.change > 0 else t("move_fell"),
                    n=t.int(r.denominator),
                    n_prev=t.int(r.previous_denominator),
                ),
            )
        )
    all_depts = comp[~comp.is_all_departments]
    for r in depts[depts.significance == "significant"].itertuples():
        peers = all_depts[
            (all_depts.metric == r.metric)
            & (all_depts.stage_name.fillna("") == (r.stage_name or ""))
            & all_depts.rate.notna()
        ]
        k = len(peers)
        if k > 1 and r.rate >= peers.rate.max():
            key = "move_diff_best"
        elif k > 1 and r.rate <= peers.rate.min():
            key = "move_diff_worst"
        else:
            key = "move_diff_high" if r.rate > r.rest_rate else "move_diff_low"
        out.append(
            (
                abs(r.difference_vs_rest or 0),
                t(
                    key,
                    dept=r.department_name,
                    metric=getattr(r, label),
                    rate=t.pct(r.rate),
                    rest=t.pct(r.rest_rate),
                    k=k,
                    n=t.int(r.denominator),
                ),
            )
        )
    company = comp[comp.is_all_departments & (comp.change_significance == "significant")]
    for r in company.itertuples():
        out.append(
            (
                abs(r.change or 0) + 0.5,
                t(
                    "move_change",
                    dept=t("company"),
                    metric=getattr(r, label),
                    prev=t.pct(r.previous_rate),
                    rate=t.pct(r.rate),
                    dir=t("move_rose") if r.change > 0 else t("move_fell"),
                    n=t.int(r.denominator),
                    n_prev=t.int(r.previous_denominator),
                ),
            )
        )
    return [s for _, s in sorted(out, key=lambda x: -x[0])]


windows = spark_windows()
all_windows = [(w.start, w.end) for w in windows] + [(c.prev.start, c.prev.end), (c.yoy.start, c.yoy.end)]
values = q.kpis(c.scope, all_windows)
cur_i, prev_i, yoy_i = len(windows) - 1, len(windows), len(windows) + 1
main_i, other_i = (yoy_i, prev_i) if c.cmp_mode == "last_year" else (prev_i, yoy_i)
main_w, other_w = (c.yoy, c.prev) if c.cmp_mode == "last_year" else (c.prev, c.yoy)

# the significance mart compares with the previous period
with ui.section(t("what_changed", cmp=t.window(c.prev)), metrics=("significance",)):
    comp = q.comparison(c.grain, c.window.start)
    lines = moves(comp)
    if comp.empty:
        ui.no_data(t("what_changed", cmp=t.window(c.prev)))
    elif lines:
        st.markdown("\n".join(f"- {s}" for s in lines[:10]))
    else:
        st.markdown(t("moves_none", period=t.window(c.window)))
    if c.grain == "month":
        # A month is often too short for a department difference to be significant: add the last complete quarter.
        qs = periods.period_start(c.window.last_day, "quarter")
        if periods.period_end(qs, "quarter") > c.as_of["as_of_date"] + timedelta(days=1):
            qs = periods.add_months(qs, -3)
        longer = moves(q.comparison("quarter", qs))
        if longer:
            st.markdown(f"**{t('longer_view', period=t.period('quarter', qs))}**")
            st.markdown("\n".join(f"- {s}" for s in longer[:6]))
    dept_rows = comp[~comp.is_all_departments] if not comp.empty else comp
    too_few = int((dept_rows.change_significance == "too_few").sum()) if not comp.empty else 0
    if too_few:
        st.caption(t("moves_too_few", n=too_few))
    # The figures that moved most, in words (no significance claimed for counts).
    cur, base = values.iloc[cur_i], values.iloc[main_i]
    facts = []
    for key, kind in KPIS:
        d = delta(kind, cur[key], base[key])
        if d:
            facts.append(t("kpi_move_line", name=t(key), value=fmt(kind, cur[key]), delta=d, period=t.window(main_w)))
    if facts:
        with st.expander(t("kpi_moves"), expanded=c.present):
            st.markdown("\n".join(f"- {s}" for s in facts))
    st.caption(t("moves_basis"))
    if c.scope.channels or c.scope.grades:
        ui.ignores(["channel", "grade"], chart=True)

with ui.section(
    t("kpis"), t("sparkline_note", n=ui.SPARK_PERIODS, grain=t(c.grain), cmp=t.window(main_w), other=t.window(other_w)),
    metrics=("overview-kpi-tiles",),
):
    if (
        values.new_leads.iloc[cur_i] == 0
        and values.opps_created.iloc[cur_i] == 0
        and values.won_deals.iloc[cur_i] == 0
        and values.open_deals.iloc[cur_i] == 0
    ):
        ui.no_data(t.window(c.window))
    per_row = 5 if not c.present else 5
    rows = [KPIS[i : i + per_row] for i in range(0, len(KPIS), per_row)]
    for row in rows:
        cols = st.columns(per_row)
        for col, (key, kind) in zip(cols, row, strict=False):
            with col:
                cur_v, main_v, other_v = values[key].iloc[cur_i], values[key].iloc[main_i], values[key].iloc[other_i]
                other_line = (
                    t(
                        "yoy_line" if other_w is c.yoy else "prev_line",
                        period=t.window(other_w),
                        value=fmt(kind, other_v),
                        delta=delta(kind, cur_v, other_v) or "–",
                    )
                    if not pd.isna(other_v)
                    else f"{t.window(other_w)}: {t('no_comparison')}"
                )
                na = [t(n) for n in NOT_FILTERED.get(key, []) if c.filters_set().get(n)]
                help_ = t("help_" + key) + (" " + t("filters_na_chart", names=t.join(na)) if na else "")
                ui.tile(
                    t(key),
                    fmt(kind, cur_v),
                    delta(kind, cur_v, main_v),
                    None if not pd.isna(main_v) else t("no_comparison"),
                    help_,
                    values[key].iloc[: cur_i + 1].tolist(),
                    other_line,
                )
    # The forecast's tile (Forecast page): this fiscal quarter's expected bookings and its P10–P90 band, whatever
    # period is selected. With several departments selected their bands cannot be added up: the sum is shown alone.
    with ui.guard(t("fc_tile")):
        fc = q.forecast_periods(c.scope, "quarter")
        if not fc.empty:
            one = fc[fc.is_company] if fc.is_company.any() else fc
            banded = len(one) == 1
            expected = float(one.expected_bookings.sum())
            band = t("fc_band", low=t.money(one.p10.iloc[0]), high=t.money(one.p90.iloc[0])) if banded else None
            with st.columns(per_row)[0]:
                ui.tile(f"{t('fc_tile')} · {one.period_label.iloc[0]}", t.money(expected), None, None,
                        t("help_fc_tile"), None, band)
    kpi_table = pd.DataFrame(
        {
            "kpi": [t(k) for k, _ in KPIS],
            "current": [values[k].iloc[cur_i] for k, _ in KPIS],
            "previous": [values[k].iloc[prev_i] for k, _ in KPIS],
            "last_year": [values[k].iloc[yoy_i] for k, _ in KPIS],
        }
    )
    with st.expander(t("drill"), expanded=bool(st.session_state.get("kpi"))):
        ui.table(
            kpi_table,
            t("kpis"),
            {
                "kpi": t("metric"),
                "current": t.window(c.window),
                "previous": t.window(c.prev),
                "last_year": t.window(c.yoy),
            },
            key="kpi_table",
        )
        pick = st.selectbox(
            t("drill"),
            [""] + [k for k, _ in KPIS],
            key="kpi",
            bind="query-params",
            format_func=lambda k: t(k) if k else "—",
        )
        if pick:
            w = c.window
            name = f"{t(pick)} · {t.window(w)}"
            if pick in LEAD_DRILLS:
                date_col, flag = LEAD_DRILLS[pick]
                if pick == "lead_to_opp":  # the six months of leads the rate is taken over
                    w = periods.Window("month", periods.add_months(w.start, -6), w.start, w.start)
                ui.lead_rows(q.leads_drill(w, c.scope, date_col, flag), name, "kpi_rows")
            elif pick in OPPORTUNITY_DRILLS:
                ui.opportunity_rows(q.opportunities_drill(w, c.scope, OPPORTUNITY_DRILLS[pick]), name, "kpi_rows")
            else:  # NRR: the cohorts whose month 12 falls in the period, months 0 and 12
                coh = q.cohort_retention(
                    periods.add_months(periods.period_start(w.start, "month"), -12),
                    periods.add_months(periods.period_start(w.last_day, "month"), -11),
                )
                coh = coh[coh.months_since.isin([0, 12])]
                ui.table(
                    coh,
                    name,
                    {
                        "cohort_month": t("cohort"),
                        "months_since": t("months_since"),
                        "accounts_in_cohort": t("customers"),
                        "accounts_active": t("active_customers"),
                        "mrr": "MRR",
                        "net_revenue_retention": t("nrr"),
                    },
                    {"cohort_month": "date", "mrr": "money", "net_revenue_retention": "pct"},
                    key="kpi_rows",
                )
