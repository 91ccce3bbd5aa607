"""The `closedloop` command: generate sample exports, build the warehouse, report on it."""

from __future__ import annotations

import argparse
import errno
import os
import sys
import tempfile
import traceback
from pathlib import Path

from closedloop import arguments, stopping
from closedloop.paths import ConfigError

DESCRIPTION = """\
closedloop turns CRM, campaign and service exports into a DuckDB star-schema warehouse (built by dbt)
for lead flow, stage conversion by department, customer resource turnover and lifecycle value.

Typical use:
  closedloop generate --scale 1 --out data/raw          # a believable sample company, with planted truths
  closedloop validate --raw data/raw                    # what would load, what would be set aside, why
  closedloop build --raw data/raw --warehouse data/warehouse.duckdb
  closedloop build --raw export/ --mapping maven ...    # a vendor's export through a mapping preset
  closedloop status --warehouse data/warehouse.duckdb
  closedloop summary --warehouse data/warehouse.duckdb  # the headline numbers for the meeting

CLOSEDLOOP_RAW and CLOSEDLOOP_WAREHOUSE stand in for --raw and --warehouse. `closedloop COMMAND --help` explains
each command. What the raw exports must hold: docs/input-contract.md; what every metric means: docs/metrics.md.
"""


def _from_flag_or_env(value: Path | None, env: str, what: str, check) -> Path:
    """The flag (already checked by argparse) or the environment variable, put through the same check."""
    if value is not None:
        return value
    text = os.environ.get(env)
    if not text:
        raise ConfigError(f"no {what} given: pass it as a flag or set {env}.")
    try:
        return check(text)
    except argparse.ArgumentTypeError as exc:
        raise ConfigError(f"{env}: {exc}.") from None


def _raw(args: argparse.Namespace) -> Path:
    return _from_flag_or_env(args.raw, "CLOSEDLOOP_RAW", "raw folder (--raw)", arguments.existing_folder)


def _warehouse(args: argparse.Namespace) -> Path:
    check = arguments.CHECKS.get(args.command, {}).get("warehouse", arguments.warehouse_file)
    return _from_flag_or_env(args.warehouse, "CLOSEDLOOP_WAREHOUSE", "warehouse file (--warehouse)", check)


def _cmd_generate(args: argparse.Namespace) -> int:
    from closedloop.generate import generate
    from closedloop.progress import Progress

    progress = Progress(sys.stdout)
    truth = generate(args.out, scale=args.scale, seed=args.seed, fmt=args.format, encoding=args.encoding,
                     progress=lambda text: progress.update(text, step=True))
    progress.done()
    rows = sum((truth.get("row_counts") or {}).values()) if isinstance(truth.get("row_counts"), dict) else None
    written = f"{rows:,} rows" if rows else "sample exports"
    print(f"Wrote {written} to {Path(args.out).resolve()} (planted truths in truth.json).")
    if truth.get("window_start") and truth.get("as_of"):
        # The window is fixed so that a seed always gives the same numbers (and truth.json's planted figures hold);
        # against today's clock the sample is weeks old, which `make demo` tells the build (--freshness-as-of data).
        print(f"The sample's events run from {truth['window_start']} to {str(truth['as_of']).replace('T', ' ')} "
              "(a fixed window). Build it with --freshness-as-of data to judge freshness against that end rather "
              "than today.")
    return 0


def _cmd_land(args: argparse.Namespace) -> int:
    from closedloop.landing import land

    raw = _raw(args)
    land(raw, Path(args.landing), mapping=args.mapping, out=sys.stdout)
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    import tempfile

    from closedloop.landing import land
    from closedloop.rejected import write_rejected

    raw = _raw(args)
    through = f" through mapping `{args.mapping}`" if args.mapping else ""
    print(f"Validating {raw}{through} (nothing is loaded)", flush=True)
    with tempfile.TemporaryDirectory(prefix="closedloop-validate-") as tmp:
        reports = land(raw, Path(tmp), mapping=args.mapping, out=sys.stdout, verb="would load")
        set_aside = sum(r.rows_rejected for r in reports)
        read = sum(r.rows_read for r in reports)
        print(f"{read:,} rows read, {read - set_aside:,} would load, {set_aside:,} set aside.")
        if args.rejected and set_aside:
            path = write_rejected(Path(tmp), Path(args.rejected))
            print(f"Rows set aside written to {path}")
    return 2 if (args.fail_on_reject and set_aside) else 0


def _cmd_build(args: argparse.Namespace) -> int:
    from closedloop.build import build

    raw = _raw(args)
    warehouse = _warehouse(args)
    result = build(raw, warehouse, mapping=args.mapping, fail_on_stale=args.fail_on_stale, keep=args.keep,
                   full_refresh=args.full_refresh, freshness_as_of=args.freshness_as_of, engine=args.engine)
    set_aside = sum(r.rows_rejected for r in result.tables)
    note = f"; {set_aside:,} rows set aside (see the Data page or closedloop_rejected_rows)" if set_aside else ""
    print(f"Built {warehouse} in {result.seconds:.1f} s ({result.mode}, {result.nodes} dbt nodes passed){note}.")
    return 0


