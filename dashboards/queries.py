"""Every SQL statement of the dashboards, over the public marts only (and, on the Data page, the build's own
reports in schema `ops`).

Rules:
- Read-only, and never stale: a query runs on a read-only connection to the file of the build being served, found
  by its inode among the kept builds (`builds/<build>/warehouse.duckdb`, a hard link of the served file). That path
  names one build only, so one connection per build is opened once and shared by every query (a connection per
  query cost ~15–40 ms, most of a page's query time); the next publish changes the served inode and the next query
  opens the new build. A warehouse without kept builds (built by hand) is opened per query and closed at once,
  so the app never holds the served name while `closedloop build` replaces it (`os.replace` of a side file).
- Parameterised: values are always bound (`$name`); the SQL text is made of constants of this module only.
- Cached: results are cached with `st.cache_data`, keyed by the warehouse file's identity (path, inode, size,
  mtime), so a new build is picked up on the next rerun and an old result is never served for it.
- Aggregated in DuckDB: pages receive small frames.
- Scoped for the viewer (docs/access-control.md): every statement goes through `fetch`, which applies the current
  viewer's `Access`. A viewer limited to some departments runs the statement against views of the warehouse that
  hold only those departments' rows (`SCOPED_RELATIONS`); a relation without a rule there is not visible at all,
  so a new query over a new table fails closed. Contact details are masked unless the viewer may see them, and
  the row-level queries (`@row_level`) refuse viewers without that right.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import logging
import os
import re
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import streamlit as st

from closedloop.contract import project_vars
from closedloop.sql import literal
from dashboards.access import ENV_ACCESS, UNRESTRICTED, Access, AccessDenied, mask_frame
from dashboards.periods import Window
from dashboards.pii import hide_paths

log = logging.getLogger("closedloop.dashboards")

ENV_WAREHOUSE = "CLOSEDLOOP_WAREHOUSE"
SLOW_QUERY_SECONDS = 0.5
Z95 = 1.959963984540054


class NoWarehouse(Exception):
    """No warehouse file configured or present."""


@dataclass(frozen=True)
class Build:
    """Identity of one published warehouse file."""

    path: str
    inode: int
    size: int
    mtime_ns: int

    @property
    def key(self) -> tuple:
        return (self.path, self.inode, self.size, self.mtime_ns)

    @property
    def published_at(self) -> float:
        return self.mtime_ns / 1e9


def warehouse_path() -> Path | None:
    value = os.environ.get(ENV_WAREHOUSE)
    return Path(value).expanduser().resolve() if value else None


def current_build() -> Build:
    path = warehouse_path()
    if path is None:
        raise NoWarehouse("")
    try:
        st_ = path.stat()
    except FileNotFoundError as exc:
        raise NoWarehouse(str(path)) from exc
    return Build(str(path), st_.st_ino, st_.st_size, st_.st_mtime_ns)


# ---------------------------------------------------------------------------------------------------------------
# The viewer's access, applied to every statement
# ---------------------------------------------------------------------------------------------------------------

_ACCESS: contextvars.ContextVar[Access | None] = contextvars.ContextVar("closedloop_access", default=None)


def set_access(access: Access | None) -> None:
    """The app sets the viewer's access at the start of every run, before its first query."""
    _ACCESS.set(access)


@contextlib.contextmanager
def viewing(access: Access):
    """Run queries as a given viewer (tests, scripts)."""
    token = _ACCESS.set(access)
    try:
        yield
    finally:
        _ACCESS.reset(token)


def current_access() -> Access:
    """The access of the current run. With access control on (CLOSEDLOOP_ACCESS set) and no viewer set, nothing
    is returned (fail closed); with it off, everything (the demo)."""
    access = _ACCESS.get()
    if access is None:
        if ENV_ACCESS in os.environ:  # set, even blank: access control is on (a blank value is refused)
            raise AccessDenied("no_viewer")
        return UNRESTRICTED
    return access


def row_level(fn):
    """Mark a query that returns the rows behind a total: it refuses viewers without the row-level right."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if not current_access().row_level:
            raise AccessDenied("row_level", fn.__name__)
        return fn(*args, **kwargs)

    wrapper.row_level = True
    return wrapper


# The attached warehouse of a scoped connection. No statement of this module names it: they read `marts.…`, which
# resolves to the scoped views.
_SRC = "_closedloop_unscoped"
_ALLOWED = "(select department_id from _access.departments)"
# Company-wide columns of fct_department_comparison: kept for department heads only with `company_benchmark`.
COMPANY_COLUMNS = ("rest_numerator", "rest_denominator", "rest_rate", "company_numerator", "company_denominator",
                   "company_rate", "difference", "difference_vs_rest", "z", "significance")


def _dept(col: str) -> str:
    return f"select * from {{src}} where {col} in {_ALLOWED}"


def _comparison(access: Access, cols: set[str], exposed: set) -> str:
    sql = f"select * from {{src}} where department_id in {_ALLOWED}"
    hidden = [c for c in COMPANY_COLUMNS if c in cols]
    if access.company_benchmark or not hidden:
        return sql
    return sql.replace("select *", "select * replace ("
                       + ", ".join(f"case when false then {c} end as {c}" for c in hidden) + ")", 1)


def _followup_timeliness(access: Access, cols: set[str], exposed: set) -> str:
    # Their departments' rows; the comparison with the rest of the company only with the company benchmark.
    sql = f"select * from {{src}} where department_id in {_ALLOWED}"
    hidden = [c for c in ("rest_on_time_share", "significance") if c in cols]
    if access.company_benchmark or not hidden:
        return sql
    return sql.replace("select *", "select * replace ("
                       + ", ".join(f"case when false then {c} end as {c}" for c in hidden) + ")", 1)


def _won_elsewhere(access: Access, cols: set[str], exposed: set) -> str:
    # Their departments' rows; wins counted only for deals in their departments (the rollup keeps them apart by
    # won_department_id), as summing the scoped fct_opportunities would.
    kept = f"won_department_id in {_ALLOWED}"
    hidden = [c for c in ("created_won", "recovered_won", "recovered_revenue") if c in cols]
    replaced = ", ".join(f"case when {kept} then {c} else {'null' if c.endswith('revenue') else '0'} end as {c}"
                         for c in hidden)
    return f"select * replace ({replaced}) from {{src}} where department_id in {_ALLOWED}"


def _followups(access: Access, cols: set[str], exposed: set) -> str:
    # Their departments' follow-ups, valued only by a deal or an account value of their departments: what joining
    # the scoped fct_opportunities and fct_customer_value gives.
    guarded = {"deal_amount": "deal_department_id", "account_lifetime_value": "account_value_department_id"}
    replaced = ", ".join(f"case when {guarded[c]} in {_ALLOWED} then {c} end as {c}" for c in guarded if c in cols)
    return (f"select * replace ({replaced})" if replaced else "select *") + \
        f" from {{src}} where department_id in {_ALLOWED}"


def _referred(exposed: set, key: str, facts: tuple[str, ...]) -> str:
    return "".join(f" or {key} in (select {key} from marts.{f})" for f in facts if ("marts", f) in exposed)


def _own_only(own: str, cols: set[str], hidden: tuple[str, ...]) -> str:
    """`select * replace (...)` nulling `hidden` columns on rows that are not the viewer's (`own` is false)."""
    present = [c for c in hidden if c in cols]
    if not present:
        return "select *"
    return "select * replace (" + ", ".join(f"case when {own} then {c} end as {c}" for c in present) + ")"


def _dim_account(access: Access, cols: set[str], exposed: set) -> str:
    # The accounts of the viewer's departments, and the customers of their own deals, customers and tickets —
    # without who owns the latter when that is another department.
    own = f"owner_department_id in {_ALLOWED}"
    return (_own_only(own, cols, ("owner_user_id", "owner_user_name", "owner_department_id"))
            + f" from {{src}} where {own}"
            + _referred(exposed, "account_id", ("fct_opportunities", "fct_customer_value", "fct_service")))


def _dim_campaign(access: Access, cols: set[str], exposed: set) -> str:
    # Their own campaigns (with budget), and the names of the campaigns their leads and deals came from (without
    # another department's budget or ownership).
    own = f"department_id in {_ALLOWED}"
    return (_own_only(own, cols, ("budget", "department_id")) + f" from {{src}} where {own}"
            + _referred(exposed, "campaign_id", ("fct_leads", "fct_opportunities")))


# How each relation is seen by a viewer limited to some departments (`Access.departments`): "all" (no department
# data: dimensions of dates, channels, stages; seeds; the as-of time; source freshness), a SELECT over `{src}`, or
# a function of (access, the relation's columns, the relations exposed so far) returning one. Anything not listed
# is invisible to them: company-wide marts (fct_cohort_retention; fct_customer_value_backtest, one fit over every
# department's accounts; fct_campaign_roi, whose rows count every
# department's leads and deals), the build's load report, rows set aside and run history, and every staging or
# intermediate table. Order matters: dimensions that refer to facts come after them.
SCOPED_RELATIONS: dict[tuple[str, str], object] = {
    ("marts", "dim_date"): "all",
    ("marts", "dim_channel"): "all",
    ("marts", "dim_stage"): "all",
    ("marts", "dim_department"): _dept("department_id"),
    ("marts", "dim_user"): _dept("department_id"),
    ("marts", "fct_leads"): _dept("department_id"),
    ("marts", "fct_lead_flow_daily"): _dept("department_id"),
    ("marts", "fct_opportunities"): _dept("department_id"),
    ("marts", "fct_opportunity_stages"): _dept("department_id"),
    ("marts", "fct_stage_conversion"): _dept("department_id"),
    ("marts", "fct_department_comparison"): _comparison,
    ("marts", "fct_resource_turnover"): _dept("department_id"),
    ("marts", "fct_rep_performance"): _dept("department_id"),
    ("marts", "fct_customer_value"): _dept("department_id"),
    ("marts", "fct_service"): _dept("department_id"),
    ("marts", "fct_forecast"): _dept("department_id"),
    ("marts", "fct_forecast_periods"): _dept("department_id"),
    ("marts", "fct_forecast_backtest"): _dept("department_id"),
    ("marts", "fct_followups"): _followups,
    ("marts", "fct_followup_timeliness"): _followup_timeliness,
    ("marts", "fct_customer_predicted_value"): _dept("department_id"),
    # the pages' rollups: a department head sees their departments' rows, as of the facts they sum
    ("marts", "fct_lead_rollup_daily"): _won_elsewhere,
    ("marts", "fct_lead_response_daily"): _dept("department_id"),
    ("marts", "fct_lead_disqualified_daily"): _dept("department_id"),
    ("marts", "fct_opportunity_rollup_daily"): _dept("department_id"),
    ("marts", "fct_customer_rollup_daily"): _dept("department_id"),
    ("marts", "fct_customer_predicted_rollup"): _dept("department_id"),
    ("marts", "fct_followup_rollup"): _won_elsewhere,
    ("marts", "dim_account"): _dim_account,
    ("marts", "dim_campaign"): _dim_campaign,
    ("intermediate", "int_as_of"): "all",
    ("config", "*"): "all",
    ("ops", "closedloop_source_freshness"): "all",
}



