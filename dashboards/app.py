"""closedloop dashboards — entry point (`streamlit run dashboards/app.py`, or `closedloop serve`).

Draws the frame every page shares — language and presentation switches, the global filters in the sidebar
(bound to the URL), "data as of" — then runs the selected page from views/. The warehouse is read from
CLOSEDLOOP_WAREHOUSE, read-only. With CLOSEDLOOP_ACCESS set (docs/access-control.md) the viewer is decided first —
log in, no access, or a role and scope the query layer applies to every statement — before any query runs.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from dashboards import access, downloads, ui  # noqa: E402
from dashboards import queries as q  # noqa: E402

# (url path, title key, file, icon, section key)
PAGES = [
    ("overview", "page_overview", "views/overview.py", "📊", "section_meeting"),
    ("lead-flow", "page_lead_flow", "views/lead_flow.py", "🧲", "section_meeting"),
    ("stages", "page_stages", "views/stages.py", "🪜", "section_meeting"),
    ("resources", "page_resources", "views/resources.py", "👥", "section_detail"),
    ("lifecycle", "page_lifecycle", "views/lifecycle.py", "🔄", "section_detail"),
    ("campaigns", "page_campaigns", "views/campaigns.py", "📣", "section_detail"),
    ("content", "page_content", "views/content.py", "📚", "section_detail"),
    ("journey", "page_journey", "views/journey.py", "🧭", "section_detail"),
    ("reps", "page_reps", "views/reps.py", "🧑‍💼", "section_detail"),
    ("service", "page_service", "views/service.py", "🎧", "section_detail"),
    ("forecast", "page_forecast", "views/forecast.py", "🔮", "section_detail"),
    ("followups", "page_followups", "views/followups.py", "📌", "section_detail"),
    ("data", "page_data", "views/data.py", "🗄️", "section_about"),
]

st.set_page_config(page_title="closedloop", page_icon="📈", layout="wide",
                   initial_sidebar_state="auto", menu_items={})
ui.configure_logging()
downloads.start_sweeper()  # download links expire within a minute of the click (dashboards/downloads.py)
q.set_access(None)  # nobody until the access check below says who is looking
t, present, title_slot = ui.frame_controls()
ui.presentation_css(present)


def _user() -> dict:
    try:
        return st.user.to_dict()
    except Exception:  # noqa: BLE001 - no session context: nobody is signed in
        return {}


# Who is looking: identity from a verified login or the server's environment, never from the URL.
decision = access.decide(_user(), os.environ)
here = Path(__file__).resolve().parent
sections: dict[str, list] = {}
for url, title, file, icon, section in PAGES:
    sections.setdefault(t(section), []).append(
        st.Page(here / file, title=t(title), icon=icon, url_path=url, default=(url == "overview")))
allowed = decision.status in ("off", "ok")
nav = st.navigation(sections, position=("top" if present else "sidebar") if allowed else "hidden")
viewer = ui.access_gate(t, decision, title_slot)  # stops the run here unless the viewer may see the dashboards

try:
    c = ui.build_context(t, present, viewer)
except access.AccessDenied as exc:  # a department head whose departments are not in this warehouse
    ui.log.warning("viewer %s: %s", viewer.email, exc)
    title_slot.title(nav.title, anchor=False)
    st.warning(t("access_no_departments", ids=", ".join(viewer.access.departments or ())), icon=ui.ACCESS_ICON)
    st.stop()
except q.NoWarehouse as exc:
    path = ui.shown_path(str(exc), viewer) if str(exc) else ""
    title_slot.title(nav.title, anchor=False)
    st.warning(t("no_warehouse", path=path) if path else t("no_warehouse_env"), icon="⚠️")
    st.stop()
except Exception as exc:  # noqa: BLE001 - one sentence on screen, the traceback in the log
    ui.log.exception("could not load the dashboard frame")
    title_slot.title(nav.title, anchor=False)
    st.error(t("failed_page", reason=ui.reason(exc, t)), icon="❗")
    st.stop()

ui.header(c, nav.title, title_slot)
with ui.guard(nav.title):
    nav.run()
ui.page_exports(nav.title)