def _cmd_rollback(args: argparse.Namespace) -> int:
    from closedloop import runs
    from closedloop.lock import build_lock
    from closedloop.publish import rollback

    warehouse = _warehouse(args)
    if not warehouse.is_file():
        # Before the lock, which would create the folder and a lock file for a warehouse that was never built.
        raise ConfigError(f"{warehouse}: no warehouse there yet, so nothing to roll back; run `closedloop build` "
                          "first.")
    with build_lock(warehouse):
        was, now = rollback(warehouse, args.to)
        if was == now:
            print(f"Build {now} is already the one served; nothing changed.")
            return 0
        runs.append(warehouse, runs.Run(run_id=now, started_at=runs.now(), ended_at=runs.now(),
                                        status="rolled_back", message=f"served {now} instead of {was}"))
    print(f"Now serving build {now} (was {was}). Dashboards see it at their next query.")
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    from closedloop.status import print_status

    print_status(_warehouse(args))
    return 0


def _cmd_summary(args: argparse.Namespace) -> int:
    from closedloop.summary import print_summary

    print_summary(_warehouse(args))
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    from closedloop.serve import serve

    return serve(_warehouse(args), port=args.port,
                 address=args.address)


def _cmd_docs(args: argparse.Namespace) -> int:
    from closedloop.build import generate_docs

    warehouse = _warehouse(args)
    print(f"Wrote {generate_docs(warehouse)}")
    return 0


def _cmd_calendar(args: argparse.Namespace) -> int:
    from closedloop.business_calendar import DEFAULT_SEED, known_years, write_seed

    out = Path(args.out) if args.out else DEFAULT_SEED
    rows, skipped = write_seed(out, args.from_year, args.to_year)
    print(f"Wrote {rows:,} days to {out}.")
    if skipped:
        years = known_years()
        print(f"Left out {', '.join(map(str, skipped))}: the installed chinesecalendar knows {years.start}–"
              f"{years.stop - 1}; days of other years count Monday–Friday as workdays (docs/metrics.md#working-time).")
    return 0


