"""Shared page furniture: the global filters (bound to the URL), the header with "data as of", presentation
mode, error guards, KPI tiles, tables and charts with their exports.

A page gets everything it needs from `ctx()`: the language (`c.tr`), the selected period window and its
comparison windows, the query scope and the viewer. No SQL here (see queries.py) and no chart encodings (see
charts.py). Access control (docs/access-control.md) is enforced in queries.py; here it only changes what is said:
the login and no-access pages, "your departments", links that name something outside the viewer's scope, and a
sentence instead of a section the viewer may not see.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from urllib.parse import quote

import duckdb
import pandas as pd
import streamlit as st

from dashboards import access, exports, metric_docs, periods
from dashboards import queries as q
from dashboards.i18n import LANG_NAMES, LANGS, Tr

log = logging.getLogger("closedloop.dashboards")

# URL parameter names (the widget keys). A copied link carries exactly these.
K_LANG, K_PRESENT = "lang", "present"
K_GRAIN, K_PERIOD, K_CMP = "grain", "period", "cmp"
K_DEPT, K_CHANNEL, K_GRADE = "dept", "channel", "grade"
# Widgets whose labels change with the language (global filters and the pages' own bound widgets): re-set on a
# language switch so their URL labels follow the language instead of falling back to the default.
TRANSLATED_KEYS = (K_GRAIN, K_PERIOD, K_CMP, K_CHANNEL, "kpi", "step", "drill_step", "drill_dept", "drill_channel",
                   "drill_lead_step", "cohort_metric", "campaign", "rep", "dq_table", "dq_rule", "model", "conv",
                   "cmodel")
SPARK_PERIODS = 12


def configure_logging() -> None:
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False
    # The language switch re-sets bound widgets through session state on purpose (so their URL labels follow the
    # language); Streamlit logs a warning for that pattern every time.
    logging.getLogger("streamlit.elements.lib.policies").setLevel(logging.ERROR)


# ---------------------------------------------------------------------------------------------------------------
# Context
# ---------------------------------------------------------------------------------------------------------------

@dataclass
class Ctx:
    tr: Tr
    present: bool
    build: q.Build
    as_of: dict
    grain: str
    window: periods.Window
    cmp_mode: str
    cmp: periods.Window
    prev: periods.Window
    yoy: periods.Window
    scope: q.Scope
    selected_departments: tuple[str, ...]
    departments: pd.DataFrame
    channels: pd.DataFrame
    stages: pd.DataFrame
    viewer: access.Viewer = access.OFF
    outside_scope: tuple[str, ...] = ()  # department names in the link that are not the viewer's
    tables: list = field(default_factory=list)

    @property
    def lang(self) -> str:
        return self.tr.lang

    def __post_init__(self):
        # Label look-ups run per row in drill tables: dictionaries, built once per run.
        self._dept_names = dict(zip(self.departments.department_id, self.departments.department_name.astype(str),
                                    strict=False))
        col = "label_zh" if self.tr.zh else "label_en"
        self._channel_labels = {ch: (str(lbl) if isinstance(lbl, str) and lbl else str(ch))
                                for ch, lbl in zip(self.channels.channel, self.channels[col], strict=False)}
        self._stage_labels = {s: (lbl if isinstance(lbl, str) else s)
                              for s, lbl in zip(self.stages.stage_name, self.stages.label_en, strict=False)}

    @property
    def all_departments(self) -> str:
        """The label of "no department selected": the whole company, or all of a department head's departments."""
        return self.tr("my_departments" if self.viewer.access.scoped else "all_departments")

    def dept_name(self, dept_id) -> str:
        if dept_id is None or (isinstance(dept_id, float) and pd.isna(dept_id)):
            return self.tr("company")
        return self._dept_names.get(dept_id, str(dept_id))

    def channel_label(self, channel) -> str:
        if channel is None or (isinstance(channel, float) and pd.isna(channel)) or channel == "—":
            return self.tr("unknown_channel")
        return self._channel_labels.get(channel, str(channel))

    def stage_label(self, stage_name) -> str:
        if self.tr.zh or stage_name is None or (isinstance(stage_name, float) and pd.isna(stage_name)):
            return "–" if stage_name is None or isinstance(stage_name, float) else str(stage_name)
        return self._stage_labels.get(stage_name) or {"赢单": "Won", "输单": "Lost"}.get(stage_name, str(stage_name))

    def step_label(self, stage_name, next_stage_name) -> str:
        return f"{self.stage_label(stage_name)} → {self.stage_label(next_stage_name)}"

    def filters_set(self) -> dict[str, bool]:
        return {"department": bool(self.selected_departments), "channel": bool(self.scope.channels),
                "grade": bool(self.scope.grades)}


