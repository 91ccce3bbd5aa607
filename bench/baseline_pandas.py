#!/usr/bin/env python3
"""The pandas baseline: five headline marts computed in plain pandas straight from a raw export folder, timed.

It is the reference closedloop's build is measured against (issue 6: "≥ 5× faster than the pandas baseline, with ≤ ⅓
of its peak memory"): what an analyst would write instead of a warehouse. The code is the independent
re-implementation the tests compare the marts with (tests/independent: written from
docs/input-contract.md, docs/metrics.md and the marts' YAML, not from the SQL), so with --check the baseline is also
shown to give the same numbers.

Steps, each timed (wall clock):
  load                 read and type every raw table the five marts use (all part files, CSV or Parquet)
  lead_facts           one row per lead (conversion, SLA, releases, close): shared by three marts below
  stage_conversion     fct_stage_conversion: cohort month × department × stage (and all-departments rows)
  lead_flow_daily      fct_lead_flow_daily: day × department × channel (and company rows), with the open backlog
  campaign_roi         fct_campaign_roi: month × campaign, spend to ROI
  resource_turnover    fct_resource_turnover: holdings per rep-month, department and company rows with holdings/rep
  customer_value       fct_customer_value: lifetime value and referral revenue per account

The vars are those of the default dbt build (dbt_project.yml: lead_sla_days, timezone,
customer_renewal_match_days, as_of). "As of" is the var when set, else the latest timestamp in the data, as in
int_as_of; with --check it is the warehouse's own (intermediate.int_as_of), so the to-date figures are taken at
the same instant. Peak memory is this process's maximum resident set (getrusage ru_maxrss) once the five marts are
computed, before any checking.

    .venv/bin/python bench/baseline_pandas.py --raw /tmp/bl/raw --check /tmp/bl/wh.duckdb
    .venv/bin/python bench/baseline_pandas.py --raw /tmp/bl/raw --json

Exit codes: 0 done (and, with --check, every mart matched); 1 a mart differs from the warehouse (the differing
rows are printed to stderr, both values side by side).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

import independent.raw as independent_raw  # noqa: E402
from independent import customer, leads, marketing, pipeline, turnover  # noqa: E402
from independent.compare import mismatches, report  # noqa: E402
from independent.raw import Raw  # noqa: E402

from closedloop.contract import project_vars  # noqa: E402
from closedloop.sql import ident  # noqa: E402

MARTS = ["stage_conversion", "lead_flow_daily", "campaign_roi", "resource_turnover", "customer_value"]
TOL = 1e-9
MONEY = ["revenue_new", "revenue_renewal", "revenue_upsell", "revenue_cross_sell", "revenue_service",
         "lifetime_value", "referral_revenue"]


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes


def _timed(fn: Callable[[], object]) -> tuple[object, float]:
    started = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - started


def warehouse_as_of(warehouse: Path) -> pd.Timestamp:
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return pd.Timestamp(con.execute("select as_of_at from intermediate.int_as_of").fetchone()[0])
    finally:
        con.close()


def configure(raw: Raw, dbt_vars: dict, as_of: pd.Timestamp | None) -> None:
    """The default build's vars; `as_of` (the warehouse's) wins over the var, which wins over the data."""
    independent_raw.BUSINESS_TZ = str(dbt_vars.get("timezone") or independent_raw.BUSINESS_TZ)
    customer.RENEWAL_MATCH_DAYS = int(dbt_vars.get("customer_renewal_match_days", customer.RENEWAL_MATCH_DAYS))
    if as_of is None and str(dbt_vars.get("as_of") or "").strip():
        as_of = pd.Timestamp(str(dbt_vars["as_of"]))
    if as_of is not None:
        raw.as_of = as_of  # overrides the cached property (the latest timestamp in the data)


def load(raw: Raw) -> None:
    """Read and type every table the marts use (Raw caches them)."""
    for name in ("stages", "users", "leads", "lead_events", "ownership_events", "activities", "opportunities",
                 "stage_history", "accounts", "orders", "tickets", "touches", "campaigns", "campaign_spend"):
        getattr(raw, name)
    raw.as_of  # noqa: B018 (computed from the tables unless configured)


def resource_turnover(raw: Raw, facts: pd.DataFrame) -> dict[str, pd.DataFrame]:
    rep_months = turnover.turnover_by_rep_month(raw, turnover.holdings_intervals(raw, facts))
    return {"user": rep_months, "department": turnover.turnover_by_department_month(raw, rep_months)}


def compute(raw: Raw, sla_days: int) -> tuple[dict[str, object], dict[str, float], dict[str, float]]:
    """The five marts; seconds per shared step and per mart."""
    shared: dict[str, float] = {}
    seconds: dict[str, float] = {}
    _, shared["load"] = _timed(lambda: load(raw))
    facts, shared["lead_facts"] = _timed(lambda: leads.lead_facts(raw, sla_days=sla_days))
    steps: dict[str, Callable[[], object]] = {
        "stage_conversion": lambda: pipeline.stage_conversion(raw, pipeline.stages_reached(raw)),
        "lead_flow_daily": lambda: leads.lead_flow_daily(raw, facts),
        "campaign_roi": lambda: marketing.campaign_months(raw, facts),
        "resource_turnover": lambda: resource_turnover(raw, facts),
        "customer_value": lambda: customer.account_value(raw),
    }
    results: dict[str, object] = {}
    for name in MARTS:
        results[name], seconds[name] = _timed(steps[name])
    return results, shared, seconds


def rows(result: object) -> int:
    return sum(len(f) for f in result.values()) if isinstance(result, dict) else len(result)


def _cents(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    out = frame.copy()
    for c in columns:
        out[f"{c}_cents"] = (pd.to_numeric(out[c]).astype("float64") * 100).round().astype("Int64")
    return out


def check(results: dict[str, object], warehouse: Path) -> list[str]:
    """Each mart joined to the warehouse's on its keys (as tests/test_marts_independent.py does); the reports of
    the ones that differ."""
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)

    def mart(name: str) -> pd.DataFrame:
        return con.execute(f"select * from marts.{ident(name)}").df()

    failures: list[str] = []

    def compare(mine: pd.DataFrame, theirs: pd.DataFrame, keys: list[str], what: str, **kwargs: object) -> None:
        problems = mismatches(mine, theirs, keys, **kwargs)
        if problems:
            failures.append(report(problems, what))

    try:
        counts = ["reached", "advanced", "lost", "open"]
        rates = ["conversion_rate", "ci_low", "ci_high"]
        compare(results["stage_conversion"], mart("fct_stage_conversion"),
                ["cohort_month", "department_id", "stage_name"], "fct_stage_conversion", exact=counts, approx=rates,
                tol=TOL, fill_mine=dict.fromkeys(counts, 0) | dict.fromkeys(rates))

        compare(results["lead_flow_daily"], mart("fct_lead_flow_daily"), ["flow_date", "department_id", "channel"],
                "fct_lead_flow_daily", exact=[*leads.FLOW_COUNTS, "open_backlog"])

        counts = ["spend_cents", "touches", "leads", "mql", "sql", "converted_leads", "opportunities", "won_deals",
                  "won_revenue_cents"]
        ratios = ["cost_per_lead", "cost_per_opportunity", "cac", "roi"]
        zero = dict.fromkeys(counts, 0) | dict.fromkeys(ratios)
        compare(results["campaign_roi"], _cents(mart("fct_campaign_roi"), ["spend", "won_revenue"]),
                ["month", "campaign_id"], "fct_campaign_roi", exact=counts, approx=ratios, tol=TOL, fill_mine=zero,
                fill_mart=zero)

        theirs = mart("fct_resource_turnover")
        counts = turnover.TURNOVER_COUNTS
        zero = dict.fromkeys(counts, 0) | {"turnover_rate": None}
        compare(results["resource_turnover"]["user"], theirs[theirs["user_id"].notna()], ["month", "user_id"],
                "fct_resource_turnover user rows", exact=counts, approx=["turnover_rate"], tol=TOL, fill_mine=zero,
                fill_mart=zero)
        cols = [*counts, "active_reps"]
        zero = dict.fromkeys(cols, 0) | {"turnover_rate": None, "holdings_per_rep": None}
        compare(results["resource_turnover"]["department"], theirs[theirs["user_id"].isna()],
                ["month", "department_id"], "fct_resource_turnover department and company rows", exact=cols,
                approx=["turnover_rate", "holdings_per_rep"], tol=TOL, fill_mine=zero, fill_mart=zero)

        compare(results["customer_value"], _cents(mart("fct_customer_value"), MONEY), ["account_id"],
                "fct_customer_value", exact=[f"{c}_cents" for c in MONEY] + ["order_count", "first_order_date",
                                                                            "referred_accounts"])
    finally:
        con.close()
    return failures


def main(argv: list[str] | None = None) -> int:
    doc = __doc__ or ""
    ap = argparse.ArgumentParser(description=doc.split("\n\n", 1)[0],
                                 epilog=doc.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--raw", type=Path, required=True, metavar="RAW_DIR",
                    help="raw export folder (crm/, campaign/, service/), as given to closedloop build --raw")
    ap.add_argument("--check", type=Path, metavar="WAREHOUSE",
                    help="a warehouse built from the same raw folder: compare every mart with it (and use its as-of); "
                         "exit 1 with the differing rows on any difference")
    ap.add_argument("--json", action="store_true",
                    help='print one JSON line instead of the table: {"seconds", "peak_mb", "marts": {name: '
                         '{"seconds", "rows"}}, "shared": {step: {"seconds"}}, "checked"}')
    args = ap.parse_args(argv)
    if not args.raw.is_dir():
        ap.error(f"--raw {args.raw}: not a folder")
    if args.check is not None and not args.check.is_file():
        ap.error(f"--check {args.check}: no such warehouse file")

    dbt_vars = project_vars()
    raw = Raw(args.raw)
    configure(raw, dbt_vars, warehouse_as_of(args.check) if args.check else None)

    started = time.perf_counter()
    results, shared, seconds = compute(raw, int(dbt_vars.get("lead_sla_days", leads.LEAD_SLA_DAYS)))
    total = time.perf_counter() - started
    peak = _peak_mb()

    failures = check(results, args.check) if args.check else []
    summary = {
        "seconds": round(total, 3), "peak_mb": round(peak, 1),
        "marts": {name: {"seconds": round(seconds[name], 3), "rows": rows(results[name])} for name in MARTS},
        "shared": {name: {"seconds": round(s, 3)} for name, s in shared.items()},
        "checked": args.check is not None and not failures,
    }
    if args.json:
        print(json.dumps(summary), flush=True)
    else:
        print(f"pandas baseline over {args.raw} (as of {raw.as_of}, lead_sla_days {dbt_vars.get('lead_sla_days')})")
        for name, s in shared.items():
            print(f"  {name:<18} {s:8.2f} s   (shared)")
        for name in MARTS:
            print(f"  {name:<18} {seconds[name]:8.2f} s   {rows(results[name]):>10,} rows")
        print(f"  {'total':<18} {total:8.2f} s   peak {peak:,.0f} MB")
        if args.check:
            print(f"check against {args.check}: " + ("every mart matches" if not failures
                                                      else f"{len(failures)} difference(s)"), flush=True)
    for failure in failures:
        print(failure, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