class _Parser(argparse.ArgumentParser):
    """A bad argument is one line on stderr (exit 2), naming the command, the argument and the problem."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: {printable(' '.join(message.split()))} (see `{self.prog} --help`).\n")


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="closedloop", description=DESCRIPTION,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    from closedloop import __version__

    # A new user's first try is often `--version`: without it argparse answered "arguments are required: COMMAND".
    p.add_argument("--version", action="version", version=f"closedloop {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    g = sub.add_parser("generate", help="write a sample company's raw exports with planted truths",
                       description="Write every raw table of the input contract for a believable Chinese B2B "
                                   "company, plus truth.json with the figures planted in it. Same seed, same bytes.")
    g.add_argument("--scale", type=float, default=1.0,
                   help="size, linear: 1 = 10,000 leads, ~4,500 opportunities, ~54,000 touches, ~258,000 rows in "
                        "all (default 1)")
    g.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    g.add_argument("--out", required=True, help="folder to write crm/, campaign/, service/ and truth.json into")
    g.add_argument("--format", choices=["csv", "parquet"], default="csv", help="file format (default csv)")
    g.add_argument("--encoding", choices=["utf-8", "gbk"], default="utf-8", help="CSV encoding (default utf-8)")
    g.set_defaults(func=_cmd_generate)

    mapping_help = ("translate a vendor export into the contract: a preset (salesforce, maven, olist, zh) or a "
                    "mapping .yml file; see docs/mappings.md")
    va = sub.add_parser("validate", help="check a raw folder against the expectation suites without building",
                        description="Run the Great Expectations suites in expectations/ over every table of the raw "
                                    "folder and report, per table, rows read, rows that would load and rows set "
                                    "aside by rule. Exit 1 on a table-level problem (missing required column, "
                                    "unreadable file), 2 with --fail-on-reject when any row would be set aside.")
    va.add_argument("--raw", help="raw export folder (or CLOSEDLOOP_RAW)")
    va.add_argument("--mapping", help=mapping_help)
    va.add_argument("--rejected", metavar="FILE", help="write the rows set aside to FILE (.csv or .xlsx)")
    va.add_argument("--fail-on-reject", action="store_true", help="exit 2 when any row would be set aside")
    va.set_defaults(func=_cmd_validate)

    la = sub.add_parser("land", help="validate and land raw exports as Parquet (the first step of build)",
                        description="Validate every contract table of the raw folder (part files; CSV in UTF-8, "
                                    "BOM or GBK, Excel .xlsx, or Parquet) and write one Parquet per table for dbt's "
                                    "sources, plus the rows set aside and the load report.")
    la.add_argument("--raw", help="raw export folder (or CLOSEDLOOP_RAW)")
    la.add_argument("--landing", required=True, help="folder to write the landed Parquet files into")
    la.add_argument("--mapping", help=mapping_help)
    la.set_defaults(func=_cmd_land)

    b = sub.add_parser("build", help="validate the exports and build the warehouse with dbt",
                       description="Validate and land the raw folder (rows failing the expectation suites are set "
                                   "aside and counted), run `dbt build` in-process into a working file (seeds, "
                                   "models and their data tests, selector closedloop_build in selectors.yml: the unit "
                                   "tests and the staging not_null/unique tests that repeat a validation rule are left "
                                   "out; `make test` runs them), check source freshness, and replace the warehouse "
                                   "only if it all passes. When a warehouse is served, the working file starts as a "
                                   "copy of it and only the entities that changed are recomputed (incremental); "
                                   "--full-refresh rebuilds all. dbt's full log goes to logs/ beside the warehouse.")
    b.add_argument("--raw", help="raw export folder with crm/, campaign/, service/ (or CLOSEDLOOP_RAW)")
    b.add_argument("--warehouse", help="DuckDB file to publish (or CLOSEDLOOP_WAREHOUSE)")
    b.add_argument("--mapping", help=mapping_help)
    b.add_argument("--fail-on-stale", action="store_true",
                   help="exit 1 (after publishing) when a source is older than freshness_error_after_days")
    b.add_argument("--freshness-as-of", metavar="WHEN", default=None,
                   help="measure the sources' ages against WHEN instead of the build's clock: `data` (the latest "
                        "event in the export; `make demo` uses it for the fixed sample) or a date such as 2026-10-31 "
                        "(default: now)")
    b.add_argument("--keep", type=int, default=None, metavar="N",
                   help="published builds kept for `closedloop rollback` (default 3)")
    b.add_argument("--full-refresh", action="store_true",
                   help="rebuild every model from the landed data instead of updating the served warehouse "
                        "incrementally (the default when one is served: only what changed is recomputed, with a "
                        "look-back window of incremental_lookback_days for late rows)")
    b.add_argument("--engine", choices=["duckdb", "spark"], default="duckdb",
                   help="where dbt runs the models: duckdb (default) or spark (the same project on Spark over the "
                        "landed Parquet, always in full; the marts are copied into the DuckDB warehouse, which is "
                        "published as usual). Needs the `spark` extra and Java 17: docs/scaling-out.md")
    b.set_defaults(func=_cmd_build)

    r = sub.add_parser("rollback", help="serve the previous published build again",
                       description="Serve the build published before the one being served (or --to BUILD), "
                                   "atomically; the dashboards see it at their next query. Builds are kept by "
                                   "`closedloop build` (the last 3 by default).")
    r.add_argument("--warehouse", help="DuckDB warehouse file (or CLOSEDLOOP_WAREHOUSE)")
    r.add_argument("--to", metavar="BUILD", help="a kept build id (see `closedloop status`)")
    r.set_defaults(func=_cmd_rollback)

    s = sub.add_parser("status", help="list the marts with row counts and the data's as-of time",
                       description="Print what is served: the data's as-of time, the row count of every mart, the "
                                   "last builds from the run history (runs.jsonl beside the warehouse: status, rows "
                                   "read/loaded/set aside, tests) and the builds kept for `closedloop rollback`. "
                                   "Reads the warehouse read-only; safe while a build or the dashboards run.")
    s.add_argument("--warehouse", help="DuckDB warehouse file (or CLOSEDLOOP_WAREHOUSE)")
    s.set_defaults(func=_cmd_status)

    m = sub.add_parser("summary", help="print the headline numbers for the management meeting",
                       description="Print the meeting's headline numbers from the marts for the month of the data's "
                                   "as-of time: new leads and win rate against the previous month, lead to "
                                   "opportunity rate of the leads created in the six months before, the stage step "
                                   "where departments differ most over the last six cohorts, and net revenue "
                                   "retention at month 12. Every figure is defined in docs/metrics.md. Read-only.")
    m.add_argument("--warehouse", help="DuckDB warehouse file (or CLOSEDLOOP_WAREHOUSE)")
    m.set_defaults(func=_cmd_summary)

    v = sub.add_parser("serve", help="serve the dashboards (read-only) on localhost",
                       description="Run the Streamlit dashboards over a built warehouse. They open it read-only per "
                                   "query, so builds can publish a new file while they run.")
    v.add_argument("--warehouse", help="DuckDB warehouse file (or CLOSEDLOOP_WAREHOUSE)")
    v.add_argument("--port", type=int, default=8501, help="port (default 8501)")
    v.add_argument("--address", default="localhost", help="address to listen on (default localhost)")
    v.set_defaults(func=_cmd_serve)

    d = sub.add_parser("docs", help="write the dbt docs site (models, columns, lineage) as one static HTML file",
                       description="Run `dbt docs generate --static` over a copy of the built warehouse (the served "
                                   "file stays free for readers) and write target/static_index.html in the project "
                                   "folder: every model and column with its description, the metric definitions' doc "
                                   "blocks (docs/metrics.md has the full entries) and the lineage graph. Open it in a "
                                   "browser; it needs no server and no network.")
    d.add_argument("--warehouse", help="DuckDB warehouse file (or CLOSEDLOOP_WAREHOUSE)")
    d.set_defaults(func=_cmd_docs)
    c = sub.add_parser("calendar", help="rewrite the business_calendar seed (China's holidays and 调休 workdays)",
                       description="Write seeds/business_calendar.csv (date, is_workday, holiday_name) from the "
                                   "chinesecalendar library: statutory holidays and the make-up workdays (调休) of "
                                   "each State Council notice, no network needed. SLA days and response working hours "
                                   "count its workdays (var sla_calendar). Years the library does not know are left "
                                   "out and count Monday–Friday. The CSV may be edited by hand afterwards (a company "
                                   "holiday); run `closedloop build` to use it.")
    c.add_argument("--from-year", type=int, default=2010, help="first year (default 2010)")
    c.add_argument("--to-year", type=int, default=2026, help="last year (default 2026)")
    c.add_argument("--out", help="CSV to write (default: seeds/business_calendar.csv of the project)")
    c.set_defaults(func=_cmd_calendar)
    arguments.check_all(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from closedloop.build import BuildError
    from closedloop.landing import LandingError
    from closedloop.lock import BuildLocked
    from closedloop.sources import SourceError

    def fail(message: str, code: int = 1) -> int:
        print(f"closedloop {args.command}: {printable(' '.join(str(message).split()))}", file=sys.stderr, flush=True)
        return code

    if args.command != "serve":  # serve forwards its signals to Streamlit itself (closedloop.serve)
        stopping.install()
    if args.command in ("build", "docs") and (problem := arguments.dbt_environment_problem()):
        return fail(problem)
    try:
        try:
            return args.func(args)
        except Exception as exc:
            # Every command, not only build (whose record says it too): a library's error after a stop is the stop.
            if (stop := stopping.as_stop(exc)) is exc:
                raise
            raise stop from exc
    except stopping.Stopped as exc:
        return fail(f"{exc}.", 128 + exc.signum)
    except BuildLocked as exc:
        # EX_TEMPFAIL: not a failure of this build, try again at the next slot.
        return fail(str(exc), 75)
    except (ConfigError, LandingError, BuildError, SourceError) as exc:
        return fail(str(exc))
    except KeyboardInterrupt:
        return fail("interrupted.", 130)
    except BrokenPipeError:
        # The reader went away (`closedloop status | head`): nothing left to say, and nobody to say it to.
        sys.stderr.close()
        return 141
    except OSError as exc:
        # The machine said no (a full disk, a permission, a vanished file): its words and the path are the sentence.
        if os.environ.get("CLOSEDLOOP_DEBUG"):
            raise
        return fail(os_error_sentence(exc))
    except Exception as exc:
        if "no space left on device" in str(exc).lower():  # DuckDB and pyarrow say it in words, not an errno
            return fail(f"no space left on the disk ({' '.join(str(exc).split())[:300]}).")
        # A bug: one sentence here, the traceback in a log (or raised, for tests and developers).
        if os.environ.get("CLOSEDLOOP_DEBUG"):
            raise
        return fail(_unexpected(exc))


def printable(text: str) -> str:
    """`text` with control characters spelled as escapes (\\x1b): a path or value quoted in an error message can
    carry terminal escape sequences (colours, cursor moves, a retitled window) that must not reach the terminal."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def os_error_sentence(exc: OSError) -> str:
    where = exc.filename or ""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"no space left on {where or 'the disk'}; free some space and run the command again."
    reason = exc.strerror or str(exc)
    return f"{where}: {reason}." if where else f"{reason}."


def _unexpected(exc: Exception) -> str:
    log = Path(tempfile.gettempdir()) / "closedloop-error.log"
    try:
        with log.open("a", encoding="utf-8") as f:
            f.write("".join(traceback.format_exception(exc)) + "\n")
        where = f"details in {log}"
    except OSError:
        where = "no log could be written"
    first = " ".join(str(exc).split())[:200]
    return (f"unexpected error ({type(exc).__name__}{': ' + first if first else ''}); {where}; "
            "CLOSEDLOOP_DEBUG=1 shows the traceback. Please report it.")

if __name__ == "__main__":
    sys.exit(main())