def ctx() -> Ctx:
    return st.session_state["_ctx"]


def tr() -> Tr:
    c = st.session_state.get("_ctx")
    if c is not None:
        return c.tr
    return Tr(st.session_state.get(K_LANG, "zh"))


# ---------------------------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------------------------

ACCESS_ICON = "🔒"


def shown_path(path: str, viewer: access.Viewer | None = None) -> str:
    """A server path as this viewer may see it: whole for roles with `server_paths` (analysts; everyone with access
    control off), otherwise the file name only."""
    if viewer is None:
        c = st.session_state.get("_ctx")
        viewer = c.viewer if c is not None else None
    if viewer is not None and viewer.access.server_paths:
        return path
    return Path(path).name or path


def reason(exc: BaseException, t: Tr) -> str:
    if isinstance(exc, (duckdb.CatalogException, duckdb.BinderException)):
        return t("reason_missing_table")
    if isinstance(exc, duckdb.IOException) and "lock" in str(exc).lower():
        return t("reason_locked")
    return t("reason_other")


@contextlib.contextmanager
def guard(what: str):
    """Run a block; on error log it with its traceback and say in one sentence what failed. Streamlit's own
    control flow (st.stop, st.rerun) derives from BaseException and passes through."""
    try:
        yield
    except access.AccessDenied as exc:  # not a failure: the viewer may not see this part
        log.info("not shown to this viewer (%s): %s", exc, what)
        st.info(tr()(f"access_{exc.kind}" if exc.kind in ("company", "row_level") else "access_company"),
                icon=ACCESS_ICON)
    except Exception as exc:  # noqa: BLE001 - every failure becomes one sentence on screen
        log.exception("dashboard block failed: %s", what)
        st.error(tr()("failed", what=what, reason=reason(exc, tr())), icon="❗")


@contextlib.contextmanager
def section(title: str, caption: str | None = None, metrics: tuple[str, ...] = ()):
    """A titled block; `metrics` names the docs/metrics.md entries (anchors) shown under "How is this counted?"."""
    st.subheader(title, anchor=False)
    if caption:
        st.caption(caption)
    if metrics:
        metric_docs.how_counted(metrics, tr().zh)
    with guard(title):
        yield


def no_data(what: str) -> None:
    st.info(tr()("no_data", what=what), icon="ℹ️")


def ignores(names: list[str], chart: bool = False) -> None:
    """Say which active global filters a page or chart does not apply (silence when none is set)."""
    c = ctx()
    active = [n for n in names if c.filters_set().get(n)]
    if active:
        st.caption(c.tr("filters_na_chart" if chart else "filters_na", names=c.tr.join(c.tr(n) for n in active)))


# ---------------------------------------------------------------------------------------------------------------
# Frame: language, presentation, filters, navigation header
# ---------------------------------------------------------------------------------------------------------------

def _on_language_change() -> None:
    # Bound widgets carry their *label* in the URL; re-setting their values makes them re-send the label in the
    # new language, so the filters survive the switch and the URL stays valid.
    for key in TRANSLATED_KEYS:
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]


def _on_grain_change() -> None:
    old = st.session_state.get(K_PERIOD)
    grain = st.session_state.get(K_GRAIN) or "month"
    if old:
        with contextlib.suppress(ValueError):
            st.session_state[K_PERIOD] = periods.period_start(date.fromisoformat(old), grain).isoformat()