def _scoped_connection(path: str, access: Access) -> tuple[duckdb.DuckDBPyConnection, set[str]]:
    """An in-memory connection whose `marts`, `intermediate`, `config` and `ops` schemas hold views of the warehouse
    (attached read-only) limited to the viewer's departments and their descendants. Returns it and the names of the
    warehouse's relations left invisible."""
    con = duckdb.connect(":memory:")
    try:
        con.execute(f"attach {literal(path)} as {_SRC} (read_only)")
        tables = con.execute("select table_schema, table_name, list(column_name) from information_schema.columns "
                             "where table_catalog = $c group by all", {"c": _SRC}).fetchall()
        columns = {(s_, n): set(cols) for s_, n, cols in tables}
        con.execute("create schema _access")
        con.execute(f"""
            create table _access.departments as
            with recursive tree(department_id) as (
                select department_id from {_SRC}.marts.dim_department where list_contains($roots, department_id)
                union
                select d.department_id from {_SRC}.marts.dim_department d
                join tree on d.parent_department_id = tree.department_id)
            select department_id from tree""", {"roots": list(access.departments or ())})
        exposed: set[tuple[str, str]] = set()
        schemas: set[str] = set()
        for (schema, name), rule in SCOPED_RELATIONS.items():
            names = sorted(n for s_, n in columns if s_ == schema) if name == "*" else [name]
            for n in names:
                if (schema, n) not in columns:
                    continue
                if schema not in schemas:
                    con.execute(f'create schema "{schema}"')
                    schemas.add(schema)
                src = f'{_SRC}."{schema}"."{n}"'
                body = rule(access, columns[(schema, n)], exposed) if callable(rule) else rule
                select = f"select * from {src}" if body == "all" else body.format(src=src)
                con.execute(f'create view "{schema}"."{n}" as {select}')
                exposed.add((schema, n))
        # No other file may be read from here (read_parquet of the landing, another ATTACH), nor this undone.
        con.execute("set enable_external_access = false")
        con.execute("set lock_configuration = true")
        return con, {n for (s_, n) in columns if (s_, n) not in exposed}
    except BaseException:
        con.close()
        raise


# bench/bench_pages.py collects the time of every query it makes a page run here (and, with --per-query, the
# statement beside it); None outside a benchmark.
QUERY_TIMINGS: list[float] | None = None
QUERY_LOG: list[tuple[str, float]] | None = None


@st.cache_resource(max_entries=2, show_spinner=False)
def _build_database(build_key: tuple) -> duckdb.DuckDBPyConnection | None:
    """One read-only connection to the kept file of the served build (same inode), or None when there is none.
    Not the served path itself: DuckDB keeps one instance per path in a process, so a connection held on
    `warehouse.duckdb` would go on serving the replaced build to every later connect."""
    from closedloop.publish import builds_dir

    served = Path(build_key[0])
    for kept in sorted(builds_dir(served).glob(f"*/{served.name}"), reverse=True):
        try:
            if kept.stat().st_ino == build_key[1]:
                return duckdb.connect(str(kept), read_only=True)
        except (FileNotFoundError, duckdb.IOException):
            continue  # pruned meanwhile
    return None


@contextlib.contextmanager
def _connection(build_key: tuple):
    """A connection for one statement: a cursor on the build's shared connection, or a connection of its own."""
    shared = _build_database(build_key)
    con = shared.cursor() if shared is not None else duckdb.connect(build_key[0], read_only=True)
    try:
        yield con
    finally:
        con.close()


_MISSING_TABLE = re.compile(r'Table with name "?([\w.]+)"? does not exist')


@st.cache_data(ttl=6 * 3600, max_entries=1024, show_spinner=False)
def _fetch(build_key: tuple, access_key: tuple, sql: str, params: tuple) -> pd.DataFrame:
    started = time.perf_counter()
    access = Access.from_key(access_key)
    bound = {k: (list(v) if isinstance(v, tuple) else v) for k, v in params}
    if access.scoped:
        if _SRC in sql:  # the unscoped warehouse is for the views only
            raise AccessDenied("company", "statement names the unscoped warehouse")
        scoped, hidden = _scoped_connection(build_key[0], access)
        opened = contextlib.closing(scoped)
    else:
        opened, hidden = _connection(build_key), set()
    with opened as con:
        try:
            df = con.execute(sql, bound).df()
        except duckdb.CatalogException as exc:
            # A relation that exists but is not visible to this viewer: say "not in your view", not "missing table".
            missing = _MISSING_TABLE.search(str(exc))
            if missing and missing.group(1).rsplit(".", 1)[-1] in hidden:
                raise AccessDenied("company", missing.group(1)) from None
            raise
    if not access.see_pii:
        df = mask_frame(df)
    if not access.server_paths:
        df = hide_paths(df, _path_roots(build_key))
    took = time.perf_counter() - started
    if QUERY_TIMINGS is not None:
        QUERY_TIMINGS.append(took)
    if QUERY_LOG is not None:
        QUERY_LOG.append((sql, took))
    if took > SLOW_QUERY_SECONDS:
        log.warning("slow query (%.2f s): %s", took, " ".join(sql.split())[:200])
    return df


@functools.lru_cache(maxsize=8)
def _path_roots(build_key: tuple) -> tuple[str, ...]:
    """The folders a viewer without `server_paths` sees file names relative to: the raw folders of the builds in
    this warehouse's run history, and the warehouse's own folder (its builds and landing)."""
    roots = [str(Path(build_key[0]).parent)]
    try:
        with _connection(build_key) as con:
            rows = con.execute("select distinct raw_dir from ops.closedloop_runs where raw_dir is not null").fetchall()
        roots += [r[0] for r in rows if isinstance(r[0], str) and r[0].strip()]
    except duckdb.Error:
        pass  # a warehouse without a run history: file names only
    return tuple(roots)


def fetch(sql: str, params: dict | None = None) -> pd.DataFrame:
    """Run one read-only query against the current build, as the current viewer (cached per build and scope)."""
    access = current_access()
    build = current_build()
    items = tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in (params or {}).items()))
    return _fetch(build.key, access.key, sql, items)


class P:
    """Collects bound parameters while a statement is composed: `p("start", d)` returns `$start`."""

    def __init__(self):
        self.values: dict = {}

    def __call__(self, name: str, value) -> str:
        self.values[name] = list(value) if isinstance(value, tuple) else value
        return f"${name}"


@dataclass(frozen=True)
class Scope:
    """The global filters as the queries need them. None means not filtered."""

    departments: tuple[str, ...] | None = None   # expanded to descendants
    channels: tuple[str, ...] | None = None
    grades: tuple[str, ...] | None = None


def _in(p: P, col: str, name: str, values) -> str:
    return f" and list_contains({p(name, tuple(values))}, {col})" if values else ""


def _wilson(k: str, n: str, side: str) -> str:
    """95% Wilson bound of k/n — the same formula as macros/stats.sql."""
    sign = "-" if side == "low" else "+"
    clamp = "greatest(0.0, " if side == "low" else "least(1.0, "
    return (f"case when coalesce({n}, 0) > 0 then {clamp}"
            f"(({k})::double / ({n}) + {Z95}^2 / (2.0 * ({n})) {sign} {Z95} * sqrt("
            f"(({k})::double / ({n})) * (1 - ({k})::double / ({n})) / ({n}) + {Z95}^2 / (4.0 * ({n})^2)))"
            f" / (1 + {Z95}^2 / ({n})::double)) end")


def _ratio(a: str, b: str) -> str:
    return f"case when coalesce({b}, 0) <> 0 then ({a})::double / ({b}) end"


def _bucket(col: str, grain: str) -> str:
    if grain == "month":
        return f"date_trunc('month', {col})::date"
    if grain == "quarter":
        return f"date_trunc('quarter', {col})::date"
    if grain == "half_year":
        return f"make_date(year({col})::int, case when month({col}) <= 6 then 1 else 7 end, 1)"
    if grain == "week":
        return f"date_trunc('week', {col})::date"
    if grain == "day":
        return f"({col})::date"
    raise ValueError(grain)


def _windows(p: P, windows: list[tuple[date, date]]) -> str:
    """A relation w(i, s, e) of the given half-open day windows."""
    return (f"(select unnest({p('w_i', list(range(len(windows))))}) as i, "
            f"unnest({p('w_s', [w[0] for w in windows])}::date[]) as s, "
            f"unnest({p('w_e', [w[1] for w in windows])}::date[]) as e)")


# ---------------------------------------------------------------------------------------------------------------
# Frame: as-of, dimensions, option lists
# ---------------------------------------------------------------------------------------------------------------

def as_of() -> dict:
    df = fetch("select as_of_at, as_of_date, as_of_month from intermediate.int_as_of")
    row = df.iloc[0]
    return {"as_of_at": row["as_of_at"].to_pydatetime(), "as_of_date": row["as_of_date"].date()
            if hasattr(row["as_of_date"], "date") else row["as_of_date"],
            "as_of_month": pd.Timestamp(row["as_of_month"]).date()}


def date_range() -> tuple[date, date]:
    df = fetch("select min(date_day) as lo, max(date_day) as hi from marts.dim_date")
    return pd.Timestamp(df.lo[0]).date(), pd.Timestamp(df.hi[0]).date()


def departments() -> pd.DataFrame:
    return fetch("""
        select department_id, department_name, parent_department_id, level, path, top_department_id
        from marts.dim_department order by path, department_id""")


def channels() -> pd.DataFrame:
    return fetch("""select channel, channel_group, label_en, label_zh from marts.dim_channel
                     order by is_seeded desc, channel""")


def grades() -> list[str]:
    df = fetch("select distinct grade from marts.dim_account where grade is not null order by grade")
    return df.grade.tolist()


def stages() -> pd.DataFrame:
    return fetch("""
        select stage_name, stage_order, label_en, next_stage_name, funnel_position
        from marts.dim_stage where is_funnel_stage order by stage_order""")


def users() -> pd.DataFrame:
    return fetch("select user_id, user_name, role, department_id, is_active from marts.dim_user order by user_id")


def mart_rows() -> pd.DataFrame:
    names = fetch("""select table_name from information_schema.tables
                     where table_schema = 'marts' and table_catalog = current_database()
                     order by table_name""").table_name.tolist()
    if not names:
        return pd.DataFrame({"mart": [], "rows": []})
    sql = " union all ".join(f"select '{n}' as mart, count(*) as rows from marts.\"{n}\"" for n in names
                             if n.replace("_", "").isalnum())
    return fetch(sql + " order by mart")


# ---------------------------------------------------------------------------------------------------------------
# Data quality (Data page): what validation did to the export, source freshness, the rows set aside. Schema `ops`
# is written by `closedloop build`; a warehouse built before it existed has none of these tables.
# ---------------------------------------------------------------------------------------------------------------

REJECTED_LIMIT = 50_000


def ops_tables() -> set[str]:
    df = fetch("select table_name from information_schema.tables where table_schema = 'ops'")
    return set(df.table_name)


