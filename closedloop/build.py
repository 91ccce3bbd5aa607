"""Run the dbt project in-process against landed data, and publish the warehouse only when it passes."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import os
import re
import shutil
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TextIO

from closedloop import PROJECT_DIR, stopping
from closedloop.door_cache import cache_dir_for
from closedloop.landing import TableReport, land
from closedloop.lock import build_lock
from closedloop.paths import current_landing_dir, new_landing_dir, working_file_for

# dbt events worth a line on the terminal while a build runs.
_PROGRESS_EVENTS = {"LogModelResult", "LogTestResult", "LogSeedResult", "LogNodeResult", "LogNodeNoOpResult"}


class BuildError(Exception):
    """The build failed; the message is one paragraph a data engineer can act on."""


@dataclass
class BuildResult:
    warehouse: Path
    seconds: float
    nodes: int
    tables: list[TableReport] = field(default_factory=list)
    # Source freshness counts by status (pass, warn, error, absent); empty when it could not be checked.
    freshness: dict[str, int] = field(default_factory=dict)
    # "incremental" (from a copy of the served build, changed entities only) or "full"; and why.
    mode: str = "full"
    mode_reason: str = ""
    # Models whose SQL ran in incremental form (only the affected keys): empty on a full build.
    incremental_models: list[str] = field(default_factory=list)


# What an incremental build may start from: the served build must have been built by the same dbt project (models,
# macros, seeds, dbt_project.yml), the same vars and the same dbt/duckdb, or its tables are not what this project
# would have built (a changed model would otherwise keep stale rows for every entity that did not change).
_FINGERPRINTED = ("models", "macros", "seeds", "dbt_project.yml")
# The change models an incremental build reads its affected entities from (reported in the run history).
_CHANGED_SETS = {"leads": "intermediate.int_incremental__changed_leads",
                 "opportunities": "intermediate.int_incremental__changed_opportunities"}
# dbt prints this in the SQL of a model that ran incrementally (macros/incremental.sql, incremental_only).
_INCREMENTAL_MARK = "closedloop: incremental, affected keys only"


@contextmanager
def _dbt_environment(landing_dir: Path, warehouse: Path) -> Iterator[None]:
    """The profile and project read these, so the same dbt project serves every raw folder."""
    names = ("CLOSEDLOOP_LANDING", "CLOSEDLOOP_WAREHOUSE", "DBT_SEND_ANONYMOUS_USAGE_STATS")
    saved = {k: os.environ.get(k) for k in names}
    os.environ["CLOSEDLOOP_LANDING"] = str(landing_dir)
    os.environ["CLOSEDLOOP_WAREHOUSE"] = str(warehouse)
    os.environ["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


# Node statuses that get their own line (a failing or warning test, a model error); the others only move the count.
_NOTABLE = {"error", "fail", "warn", "runtime error"}
# Node kinds counted in the "Found …" line dbt prints after parsing (what `docs generate` compiles).
_COMPILED = re.compile(r"(\d+) (?:models?|seeds?|data tests?|snapshots?|analys[ie]s)\b")


class _DbtProgress:
    """dbt's node events as progress: a status line on a terminal, one plain line per tenth of the nodes elsewhere
    (a scheduled build's log keeps ten lines, not one per node; dbt's own log has them all), and a line of its own
    for every node that failed or warned."""

    def __init__(self, out: TextIO, label: str):
        from closedloop.progress import Progress

        self.progress, self.label = Progress(out), label
        self.done = self.total = 0
        self.tenth = 0
        self.started = False
        self._lock = threading.Lock()  # dbt reports nodes from its worker threads

    def __call__(self, event) -> None:
        name = event.info.name
        with self._lock:
            if not self.started:
                self.started = True
                self.progress.update(f"  dbt {self.label}: parsing the project", step=True)
            if name == "FoundStats":
                stats = getattr(event.data, "stat_line", "") or ""
                if self.label == "docs":
                    self.total = sum(int(n) for n in _COMPILED.findall(stats))
                then = "compiling them" if self.label == "docs" else "running the closedloop_build selection"
                self.progress.update(f"  dbt {self.label}: project parsed (found {stats}); {then}", step=True)
            elif name == "BuildingCatalog":
                self.progress.update("  dbt docs: building the catalog (the columns of every table)", step=True)
            elif name in _PROGRESS_EVENTS or name == "SkippingDetails" or (name == "NodeFinished" and
                                                                               self.label == "docs"):
                self._node(event)

    def _node(self, event) -> None:
        data = event.data
        self.done += 1
        self.total = max(self.total, int(getattr(data, "total", 0) or getattr(data, "num_models", 0) or 0),
                         self.done)
        # a node skipped after a failure counts without a line of its own (the failure has one)
        status = str(getattr(data, "status", "") or "").lower()
        if status in _NOTABLE:
            self.progress.line(f"  {event.info.msg}")
        verb = "compiled" if self.label == "docs" else "done"
        tenth = self.done * 10 // self.total
        self.progress.update(f"  dbt {self.label}: {self.done} of {self.total} nodes {verb}",
                             step=tenth > self.tenth or self.done == self.total)
        self.tenth = tenth

    def finish(self) -> None:
        self.progress.done()


def _progress_printer(out: TextIO, label: str = "build") -> _DbtProgress:
    return _DbtProgress(out, label)


def _console_without_stack_traces() -> None:
    """dbt prints a Python traceback on the console (event Z003, MainStackTrace, error level: `--quiet` keeps it) when
    anything escapes a command: an interrupt, a file that is not a database. closedloop says what happened in one
    sentence instead, so Z003 goes to dbt's log file only (logs/dbt.log beside the warehouse), never to stdout.
    dbt_common builds its console filter from this module-level function at each invocation."""
    from dbt_common.events import functions

    original = functions.stdout_filter
    if getattr(original, "_closedloop", False):
        return

    def stdout_filter(log_cache_events, line_format, msg) -> bool:
        return msg.info.code != "Z003" and original(log_cache_events, line_format, msg)

    stdout_filter._closedloop = True  # type: ignore[attr-defined]
    functions.stdout_filter = stdout_filter


def run_dbt(args: list[str], landing_dir: Path, warehouse: Path, out: TextIO | None = sys.stdout,
            target_path: Path | None = None):
    """Invoke dbt in this process (no subprocess start-up per call) and return its result object. With `out`,
    progress is shown there (closedloop.progress: a status line on a terminal, plain lines elsewhere)."""
    from dbt.cli.main import dbtRunner

    _console_without_stack_traces()
    printer = _progress_printer(out, "docs" if args[:1] == ["docs"] else "build") if out is not None else None
    callbacks = [printer] if printer is not None else []
    # dbt's log goes beside the warehouse, not into the checkout.
    common = ["--project-dir", str(PROJECT_DIR), "--profiles-dir", str(PROJECT_DIR), "--quiet",
              "--log-path", str(warehouse.parent / "logs")]
    # Compiled SQL, manifest and partial-parse state go beside the database dbt writes (for a build, the
    # warehouse's `.building/`, which the build lock makes one writer's at a time), so two builds of different
    # warehouses from one checkout never overwrite each other's target/. DBT_TARGET_PATH still wins (bench/).
    if target_path is None and not os.environ.get("DBT_TARGET_PATH"):
        target_path = warehouse.parent / "target"
    if target_path is not None:
        common += ["--target-path", str(target_path)]
    # dbt logs to a file beside the warehouse: on a full disk each log line would print a "Logging error" traceback;
    # the build's own failure says what happened instead.
    raise_exceptions, logging.raiseExceptions = logging.raiseExceptions, False
    with _dbt_environment(landing_dir, warehouse):
        try:
            result = dbtRunner(callbacks=callbacks).invoke([*args, *common])
            if isinstance(result.exception, KeyboardInterrupt):
                # Ctrl+C or closedloop.stopping.Stopped (SIGTERM/SIGHUP) while dbt ran: dbt cancels its queries and
                # hands the interrupt back as a result; it is an interrupt still, not "dbt could not run".
                raise result.exception
            # ... or, when a node was running in another thread, as that node's failure once dbt closed the
            # connection under it ("Connection already closed"): the signal that came decides.
            stopping.raise_if_stopped()
            return result
        finally:
            if printer is not None:
                printer.finish()
            _release_duckdb()
            logging.raiseExceptions = raise_exceptions


def _release_duckdb() -> None:
    """dbt-duckdb keeps its database open in a class attribute after an in-process run; close it so the file is
    checkpointed and can be moved, published or opened by another process."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    env = DuckDBConnectionManager._ENV
    if env is not None:
        env.close()
    DuckDBConnectionManager.close_all_connections()