def frame_controls() -> tuple[Tr, bool, st.delta_generator.DeltaGenerator]:
    """Language and presentation toggles (top of the main area, so they stay reachable without the sidebar).
    Returns the language, the mode and the slot left of them for the page title."""
    cols = st.columns([6, 2, 2], vertical_alignment="center")
    with cols[1]:
        lang = st.segmented_control(
            "lang", LANGS, default="zh", format_func=LANG_NAMES.get, key=K_LANG, bind="query-params",
            required=True, label_visibility="collapsed", on_change=_on_language_change)
    t = Tr(lang or "zh")
    with cols[2]:
        present = st.toggle(t("presentation"), key=K_PRESENT, bind="query-params")
    return t, bool(present), cols[0]


def presentation_css(present: bool) -> None:
    css = """
    [data-testid="stMetricValue"] { white-space: nowrap; }
    [data-testid="stElementToolbar"] button[title*="Download"] { display: none; }
    """
    if present:
        css += """
        section[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"],
        [data-testid="stExpandSidebarButton"] { display: none !important; }
        .block-container, [data-testid="stMainBlockContainer"] { max-width: 100% !important;
            padding-left: 2rem !important; padding-right: 2rem !important; padding-top: 3rem !important; }
        [data-testid="stMarkdownContainer"] p, [data-testid="stMarkdownContainer"] li { font-size: 1.25rem; }
        [data-testid="stMetricValue"], [data-testid="stMetricValue"] p { font-size: 3.2rem !important;
            line-height: 1.15 !important; }
        [data-testid="stMetricLabel"] p { font-size: 1.35rem !important; }
        [data-testid="stMetricDelta"], [data-testid="stMetricDelta"] p { font-size: 1.2rem !important; }
        h2, h3 { font-size: 2rem !important; }
        """
    st.html(f"<style>{css}</style>")


def _dept_options(depts: pd.DataFrame) -> tuple[list[str], dict[str, str]]:
    names = depts.set_index("department_id")["department_name"].astype(str)
    dup = names[names.duplicated(keep=False)].index
    labels = {i: (f"{n} ({i})" if i in dup else n) for i, n in names.items()}
    return depts.department_id.tolist(), labels


def expand_departments(selected: tuple[str, ...], depts: pd.DataFrame) -> tuple[str, ...] | None:
    """The selected departments and every department below them (a region selects its teams)."""
    if not selected:
        return None
    children: dict[str, list[str]] = {}
    for d, parent in zip(depts.department_id, depts.parent_department_id, strict=False):
        if isinstance(parent, str):
            children.setdefault(parent, []).append(d)
    out, todo = [], list(selected)
    while todo:
        d = todo.pop()
        if d in out:
            continue
        out.append(d)
        todo.extend(children.get(d, []))
    return tuple(sorted(out))


def sidebar_filters(t: Tr, as_of: dict, first_day: date, depts: pd.DataFrame, chans: pd.DataFrame,
                    grade_opts: list[str], all_label: str | None = None) -> dict:
    sb = st.sidebar
    sb.header(t("filters"), anchor=False)
    grain = sb.segmented_control(t("grain"), periods.GRAINS, default="month", format_func=t, key=K_GRAIN,
                                 bind="query-params", required=True, on_change=_on_grain_change) or "month"
    starts = [d.isoformat() for d in periods.periods(grain, first_day, as_of["as_of_date"])]
    if not starts:
        starts = [periods.period_start(as_of["as_of_date"], grain).isoformat()]
    period = sb.selectbox(t("period"), starts, format_func=lambda s: t.period(grain, date.fromisoformat(s)),
                          key=K_PERIOD, bind="query-params")
    cmp_mode = sb.segmented_control(t("compare_to"), periods.COMPARES, default="previous", format_func=t,
                                    key=K_CMP, bind="query-params", required=True) or "previous"
    dept_ids, dept_labels = _dept_options(depts)
    sel_depts = sb.multiselect(t("department"), dept_ids, format_func=lambda d: dept_labels.get(d, d),
                               key=K_DEPT, bind="query-params", placeholder=all_label or t("all_departments"),
                               select_all=False)
    chan_labels = {r.channel: (r.label_zh if t.zh else r.label_en) or r.channel for r in chans.itertuples()}
    sel_chans = sb.multiselect(t("channel"), chans.channel.tolist(), format_func=lambda c: chan_labels.get(c, c),
                               key=K_CHANNEL, bind="query-params", placeholder=t("all"), select_all=False)
    sel_grades = sb.multiselect(t("grade"), grade_opts, key=K_GRADE, bind="query-params", placeholder=t("all"),
                                select_all=False)
    return {"grain": grain, "period": period or starts[0], "cmp": cmp_mode, "departments": tuple(sel_depts),
            "channels": tuple(sel_chans), "grades": tuple(sel_grades)}


