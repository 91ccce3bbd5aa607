"""Follow-ups: every "no" carries a reason, every reason a next action and a date. Each rep's and department's due
and overdue follow-ups with the next action, most urgent and most valuable first, as an Excel sheet for the weekly
meeting; the share done on time per department against the rest of the company; and what following up earned
(fct_followups, fct_followup_timeliness)."""

from __future__ import annotations

import streamlit as st

from dashboards import charts as ch
from dashboards import queries as q
from dashboards import ui

c = ui.ctx()
t = c.tr
# follow-ups are a to-do list as of the data's time: the period, channel and grade filters do not apply
ui.ignores(["channel", "grade"])
STATUSES = ("overdue", "due", "upcoming", "done")

owners = q.followup_by_owner(c.scope)
timeliness = q.followup_timeliness(c.scope)

with ui.section(t("fu_now"), t("fu_now_caption"), metrics=("follow-up-status", "follow-ups-done-on-time")):
    if owners.empty:
        ui.no_data(t("page_followups"))
    else:
        cols = st.columns(4)
        for col, status in zip(cols[:3], STATUSES[:3], strict=True):
            col.metric(t(f"fu_status_{status}"), t.int(int(owners[status].sum())))
        company = timeliness[timeliness.is_all_departments]
        shown = company if not company.empty else timeliness
        done, calc = int(shown.done_on_time.sum()), int(shown.on_time_calc.sum())
        cols[3].metric(t("fu_on_time_share"), t.pct(done / calc, 0) if calc else "–")

with ui.section(t("fu_items"), t("fu_items_caption"), metrics=("follow-up-status",)):
    labels = {r.owner_user_id: f"{r.owner_name} · {r.department_name}" for r in owners.itertuples()}
    choices = ["", *labels]
    ui.check_link("fu_rep", [t("fu_all_reps"), *labels.values()])
    rep = st.selectbox(t("choose_rep"), choices, format_func=lambda u: labels.get(u, t("fu_all_reps")),
                       key="fu_rep", bind="query-params")
    items = q.followup_items(c.scope)
    if rep:
        items = items[items.owner_user_id == rep]
    if items.empty:
        ui.no_data(t("fu_items"))
    else:
        items["status_label"] = [t(f"fu_status_{s}") for s in items.status]
        items["entity_label"] = [t(f"fu_entity_{e}") for e in items.entity_type]
        columns = {
            "status_label": t("status"),
            "days_past_due": t("fu_days_past_due"),
            "due_at": t("fu_due_at"),
            "owner_name": t("fu_owner"),
            "department_name": t("department"),
            "account_name": t("account"),
            "entity_label": t("fu_entity"),
            "entity_id": "ID",
            "reason": t("reason"),
            "next_action": t("next_action"),
            "value": t("fu_value"),
        }
        formats = {"due_at": "date", "value": "money"}
        st.caption(t("rows", n=t.int(len(items))))
        ui.table(items, t("fu_items"), columns, formats, key="fu_items", height=420)
        ui.xlsx_button(t("fu_items"), items, columns, key="fu_items")

with ui.section(t("fu_by_owner"), metrics=("follow-up-status",)):
    if owners.empty:
        ui.no_data(t("fu_by_owner"))
    else:
        ui.table(owners, t("fu_by_owner"),
                 {"owner_name": t("fu_owner"), "department_name": t("department"),
                  **{s: t(f"fu_status_{s}") for s in STATUSES}},
                 key="fu_by_owner", height=320)

left, right = st.columns(2)
with left, ui.section(t("fu_timeliness"), t("fu_timeliness_caption"),
                      metrics=("follow-ups-done-on-time", "significance")):
    depts = timeliness[~timeliness.is_all_departments].dropna(subset=["on_time_share"])
    if depts.empty:
        ui.no_data(t("fu_timeliness"))
    elif depts.rest_on_time_share.isna().all():  # a department head without the company benchmark
        st.info(t("access_company"), icon=ui.ACCESS_ICON)
    else:
        flags = {k: t(k) if k in ("not_significant", "too_few")
                 else (t("significant") + (" ↑" if k == "above" else " ↓"))
                 for k in ("above", "below", "not_significant", "too_few")}
        depts = depts.assign(flag=[
            ("above" if r.on_time_share > r.rest_on_time_share else "below") if r.significance == "significant"
            else (r.significance or "too_few") for r in depts.itertuples()])
        depts = depts.assign(flag_label=depts.flag.map(flags))
        ui.chart(ch.dumbbell(depts, "department_name", "on_time_share", "rest_on_time_share", "flag", t("department"),
                             t("fu_on_time_share"), t("rest_rate"), t("fu_on_time_share"), present=c.present,
                             flag_labels=flags), t("fu_timeliness"), key="fu_timeliness")
        ui.table(depts, t("fu_timeliness"),
                 {"department_name": t("department"), "done_on_time": t("fu_done_on_time"),
                  "on_time_calc": t("fu_on_time_calc"), "on_time_share": t("fu_on_time_share"),
                  "ci_low": t("ci_low"), "ci_high": t("ci_high"), "rest_on_time_share": t("rest_rate"),
                  "flag_label": t("significance")},
                 {"on_time_share": "pct", "ci_low": "pct", "ci_high": "pct", "rest_on_time_share": "pct"},
                 key="fu_timeliness_table")

with right, ui.section(t("fu_earned"), t("fu_earned_caption"), metrics=("follow-up-recoveries",)):
    earned = q.followup_earned(c.scope)
    if earned.empty:
        ui.no_data(t("fu_earned"))
    else:
        ui.chart(ch.bars(earned, "reason", "recovered_revenue", t("reason"), t("fu_recovered_revenue"),
                         present=c.present), t("fu_earned"), key="fu_earned")
        ui.table(earned, t("fu_earned"),
                 {"reason": t("reason"), "followups": t("fu_followups"), "done": t("fu_status_done"),
                  "recovered": t("fu_recovered"), "recovered_won": t("fu_recovered_won"),
                  "recovered_revenue": t("fu_recovered_revenue")},
                 {"recovered_revenue": "money"}, key="fu_earned_table")