def _failure_paragraph(result) -> str:
    """Name the failing nodes and their first error line, in one paragraph."""
    problems = []
    for r in getattr(result.result, "results", None) or []:
        status = str(getattr(r.status, "value", r.status))
        if status in {"error", "fail", "runtime error"}:
            message = (r.message or "").strip().splitlines()
            first = next((line.strip() for line in message if line.strip()), status)
            problems.append(f"{r.node.resource_type} `{r.node.name}` {status}: {first}")
    if problems:
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        return f"dbt build failed ({len(problems)} node(s)): {shown}."
    if result.exception is not None:
        return f"dbt could not run: {str(result.exception).strip()}"
    return "dbt build failed without a message; run `dbt build --profiles-dir .` for details."


def _all_messages(result) -> str:
    texts = [r.message or "" for r in getattr(result.result, "results", None) or []]
    return "\n".join([*texts, str(result.exception or "")])


def _stale_lock(warehouse: Path, holder: dict, out: TextIO) -> None:
    """The previous build was killed: say so, and give it its line in the run history."""
    from closedloop import runs

    since = datetime.fromtimestamp(holder.get("started", 0)).isoformat(timespec="seconds")
    print(f"Note: the previous build (pid {holder.get('pid', '?')}, started {since}) ended without finishing; its "
          "lock was stale and is cleared. The served warehouse was not changed by it.", file=out, flush=True)
    runs.append(warehouse, runs.Run(run_id=str(holder.get("build_id") or f"pid-{holder.get('pid', '?')}"),
                                    started_at=since, status="killed",
                                    message="killed before it finished; found by the next build's stale lock"))