def url_outside(key: str, valid: list[str] | set[str]) -> list[str]:
    """The values of URL parameter `key` that are not among `valid` (the labels a bound widget offers). Call it
    before the widget is drawn: Streamlit drops such values from the URL when it draws the widget."""
    return [v for v in st.query_params.get_all(key) if v and v not in set(valid)]


def check_link(key: str, valid) -> None:
    """For a viewer limited to some departments: say when the link's value for a bound picker (`key`) is not one
    of the choices it offers them (`valid` labels). Nothing of it is shown either way (the query layer only returns
    their departments' rows); this only says why. Call before drawing the picker."""
    if not ctx().viewer.access.scoped:
        return
    names = url_outside(key, valid)
    if names:
        st.warning(tr()("not_in_view_link", names=tr().join(names)), icon=ACCESS_ICON)


def build_context(t: Tr, present: bool, viewer: access.Viewer = access.OFF) -> Ctx:
    """Load the frame data, draw the filters and return the page context (also kept in session state).

    For a viewer limited to some departments, `q.departments()` holds only theirs (the query layer's scope), the
    department filter offers only those, and "no department selected" means all of them (never the company)."""
    build = q.current_build()
    as_of = q.as_of()
    first_day, _ = q.date_range()
    depts, chans, stgs = q.departments(), q.channels(), q.stages()
    scoped = viewer.access.scoped
    if scoped and depts.empty:
        raise access.AccessDenied("no_departments", ", ".join(viewer.access.departments or ()))
    outside = tuple(url_outside(K_DEPT, set(_dept_options(depts)[1].values()))) if scoped else ()
    f = sidebar_filters(t, as_of, first_day, depts, chans, q.grades(),
                        t("my_departments") if scoped else t("all_departments"))
    grain = f["grain"]
    start = date.fromisoformat(f["period"])
    w = periods.window(grain, start, as_of["as_of_date"])
    departments = expand_departments(f["departments"], depts)
    if scoped and not departments:
        departments = tuple(sorted(depts.department_id))
    c = Ctx(
        tr=t, present=present, build=build, as_of=as_of, grain=grain, window=w, cmp_mode=f["cmp"],
        cmp=periods.compare(w, f["cmp"]), prev=periods.previous(w), yoy=periods.last_year(w),
        scope=q.Scope(departments=departments, channels=f["channels"] or None, grades=f["grades"] or None),
        selected_departments=f["departments"], departments=depts, channels=chans, stages=stgs, viewer=viewer,
        outside_scope=outside)
    st.session_state["_ctx"] = c
    return c


# ---------------------------------------------------------------------------------------------------------------
# Access: login, no-access and configuration-error pages
# ---------------------------------------------------------------------------------------------------------------

def _auth_problem(t: Tr) -> str | None:
    """Why st.login cannot work here (no Authlib, no [auth] secrets), or None."""
    import importlib.util

    if importlib.util.find_spec("authlib") is None:
        return t("login_no_authlib")
    try:
        configured = "auth" in st.secrets
    except Exception:  # noqa: BLE001 - no secrets file at all
        configured = False
    return None if configured else t("login_no_secrets")