def load_report() -> pd.DataFrame:
    """One row per contract table, in contract order."""
    return fetch("""
        select table_key, status, is_absent, files, file_count, rows_read, rows_loaded, rows_rejected, is_balanced,
               rejected_by_rule, warnings_by_rule, warning_count, not_checked, missing_optional_columns,
               extra_columns, note, mapping, build_id
        from ops.closedloop_load_report order by table_order""")


def source_freshness() -> pd.DataFrame:
    """One row per source table with an event time; the most urgent first."""
    return fetch("""
        select table_key, source_name, table_name, status, max_loaded_at, checked_at, age_hours,
               age_hours / 24.0 as age_days, warn_after_days, error_after_days, note
        from ops.closedloop_source_freshness
        order by case status when 'error' then 0 when 'warn' then 1 when 'pass' then 2 else 3 end, table_key""")


def run_history(limit: int = 30) -> pd.DataFrame:
    """The builds up to and including the one this warehouse is (published, failed, killed, rolled back), newest
    first."""
    return fetch(f"""
        select run_id, status, started_at, ended_at, epoch(ended_at - started_at) as seconds, rows_read,
               rows_loaded, rows_set_aside, tests_passed, tests_failed, data_as_of, mapping, message
        from ops.closedloop_runs order by started_at desc limit {int(limit)}""")


def rejected_counts() -> pd.DataFrame:
    """Failing values per table and rule: the filter options of the rows set aside, with their counts."""
    return fetch("""
        select table_key, rule, count(*) as failures, count(distinct (source_file, source_row)) as rows_set_aside
        from ops.closedloop_rejected_rows group by table_key, rule order by table_key, rule""")


@row_level
def rejected_rows(table_key: str | None = None, rule: str | None = None, limit: int = REJECTED_LIMIT
                  ) -> pd.DataFrame:
    """The failing values (one row each), optionally of one table and/or one rule, in file order."""
    p = P()
    where = ""
    if table_key:
        where += f" and table_key = {p('t', table_key)}"
    if rule:
        where += f" and rule = {p('r', rule)}"
    return fetch(f"""
        select table_key, source_file, source_row, column_name, rule, value, message
        from ops.closedloop_rejected_rows
        where true{where}
        order by rejection_id
        limit {p('lim', int(limit))}""", p.values)


# ---------------------------------------------------------------------------------------------------------------
# KPI tiles (Overview): one formula per KPI, evaluated over any list of windows
# ---------------------------------------------------------------------------------------------------------------

KPI_KEYS = ("new_leads", "mqls", "opps_created", "won_deals", "won_revenue", "win_rate", "open_pipeline",
            "lead_to_opp", "sla_compliance", "nrr12")


def kpis(scope: Scope, windows: list[tuple[date, date]]) -> pd.DataFrame:
    """One row per window (index i): every KPI tile's value. Leads: department and channel filters;
    opportunities: department, channel and grade; NRR is company-wide (cohort mart).

    Lead → opportunity rate is taken over the leads created in the six months before the window starts
    (converted to date), as `closedloop summary` does: the window's own leads are too young to have converted,
    so their rate would always look like a fall.

    Summed from the daily rollups (fct_lead_rollup_daily, fct_lead_response_daily, fct_opportunity_rollup_daily):
    a few thousand rows a year whatever the number of leads, where scanning the leads and deals cost ~0.4 s a load
    at 10M leads."""
    p = P()
    w = _windows(p, windows)
    lead_rows = f"{_in(p, 'department_id', 'd', scope.departments)}{_in(p, 'channel', 'c', scope.channels)}"
    leads = fetch(f"""
        with w as {w},
        days as (
            select day, sum(created) as created, sum(created_converted) as converted, sum(mql) as mql,
                   0 as sla_calc, 0 as sla_met
            from marts.fct_lead_rollup_daily where true{lead_rows}
            group by day
            union all
            select day, 0, 0, 0, sum(leads) filter (where sla_status in ('met', 'missed')),
                   sum(leads) filter (where sla_status = 'met')
            from marts.fct_lead_response_daily where true{lead_rows}
            group by day)
        select w.i,
            coalesce(sum(d.created) filter (where d.day >= w.s and d.day < w.e), 0)::bigint as new_leads,
            coalesce(sum(d.mql) filter (where d.day >= w.s and d.day < w.e), 0)::bigint as mqls,
            coalesce(sum(d.created) filter (where d.day >= w.s - interval 6 month and d.day < w.s), 0)::bigint
                as cohort_leads,
            coalesce(sum(d.converted) filter (where d.day >= w.s - interval 6 month and d.day < w.s), 0)::bigint
                as cohort_converted,
            coalesce(sum(d.sla_calc) filter (where d.day >= w.s and d.day < w.e), 0)::bigint as sla_calc,
            coalesce(sum(d.sla_met) filter (where d.day >= w.s and d.day < w.e), 0)::bigint as sla_met
        from w left join days d on true
        group by w.i order by w.i""", p.values)
    p = P()
    w = _windows(p, windows)
    opps = fetch(f"""
        with w as {w},
        o as (select day, sum(created) as created, sum(won_deals) as won_deals, sum(won_revenue) as won_revenue,
                     sum(closed_deals) as closed_deals, sum(opened_deals) - sum(settled_deals) as open_deals,
                     coalesce(sum(opened_amount), 0) - coalesce(sum(settled_amount), 0) as open_amount
              from marts.fct_opportunity_rollup_daily where true
              {_in(p, 'department_id', 'd', scope.departments)}{_in(p, 'channel', 'c', scope.channels)}
              {_in(p, 'grade', 'g', scope.grades)}
              group by day)
        select w.i,
            coalesce(sum(o.created) filter (where o.day >= w.s and o.day < w.e), 0)::bigint as opps_created,
            coalesce(sum(o.won_deals) filter (where o.day >= w.s and o.day < w.e), 0)::bigint as won_deals,
            coalesce(sum(o.won_revenue) filter (where o.day >= w.s and o.day < w.e), 0)::double as won_revenue,
            coalesce(sum(o.closed_deals) filter (where o.day >= w.s and o.day < w.e), 0)::bigint as closed_deals,
            -- open at the window's end: every deal opened before it, less those settled before it
            coalesce(sum(o.open_amount) filter (where o.day < w.e), 0)::double as open_pipeline,
            coalesce(sum(o.open_deals) filter (where o.day < w.e), 0)::bigint as open_deals
        from w left join o on true
        group by w.i order by w.i""", p.values)
    p = P()
    w = _windows(p, windows)
    try:
        nrr = fetch(f"""
            with w as {w}
            select w.i,
                sum(r.mrr) filter (where r.months_since = 12 and r.month >= w.s and r.month < w.e) as mrr12,
                sum(r.mrr_month0) filter (where r.months_since = 12 and r.month >= w.s and r.month < w.e) as mrr0
            from w left join marts.fct_cohort_retention r on true
            group by w.i order by w.i""", p.values)
    except AccessDenied:  # company-wide (no department): not in a department head's view
        nrr = pd.DataFrame({"i": range(len(windows)), "mrr12": float("nan"), "mrr0": float("nan")})
    df = leads.merge(opps, on="i").merge(nrr, on="i")
    df["win_rate"] = df.won_deals / df.closed_deals.where(df.closed_deals > 0)
    df["lead_to_opp"] = df.cohort_converted / df.cohort_leads.where(df.cohort_leads > 0)
    df["sla_compliance"] = df.sla_met / df.sla_calc.where(df.sla_calc > 0)
    df["nrr12"] = df.mrr12 / df.mrr0.where(df.mrr0 > 0)
    return df


# ---------------------------------------------------------------------------------------------------------------
# Department comparison (Overview "what changed", Stage page heat map and flags)
# ---------------------------------------------------------------------------------------------------------------

def comparison(grain: str, start: date) -> pd.DataFrame:
    p = P()
    return fetch(f"""
        select c.department_id, coalesce(d.department_name, c.department_id) as department_name,
               c.is_all_departments, c.metric, c.stage_name, c.stage_order, c.next_stage_name,
               c.metric_label, c.metric_label_en, c.numerator, c.denominator, c.rate, c.ci_low, c.ci_high,
               c.rest_rate, c.company_rate, c.difference, c.difference_vs_rest, c.significance,
               c.previous_period_start, c.previous_numerator, c.previous_denominator, c.previous_rate,
               c.change, c.change_significance, c.is_complete_period
        from marts.fct_department_comparison c
        left join marts.dim_department d using (department_id)
        where c.period_grain = {p('g', grain)} and c.period_start = {p('s', start)}
        order by c.is_all_departments desc, d.path, coalesce(c.stage_order, 99)""", p.values)


# ---------------------------------------------------------------------------------------------------------------
# Stage conversion
# ---------------------------------------------------------------------------------------------------------------

def _cumulative(rates: list) -> list:
    """docs/metrics.md#cumulative-conversion-rate: product of step rates so far; null once a step so far is unknown."""
    out, acc = [], 1.0
    for r in rates:
        acc = None if acc is None or r is None or pd.isna(r) else acc * float(r)
        out.append(acc)
    return out


def funnel(w: Window, scope: Scope) -> pd.DataFrame:
    """Stage funnel of the cohorts (month of first entry into each stage) in the window.

    Without channel or grade filters the counts are sums of fct_stage_conversion rows (all-departments rows, or
    the selected departments' rows); with them, the same rule recounted from fct_opportunity_stages. Rates and
    Wilson intervals are recomputed from the summed counts (they equal the mart's for one month and one row
    set); median days come from fct_opportunity_stages (medians do not add up)."""
    p = P()
    months = f"cohort_month >= {p('s', w.start)} and cohort_month < {p('e', w.end)}"
    if scope.channels or scope.grades:
        counts = f"""
            select s.stage_name, count(*) as reached,
                   count(*) filter (where s.outcome = 'advanced') as advanced,
                   count(*) filter (where s.outcome = 'lost_here') as lost,
                   count(*) filter (where s.outcome = 'open_here') as open
            from marts.fct_opportunity_stages s
            join marts.fct_opportunities o using (opportunity_id)
            left join marts.dim_account a on a.account_id = o.account_id
            where s.{months}{_in(p, 's.department_id', 'd', scope.departments)}
                  {_in(p, 'o.channel', 'c', scope.channels)}{_in(p, 'a.grade', 'g', scope.grades)}
            group by s.stage_name"""
        median_filter = (f"{_in(p, 'o.channel', 'c', scope.channels)}{_in(p, 'a.grade', 'g', scope.grades)}")
        median_join = ("join marts.fct_opportunities o using (opportunity_id) "
                       "left join marts.dim_account a on a.account_id = o.account_id")
    else:
        rows = (_in(p, "department_id", "d", scope.departments) if scope.departments else " and is_all_departments")
        counts = f"""
            select stage_name, sum(reached)::bigint as reached, sum(advanced)::bigint as advanced,
            sum(lost)::bigint as lost,
                   sum(open)::bigint as open
            from marts.fct_stage_conversion where {months}{rows}
            group by stage_name"""
        median_filter, median_join = "", ""
    df = fetch(f"""
        with c as ({counts}),
        m as (select s.stage_name, median(s.days_in_stage) as median_days_in_stage, count(*) as timed_exits
              from marts.fct_opportunity_stages s {median_join}
              where s.{months} and s.exited_at is not null and not s.is_inferred
                    {_in(p, 's.department_id', 'd', scope.departments)}{median_filter}
              group by s.stage_name)
        select st.stage_name, st.stage_order, st.label_en, st.next_stage_name,
               coalesce(c.reached, 0)::bigint as reached, coalesce(c.advanced, 0)::bigint as advanced,
               coalesce(c.lost, 0)::bigint as lost, coalesce(c.open, 0)::bigint as open,
               (coalesce(c.reached, 0) - coalesce(c.open, 0))::bigint as decided,
               {_ratio('c.advanced', 'c.reached - c.open')} as conversion_rate,
               {_wilson('c.advanced', 'c.reached - c.open', 'low')} as ci_low,
               {_wilson('c.advanced', 'c.reached - c.open', 'high')} as ci_high,
               m.median_days_in_stage, coalesce(m.timed_exits, 0) as timed_exits
        from marts.dim_stage st
        left join c using (stage_name) left join m using (stage_name)
        where st.is_funnel_stage order by st.stage_order""", p.values)
    if df.reached.sum() == 0:
        return df.iloc[0:0]
    df["cumulative_rate"] = _cumulative(df.conversion_rate.tolist())
    return df