def project_fingerprint(vars_: dict | None) -> str:
    """A hash of the dbt project's files, the vars and the dbt/duckdb versions a build runs with."""
    from importlib.metadata import version

    digest = hashlib.sha256()
    for name in _FINGERPRINTED:
        root = PROJECT_DIR / name
        for path in sorted([root] if root.is_file() else root.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(path.relative_to(PROJECT_DIR).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    digest.update(json.dumps(vars_ or {}, sort_keys=True, default=str).encode())
    for package in ("dbt-core", "dbt-duckdb", "duckdb"):
        digest.update(f"{package}={version(package)}".encode())
    return digest.hexdigest()[:16]


def build_mode(warehouse: Path, full_refresh: bool, fingerprint: str, raw_dir: Path | None = None,
               mapping: str | None = None) -> tuple[str, str]:
    """("incremental" | "full", why): incremental when a served warehouse exists, built by a published build of the
    same project fingerprint (and, when given, from the same raw folder and mapping), and no full refresh was asked
    for. Another raw folder is another company's history: its changes cannot be told from the served build's."""
    from closedloop import publish, runs

    if full_refresh:
        return "full", "--full-refresh"
    if not warehouse.exists():
        return "full", "first build (no served warehouse)"
    served = publish.served_build(warehouse)
    record = next((r for r in reversed(runs.history(warehouse)) if r.run_id == served and r.status == "published"),
                  None)
    if record is None:
        return "full", f"the served build {served} has no published run record"
    if record.project_fingerprint != fingerprint:
        return "full", (f"the served build {served} was built by another version of the dbt project, vars or "
                        "dbt/duckdb")
    if raw_dir is not None and (record.raw_dir != str(raw_dir) or record.mapping != mapping):
        return "full", f"the served build {served} was built from another raw folder or mapping"
    return "incremental", f"from the served build {served}"


def _start_from_served(warehouse: Path, working: Path) -> None:
    """The working file starts as a real copy of the served warehouse (never a hard link: the served file and the
    kept builds linked to it must not change while dbt updates the copy)."""
    shutil.copyfile(warehouse, working)
    wal = warehouse.with_name(warehouse.name + ".wal")
    if wal.exists():
        shutil.copyfile(wal, working.with_name(working.name + ".wal"))


def _incremental_summary(result, working: Path) -> tuple[list[str], str]:
    """The models that ran in incremental form, and a sentence for the run history."""
    import duckdb

    models = sorted(r.node.name for r in getattr(result.result, "results", None) or []
                    if r.node.resource_type == "model" and _INCREMENTAL_MARK in (r.node.compiled_code or ""))
    con = duckdb.connect(str(working), read_only=True)
    try:
        counts = {k: con.execute(f"select count(*) from {t}").fetchone()[0] for k, t in _CHANGED_SETS.items()}
    except duckdb.Error:
        counts = {}
    finally:
        con.close()
    changed = " and ".join(f"{n:,} {k}" for k, n in counts.items())
    return models, f"{len(models)} models updated incrementally" + (f" ({changed} recomputed)" if changed else "")


def build(raw_dir: Path, warehouse: Path, out: TextIO = sys.stdout, full_refresh: bool = False,
          vars_: dict | None = None, mapping: str | None = None, fail_on_stale: bool = False,
          keep: int | None = None, freshness_as_of: str | None = None, engine: str = "duckdb") -> BuildResult:
    """Validate and land `raw_dir`, build the dbt project into a working file, and replace `warehouse` only on
    success. A failure anywhere leaves the served warehouse and the landing it reads untouched. One build per
    warehouse at a time (`closedloop.lock`); every build ends with a line in the run history (`closedloop.runs`).

    Incremental by default: when a warehouse is served (and was built by this dbt project and these vars), the
    working file starts as a copy of it and dbt updates only what changed (docs/dbt-conventions.md, "Incremental
    models"); `full_refresh` (or a first build) rebuilds everything from the landed data.

    Source freshness is checked after the models pass and before publishing (`ops.closedloop_source_freshness`);
    a stale source never stops the publish. With `fail_on_stale`, a source past the error threshold (or a
    freshness check that could not run) raises BuildError after the warehouse was published, so a scheduler sees
    a non-zero exit. `freshness_as_of` (`now`, `data` or a date; closedloop.freshness.parse_reference) measures
    the sources' ages against another instant than the build's clock, e.g. a fixed sample's own end.

    `engine="spark"` (docs/scaling-out.md) runs the models on Spark over the same landing (always in full) and copies
    their tables into the working file, where DuckDB builds the staging views and ops reports and runs the data tests;
    publishing is the same."""
    from closedloop import publish, runs
    from closedloop.freshness import parse_reference

    reference = parse_reference(freshness_as_of)
    started = time.monotonic()
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    landing_dir = new_landing_dir(warehouse)
    with build_lock(warehouse, on_stale=lambda holder: _stale_lock(warehouse, holder, out), build_id=landing_dir.name):
        # A Spark build's tables (its change-detection fingerprints among them) are not what an incremental DuckDB
        # build can continue from: its own fingerprint makes the next DuckDB build a full one.
        fingerprint = project_fingerprint(vars_)
        if engine != "duckdb":
            fingerprint = f"{engine}-{fingerprint}"
        run = runs.Run(run_id=landing_dir.name, started_at=runs.now(), raw_dir=str(raw_dir), mapping=mapping,
                       project_fingerprint=fingerprint)
        try:
            if engine == "duckdb" and build_mode(warehouse, full_refresh, run.project_fingerprint, raw_dir,
                                                 mapping)[0] == "incremental":
                publish.verify(warehouse)  # before any work: the build would start from a copy of a damaged file
            done, freshness = _build_and_publish(raw_dir, warehouse, landing_dir, run, out, full_refresh, vars_,
                                                 mapping, publish.KEEP if keep is None else keep, reference, engine)
        except BaseException as caught:
            # A stop signal that came back as a library's error (DuckDB's, dbt's) is the stop, in the record too.
            exc = stopping.as_stop(caught)
            if publish.served_build(warehouse) == run.run_id:
                raise  # published already (the failure came after the switch): what it serves stays
            _clean_failed(warehouse, landing_dir, run.run_id)
            reason = _disk_full(exc, warehouse)
            run.status, run.ended_at = "failed", runs.now()
            run.message = reason or str(exc) or type(exc).__name__
            with contextlib.suppress(OSError):  # a full disk may refuse the record too; the build still failed
                runs.append(warehouse, run)
            if reason:
                raise BuildError(reason) from exc
            if exc is not caught:
                raise exc from caught
            raise
    done.seconds = time.monotonic() - started
    if fail_on_stale and (problem := _stale_failure(warehouse, freshness)):
        raise BuildError(problem)
    return done


def _clean_failed(warehouse: Path, landing_dir: Path, build_id: str) -> None:
    """Remove what a failed build wrote (its landing, its working file and DuckDB's spill, its kept link): none of
    it is served, and left behind it would fill the disk the next build needs."""
    from closedloop import publish

    shutil.rmtree(landing_dir, ignore_errors=True)
    shutil.rmtree(working_file_for(warehouse).parent, ignore_errors=True)
    publish.discard(warehouse, build_id)


_DISK_FULL_WORDS = ("no space left on device", "disk is full", "not enough space on the disk", "disk quota exceeded")


def _disk_full(exc: BaseException, warehouse: Path) -> str | None:
    """"no space left on <path>" when `exc` (or what caused it) is a full disk, else None. DuckDB and dbt report
    it as text, Python and pyarrow as an OSError."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        full = (isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)) or any(
            w in str(exc).lower() for w in _DISK_FULL_WORDS)
        if full:
            where = getattr(exc, "filename", None) or warehouse.parent
            return (f"no space left on {_mount_point(Path(where))} (writing {where}); the build was discarded and "
                    f"the served warehouse {warehouse} is unchanged. Free some space and build again.")
        exc = exc.__cause__ or exc.__context__
    return None


def _mount_point(path: Path) -> Path:
    path = Path(os.path.abspath(path))
    while not path.exists() and path.parent != path:
        path = path.parent
    while not os.path.ismount(path) and path.parent != path:
        path = path.parent
    return path


def _build_and_publish(raw_dir: Path, warehouse: Path, landing_dir: Path, run, out: TextIO, full_refresh: bool,
                       vars_: dict | None, mapping: str | None, keep: int, reference=None, engine: str = "duckdb"):
    from closedloop import publish, runs
    from closedloop.freshness import check_freshness, freshness_counts

    through = f" through mapping `{mapping}`" if mapping else ""
    print(f"Validating {raw_dir}{through}", file=out, flush=True)
    # Row checks of unchanged raw files are reused (closedloop.door_cache) unless everything is to be redone.
    reports = land(raw_dir, landing_dir, mapping=mapping, out=out, cache_dir=cache_dir_for(warehouse),
                   reuse=not full_refresh)
    loaded = [r for r in reports if r.status != "absent"]
    run.sources = {r.table: [r.rows_read, r.rows_loaded, r.rows_rejected] for r in loaded}
    run.rows_read = sum(r.rows_read for r in loaded)
    run.rows_loaded = sum(r.rows_loaded for r in loaded)
    run.rows_set_aside = sum(r.rows_rejected for r in loaded)
    working = working_file_for(warehouse)
    working.parent.mkdir(parents=True, exist_ok=True)
    for stale in (working, working.with_name(working.name + ".wal")):
        stale.unlink(missing_ok=True)
    run.mode, reason = build_mode(warehouse, full_refresh, run.project_fingerprint, raw_dir, mapping)
    if engine == "spark":
        # Incremental builds on Spark are not there yet (docs/scaling-out.md): Spark rebuilds everything.
        from closedloop.spark import build_on_spark

        run.mode, reason = "full", "Spark builds every model in full"
        print(f"Building with dbt on Spark ({reason})", file=out, flush=True)
        build_on_spark(landing_dir, working, vars_, out)
        # selectors.yml: DuckDB builds the seeds, staging views and ops reports and tests everything, Spark's tables
        # included.
        args = ["build", "--selector", "closedloop_after_spark", "--full-refresh"]
    else:
        if run.mode == "incremental":
            _start_from_served(warehouse, working)
        # selectors.yml: every node but the staging tests that repeat a validation rule already enforced.
        args = ["build", "--selector", "closedloop_build"] + (["--full-refresh"] if run.mode == "full" else [])
    if vars_:
        args += ["--vars", json.dumps(vars_)]
    print(f"Building with dbt ({run.mode}: {reason})", file=out, flush=True)
    result = run_dbt(args, landing_dir, working, out=out)
    run.tests_passed, run.tests_failed = runs.test_counts(result.result)
    if not result.success:
        hint = " (An incremental build: `closedloop build --full-refresh` rebuilds everything.)" \
            if run.mode == "incremental" else ""
        # The paragraph shows each node's first line; a full disk is in the lines below it (DuckDB's "Could not write
        # file …: No space left on device"), so it is looked for in the whole text.
        detail = _all_messages(result)
        full = OSError(errno.ENOSPC, detail) if any(w in detail.lower() for w in _DISK_FULL_WORDS) else None
        raise BuildError(f"{_failure_paragraph(result)} The served warehouse {warehouse} was left unchanged.{hint}") \
            from full
    nodes = len(getattr(result.result, "results", []) or [])
    print(f"dbt build passed ({nodes} nodes); checking source freshness", file=out, flush=True)
    incremental_models: list[str] = []
    if run.mode == "incremental":
        incremental_models, summary = _incremental_summary(result, working)
        run.message = f"incremental {reason}: {summary}"
    else:
        run.message = f"full: {reason}"
    freshness = check_freshness(landing_dir, working, reports, vars_, out, reference)
    run.data_as_of = runs.data_as_of(working)
    run.status, run.ended_at = "published", runs.now()
    # All or nothing, and last (closedloop.publish): the file complete and synced, its checksum and kept link, the
    # run history, and only then the switch; pruning old builds only once it is served.
    runs.write_table(working, [*runs.history(warehouse), run])
    run.checksum = publish.prepare(working, warehouse, landing_dir.name)
    runs.append(warehouse, run)
    publish.switch(working, warehouse, landing_dir.name)
    publish.prune(warehouse, keep)
    done = BuildResult(warehouse=warehouse, seconds=0.0, nodes=nodes, tables=reports,
                       freshness=freshness_counts(freshness), mode=run.mode, mode_reason=reason,
                       incremental_models=incremental_models)
    return done, freshness


def _stale_failure(warehouse: Path, freshness) -> str | None:
    from closedloop.freshness import stale_failure

    return stale_failure(warehouse, freshness)


def generate_docs(warehouse: Path, out: TextIO = sys.stdout) -> Path:
    """`dbt docs generate --static` over a copy of a built warehouse (the catalog needs the tables; the copy
    keeps the served file free for readers): one self-contained HTML file with lineage and column docs."""
    import shutil

    from closedloop.status import connect_read_only

    # The same check as `status`: a missing, damaged or foreign file is one sentence here, before dbt (which would
    # print its own traceback over a file that is not a DuckDB database) is started on a copy of it.
    connect_read_only(warehouse).close()
    import tempfile

    # Same file name (DuckDB names the catalog after it), in a folder of its own that is removed whole afterwards,
    # with the write-ahead log DuckDB may leave beside the copy.
    scratch = Path(tempfile.mkdtemp(prefix=".docs-", dir=warehouse.parent)) / warehouse.name
    print(f"Writing the dbt docs of {warehouse}: parsing the project, compiling every node, reading the catalog",
          file=out, flush=True)
    try:
        shutil.copyfile(warehouse, scratch)
        result = run_dbt(["docs", "generate", "--static"], current_landing_dir(warehouse), scratch, out=out,
                         target_path=PROJECT_DIR / "target")
    finally:
        shutil.rmtree(scratch.parent, ignore_errors=True)  # a copy of the whole warehouse: never left behind
    if not result.success:
        raise BuildError(_failure_paragraph(result))
    return PROJECT_DIR / "target" / "static_index.html"
