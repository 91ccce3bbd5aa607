"""Data: how current the data is and which warehouse file is served; what validation did to the export (rows read,
loaded and set aside per table), how fresh every source was at build time, the rows set aside (filterable, with
CSV/XLSX exports), and the rows of every mart."""

from __future__ import annotations

import json
from datetime import datetime

import pandas as pd
import streamlit as st

from dashboards import queries as q
from dashboards import ui

c = ui.ctx()
t = c.tr
ui.ignores(["department", "channel", "grade"])
# The stale-source callout's icon (tests tell it from a failure message by it).
STALE_ICON = "🕰️"


def _by_rule(text) -> str:
    """`{"required": 3, "duplicate_key": 1}` → `duplicate_key 1, required 3`."""
    try:
        counts = json.loads(text) if isinstance(text, str) and text else {}
    except ValueError:
        return str(text)
    return ", ".join(f"{k} {t.int(v)}" for k, v in sorted(counts.items()))


def _listed(text) -> str:
    try:
        items = json.loads(text) if isinstance(text, str) and text else []
    except ValueError:
        return str(text)
    return ", ".join(str(i) for i in items)


def _days(x) -> str:
    return t.num(x, 0) if pd.notna(x) and float(x).is_integer() else t.num(x, 1)


with ui.section(t("warehouse_state")):
    a, b, d = st.columns(3)
    a.metric(t("as_of_label"), t.datetime(c.as_of["as_of_at"]))
    b.metric(t("published_label"), t.datetime(datetime.fromtimestamp(c.build.published_at)))
    d.metric(t("size_label"), f"{c.build.size / 1e6:,.1f} MB")
    # The server's path for analysts (and with access control off); its file name for everyone else.
    st.caption(f"{t('warehouse')}: `{ui.shown_path(c.build.path)}`")

ops: set[str] = set()
with ui.section(t("data_quality")):
    ops = q.ops_tables()
    if "closedloop_load_report" not in ops:
        st.info(t("ops_not_built"), icon="ℹ️")
    else:
        st.caption(t("dq_caption"))
        report = q.load_report()
        if report.empty:
            ui.no_data(t("data_quality"))
        else:
            absent = report[report.is_absent]
            aside = report[report.rows_rejected > 0]
            st.markdown(t("dq_summary", tables=t.int(len(report)), read=t.int(report.rows_read.sum()),
                          loaded=t.int(report.rows_loaded.sum()), aside=t.int(report.rows_rejected.sum()),
                          with_aside=t.int(len(aside)), absent=t.int(len(absent))))
            unbalanced = report[~report.is_balanced.astype(bool)]
            if not unbalanced.empty:
                st.error(t("dq_unbalanced", tables=t.join(unbalanced.table_key)), icon="❗")
            if not absent.empty:
                st.caption(t("dq_absent_note", tables=t.join(absent.table_key)))
            shown = report.assign(
                status_label=[t("dq_absent") if a else t("dq_loaded") for a in report.is_absent],
                files_text=report.files.map(_listed),
                by_rule=report.rejected_by_rule.map(_by_rule),
                warnings_text=report.warnings_by_rule.map(_by_rule),
                not_checked_text=report.not_checked.map(_listed),
                missing_text=report.missing_optional_columns.map(_listed),
            )
            ui.table(
                shown,
                t("data_quality"),
                {"table_key": t("dq_table"), "status_label": t("dq_status"), "files_text": t("dq_files"),
                 "rows_read": t("rows_read"), "rows_loaded": t("rows_loaded"), "rows_rejected": t("rows_set_aside"),
                 "by_rule": t("set_aside_by_rule"), "warnings_text": t("dq_warnings"),
                 "not_checked_text": t("dq_not_checked"), "missing_text": t("dq_missing_columns")},
                {"rows_read": "int", "rows_loaded": "int", "rows_rejected": "int"},
                key="load_report",
                height=min(660, 38 + 35 * len(shown)),
            )