def median_days_by_department(w: Window, scope: Scope) -> pd.DataFrame:
    p = P()
    return fetch(f"""
        select s.department_id, coalesce(d.department_name, s.department_id) as department_name,
               s.stage_name, s.stage_order, median(s.days_in_stage) as median_days_in_stage,
               count(*) as timed_exits
        from marts.fct_opportunity_stages s
        join marts.dim_department d using (department_id)
        where s.cohort_month >= {p('s', w.start)} and s.cohort_month < {p('e', w.end)}
              and s.exited_at is not null and not s.is_inferred
              {_in(p, 's.department_id', 'd', scope.departments)}
        group by all order by department_name, s.stage_order""", p.values)


@row_level
def opportunities_closed(w: Window, scope: Scope, department_id: str | None, limit: int = 5000,
                         owner_user_id: str | None = None) -> pd.DataFrame:
    """The opportunities behind a win rate: closed (won or lost) in the window."""
    p = P()
    dept = f" and o.department_id = {p('dd', department_id)}" if department_id else \
        _in(p, "o.department_id", "d", scope.departments)
    if owner_user_id:
        dept += f" and o.owner_user_id = {p('u', owner_user_id)}"
    return fetch(f"""
        select o.opportunity_id, o.opportunity_name, a.account_name, coalesce(d.department_name, o.department_id)
                   as department_name, u.user_name as owner_name, o.created_at, o.closed_at, o.status,
               o.furthest_stage_name, o.amount::double as amount, round(o.cycle_days, 1) as cycle_days, o.channel,
               a.grade, o.loss_reason
        from marts.fct_opportunities o
        left join marts.dim_account a on a.account_id = o.account_id
        left join marts.dim_department d on d.department_id = o.department_id
        left join marts.dim_user u on u.user_id = o.owner_user_id
        where o.is_closed and o.closed_at >= {p('s', w.start)} and o.closed_at < {p('e', w.end)}{dept}
              {_in(p, 'o.channel', 'c', scope.channels)}{_in(p, 'a.grade', 'g', scope.grades)}
        order by o.closed_at desc, o.opportunity_id
        limit {int(limit)}""", p.values)


@row_level
def stage_drill(w: Window, scope: Scope, stage_name: str | None, department_id: str | None,
                limit: int = 5000) -> pd.DataFrame:
    """The opportunities behind a funnel step or heat-map cell: stage rows of the cohorts in the window.

    A left join: a department head sees the stage rows of their departments even for a deal since transferred to
    another department (whose current details the query layer hides), so the rows still add up to the cell."""
    p = P()
    dept = f" and s.department_id = {p('dd', department_id)}" if department_id else \
        _in(p, "s.department_id", "d", scope.departments)
    stage = f" and s.stage_name = {p('st', stage_name)}" if stage_name else ""
    joined = f"{_in(p, 'o.channel', 'c', scope.channels)}{_in(p, 'a.grade', 'g', scope.grades)}"
    order = "s.entered_at desc, s.opportunity_id, s.stage_order"
    # With no filter on the deal or its account, the newest `limit` stage rows are taken before the joins: at
    # 10M leads a quarter's cohorts hold ~2M stage rows, and joining every one of them first took seconds.
    first = "" if joined else f"order by {order} limit {int(limit)}"
    return fetch(f"""
        with s as (
            select * from marts.fct_opportunity_stages s
            where s.cohort_month >= {p('s', w.start)} and s.cohort_month < {p('e', w.end)}{stage}{dept}
            {first}
        )
        select s.opportunity_id, o.opportunity_name, a.account_name, s.stage_name,
               coalesce(d.department_name, s.department_id) as department_name, u.user_name as owner_name,
               s.entered_at, s.exited_at, round(s.days_in_stage, 1) as days_in_stage, s.outcome, s.is_inferred,
               s.next_stage_name, o.status, o.amount::double as amount, o.channel, a.grade
        from s
        left join marts.fct_opportunities o using (opportunity_id)
        left join marts.dim_account a on a.account_id = o.account_id
        left join marts.dim_department d on d.department_id = s.department_id
        left join marts.dim_user u on u.user_id = s.owner_user_id
        where true{joined}
        order by {order}
        limit {int(limit)}""", p.values)


# ---------------------------------------------------------------------------------------------------------------
# Lead flow
# ---------------------------------------------------------------------------------------------------------------

LEAD_DATES = ("created_at", "mql_at", "sql_at", "converted_at", "first_assigned_at", "first_released_at",
              "disqualified_at")
LEAD_FLAGS = ("is_mql", "is_sql", "is_converted", "is_won", "is_sla_calc", "is_sla_met", "is_recovered")


@row_level
def leads_drill(w: Window, scope: Scope, date_col: str = "created_at", flag: str | None = None,
                channel: str | None = None, limit: int = 5000) -> pd.DataFrame:
    """The leads behind a lead total: `date_col` in the window, optionally with `flag` set and one channel."""
    if date_col not in LEAD_DATES or (flag and flag not in LEAD_FLAGS):
        raise ValueError(f"unknown lead drill {date_col}/{flag}")
    p = P()
    cond = ""
    if flag == "is_won":
        cond = " and coalesce(o.is_won, false)"
    elif flag:
        cond = f" and l.{flag}"
    if channel:
        cond += f" and l.channel = {p('ch', channel)}"
    return fetch(f"""
        select l.lead_id, l.created_at, l.channel, cp.campaign_name, coalesce(d.department_name, l.department_id)
                   as department_name, u.user_name as owner_name, l.first_assigned_at, l.first_response_at,
               round(l.response_hours, 1) as response_hours, l.sla_status, l.is_mql, l.is_sql, l.is_converted,
               l.opportunity_id, o.status as opportunity_status, l.release_count, l.is_recovered, l.final_status,
               l.disqualify_reason
        from marts.fct_leads l
        left join marts.fct_opportunities o on o.opportunity_id = l.opportunity_id
        left join marts.dim_campaign cp on cp.campaign_id = l.campaign_id
        left join marts.dim_department d on d.department_id = l.department_id
        left join marts.dim_user u on u.user_id = l.owner_user_id
        where l.{date_col} >= {p('s', w.start)} and l.{date_col} < {p('e', w.end)}{cond}
              {_in(p, 'l.department_id', 'd', scope.departments)}{_in(p, 'l.channel', 'c', scope.channels)}
        order by l.{date_col} desc, l.lead_id
        limit {int(limit)}""", p.values)


OPPORTUNITY_DRILLS = ("created", "won", "closed", "open")


@row_level
def opportunities_drill(w: Window, scope: Scope, kind: str, limit: int = 5000) -> pd.DataFrame:
    """The opportunities behind an opportunity total: created in the window, won or closed in it, or open at
    its end — the same conditions as the KPI tiles."""
    cond = {
        "created": "o.created_at >= $s and o.created_at < $e",
        "won": "o.is_won and o.closed_at >= $s and o.closed_at < $e",
        "closed": "o.is_closed and o.closed_at >= $s and o.closed_at < $e",
        "open": "o.created_at < $e and (o.closed_at is null or o.closed_at >= $e)",
    }[kind]
    p = P()
    if "$s" in cond:  # DuckDB rejects parameters a statement does not use
        p("s", w.start)
    p("e", w.end)
    return fetch(f"""
        select o.opportunity_id, o.opportunity_name, a.account_name, a.grade,
               coalesce(d.department_name, o.department_id) as department_name, u.user_name as owner_name,
               o.opportunity_type, o.amount::double as amount, o.created_at, o.closed_at, o.status,
               o.furthest_stage_name, round(o.cycle_days, 1) as cycle_days, o.channel
        from marts.fct_opportunities o
        left join marts.dim_account a on a.account_id = o.account_id
        left join marts.dim_department d on d.department_id = o.department_id
        left join marts.dim_user u on u.user_id = o.owner_user_id
        where {cond}{_in(p, 'o.department_id', 'd', scope.departments)}{_in(p, 'o.channel', 'c', scope.channels)}
              {_in(p, 'a.grade', 'g', scope.grades)}
        order by coalesce(o.closed_at, o.created_at) desc, o.opportunity_id
        limit {int(limit)}""", p.values)


def lead_funnel(w: Window, scope: Scope) -> pd.DataFrame:
    """Leads created in the window (creation cohort) by channel, with the milestones they reached to date.
    The row with channel null is the total. Summed from fct_lead_rollup_daily's creation-day columns."""
    p = P()
    return fetch(f"""
        select channel, coalesce(sum(created), 0)::bigint as leads, coalesce(sum(created_mql), 0)::bigint as mql,
               coalesce(sum(created_sql), 0)::bigint as sql,
               coalesce(sum(created_converted), 0)::bigint as opportunities,
               coalesce(sum(created_won), 0)::bigint as won, grouping(channel) = 1 as is_total
        from marts.fct_lead_rollup_daily
        where day >= {p('s', w.start)} and day < {p('e', w.end)}
              {_in(p, 'department_id', 'd', scope.departments)}{_in(p, 'channel', 'c', scope.channels)}
        group by grouping sets ((), (channel))
        -- a channel whose days in the window hold other milestones but no new lead is not a row
        having grouping(channel) = 1 or sum(created) > 0
        order by is_total desc, leads desc""", p.values)


def lead_flow(w: Window, scope: Scope, bucket: str = "day") -> pd.DataFrame:
    """Daily (or weekly) flow from fct_lead_flow_daily: company rows, or the selected departments' rows."""
    p = P()
    rows = _in(p, "department_id", "d", scope.departments) if scope.departments else " and department_id is null"
    b = _bucket("flow_date", bucket)
    backlog = ("sum(open_backlog) filter (where flow_date = last_day)" if bucket != "day"
               else "sum(open_backlog)")
    return fetch(f"""
        with f as (
            select *, max(flow_date) over (partition by {b}) as last_day
            from marts.fct_lead_flow_daily
            where flow_date >= {p('s', w.start)} and flow_date < {p('e', w.end)}{rows}
                  {_in(p, 'channel', 'c', scope.channels)})
        select {b} as bucket, sum(created)::bigint as created, sum(contacted)::bigint as contacted,
        sum(mql)::bigint as mql,
               sum(sql)::bigint as sql, sum(converted)::bigint as converted, sum(disqualified)::bigint as disqualified,
               sum(released)::bigint as released, sum(claimed)::bigint as claimed, ({backlog})::bigint as open_backlog
        from f group by 1 order by 1""", p.values)


