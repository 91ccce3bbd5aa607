"""Customer journey: one person's touches, leads, opportunities, orders and tickets on one timeline, with their
identifiers (masked by role). Reached by URL — `?person=`, `?lead=`, `?opportunity=`, `?account=` — from the
journey links of the lead and deal tables, or from the search box."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboards import charts as ch
from dashboards import queries as q
from dashboards import ui

c = ui.ctx()
t = c.tr
STATUSES = ("open", "resolved", "converted", "disqualified")
LANES = ["touch", "lead", "opportunity", "opportunity_closed", "order", "ticket"]
ui.ignores(["department", "channel", "grade"])


def _search() -> None:
    # A callback runs before the app has set the viewer, so it only hands the text to the page's run.
    st.session_state["_journey_search"] = st.session_state.get("journey_q", "")


def _find(text: str) -> None:
    """The search box: a hit replaces the URL's journey key with `?person=` (so the view is a link)."""
    found = None
    with ui.guard(t("journey_search")):
        found = q.search_person(text)
    if found:
        for key in q.JOURNEY_KEYS:
            st.query_params.pop(key, None)
        st.query_params["person"] = found
    else:
        st.warning(t("journey_not_found", what=text), icon="🔎")


def _link(kind: str, value: str) -> str:
    return f"[{value}]({ui.journey_url(kind, value)})"


st.text_input(t("journey_search"), key="journey_q", on_change=_search, help=t("journey_search_help"),
              placeholder="L00000001 · O0000001 · A000001 · p-…")
searched = (st.session_state.pop("_journey_search", None) or "").strip()
if searched:
    _find(searched)

asked = next(((k, st.query_params.get(k)) for k in q.JOURNEY_KEYS if st.query_params.get(k)), None)
pid = None
with ui.guard(t("page_journey")):
    if asked:
        pid = q.resolve_person(*asked)
        if pid is None:
            st.warning(t("journey_not_found", what=f"{asked[0]}={asked[1]}"), icon="🔎")



def top_list() -> None:
    with ui.section(t("journey_top"), t("journey_top_caption"), metrics=("customer-journey", "duplicate-leads")):
        top = q.top_persons()
        if top.empty:
            ui.no_data(t("journey_top"))
        else:
            top["journey"] = [ui.journey_url("person", x) for x in top.person_id]
            ui.table(top, t("journey_top"),
                     {"journey": t("journey_link"), "person_id": t("person"), "lead_count": t("leads"),
                      "identifiers": t("identifiers"), "first_lead_id": t("first_lead"), "account_name": t("account"),
                      "is_customer": t("is_customer"), "first_seen_at": t("first_seen"),
                      "last_seen_at": t("last_seen")},
                     {"journey": "link", "first_seen_at": "datetime", "last_seen_at": "datetime"}, key="top_persons")


def journey(pid: str) -> None:
    with ui.section(t("journey_of", person=pid), metrics=("customer-journey", "one-person-across-channels-oneid")):
        who = q.person(pid).iloc[0]
        events = q.journey_events(pid)
        if asked and asked[0] != "person":
            st.caption(t("journey_resolved", kind=t(f"kind_{asked[0]}"), value=asked[1]))
        st.caption(t("journey_caption", first=t.datetime(who.first_seen_at), last=t.datetime(who.last_seen_at),
                     leads=t.int(who.lead_count), touches=t.int((events.kind == "touch").sum())))
        account = who.account_id if isinstance(who.account_id, str) else None
        if account:
            name = who.account_name if isinstance(who.account_name, str) else account
            line = t("journey_account", account=f"{name} ({account})")
            others = q.account_persons(account)
            others = others[others.person_id != pid]
            if len(others):
                line += " · " + t("journey_others", n=t.int(len(others))) + " " + ", ".join(
                    _link("person", x) for x in others.person_id.head(20))
            st.markdown(line)
            with ui.guard(t("journey_account_events_na")):
                events = pd.concat([events, q.account_events(account)], ignore_index=True)
        if events.empty:
            ui.no_data(t("journey_timeline"))
        else:
            events = events.sort_values(["event_at", "kind", "id"], kind="stable").reset_index(drop=True)
            lanes = [t(f"kind_{k}") for k in LANES]
            events["kind_label"] = [t(f"kind_{k}") for k in events.kind]
            events["channel_label"] = [c.channel_label(x) if isinstance(x, str) else "" for x in events.channel]
            events["what_label"] = [
                t("duplicate_of", lead=w.split(" ", 1)[1]) if isinstance(w, str) and w.startswith("duplicate_of ")
                else (w if isinstance(w, str) else "") for w in events.what]
            events["status_label"] = [
                t(f"status_{s}") if k.startswith("opportunity") and isinstance(s, str)
                else (t(s) if isinstance(s, str) and s in STATUSES else "")
                for k, s in zip(events.kind, events.status, strict=True)]
            st.markdown(f"**{t('journey_timeline')}**")
            ui.chart(ch.timeline(events, "event_at", "kind_label", lanes, t("event_at"), t("event_kind"),
                                 [("id", "ID"), ("channel_label", t("channel")), ("what_label", t("event_what")),
                                  ("status_label", t("status"))], present=c.present,
                                 time_format=t.time_axis("month")),
                     t("journey_timeline"), key="journey_chart")
            ui.table(events, t("journey_events"),
                     {"event_at": t("event_at"), "kind_label": t("event_kind"), "id": "ID",
                      "channel_label": t("channel"), "what_label": t("event_what"), "status_label": t("status"),
                      "amount": t("amount"), "campaign_name": t("campaign"), "content_id": t("content"),
                      "lead_id": t("event_lead")},
                     {"event_at": "datetime", "amount": "money"}, key="journey_events", height=420)

    with ui.section(t("journey_identifiers"), metrics=("junk-identifiers",)):
        ids = q.person_identifiers(pid)
        if ids.empty:
            ui.no_data(t("journey_identifiers"))
        else:
            ui.table(ids, t("journey_identifiers"),
                     {"column_name": t("identifier_type"), "value": t("identifier_value"), "records": t("records"),
                      "first_seen_at": t("first_seen"), "last_seen_at": t("last_seen")},
                     {"first_seen_at": "datetime", "last_seen_at": "datetime"}, key="journey_identifiers")



if pid is None:
    top_list()
else:
    journey(pid)
