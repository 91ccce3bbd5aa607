"""The `closedloop` command: generate sample exports, build the warehouse, report on it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from closedloop.paths import ConfigError, resolve

DESCRIPTION = """\
closedloop turns CRM, campaign and service exports into a DuckDB star-schema warehouse (built by dbt)
for lead flow, stage conversion by department, customer resource turnover and lifecycle value.

Typical use:
  closedloop generate --scale 1 --out data/raw          # a believable sample company, with planted truths
  closedloop build --raw data/raw --warehouse data/warehouse.duckdb
  closedloop status --warehouse data/warehouse.duckdb
  closedloop summary --warehouse data/warehouse.duckdb  # the headline numbers for the meeting

CLOSEDLOOP_RAW and CLOSEDLOOP_WAREHOUSE stand in for --raw and --warehouse.
"""


def _cmd_generate(args: argparse.Namespace) -> int:
    from closedloop.generate import generate

    truth = generate(args.out, scale=args.scale, seed=args.seed, fmt=args.format, encoding=args.encoding)
    rows = sum((truth.get("row_counts") or {}).values()) if isinstance(truth.get("row_counts"), dict) else None
    written = f"{rows:,} rows" if rows else "sample exports"
    print(f"Wrote {written} to {Path(args.out).resolve()} (planted truths in truth.json).")
    return 0


def _cmd_land(args: argparse.Namespace) -> int:
    from closedloop.landing import land

    raw = resolve(args.raw, "CLOSEDLOOP_RAW", "raw folder (--raw)")
    reports = land(raw, Path(args.landing))
    for r in reports:
        print(f"{r.table:<32} {r.status:<8} {r.rows_loaded:>12,}")
    return 0


def _cmd_build(args: argparse.Namespace) -> int:
    from closedloop.build import build

    raw = resolve(args.raw, "CLOSEDLOOP_RAW", "raw folder (--raw)")
    warehouse = resolve(args.warehouse, "CLOSEDLOOP_WAREHOUSE", "warehouse file (--warehouse)")
    result = build(raw, warehouse)
    print(f"Built {warehouse} in {result.seconds:.1f} s ({result.nodes} dbt nodes passed).")
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    from closedloop.status import print_status

    print_status(resolve(args.warehouse, "CLOSEDLOOP_WAREHOUSE", "warehouse file (--warehouse)"))
    return 0


def _cmd_summary(args: argparse.Namespace) -> int:
    from closedloop.summary import print_summary

    print_summary(resolve(args.warehouse, "CLOSEDLOOP_WAREHOUSE", "warehouse file (--warehouse)"))
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    from closedloop.serve import serve

    return serve(resolve(args.warehouse, "CLOSEDLOOP_WAREHOUSE", "warehouse file (--warehouse)"), port=args.port,
                 address=args.address)


def _cmd_docs(args: argparse.Namespace) -> int:
    from closedloop.build import generate_docs

    warehouse = resolve(args.warehouse, "CLOSEDLOOP_WAREHOUSE", "warehouse file (--warehouse)")
    print(f"Wrote {generate_docs(warehouse)}")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="closedloop", description=DESCRIPTION,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    g = sub.add_parser("generate", help="write a sample company's raw exports with planted truths",
                       description="Write every raw table of the input contract for a believable Chinese B2B "
                                   "company, plus truth.json with the figures planted in it. Same seed, same bytes.")
    g.add_argument("--scale", type=float, default=1.0, help="1 = ~10k leads, 2k opportunities, 50k touches (default 1)")
    g.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    g.add_argument("--out", required=True, help="folder to write crm/, campaign/, service/ and truth.json into")
    g.add_argument("--format", choices=["csv", "parquet"], default="csv", help="file format (default csv)")
    g.add_argument("--encoding", choices=["utf-8", "gbk"], default="utf-8", help="CSV encoding (default utf-8)")
    g.set_defaults(func=_cmd_generate)

    la = sub.add_parser("land", help="land raw exports as Parquet (the first step of build)",
                        description="Read every contract table from the raw folder (part files, CSV or Parquet, "
                                    "UTF-8 or GBK) and write one Parquet per table for dbt's sources.")
    la.add_argument("--raw", help="raw export folder (or CLOSEDLOOP_RAW)")
    la.add_argument("--landing", required=True, help="folder to write the landed Parquet files into")
    la.set_defaults(func=_cmd_land)

    b = sub.add_parser("build", help="land the exports and build the warehouse with dbt",
                       description="Land the raw folder, run `dbt build` in-process (models, seeds, data tests, "
                                   "unit tests) into a working file, and replace the warehouse only if it all passes.")
    b.add_argument("--raw", help="raw export folder with crm/, campaign/, service/ (or CLOSEDLOOP_RAW)")
    b.add_argument("--warehouse", help="DuckDB file to publish (or CLOSEDLOOP_WAREHOUSE)")
    b.set_defaults(func=_cmd_build)

    s = sub.add_parser("status", help="list the marts with row counts and the data's as-of time")
    s.add_argument("--warehouse", help="DuckDB warehouse file (or CLOSEDLOOP_WAREHOUSE)")
    s.set_defaults(func=_cmd_status)

    m = sub.add_parser("summary", help="print the headline numbers for the management meeting")
    m.add_argument("--warehouse", help="DuckDB warehouse file (or CLOSEDLOOP_WAREHOUSE)")
    m.set_defaults(func=_cmd_summary)

    v = sub.add_parser("serve", help="serve the dashboards (read-only) on localhost",
                       description="Run the Streamlit dashboards over a built warehouse. They open it read-only per "
                                   "query, so builds can publish a new file while they run.")
    v.add_argument("--warehouse", help="DuckDB warehouse file (or CLOSEDLOOP_WAREHOUSE)")
    v.add_argument("--port", type=int, default=8501, help="port (default 8501)")
    v.add_argument("--address", default="localhost", help="address to listen on (default localhost)")
    v.set_defaults(func=_cmd_serve)

    d = sub.add_parser("docs", help="write the dbt docs site (models, columns, lineage) as one static HTML file")
    d.add_argument("--warehouse", help="DuckDB warehouse file (or CLOSEDLOOP_WAREHOUSE)")
    d.set_defaults(func=_cmd_docs)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from closedloop.build import BuildError
    from closedloop.landing import LandingError

    try:
        return args.func(args)
    except (ConfigError, LandingError, BuildError) as exc:
        print(f"closedloop {args.command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"closedloop {args.command}: interrupted.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