# Bounds of the response-time bands (hours): band i holds RESPONSE_BINS[i] <= hours < RESPONSE_BINS[i + 1], the last
# band everything above. One definition: the dbt var fct_lead_response_daily bands by.
RESPONSE_BINS = tuple(project_vars()["lead_response_band_hours"])


def response_distribution(w: Window, scope: Scope) -> pd.DataFrame:
    """Leads first assigned in the window by response-time band (index into RESPONSE_BINS), with their SLA status."""
    p = P()
    return fetch(f"""
        select response_band as band, sla_status, sum(leads)::bigint as leads
        from marts.fct_lead_response_daily
        where day >= {p('s', w.start)} and day < {p('e', w.end)} and response_band is not null
              {_in(p, 'department_id', 'd', scope.departments)}{_in(p, 'channel', 'c', scope.channels)}
        group by all order by 1, 2""", p.values)


def sla_by_department(w: Window, scope: Scope) -> pd.DataFrame:
    """Leads first assigned in the window per department: SLA met, missed, pending and compliance (summed from
    fct_lead_response_daily), and the median response hours (medians do not add up: read from fct_leads, three of
    its columns)."""
    p = P()
    s, e = p("s", w.start), p("e", w.end)
    rows = f"{_in(p, 'department_id', 'd', scope.departments)}{_in(p, 'channel', 'c', scope.channels)}"
    return fetch(f"""
        with counts as (
            select department_id,
                   coalesce(sum(leads) filter (where sla_status = 'met'), 0)::bigint as met,
                   coalesce(sum(leads) filter (where sla_status = 'missed'), 0)::bigint as missed,
                   coalesce(sum(leads) filter (where sla_status = 'pending'), 0)::bigint as pending
            from marts.fct_lead_response_daily
            where day >= {s} and day < {e}{rows}
            group by department_id),
        medians as (
            select department_id, median(response_hours) as median_response_hours
            from marts.fct_leads
            where first_assigned_at >= {s} and first_assigned_at < {e}{rows}
            group by department_id)
        select c.department_id, coalesce(d.department_name, '—') as department_name, c.met, c.missed, c.pending,
               {_ratio('c.met', 'c.met + c.missed')} as compliance, m.median_response_hours
        from counts c
        left join medians m on m.department_id is not distinct from c.department_id
        left join marts.dim_department d on d.department_id = c.department_id
        order by compliance desc nulls last""", p.values)


def pool_summary(w: Window, scope: Scope) -> pd.DataFrame:
    """Leads first released to the pool in the window, and how many of them were recovered (converted after)."""
    p = P()
    return fetch(f"""
        select coalesce(sum(released), 0)::bigint as released_leads,
               coalesce(sum(released_recovered), 0)::bigint as recovered,
               coalesce(sum(released_open), 0)::bigint as still_open,
               coalesce(sum(released_disqualified), 0)::bigint as disqualified
        from marts.fct_lead_rollup_daily
        where day >= {p('s', w.start)} and day < {p('e', w.end)}
              {_in(p, 'department_id', 'd', scope.departments)}{_in(p, 'channel', 'c', scope.channels)}""",
                 p.values)


def feedback_reasons(w: Window, scope: Scope) -> pd.DataFrame:
    """Leads disqualified in the window by feedback reason, with the seed's next action."""
    p = P()
    has_seed = not fetch("""select 1 from information_schema.tables
                            where table_schema = 'config' and table_name = 'lead_feedback_reasons'""").empty
    seed = ("left join config.lead_feedback_reasons r on r.reason = l.disqualify_reason" if has_seed else "")
    cols = ("any_value(r.label_en) as label_en, any_value(r.category) as category, "
            "any_value(r.next_action) as next_action, any_value(r.recontact_after_days) as recontact_after_days"
            if has_seed else "null as label_en, null as category, null as next_action, null as recontact_after_days")
    # summed from fct_lead_disqualified_daily (leads per disqualified day × department × channel × reason)
    return fetch(f"""
        select l.disqualify_reason as reason, {cols}, sum(l.leads)::bigint as leads
        from marts.fct_lead_disqualified_daily l {seed}
        where l.day >= {p('s', w.start)} and l.day < {p('e', w.end)}
              {_in(p, 'l.department_id', 'd', scope.departments)}{_in(p, 'l.channel', 'c', scope.channels)}
        group by l.disqualify_reason order by leads desc""", p.values)


# ---------------------------------------------------------------------------------------------------------------
# Customer resources (fct_resource_turnover)
# ---------------------------------------------------------------------------------------------------------------

def resources_by_department(w: Window, scope: Scope) -> pd.DataFrame:
    """Department rows of the window's last month (holdings are a stock) and the window's flows."""
    p = P()
    return fetch(f"""
        with t as (select * from marts.fct_resource_turnover
                   where row_level = 'department' and month >= {p('s', w.start)} and month < {p('e', w.end)}
                   {_in(p, 'department_id', 'd', scope.departments)}),
        last as (select max(month) as m from t)
        select t.department_id, d.department_name,
               max(t.holdings_end) filter (where t.month = last.m) as holdings_end,
               max(t.active_reps) filter (where t.month = last.m) as active_reps,
               max(t.holdings_per_rep) filter (where t.month = last.m) as holdings_per_rep,
               max(t.idle_holdings) filter (where t.month = last.m) as idle_holdings,
               sum(t.assigned)::bigint as assigned, sum(t.claimed)::bigint as claimed,
               sum(t.converted)::bigint as converted,
               sum(t.released)::bigint as released,
               {_ratio('sum(t.converted) + sum(t.released)',
                       '(max(t.holdings_start) filter (where t.month = (select min(month) from t))'
                       ' + max(t.holdings_end) filter (where t.month = last.m)) / 2.0')} as turnover_rate
        from t cross join last left join marts.dim_department d using (department_id)
        group by all order by holdings_per_rep desc nulls last""", p.values)


def resources_by_rep(w: Window, scope: Scope) -> pd.DataFrame:
    p = P()
    return fetch(f"""
        with t as (select * from marts.fct_resource_turnover
                   where row_level = 'user' and month >= {p('s', w.start)} and month < {p('e', w.end)}
                   {_in(p, 'department_id', 'd', scope.departments)}),
        bounds as (select min(month) as m0, max(month) as m1 from t),
        dept as (select department_id, holdings_per_rep from marts.fct_resource_turnover, bounds
                 where row_level = 'department' and month = bounds.m1)
        select t.user_id, u.user_name, t.department_id, d.department_name,
               max(t.holdings_end) filter (where t.month = bounds.m1) as holdings_end,
               max(t.idle_holdings) filter (where t.month = bounds.m1) as idle_holdings,
               sum(t.assigned)::bigint as assigned, sum(t.claimed)::bigint as claimed,
               sum(t.converted)::bigint as converted,
               sum(t.released)::bigint as released,
               {_ratio('sum(t.converted) + sum(t.released)',
                       '(coalesce(max(t.holdings_start) filter (where t.month = bounds.m0), 0)'
                       ' + coalesce(max(t.holdings_end) filter (where t.month = bounds.m1), 0)) / 2.0')}
                   as turnover_rate,
               any_value(dept.holdings_per_rep) as dept_holdings_per_rep
        from t cross join bounds
        left join marts.dim_user u using (user_id)
        left join marts.dim_department d on d.department_id = t.department_id
        left join dept on dept.department_id = t.department_id
        group by all having coalesce(holdings_end, 0) > 0 or sum(t.assigned) > 0
        order by d.department_name, holdings_end desc nulls last""", p.values)


def resources_over_time(scope: Scope, start: date, end: date) -> pd.DataFrame:
    """Monthly company (or selected departments') turnover, idle holdings, releases and claims."""
    p = P()
    rows = (f" and row_level = 'department'{_in(p, 'department_id', 'd', scope.departments)}"
            if scope.departments else " and row_level = 'company'")
    return fetch(f"""
        select month, sum(holdings_start)::bigint as holdings_start, sum(holdings_end)::bigint as holdings_end,
               sum(idle_holdings)::bigint as idle_holdings, sum(assigned)::bigint as assigned,
               sum(claimed)::bigint as claimed,
               sum(converted)::bigint as converted, sum(released)::bigint as released,
               {_ratio('sum(converted) + sum(released)', '(sum(holdings_start) + sum(holdings_end)) / 2.0')}
                   as turnover_rate,
               {_ratio('sum(idle_holdings)', 'sum(holdings_end)')} as idle_share
        from marts.fct_resource_turnover
        where month >= {p('s', start)} and month < {p('e', end)}{rows}
        group by month order by month""", p.values)


# ---------------------------------------------------------------------------------------------------------------
# Lifecycle value
# ---------------------------------------------------------------------------------------------------------------

def _customer_filter(p: P, scope: Scope, end: date) -> str:
    return (f" and v.first_order_date < {p('e', end)}"
            f"{_in(p, 'v.department_id', 'd', scope.departments)}{_in(p, 'v.grade', 'g', scope.grades)}"
            f"{_in(p, 'a.source_channel', 'c', scope.channels)}")


def value_by(dim: str, scope: Scope, end: date) -> pd.DataFrame:
    """Customers (first order before `end`) by grade or source channel: count, LTV, revenue by type. Summed from
    fct_customer_rollup_daily (customers per first-order day × department × grade × source channel)."""
    col = {"grade": "coalesce(grade, '—')", "channel": "coalesce(source_channel, '—')"}[dim]
    p = P()
    return fetch(f"""
        select {col} as key, sum(customers)::bigint as customers, sum(active)::bigint as active,
               sum(churned)::bigint as churned,
               sum(lifetime_value)::double as lifetime_value,
               {_ratio('sum(lifetime_value)', 'sum(valued_customers)')} as avg_lifetime_value,
               sum(revenue_new)::double as revenue_new, sum(revenue_renewal)::double as revenue_renewal,
               sum(revenue_upsell)::double as revenue_upsell, sum(revenue_cross_sell)::double as revenue_cross_sell,
               sum(revenue_service)::double as revenue_service, sum(referral_revenue)::double as referral_revenue
        from marts.fct_customer_rollup_daily
        where first_order_date < {p('e', end)}{_in(p, 'department_id', 'd', scope.departments)}
              {_in(p, 'grade', 'g', scope.grades)}{_in(p, 'source_channel', 'c', scope.channels)}
        group by 1 order by lifetime_value desc""", p.values)


def cohort_retention(start: date, end: date) -> pd.DataFrame:
    p = P()
    return fetch(f"""
        select cohort_month, months_since, month, accounts_in_cohort, accounts_active, logo_retention, mrr,
               mrr_month0, net_revenue_retention, is_partial_month
        from marts.fct_cohort_retention
        where cohort_month >= {p('s', start)} and cohort_month < {p('e', end)}
        order by cohort_month, months_since""", p.values)