if "closedloop_load_report" in ops:
    with ui.section(t("freshness")):
        if "closedloop_source_freshness" not in ops:
            st.info(t("fresh_missing"), icon="ℹ️")
        else:
            fresh = q.source_freshness()
            if fresh.empty:
                ui.no_data(t("freshness"))
            else:
                warn_days, error_days = fresh.warn_after_days.max(), fresh.error_after_days.max()
                stale = fresh[(fresh.status == "error") & fresh.max_loaded_at.notna()]
                failed = fresh[(fresh.status == "error") & fresh.max_loaded_at.isna()]
                late = fresh[fresh.status == "warn"]
                if not stale.empty:
                    st.error(t("fresh_error", tables=t.join(stale.table_key), days=_days(error_days)), icon=STALE_ICON)
                if not failed.empty:
                    st.error(t("fresh_failed", tables=t.join(failed.table_key)), icon=STALE_ICON)
                if not late.empty:
                    st.warning(t("fresh_warn", tables=t.join(late.table_key), days=_days(warn_days)),
                               icon="⏰")
                if stale.empty and failed.empty and late.empty:
                    st.success(t("fresh_ok"), icon="✅")
                st.caption(t("fresh_caption", warn=_days(warn_days), error=_days(error_days)))
                labels = {"pass": t("fresh_pass"), "warn": t("fresh_warn_label"), "error": t("fresh_error_label"),
                          "absent": t("fresh_absent")}
                ui.table(
                    fresh.assign(status_label=fresh.status.map(labels).fillna(fresh.status)),
                    t("freshness"),
                    {"table_key": t("dq_table"), "status_label": t("dq_status"), "max_loaded_at": t("latest_row"),
                     "age_days": t("age_days"), "note": t("message")},
                    {"max_loaded_at": "datetime", "age_days": "%.1f"},
                    key="source_freshness",
                    height=min(500, 38 + 35 * len(fresh)),
                )

    with ui.section(t("rejected_rows")):
        counts = q.rejected_counts()
        if counts.empty:
            st.success(t("no_rejected"), icon="✅")
        else:
            st.caption(t("rejected_caption"))
            left, right = st.columns(2)
            table_pick = left.selectbox(t("dq_table"), ["", *sorted(counts.table_key.unique())], key="dq_table",
                                        bind="query-params", format_func=lambda k: k or t("all"))
            in_table = counts[counts.table_key == table_pick] if table_pick else counts
            rule_pick = right.selectbox(t("rule"), ["", *sorted(in_table.rule.unique())], key="dq_rule",
                                        bind="query-params", format_func=lambda r: r or t("all"))
            picked = in_table[in_table.rule == rule_pick] if rule_pick else in_table
            rows = q.rejected_rows(table_pick or None, rule_pick or None)
            total = int(picked.failures.sum())
            if total > len(rows):
                st.caption(t("rejected_limit", n=t.int(len(rows)), total=t.int(total)))
            name = " · ".join([t("rejected_rows"), *(x for x in (table_pick, rule_pick) if x)])
            columns = {"table_key": t("dq_table"), "source_file": t("source_file"), "source_row": t("source_row"),
                       "column_name": t("column_name"), "rule": t("rule"), "value": t("failing_value"),
                       "message": t("message")}
            if rows.empty:
                ui.no_data(name)
            else:
                ui.table(rows, name, columns, {"source_row": "%d"}, key="rejected_rows", height=420)
                ui.xlsx_button(name, rows, columns, key="rejected_rows")

if "closedloop_runs" in ops:
    with ui.section(t("run_history")):
        history = q.run_history()
        st.caption(t("run_history_caption"))
        labels = {"published": t("run_published"), "failed": t("run_failed"), "killed": t("run_killed"),
                  "rolled_back": t("run_rolled_back")}
        ui.table(
            history.assign(status_label=history.status.map(labels).fillna(history.status)),
            t("run_history"),
            {"run_id": t("run_id"), "status_label": t("dq_status"), "started_at": t("run_started"),
             "seconds": t("run_seconds"), "rows_read": t("rows_read"), "rows_set_aside": t("run_rows_set_aside"),
             "tests_passed": t("tests_passed"), "tests_failed": t("tests_failed"), "data_as_of": t("run_data_as_of"),
             "message": t("message")},
            {"started_at": "datetime", "data_as_of": "datetime", "seconds": "%.0f", "rows_read": "int",
             "rows_set_aside": "int", "tests_passed": "int", "tests_failed": "int"},
            key="run_history",
            height=min(420, 38 + 35 * len(history)),
        )