def access_gate(t: Tr, decision: access.Decision, title_slot) -> access.Viewer:
    """Return the viewer when they may see the dashboards; otherwise draw the login, no-access or
    configuration-error page and stop the run before any query."""
    if decision.status in ("off", "ok"):
        viewer = decision.viewer or access.OFF
        q.set_access(viewer.access)
        if viewer.role and st.session_state.get("_access_logged") != viewer.email:
            st.session_state["_access_logged"] = viewer.email
            log.info("viewer %s: %s%s", viewer.email, viewer.role,
                     f" of {', '.join(viewer.access.departments)}" if viewer.access.scoped else "")
        if viewer.login:
            st.sidebar.caption(t("signed_in_as", email=viewer.email, role=t(f"access_role_{viewer.role}")))
            st.sidebar.button(t("log_out"), on_click=st.logout, icon="🚪", type="tertiary")
        return viewer
    q.set_access(None)
    title_slot.title("closedloop", anchor=False)
    if decision.status == "login":
        problem = _auth_problem(t)
        if problem:
            log.error("access: login is on but cannot work: %s", problem)
            st.error(problem, icon="❗")
        else:
            st.info(t("login_prompt"), icon=ACCESS_ICON)
            provider = decision.config.provider if decision.config else None
            st.button(t("log_in"), on_click=st.login, args=(provider,) if provider else (), type="primary",
                      icon="🔑")
    elif decision.status == "denied":
        log.warning("access denied (%s): %s", decision.reason, decision.detail or "-")
        st.warning(t(f"no_access_{decision.reason}", email=decision.detail or "–"), icon=ACCESS_ICON)
        if decision.config and decision.config.login and decision.reason != "no_identity":
            st.button(t("log_out"), on_click=st.logout, icon="🚪")
    else:
        log.error("access configuration: %s", decision.detail)
        st.error(t("access_config_error"), icon="❗")
    st.stop()
    raise AssertionError("unreachable")  # st.stop() raises


def header(c: Ctx, title: str, slot) -> None:
    t = c.tr
    slot.title(title, anchor=False)
    published = datetime.fromtimestamp(c.build.published_at)
    scope = [t.window(c.window)]
    if c.selected_departments:
        scope.append(t.join(c.dept_name(d) for d in c.selected_departments))
    if c.scope.channels:
        scope.append(t.join(c.channel_label(ch) for ch in c.scope.channels))
    if c.scope.grades:
        scope.append(t("grade") + " " + "/".join(c.scope.grades))
    if c.viewer.access.scoped and not c.selected_departments:
        scope.append(t("your_departments", names=t.join(c.dept_name(d) for d in c.departments.department_id
                                                          if not _has_parent_in(d, c.departments))))
    st.caption(" · ".join([t("data_as_of", when=t.datetime(c.as_of["as_of_at"])),
                           t("built_at", when=t.datetime(published))] + scope))
    if c.outside_scope:
        st.warning(t("not_your_departments", names=t.join(c.outside_scope)), icon=ACCESS_ICON)
    if c.window.is_partial:
        st.caption(t("running_period", period=t.period(c.grain, c.window.start), day=t.date(c.window.last_day)))


def _has_parent_in(dept_id: str, depts: pd.DataFrame) -> bool:
    parent = depts.loc[depts.department_id == dept_id, "parent_department_id"]
    return bool(len(parent)) and isinstance(parent.iloc[0], str) and parent.iloc[0] in set(depts.department_id)


# ---------------------------------------------------------------------------------------------------------------
# Tiles, tables, charts, exports
# ---------------------------------------------------------------------------------------------------------------

def tile(label: str, value: str, delta: str | None, delta_desc: str | None, help_: str, spark: list | None,
         second: str | None = None, inverse: bool = False) -> None:
    points = [float(v) for v in (spark or []) if v is not None and not pd.isna(v)]  # no data is no point, not 0
    with st.container(border=True):
        st.metric(label, value, delta=delta, delta_description=delta_desc, help=help_,
                  delta_color="inverse" if inverse else "normal",
                  chart_data=points or None,
                  chart_type="line")
        if second:
            st.caption(second)