def nrr_by_months_since(end: date) -> pd.DataFrame:
    """Pooled NRR(k) over every cohort that has reached month k by `end` (docs/metrics.md#net-revenue-retention)."""
    p = P()
    return fetch(f"""
        select months_since, count(*) as cohorts, sum(mrr) as mrr, sum(mrr_month0) as mrr_month0,
               {_ratio('sum(mrr)', 'sum(mrr_month0)')} as net_revenue_retention,
               {_ratio('sum(accounts_active)', 'sum(accounts_in_cohort)')} as logo_retention
        from marts.fct_cohort_retention
        where month < {p('e', end)} and not is_partial_month
        group by months_since order by months_since""", p.values)


# ---------------------------------------------------------------------------------------------------------------
# Campaigns and ROI
# ---------------------------------------------------------------------------------------------------------------

def campaign_roi(w: Window, scope: Scope, by: str = "campaign") -> pd.DataFrame:
    """fct_campaign_roi summed over the window's months by campaign or channel; unit costs from the sums."""
    keys = {"campaign": "r.campaign_id, c.campaign_name, r.channel", "channel": "r.channel"}[by]
    p = P()
    return fetch(f"""
        with s as (
            select {keys}, sum(r.spend)::double as spend, sum(r.touches)::bigint as touches,
            sum(r.leads)::bigint as leads,
                   sum(r.mql)::bigint as mql, sum(r.sql)::bigint as sql, sum(r.opportunities)::bigint as opportunities,
                   sum(r.won_deals)::bigint as won_deals, sum(r.won_revenue)::double as won_revenue
            from marts.fct_campaign_roi r left join marts.dim_campaign c using (campaign_id)
            where r.month >= {p('s', w.start)} and r.month < {p('e', w.end)}{_in(p, 'r.channel', 'c', scope.channels)}
            group by all)
        select *, {_ratio('spend', 'leads')} as cost_per_lead,
        {_ratio('spend', 'opportunities')} as cost_per_opportunity,
               {_ratio('spend', 'won_deals')} as cac, {_ratio('won_revenue - spend', 'spend')} as roi
        from s order by spend desc nulls last""", p.values)


def campaign_rows(campaign_id: str, start: date, end: date) -> pd.DataFrame:
    """The fct_campaign_roi rows (month × campaign) behind one campaign's totals."""
    p = P()
    return fetch(f"""
        select r.month, r.campaign_id, c.campaign_name, r.channel, r.spend::double as spend, r.impressions, r.clicks,
               r.touches, r.leads, r.mql, r.sql, r.opportunities, r.won_deals, r.won_revenue::double as won_revenue,
               r.cost_per_lead, r.cost_per_opportunity, r.cac, r.roi
        from marts.fct_campaign_roi r left join marts.dim_campaign c using (campaign_id)
        where r.campaign_id = {p('id', campaign_id)} and r.month >= {p('s', start)} and r.month < {p('e', end)}
        order by r.month""", p.values)


def campaign_monthly(scope: Scope, start: date, end: date) -> pd.DataFrame:
    p = P()
    return fetch(f"""
        select month, sum(spend)::double as spend, sum(leads)::bigint as leads,
        sum(opportunities)::bigint as opportunities,
               sum(won_deals)::bigint as won_deals, sum(won_revenue)::double as won_revenue
        from marts.fct_campaign_roi
        where month >= {p('s', start)} and month < {p('e', end)}{_in(p, 'channel', 'c', scope.channels)}
        group by month order by month""", p.values)


# ---------------------------------------------------------------------------------------------------------------
# Reps
# ---------------------------------------------------------------------------------------------------------------

def rep_performance(w: Window, scope: Scope) -> pd.DataFrame:
    """fct_rep_performance summed over the window's months per rep; rates from the sums."""
    p = P()
    return fetch(f"""
        select r.user_id, any_value(r.user_name) as user_name, any_value(r.role) as role, r.department_id,
               any_value(d.department_name) as department_name,
               sum(r.calls)::bigint as calls, sum(r.visits)::bigint as visits, sum(r.emails)::bigint as emails,
               sum(r.wechats)::bigint as wechats,
               sum(r.meetings)::bigint as meetings, sum(r.demos)::bigint as demos,
               sum(r.proposals)::bigint as proposals,
               sum(r.activities_total)::bigint as activities_total,
               sum(r.opportunities_created)::bigint as opportunities_created,
               sum(r.won_deals)::bigint as won_deals, sum(r.won_revenue)::double as won_revenue,
               sum(r.lost_deals)::bigint as lost_deals,
               {_ratio('sum(r.won_deals)', 'sum(r.closed_count)')} as win_rate,
               {_ratio('sum(r.avg_cycle_days_won * r.won_deals)',
                       'sum(r.won_deals) filter (where r.avg_cycle_days_won is not null)')}
                   as avg_cycle_days_won,
               sum(r.leads_assigned)::bigint as leads_assigned, sum(r.sla_met)::bigint as sla_met,
               sum(r.sla_calc_count)::bigint as sla_calc_count,
               {_ratio('sum(r.sla_met)', 'sum(r.sla_calc_count)')} as sla_compliance
        from marts.fct_rep_performance r left join marts.dim_department d using (department_id)
        where r.month >= {p('s', w.start)} and r.month < {p('e', w.end)}
              and r.role in ('sales', 'sdr', 'manager', 'presales')
              {_in(p, 'r.department_id', 'd', scope.departments)}
        group by r.user_id, r.department_id
        having sum(r.activities_total) + sum(r.opportunities_created) + sum(r.won_deals) + sum(r.leads_assigned) > 0
        order by won_revenue desc, user_id""", p.values)


# ---------------------------------------------------------------------------------------------------------------
# Service
# ---------------------------------------------------------------------------------------------------------------

def _service_filter(p: P, scope: Scope) -> str:
    return f"{_in(p, 'department_id', 'd', scope.departments)}{_in(p, 'grade', 'g', scope.grades)}"


def service_monthly(scope: Scope, start: date, end: date) -> pd.DataFrame:
    p = P()
    return fetch(f"""
        select month, sum(tickets_opened)::bigint as tickets_opened, sum(tickets_resolved)::bigint as tickets_resolved,
               {_ratio('sum(resolution_hours_total)', 'sum(tickets_resolved)')} as mean_resolution_hours,
               {_ratio('sum(csat_total)', 'sum(csat_count)')} as csat_avg, sum(csat_count)::bigint as csat_count
        from marts.fct_service
        where month >= {p('s', start)} and month < {p('e', end)}{_service_filter(p, scope)}
        group by month order by month""", p.values)


def service_by_grade(w: Window, scope: Scope) -> pd.DataFrame:
    p = P()
    return fetch(f"""
        select coalesce(grade, '—') as grade, count(distinct account_id) as accounts,
               sum(tickets_opened)::bigint as tickets_opened, sum(tickets_resolved)::bigint as tickets_resolved,
               {_ratio('sum(resolution_hours_total)', 'sum(tickets_resolved)')} as mean_resolution_hours,
               {_ratio('sum(csat_total)', 'sum(csat_count)')} as csat_avg, sum(csat_count)::bigint as csat_count
        from marts.fct_service
        where month >= {p('s', w.start)} and month < {p('e', w.end)}{_service_filter(p, scope)}
        group by 1 order by 1""", p.values)


# ---------------------------------------------------------------------------------------------------------------
# Identity: the customer journey, the identity audit, duplicate leads (docs/metrics.md "Identity (OneID)")
#
# Orders, tickets and contents have no mart at row grain: the journey and the Content page read them from the
# staging models (`stg_service__orders`, `stg_service__tickets`, `stg_campaign__contents`). Staging is invisible
# to a viewer limited to some departments (no rule in SCOPED_RELATIONS), so those parts say "not in your view".
# Identifier values come back in the long form (`column_name` = the identifier's type, `value`), the form
# `mask_frame` masks whole by type, so an e-mail or phone of any shape is masked for viewers without `see_pii`.
# ---------------------------------------------------------------------------------------------------------------

JOURNEY_KEYS = ("person", "lead", "opportunity", "account")
_PHONE_SEARCH = re.compile(r"[0-9０-９+\-\s()]{7,}")


def _person_of_lead(lead_id: str) -> str | None:
    p = P()
    df = fetch(f"select person_id from marts.fct_leads where lead_id = {p('id', lead_id)}", p.values)
    return df.person_id.iloc[0] if len(df) and isinstance(df.person_id.iloc[0], str) else None


@row_level
def account_persons(account_id: str) -> pd.DataFrame:
    """The persons of an account (dim_person.account_id), the earliest seen first."""
    p = P()
    return fetch(f"""
        select person_id, first_seen_at, last_seen_at, lead_count, first_lead_id
        from marts.dim_person where account_id = {p('a', account_id)}
        order by first_seen_at, person_id""", p.values)


def resolve_person(kind: str, value: str) -> str | None:
    """The person a journey link names: a person id; a lead's person; an opportunity's source lead's person, else
    its account's earliest-seen person; an account's earliest-seen person."""
    value = (value or "").strip()
    if kind not in JOURNEY_KEYS or not value:
        return None
    p = P()
    if kind == "person":
        df = fetch(f"select person_id from marts.dim_person where person_id = {p('id', value)}", p.values)
        return value if len(df) else None
    if kind == "lead":
        return _person_of_lead(value)
    if kind == "opportunity":
        df = fetch(f"""select source_lead_id, account_id from marts.fct_opportunities
                       where opportunity_id = {p('id', value)}""", p.values)
        if df.empty:
            return None
        lead, account = df.source_lead_id.iloc[0], df.account_id.iloc[0]
        found = _person_of_lead(lead) if isinstance(lead, str) else None
        if found or not isinstance(account, str):
            return found
        value = account
    persons = account_persons(value)
    return persons.person_id.iloc[0] if len(persons) else None


def search_person(text: str) -> str | None:
    """A person from what was typed in the journey's search box: a person id, a lead id, an opportunity or
    account id — and an e-mail or phone for viewers who may see contact details (for anyone else such a search
    would tell whether a number is known, so it finds nothing)."""
    text = (text or "").strip()
    if not text:
        return None
    for kind in JOURNEY_KEYS:
        found = resolve_person(kind, text)
        if found:
            return found
    if not current_access().see_pii:
        return None
    from dashboards.pii import fold, normalised_phone

    folded = fold(text)
    if "@" in folded:
        kind, value = "email", folded.strip().lower()
    elif _PHONE_SEARCH.fullmatch(folded) and normalised_phone(text):
        kind, value = "phone", normalised_phone(text)
    else:
        return None
    p = P()
    df = fetch(f"""select person_id from marts.bridge_person_identifier
                   where identifier_type = {p('t', kind)} and identifier_value = {p('v', value)}""", p.values)
    return df.person_id.iloc[0] if len(df) else None


@row_level
def person(person_id: str) -> pd.DataFrame:
    """One dim_person row, with the account's name."""
    p = P()
    return fetch(f"""
        select p.*, a.account_name
        from marts.dim_person p left join marts.dim_account a using (account_id)
        where p.person_id = {p('id', person_id)}""", p.values)