with ui.section(t("identity_audit"), t("identity_caption"), metrics=("junk-identifiers", "duplicate-leads")):
    ident = q.identity_summary().iloc[0]
    tiles = st.columns(5)
    tiles[0].metric(t("persons"), t.int(ident.persons))
    tiles[1].metric(t("persons_several_leads"), t.int(ident.persons_with_several_leads))
    tiles[2].metric(t("duplicate_leads"), f"{t.int(ident.duplicate_leads)} ({t.pct(ident.duplicate_share)})",
                    help=t("duplicate_share"))
    tiles[3].metric(t("blocked_values"), t.int(ident.blocked_values))
    tiles[4].metric(t("quarantined_values"), t.int(ident.quarantined_values))
    with ui.guard(t("audit_table")):  # the values themselves: row-level, masked by role
        audit = q.identity_audit()
        st.markdown(f"**{t('audit_table')}**")
        if audit.empty:
            st.success(t("audit_none"), icon="✅")
        else:
            audit["action_label"] = audit.action.map({"blocked": t("action_blocked"),
                                                      "quarantined": t("action_quarantined")}).fillna(audit.action)
            ui.table(audit, t("audit_table"),
                     {"column_name": t("identifier_type"), "value": t("identifier_value"),
                      "action_label": t("action"), "reason": t("reason"),
                      "persons_it_would_join": t("persons_it_would_join"), "records": t("records"),
                      "first_seen_at": t("first_seen"), "last_seen_at": t("last_seen")},
                     {"persons_it_would_join": "int", "records": "int", "first_seen_at": "datetime",
                      "last_seen_at": "datetime"}, key="identity_audit", height=min(420, 38 + 35 * len(audit)))
    with ui.guard(t("largest_persons")):
        top = q.top_persons(10)
        st.markdown(f"**{t('largest_persons')}**")
        if top.empty:
            ui.no_data(t("largest_persons"))
        else:
            top["journey"] = [ui.journey_url("person", x) for x in top.person_id]
            ui.table(top, t("largest_persons"),
                     {"journey": t("journey_link"), "person_id": t("person"), "lead_count": t("leads"),
                      "identifiers": t("identifiers"), "account_name": t("account"),
                      "first_seen_at": t("first_seen"), "last_seen_at": t("last_seen")},
                     {"journey": "link", "first_seen_at": "datetime", "last_seen_at": "datetime"},
                     key="largest_persons")

with ui.section(t("mart_rows")):
    rows = q.mart_rows()
    if rows.empty:
        ui.no_data(t("mart_rows"))
    else:
        ui.table(
            rows,
            t("mart_rows"),
            {"mart": t("mart"), "rows": t("row_count")},
            {"rows": "int"},
            key="mart_rows",
            height=min(740, 38 + 35 * len(rows)),
        )

with ui.section(t("fu_unmatched"), t("fu_unmatched_caption"), metrics=("feedback-reasons",)):
    unmatched = q.feedback_unmatched()
    if unmatched.empty:
        ui.no_data(t("fu_unmatched"))
    else:
        ui.table(
            unmatched,
            t("fu_unmatched"),
            {"feedback_text": t("fu_feedback_text"), "feedbacks": t("fu_feedbacks"),
             "lead_feedbacks": t("fu_entity_lead"), "opportunity_feedbacks": t("fu_entity_opportunity"),
             "last_given_at": t("fu_last_given")},
            {"feedbacks": "int", "lead_feedbacks": "int", "opportunity_feedbacks": "int", "last_given_at": "datetime"},
            key="fu_unmatched",
        )
