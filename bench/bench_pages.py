"""Server time of every dashboard page (a benchmark, not a test).

Runs each page headless with Streamlit's AppTest against a warehouse and reports the script-run time:
"cold" with the query cache emptied first (what the first viewer after a build waits for), "warm" with the cache
filled (every later viewer, filter changes that were seen before). Target: ≤ 1 s per page at scale 10.

With `--loads N` (issue 6) each page is loaded N times cold and the report is p50/p95 of two figures per load: the
page's query time (every DuckDB query the load ran, summed: dashboards.queries.QUERY_TIMINGS) and the whole
script run. Target: query p95 ≤ 300 ms at scale 100.

    .venv/bin/python bench/bench_pages.py --warehouse data/warehouse.duckdb [--runs 3] [--markdown]
    .venv/bin/python bench/bench_pages.py --warehouse data/warehouse.duckdb --loads 20 --json
    .venv/bin/python bench/bench_pages.py --warehouse data/warehouse.duckdb --loads 3 --per-query --pages overview
"""

from __future__ import annotations

import argparse
import ast
import json
import logging
import math
import os
import platform
import re
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))



def app_views() -> list[str]:
    """Every page of the app, in its menu order: the view files named by dashboards/app.py's PAGES (read, not
    imported: importing the app would run it), so a new page is benchmarked without being listed here too."""
    tree = ast.parse((REPO / "dashboards" / "app.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "PAGES" for t in node.targets):
            return [Path(ast.literal_eval(entry)[2]).stem for entry in node.value.elts]
    raise SystemExit("dashboards/app.py: no PAGES list")


VIEWS = app_views()


def machine() -> str:
    import duckdb
    import streamlit

    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        cpu = platform.processor()
    mem = ""
    try:
        kb = int(next(x for x in Path("/proc/meminfo").read_text().splitlines() if x.startswith("MemTotal")).split()[1])
        mem = f", {kb / 1024 / 1024:.0f} GiB"
    except (OSError, StopIteration, ValueError):
        pass
    return (f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores ({cpu}){mem}; Python "
            f"{platform.python_version()}, streamlit {streamlit.__version__}, duckdb {duckdb.__version__}")


def scale_of(warehouse: Path) -> str:
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        leads = con.execute("select count(*) from marts.fct_leads").fetchall()[0][0]
        opps = con.execute("select count(*) from marts.fct_opportunities").fetchall()[0][0]
    finally:
        con.close()
    return f"{leads:,} leads, {opps:,} opportunities (scale ≈ {leads / 10_000:g})"


def run_page(view: str, params: dict, clear: bool) -> float:
    return timed_load(view, params, clear)[0]


def timed_load(view: str, params: dict, clear: bool) -> tuple[float, float, int]:
    """(script seconds, query seconds, queries) of one load of `view`."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from dashboards import queries

    at = AppTest.from_file(str(REPO / "dashboards" / "app.py"), default_timeout=300)
    for k, v in params.items():
        at.query_params[k] = v
    at.run()  # the frame, landing on the overview
    if view != "overview":
        at.switch_page(f"views/{view}.py")
    if clear:
        st.cache_data.clear()
    queries.QUERY_TIMINGS = []
    if queries.QUERY_LOG is not None:  # --per-query: this page's statements, not the frame's first landing
        queries.QUERY_LOG = []
    started = time.perf_counter()
    try:
        at.run()
        took = time.perf_counter() - started
        spent = queries.QUERY_TIMINGS
    finally:
        queries.QUERY_TIMINGS = None
    if at.exception:
        raise RuntimeError(f"{view}: {at.exception[0].value}")
    return took, sum(spent), len(spent)


RELATION = re.compile(r"\bmarts\.\"?(\w+)")


def per_query(views: list[str], params: dict, loads: int, warehouse: Path) -> list[dict]:
    """Every query of every page over `loads` cold loads: its median seconds and the marts it reads, with their
    row counts in this warehouse (what a query scans at most: the basis for estimating another scale)."""
    import duckdb

    from dashboards import queries

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        rows = dict(con.execute("select table_name, estimated_size from duckdb_tables() where schema_name = 'marts'"
                                ).fetchall())
    finally:
        con.close()
    out = []
    for view in views:
        seen: dict[str, list[float]] = {}
        for _ in range(loads):
            queries.QUERY_LOG = []
            try:
                timed_load(view, params, clear=True)
                for sql, took in queries.QUERY_LOG:
                    seen.setdefault(sql, []).append(took)
            finally:
                queries.QUERY_LOG = None
        for sql, times in seen.items():
            marts = sorted(set(RELATION.findall(sql)))
            out.append({"page": view, "median_s": round(statistics.median(times), 4), "marts": marts,
                        "rows_read_at_most": sum(rows.get(m, 0) for m in marts),
                        "sql": " ".join(sql.split())[:120]})
    return out


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0–100), nearest rank: p95 of 20 loads is the 19th slowest."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def load_percentiles(views: list[str], params: dict, loads: int) -> dict:
    """p50/p95 of query and script seconds over `loads` cold loads of every page."""
    out = {}
    for view in views:
        runs = [timed_load(view, params, clear=True) for _ in range(loads)]
        script, query = [r[0] for r in runs], [r[1] for r in runs]
        out[view] = {"loads": loads, "queries": runs[-1][2],
                     "query_p50_s": round(percentile(query, 50), 4), "query_p95_s": round(percentile(query, 95), 4),
                     "script_p50_s": round(percentile(script, 50), 4),
                     "script_p95_s": round(percentile(script, 95), 4)}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--warehouse", required=True, type=Path)
    ap.add_argument("--runs", type=int, default=3, help="runs per page and mode (median reported)")
    ap.add_argument("--pages", nargs="*", default=VIEWS)
    ap.add_argument("--lang", default="zh", choices=["zh", "en"])
    ap.add_argument("--grain", default=None, help="period type label as in the URL, e.g. 季度 or Quarter")
    ap.add_argument("--markdown", action="store_true", help="print a Markdown table for docs/benchmarks.md")
    ap.add_argument("--loads", type=int, default=0,
                    help="instead: N cold loads per page, p50/p95 of query time and script time")
    ap.add_argument("--json", action="store_true", help="with --loads: print one JSON object")
    ap.add_argument("--per-query", action="store_true",
                    help="with --loads: each query's median time and the marts it reads with their row counts")
    ap.add_argument("--slow-ms", type=float, default=None,
                    help="log every query slower than this (to stderr, with its SQL): which query makes a page slow")
    args = ap.parse_args(argv)

    os.environ["CLOSEDLOOP_WAREHOUSE"] = str(args.warehouse.resolve())
    logging.getLogger("streamlit").setLevel(logging.ERROR)
    if args.slow_ms is not None:
        from dashboards import queries

        queries.SLOW_QUERY_SECONDS = args.slow_ms / 1000
    params = {"lang": "English"} if args.lang == "en" else {}
    if args.grain:
        params["grain"] = args.grain

    if args.loads and args.per_query:
        for r in per_query(args.pages, params, args.loads, args.warehouse):
            print(json.dumps(r, ensure_ascii=False) if args.json else
                  f"{r['page']:<10} {r['median_s'] * 1000:7.1f} ms  {r['rows_read_at_most']:>11,} rows  "
                  f"{','.join(r['marts'])}  {r['sql'][:60]}")
        return 0
    if args.loads:
        result = load_percentiles(args.pages, params, args.loads)
        if args.json:
            print(json.dumps(result))
        else:
            for view, r in result.items():
                print(f"{view:<10} query p50 {r['query_p50_s'] * 1000:6.0f} ms  p95 {r['query_p95_s'] * 1000:6.0f} ms"
                      f"   script p50 {r['script_p50_s']:.2f} s  p95 {r['script_p95_s']:.2f} s"
                      f"  ({r['queries']} queries)")
        return 0
    print(f"# {machine()}")
    print(f"# warehouse {args.warehouse} — {scale_of(args.warehouse)}")
    rows = []
    for view in args.pages:
        cold = [run_page(view, params, clear=True) for _ in range(args.runs)]
        warm = [run_page(view, params, clear=False) for _ in range(args.runs)]
        rows.append((view, statistics.median(cold), max(cold), statistics.median(warm)))
        print(f"{view:<10} cold median {rows[-1][1]:6.3f} s (max {rows[-1][2]:.3f})   warm median {rows[-1][3]:6.3f} s",
              flush=True)
    if args.markdown:
        print("\n| page | cold (median) | cold (max) | warm (median) |\n|---|---:|---:|---:|")
        for view, c, m, w in rows:
            print(f"| {view} | {c:.2f} s | {m:.2f} s | {w:.2f} s |")
    worst = max(r[1] for r in rows)
    print(f"# slowest cold page: {worst:.2f} s (target ≤ 1 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