@row_level
def person_identifiers(person_id: str) -> pd.DataFrame:
    """The person's identifiers (bridge_person_identifier), long form: column_name = type, value."""
    p = P()
    return fetch(f"""
        select identifier_type as column_name, identifier_value as value, first_seen_at, last_seen_at, records
        from marts.bridge_person_identifier where person_id = {p('id', person_id)}
        order by identifier_type, first_seen_at, identifier_value""", p.values)


@row_level
def journey_events(person_id: str) -> pd.DataFrame:
    """The person's touches, leads and opportunities (of their leads, and of their account), one row per event:
    kind, event_at, id, channel, what, status, amount, campaign, content."""
    p = P()
    pid = p("id", person_id)
    return fetch(f"""
        with person as (select person_id, account_id from marts.dim_person where person_id = {pid}),
        leads as (select * from marts.fct_leads where person_id = {pid}),
        opps as (
            select * from marts.fct_opportunities
            where source_lead_id in (select lead_id from leads)
               or account_id in (select account_id from person where account_id is not null)),
        events as (
            select 'touch' as kind, t.touched_at as event_at, t.touch_id as id, t.channel, t.touch_type as what,
                   null as status, null::double as amount, cp.campaign_name, t.content_id, t.lead_id
            from marts.fct_touches t left join marts.dim_campaign cp using (campaign_id)
            where t.person_id = {pid}
            union all
            select 'lead', l.created_at, l.lead_id, l.channel,
                   case when l.is_duplicate then 'duplicate_of ' || l.duplicate_of_lead_id end,
                   l.final_status, null, cp.campaign_name, null, l.lead_id
            from leads l left join marts.dim_campaign cp using (campaign_id)
            union all
            select 'opportunity', o.created_at, o.opportunity_id, o.channel, o.opportunity_name, o.status,
                   o.amount::double, null, null, o.source_lead_id
            from opps o
            union all
            select 'opportunity_closed', o.closed_at, o.opportunity_id, o.channel, o.opportunity_name, o.status,
                   o.amount::double, null, null, o.source_lead_id
            from opps o where o.is_closed and o.closed_at is not null)
        select * from events where event_at is not null order by event_at, kind, id""", p.values)


@row_level
def account_events(account_id: str) -> pd.DataFrame:
    """The orders and tickets of an account (staging: no mart holds them at row grain)."""
    p = P()
    a = p("a", account_id)
    return fetch(f"""
        select 'order' as kind, order_date::timestamp as event_at, order_id as id, null as channel, order_type as what,
               null as status, amount::double as amount
        from staging.stg_service__orders where account_id = {a}
        union all
        select 'ticket', opened_at, ticket_id, channel, category,
               case when resolved_at is null then 'open' else 'resolved' end, null
        from staging.stg_service__tickets where account_id = {a}
        order by event_at, kind, id""", p.values)


TOP_PERSONS = 100  # the rows fct_top_persons keeps


@row_level
def top_persons(limit: int = 20) -> pd.DataFrame:
    """The persons with the most leads (then the most identifiers): where duplicates and merges pile up. Ranked
    once per build in fct_top_persons (the first TOP_PERSONS)."""
    if not 0 < limit <= TOP_PERSONS:
        raise ValueError(f"top_persons: limit must be 1 to {TOP_PERSONS}")
    return fetch(f"""
        select person_id, lead_count, first_lead_id, first_seen_at, last_seen_at, account_id, account_name,
               is_customer, identifiers
        from marts.fct_top_persons
        where person_rank <= {int(limit)}
        order by person_rank""")


@row_level
def identity_audit() -> pd.DataFrame:
    """fct_identity_audit: blocked and quarantined values (long form: column_name = type, value), most people
    first."""
    return fetch("""
        select identifier_type as column_name, identifier_value as value, action, reason, persons_it_would_join,
               records, first_seen_at, last_seen_at
        from marts.fct_identity_audit
        order by persons_it_would_join desc, records desc, identifier_type, identifier_value""")


def identity_summary() -> pd.DataFrame:
    """One row: persons, persons with several leads, leads, duplicate leads and their share, blocked and
    quarantined values."""
    return fetch(f"""
        with l as (select count(*) as leads, count(*) filter (where is_duplicate) as duplicate_leads
                   from marts.fct_leads)
        select (select count(*) from marts.dim_person) as persons,
               (select count(*) from marts.dim_person where lead_count > 1) as persons_with_several_leads,
               l.leads, l.duplicate_leads, {_ratio('l.duplicate_leads', 'l.leads')} as duplicate_share,
               (select count(*) from marts.fct_identity_audit where action = 'blocked') as blocked_values,
               (select count(*) from marts.fct_identity_audit where action = 'quarantined') as quarantined_values
        from l""")


def duplicates_by_channel(w: Window, scope: Scope) -> pd.DataFrame:
    """Leads created in the window per channel: how many are duplicates (docs/metrics.md#duplicate-leads)."""
    p = P()
    return fetch(f"""
        select channel, sum(created)::bigint as leads, sum(created_duplicates)::bigint as duplicates,
               {_ratio('sum(created_duplicates)', 'sum(created)')} as duplicate_share
        from marts.fct_lead_rollup_daily
        where day >= {p('s', w.start)} and day < {p('e', w.end)}
              {_in(p, 'department_id', 'd', scope.departments)}{_in(p, 'channel', 'c', scope.channels)}
        group by channel having sum(created) > 0
        order by duplicate_share desc nulls last, leads desc""", p.values)


# ---------------------------------------------------------------------------------------------------------------
# Attribution (docs/metrics.md "Attribution"): channels and contents credited per model. Company-wide marts (a
# conversion's path crosses departments), like fct_campaign_roi: invisible to a viewer limited to some departments.
# ---------------------------------------------------------------------------------------------------------------

CONVERSION_TYPES = ("lead", "opportunity", "won")


def channel_attribution(w: Window, scope: Scope) -> pd.DataFrame:
    """fct_channel_attribution summed over the window's months: channel × conversion type × model, with cost per
    credited conversion and (won rows) ROI from the sums."""
    p = P()
    return fetch(f"""
        with s as (
            select channel, conversion_type, model, sum(conversions_credited)::double as conversions,
                   sum(revenue_credited)::double as revenue, sum(spend)::double as spend
            from marts.fct_channel_attribution
            where month >= {p('s', w.start)} and month < {p('e', w.end)}{_in(p, 'channel', 'c', scope.channels)}
            group by channel, conversion_type, model)
        select *, {_ratio('spend', 'conversions')} as cost_per_conversion,
               case when conversion_type = 'won' then {_ratio('coalesce(revenue, 0) - spend', 'spend')} end as roi
        from s order by conversion_type, model, conversions desc, channel""", p.values)


CONTENT_MODELS = ("first_touch", "last_touch", "linear", "time_decay", "position_based", "w_shaped", "markov",
                  "shapley")


def content_performance(w: Window, model: str = "last_touch") -> pd.DataFrame:
    """fct_content_performance summed over the window's months per content, with the credit of one model.
    Persons reached are counted again over the whole window from fct_touches (distinct persons do not add up
    across months)."""
    if model not in CONTENT_MODELS:
        raise ValueError(f"unknown attribution model {model}")
    p = P()
    s, e = p("s", w.start), p("e", w.end)
    return fetch(f"""
        with perf as (
            select content_id, any_value(title) as title, any_value(content_type) as content_type,
                   any_value(campaign_id) as campaign_id, sum(touches)::bigint as touches,
                   sum(leads_influenced)::bigint as leads_influenced,
                   sum(opportunities_influenced)::bigint as opportunities_influenced,
                   sum(wins_influenced)::bigint as wins_influenced,
                   sum(revenue_influenced)::double as revenue_influenced,
                   sum(credited_opportunities_{model})::double as credited_opportunities,
                   sum(credited_revenue_{model})::double as credited_revenue
            from marts.fct_content_performance
            where month >= {s} and month < {e}
            group by content_id),
        reached as (
            select content_id, count(distinct person_id) as persons_reached
            from marts.fct_touches
            where content_id is not null and touched_at >= {s} and touched_at < {e}
            group by content_id)
        select perf.*, coalesce(reached.persons_reached, 0)::bigint as persons_reached,
               {_ratio('perf.opportunities_influenced', 'reached.persons_reached')} as opportunities_per_person,
               cp.campaign_name
        from perf left join reached using (content_id)
        left join marts.dim_campaign cp on cp.campaign_id = perf.campaign_id
        order by credited_opportunities desc nulls last, opportunities_influenced desc, touches desc, content_id""",
                 p.values)


def content_by_type(w: Window) -> pd.DataFrame:
    """Touches, persons reached and conversions influenced per content type (whitepaper, webinar, case …), and
    credited opportunities per model (long: one row per type × model)."""
    p = P()
    s, e = p("s", w.start), p("e", w.end)
    credited = " union all ".join(
        f"select content_type, '{m}' as model, sum(credited_opportunities_{m})::double as credited_opportunities, "
        f"sum(credited_revenue_{m})::double as credited_revenue from perf group by content_type"
        for m in CONTENT_MODELS)
    return fetch(f"""
        with perf as (select * from marts.fct_content_performance where month >= {s} and month < {e}),
        totals as (
            select content_type, count(distinct content_id) as contents, sum(touches)::bigint as touches,
                   sum(opportunities_influenced)::bigint as opportunities_influenced,
                   sum(wins_influenced)::bigint as wins_influenced
            from perf group by content_type),
        credit as ({credited})
        select credit.content_type, credit.model, credit.credited_opportunities, credit.credited_revenue,
               totals.contents, totals.touches, totals.opportunities_influenced, totals.wins_influenced
        from credit join totals using (content_type)
        order by credit.content_type, credit.model""", p.values)
# ---------------------------------------------------------------- forecast (fct_forecast*)
# Department rows of the selected departments; the company row (department_id null) only when no department is
# selected (a department head never sees it: the scoped view has no null-department rows).


def forecast_periods(scope: Scope, period: str) -> pd.DataFrame:
    p = P()
    company = "f.department_id is null" if not scope.departments else "false"
    return fetch(f"""
        select f.period, f.period_label, f.period_start, f.period_end, f.department_id,
               coalesce(d.department_name, f.department_id) as department_name, f.department_id is null as is_company,
               f.won_to_date::double as won_to_date, f.expected_bookings, f.p10, f.p50, f.p90,
               f.expected_open_bookings, f.open_pipeline, f.open_deals, f.target_amount, f.coverage, f.as_of
        from marts.fct_forecast_periods f
        left join marts.dim_department d on d.department_id = f.department_id
        where f.period = {p('period', period)}
          and ({company} or (f.department_id is not null{_in(p, 'f.department_id', 'd', scope.departments)}))
        order by f.department_id is not null, f.expected_bookings desc""", p.values)