def _deferred(fn, *args):
    def run():
        try:
            return fn(*args)
        except Exception:
            log.exception("export failed")
            return b""
    return run


def table(df: pd.DataFrame, name: str, columns: dict[str, str], formats: dict[str, str] | None = None,
          key: str | None = None, height: int | str = "auto", max_rows: int = 2000, export: bool = True) -> None:
    """Show `df` restricted to `columns` (col -> translated header) and offer it as CSV; every table shown is also
    a sheet of the page's XLSX."""
    c = ctx()
    shown = df[[k for k in columns if k in df.columns]].rename(columns=columns)
    view = shown.head(max_rows).copy()
    formats = formats or {}
    config = {}
    for col, fmt in formats.items():
        if col not in columns or columns[col] not in view.columns:
            continue
        label = columns[col]
        if fmt == "pct":
            # Shown as 23.1%; exported as the fraction 0.231 (what a spreadsheet computes with).
            view[label] = pd.to_numeric(view[label], errors="coerce") * 100
            config[label] = st.column_config.NumberColumn(label, format="%.1f%%")
        elif fmt == "money":
            config[label] = st.column_config.NumberColumn(label, format="yen")
        elif fmt == "int":
            config[label] = st.column_config.NumberColumn(label, format="localized")
        elif fmt.startswith("%"):
            config[label] = st.column_config.NumberColumn(label, format=fmt)
        elif fmt == "datetime":
            config[label] = st.column_config.DatetimeColumn(label, format="YYYY-MM-DD HH:mm")
        elif fmt == "date":
            config[label] = st.column_config.DateColumn(label, format="YYYY-MM-DD")
        elif fmt == "link":  # a journey link: an arrow on screen, not part of the exports
            config[label] = st.column_config.LinkColumn(label, display_text=JOURNEY_ICON, width="small")
            shown = shown.drop(columns=[label])
    st.dataframe(view, hide_index=True, column_config=config, height=height, key=key, placeholder="–")
    if len(shown) > max_rows:
        st.caption(c.tr("shown_first", n=f"{max_rows:,}", total=f"{len(shown):,}"))
    if export:
        c.tables.append((name, shown))
        st.download_button(f"{c.tr('download_csv')} · {name}", _deferred(exports.csv_bytes, shown),
                           file_name=f"{_slug(name)}.csv", mime="text/csv", icon="⬇️",
                           type="tertiary", key=f"csv_{key or _slug(name)}", on_click="ignore")


def xlsx_button(name: str, df: pd.DataFrame, columns: dict[str, str], key: str) -> None:
    """An Excel download of one table (restricted to `columns`, headers translated), beside its CSV button."""
    c = ctx()
    shown = df[[k for k in columns if k in df.columns]].rename(columns=columns)
    st.download_button(f"{c.tr('download_xlsx_one')} · {name}", _deferred(exports.xlsx_bytes, [(name, shown)]),
                       file_name=f"{_slug(name)}.xlsx",
                       mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                       icon="📑", type="tertiary", key=f"xlsx_{key}", on_click="ignore")


def chart(ch, name: str, key: str | None = None, on_select: str = "ignore"):
    """Show an Altair chart; offer it as PNG when vl-convert is installed."""
    c = ctx()
    event = st.altair_chart(ch, width="stretch", key=key, on_select=on_select,
                            **({"selection_mode": "cell"} if on_select != "ignore" else {}))
    if exports.png_available():
        st.download_button(f"{c.tr('download_png')} · {name}", _deferred(_png, ch), file_name=f"{_slug(name)}.png",
                           mime="image/png", icon="🖼️", type="tertiary",
                           key=f"png_{key or _slug(name)}", on_click="ignore")
    return event


def _png(ch) -> bytes:
    return exports.png_bytes(ch.to_dict())


def page_exports(page_name: str) -> None:
    c = ctx()
    if not c.tables:
        return
    st.divider()
    tables = list(c.tables)
    st.download_button(c.tr("download_xlsx"), _deferred(exports.xlsx_bytes, tables),
                       file_name=f"closedloop-{_slug(page_name)}-{c.window.start:%Y%m%d}.xlsx",
                       mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                       icon="📑", key="xlsx_page", on_click="ignore")