@row_level
def forecast_top_deals(scope: Scope, limit: int = 20) -> pd.DataFrame:
    """The open deals that move this quarter's expected bookings most: amount x P(won this quarter)."""
    p = P()
    return fetch(f"""
        select f.opportunity_id, o.opportunity_name, coalesce(d.department_name, f.department_id) as department_name,
               f.stage_name, f.days_in_stage, f.amount, f.p_win, f.p_win_in_period, f.expected_amount_in_period,
               f.expected_close_month, f.estimate_level
        from marts.fct_forecast f
        left join marts.fct_opportunities o on o.opportunity_id = f.opportunity_id
        left join marts.dim_department d on d.department_id = f.department_id
        where true{_in(p, 'f.department_id', 'd', scope.departments)}
        order by f.expected_amount_in_period desc, f.opportunity_id
        limit {p('limit', int(limit))}""", p.values)


def forecast_backtest(scope: Scope) -> pd.DataFrame:
    """Per method: Brier score pooled over every scored month end (weighted by deals), predicted and actual
    bookings; the company rows without a department filter, else the selected departments' rows."""
    p = P()
    rows = ("department_id is null" if not scope.departments
            else f"department_id is not null{_in(p, 'department_id', 'd', scope.departments)}")
    return fetch(f"""
        select method, sum(deals)::bigint as deals,
               {_ratio('sum(brier_score * deals)', 'sum(deals)')} as brier_score,
               sum(predicted_bookings) as predicted_bookings, sum(actual_bookings) as actual_bookings,
               count(distinct as_of)::bigint as month_ends, min(month_end) as first_month_end,
               max(month_end) as last_month_end, max(horizon_days) as horizon_days
        from marts.fct_forecast_backtest
        where {rows}
        group by method
        order by case method when 'model' then 1 when 'closed_only' then 2 else 3 end""", p.values)


def forecast_reliability() -> pd.DataFrame:
    return fetch("""
        select method, bin, bin_low::double as bin_low, bin_high::double as bin_high, n, predicted_mean, observed_rate
        from marts.fct_forecast_reliability
        order by method, bin""")


# ---------------------------------------------------------------------------------------------------------------
# Follow-ups (fct_followups, fct_followup_timeliness, fct_feedback_reasons)
# ---------------------------------------------------------------------------------------------------------------


def _followup_filter(p: P, scope: Scope) -> str:
    return _in(p, "f.department_id", "d", scope.departments)


@row_level
def followup_items(scope: Scope, statuses: tuple[str, ...] = ("overdue", "due"), limit: int = 5000) -> pd.DataFrame:
    """The open follow-ups to act on, most urgent first (overdue before due), then the most valuable (the lost deal's
    amount, else the account's lifetime value), then the longest past due."""
    p = P()
    # Cut to `limit` before the names are joined, and valued by columns fct_followups keeps (the deal's amount and
    # the account's value, each nulled for a department head when it is another department's): joining every open
    # follow-up to its deal and account value took seconds at 10M leads (issue 17).
    value = "coalesce(f.deal_amount, f.account_lifetime_value)"
    order = ("case f.status when 'overdue' then 0 when 'due' then 1 else 2 end, coalesce({value}, 0) desc, "
             "f.due_at, f.followup_id")
    return fetch(f"""
        with f as (
            -- only the columns shown: every column carried through the sort costs (f.* took ~15% more)
            select f.followup_id, f.status, f.due_at, f.feedback_at, f.reason, f.category, f.next_action,
                   f.entity_type, f.entity_id, f.owner_user_id, f.department_id, f.account_id, {value} as value
            from marts.fct_followups f
            where list_contains({p('st', tuple(statuses))}, f.status){_followup_filter(p, scope)}
            order by {order.format(value=value)}
            limit {int(limit)})
        select f.followup_id, f.status, f.due_at, f.feedback_at, f.reason, f.category, f.next_action,
               f.entity_type, f.entity_id, f.owner_user_id, coalesce(u.user_name, f.owner_user_id) as owner_name,
               f.department_id, coalesce(d.department_name, f.department_id) as department_name,
               f.account_id, a.account_name, f.value,
               date_diff('day', f.due_at, (select as_of_at from intermediate.int_as_of)) as days_past_due
        from f
        left join marts.dim_user u on u.user_id = f.owner_user_id
        left join marts.dim_department d on d.department_id = f.department_id
        left join marts.dim_account a on a.account_id = f.account_id
        order by {order.format(value='f.value')}""", p.values)


def followup_by_owner(scope: Scope) -> pd.DataFrame:
    """Follow-ups per owner: overdue, due, upcoming, done (summed from fct_followup_rollup)."""
    p = P()
    return fetch(f"""
        select f.owner_user_id, coalesce(u.user_name, f.owner_user_id) as owner_name,
               coalesce(d.department_name, f.department_id) as department_name,
               coalesce(sum(f.followups) filter (where f.status = 'overdue'), 0)::bigint as overdue,
               coalesce(sum(f.followups) filter (where f.status = 'due'), 0)::bigint as due,
               coalesce(sum(f.followups) filter (where f.status = 'upcoming'), 0)::bigint as upcoming,
               coalesce(sum(f.followups) filter (where f.status = 'done'), 0)::bigint as done
        from marts.fct_followup_rollup f
        left join marts.dim_user u on u.user_id = f.owner_user_id
        left join marts.dim_department d on d.department_id = f.department_id
        where true{_followup_filter(p, scope)}
        group by all order by overdue desc, due desc, owner_name""", p.values)


def followup_timeliness(scope: Scope) -> pd.DataFrame:
    """Share done on time per department against the rest of the company (fct_followup_timeliness)."""
    p = P()
    return fetch(f"""
        select f.department_id, coalesce(d.department_name, f.department_id) as department_name,
               f.is_all_departments, f.followups, f.on_time_calc, f.done_on_time, f.on_time_share, f.ci_low,
               f.ci_high, f.rest_on_time_share, f.significance
        from marts.fct_followup_timeliness f
        left join marts.dim_department d on d.department_id = f.department_id
        where (f.is_all_departments{' and false' if scope.departments else ''}
               or (not f.is_all_departments{_followup_filter(p, scope)}))
        order by f.is_all_departments desc, f.on_time_share desc nulls last""", p.values)


def followup_earned(scope: Scope) -> pd.DataFrame:
    """What following up earned, by reason: follow-ups, recovered (the person or account came back with an
    opportunity), of those won, and their won revenue (summed from fct_followup_rollup)."""
    p = P()
    return fetch(f"""
        select f.reason, any_value(f.category) as category, sum(f.followups)::bigint as followups,
               coalesce(sum(f.followups) filter (where f.status = 'done'), 0)::bigint as done,
               sum(f.recovered)::bigint as recovered, sum(f.recovered_won)::bigint as recovered_won,
               coalesce(sum(f.recovered_revenue), 0) as recovered_revenue
        from marts.fct_followup_rollup f
        where true{_followup_filter(p, scope)}
        group by f.reason order by recovered_revenue desc, f.reason""", p.values)


def feedback_unmatched() -> pd.DataFrame:
    """Feedback texts no seed reason or alias matched (`other`): what to add to the lead_feedback_reasons seed."""
    return fetch("""
        select feedback_text, normalised_text, feedbacks, lead_feedbacks, opportunity_feedbacks, first_given_at,
               last_given_at
        from marts.fct_feedback_reasons where is_unmatched order by feedbacks desc, feedback_text""")
# Customers who buy again without a subscription (Lifecycle value page)
# ---------------------------------------------------------------------------------------------------------------

# bands of predicted 12-month value (currency) for its distribution: band i holds VALUE_BANDS[i] <= value <
# VALUE_BANDS[i + 1]. One definition: the dbt var fct_customer_predicted_rollup bands by.
VALUE_BANDS = tuple(project_vars()["predicted_value_band_amounts"])


def retention_by_rule(end: date) -> pd.DataFrame:
    """Pooled retention per months since over every cohort that has completed month k by `end`, each figure by its
    rule (docs/metrics.md#retention-rule): NRR and logo retention (subscriptions), order-window retention and
    revenue retention (accounts without a subscription)."""
    p = P()
    return fetch(f"""
        select months_since, count(*) as cohorts,
               sum(order_window_accounts)::bigint as order_window_accounts,
               {_ratio('sum(order_window_active)', 'sum(order_window_accounts)')} as order_window_retention,
               {_ratio('sum(order_window_revenue)', 'sum(order_window_revenue_month0)')} as revenue_retention,
               {_ratio('sum(mrr)', 'sum(mrr_month0)')} as net_revenue_retention,
               {_ratio('sum(accounts_active)', 'sum(accounts_in_cohort)')} as logo_retention
        from marts.fct_cohort_retention
        where month < {p('e', end)} and not is_partial_month
        group by months_since order by months_since""", p.values)


def _predicted_filter(p: P, scope: Scope) -> str:
    return f"{_in(p, 'department_id', 'd', scope.departments)}{_in(p, 'grade', 'g', scope.grades)}"


def predicted_value_summary(scope: Scope) -> pd.DataFrame:
    """One row: accounts without a subscription, their predicted 12-month value and orders, mean p_alive (summed
    from fct_customer_predicted_rollup)."""
    p = P()
    return fetch(f"""
        select max(as_of_date) as as_of_date, coalesce(sum(accounts), 0)::bigint as accounts,
               sum(predicted_value_12m)::double as predicted_value_12m,
               sum(expected_orders_12m)::double as expected_orders_12m,
               {_ratio('sum(p_alive_sum)', 'sum(p_alive_count)')} as p_alive
        from marts.fct_customer_predicted_rollup
        where true{_predicted_filter(p, scope)}""", p.values)


def predicted_value_bands(scope: Scope) -> pd.DataFrame:
    """Accounts and predicted value per band of predicted 12-month value (band = index into VALUE_BANDS)."""
    p = P()
    return fetch(f"""
        select value_band as band, sum(accounts)::bigint as accounts,
               sum(predicted_value_12m)::double as predicted_value_12m
        from marts.fct_customer_predicted_rollup
        where true{_predicted_filter(p, scope)}
        group by 1 order by 1""", p.values)


@row_level
def top_predicted_accounts(scope: Scope, limit: int = 20) -> pd.DataFrame:
    """The accounts with the largest predicted 12-month value."""
    p = P()
    # The top accounts are taken before the account names are joined: joining every account first cost ~0.1 s at
    # 380k accounts (issue 17).
    return fetch(f"""
        with v as (
            select * from marts.fct_customer_predicted_value
            where true{_in(p, 'department_id', 'd', scope.departments)}{_in(p, 'grade', 'g', scope.grades)}
            order by predicted_value_12m desc, account_id limit {p('n', limit)})
        select v.account_id, a.account_name, v.grade, v.frequency, v.expected_orders_12m,
               v.expected_avg_order_value, v.predicted_value_12m, v.p_alive
        from v left join marts.dim_account a using (account_id)
        order by v.predicted_value_12m desc, v.account_id""", p.values)


def value_backtest() -> pd.DataFrame:
    """The repeat-purchase backtest by decile of predicted orders (1 = lowest), with the fit's split."""
    return fetch("""
        select decile, fitted_to, as_of_date, accounts, predicted_orders, actual_orders, predicted_revenue,
               actual_revenue
        from marts.fct_customer_value_backtest_deciles order by decile""")