JOURNEY_ICON = "🧭"


def journey_url(kind: str, value) -> str | None:
    """The Customer journey page's link for a person, lead, opportunity or account (relative, so it works under
    any base path; the language goes along)."""
    if not isinstance(value, str) or not value:
        return None
    lang = "" if tr().zh else "&lang=English"
    return f"./journey?{kind}={quote(value)}{lang}"


LEAD_COLUMNS = ("journey", "lead_id", "created_at", "channel_label", "campaign_name", "department_name", "owner_name",
                "first_assigned_at", "response_hours", "sla_label", "is_mql", "is_sql", "is_converted",
                "opportunity_id", "release_count", "final_label", "disqualify_reason")
OPPORTUNITY_COLUMNS = ("journey", "opportunity_id", "opportunity_name", "account_name", "grade", "department_name",
                       "owner_name", "amount", "created_at", "closed_at", "status_label", "furthest_stage_label",
                       "cycle_days", "channel_label")


def lead_rows(df: pd.DataFrame, name: str, key: str) -> None:
    """The leads behind a total, with translated headers and values."""
    c = ctx()
    t = c.tr
    if df.empty:
        no_data(name)
        return
    df = df.assign(journey=[journey_url("lead", x) for x in df.lead_id],
                   channel_label=[c.channel_label(x) for x in df.channel],
                   sla_label=df.sla_status.map({"met": t("sla_met"), "missed": t("sla_missed"),
                                                "pending": t("sla_pending")}),
                   final_label=df.final_status.map({"converted": t("converted"), "disqualified": t("disqualified"),
                                                    "open": t("open")}))
    labels = {"journey": t("journey_link"), "lead_id": "ID", "created_at": t("created"), "channel_label": t("channel"),
              "campaign_name": t("campaign"), "department_name": t("department"), "owner_name": t("owner"),
              "first_assigned_at": t("assigned"), "response_hours": t("response_hours"),
              "sla_label": t("sla_compliance"), "is_mql": t("mql"), "is_sql": t("sql"),
              "is_converted": t("converted"), "opportunity_id": t("opportunity"), "release_count": t("released"),
              "final_label": t("status"), "disqualify_reason": t("reason")}
    st.caption(t("drill_rows", what=name) + " · " + t("rows", n=t.int(len(df))))
    table(df, name, {k: labels[k] for k in LEAD_COLUMNS}, {"created_at": "datetime", "first_assigned_at": "datetime",
                                                           "response_hours": "%.1f", "journey": "link"},
          key=key, height=360)


def opportunity_rows(df: pd.DataFrame, name: str, key: str) -> None:
    c = ctx()
    t = c.tr
    if df.empty:
        no_data(name)
        return
    df = df.assign(journey=[journey_url("opportunity", x) for x in df.opportunity_id],
                   channel_label=[c.channel_label(x) for x in df.channel],
                   status_label=[t(f"status_{s}") for s in df.status],
                   furthest_stage_label=[c.stage_label(s) for s in df.furthest_stage_name])
    labels = {"journey": t("journey_link"), "opportunity_id": "ID",
              "opportunity_name": t("opportunity"), "account_name": t("account"),
              "grade": t("grade"), "department_name": t("department"), "owner_name": t("owner"),
              "amount": t("amount"), "created_at": t("created"), "closed_at": t("exited_at"),
              "status_label": t("status"), "furthest_stage_label": t("stage"), "cycle_days": t("cycle_days"),
              "channel_label": t("channel")}
    st.caption(t("drill_rows", what=name) + " · " + t("rows", n=t.int(len(df))))
    table(df, name, {k: labels[k] for k in OPPORTUNITY_COLUMNS},
          {"amount": "money", "created_at": "datetime", "closed_at": "datetime", "cycle_days": "%.1f",
           "journey": "link"}, key=key, height=360)


def _slug(name: str) -> str:
    out = "".join(ch if ch.isalnum() else "-" for ch in name).strip("-")
    return out or "table"
