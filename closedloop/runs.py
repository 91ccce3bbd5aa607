"""Run history: one record per build, whatever its end (published, failed, killed).

Kept as JSON lines beside the warehouse (`runs.jsonl`), appended when a build ends, because a failed build has
no warehouse of its own to write into; copied into every published warehouse as `ops.closedloop_runs`, so the
Data page shows the history up to and including the build it is looking at. A killed build cannot write its
own record: the next build finds its stale lock and records it as `killed`.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb

TABLE = "ops.closedloop_runs"


@dataclass
class Run:
    run_id: str
    started_at: str  # ISO, local time of the machine that ran the build
    ended_at: str | None = None
    status: str = "running"  # published | failed | killed | rolled_back
    raw_dir: str | None = None
    mapping: str | None = None
    rows_read: int | None = None
    rows_loaded: int | None = None
    rows_set_aside: int | None = None
    sources: dict = field(default_factory=dict)  # table key -> [read, loaded, set aside] (absent tables omitted)
    tests_passed: int | None = None
    tests_failed: int | None = None
    data_as_of: str | None = None
    message: str = ""
    # incremental (started from a copy of the served build, changed rows only) | full (everything rebuilt)
    mode: str | None = None
    # closedloop.build.project_fingerprint of the dbt project and vars the build ran with: an incremental build
    # starts only from a served build with the same one
    project_fingerprint: str | None = None
    # sha256 of the published warehouse file (closedloop.publish.checksum), computed once when it was published;
    # status, summary and incremental builds compare the served file with it
    checksum: str | None = None


def history_path(warehouse: Path) -> Path:
    return warehouse.parent / "runs.jsonl"


def now() -> str:
    return datetime.now().isoformat(timespec="seconds")


def append(warehouse: Path, run: Run) -> None:
    path = history_path(warehouse)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as f:
        f.write(json.dumps(asdict(run), ensure_ascii=False) + "\n")
        f.flush()
        os.fsync(f.fileno())


def checksum_of(warehouse: Path, build_id: str) -> str | None:
    """The checksum recorded when build `build_id` was published (None for builds from before checksums)."""
    return next((r.checksum for r in reversed(history(warehouse))
                 if r.run_id == build_id and r.status == "published" and r.checksum), None)


def history(warehouse: Path) -> list[Run]:
    path = history_path(warehouse)
    if not path.exists():
        return []
    runs = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.strip():
            try:
                record = json.loads(line)
                known = {k: v for k, v in record.items() if k in Run.__dataclass_fields__}
                run = Run(**known)
            except (json.JSONDecodeError, TypeError, AttributeError):
                continue  # a line cut by a crash mid-write: the rest of the history still counts
            if _well_formed(run):
                runs.append(run)
    return runs


def _well_formed(run: Run) -> bool:
    """A record this module could have written: the ids and times as text, the counts as whole numbers. Anything
    else (a hand edit, another program's JSON) is skipped like a torn line, so `status` never prints it and an
    incremental build never trusts its checksum or fingerprint."""
    texts = (run.run_id, run.started_at, run.status)
    optional_texts = (run.ended_at, run.raw_dir, run.mapping, run.data_as_of, run.mode, run.project_fingerprint,
                      run.checksum)
    counts = (run.rows_read, run.rows_loaded, run.rows_set_aside, run.tests_passed, run.tests_failed)
    return (all(isinstance(x, str) and x for x in texts)
            and all(x is None or isinstance(x, str) for x in optional_texts)
            and all(x is None or (isinstance(x, int) and not isinstance(x, bool)) for x in counts)
            and isinstance(run.sources, dict) and isinstance(run.message, str))


def write_table(database: Path, runs: list[Run]) -> None:
    """Write the history into a (working) warehouse file as ops.closedloop_runs."""
    import pandas as pd

    frame = pd.DataFrame([{**asdict(r), "sources": json.dumps(r.sources, ensure_ascii=False)} for r in runs])
    for col in ("started_at", "ended_at", "data_as_of"):
        frame[col] = pd.to_datetime(frame[col], errors="coerce")
    con = duckdb.connect(str(database))
    try:
        con.execute("create schema if not exists ops")
        con.register("runs_frame", frame)
        con.execute(f"create or replace table {TABLE} as select * from runs_frame order by started_at")
        con.unregister("runs_frame")
    finally:
        con.close()


def test_counts(dbt_result) -> tuple[int, int]:
    """(passed, failed) data and unit tests of a dbt build result; warnings count as passed."""
    passed = failed = 0
    for r in getattr(dbt_result, "results", None) or []:
        if r.node.resource_type not in ("test", "unit_test"):
            continue
        status = str(getattr(r.status, "value", r.status))
        if status in ("pass", "warn"):
            passed += 1
        elif status in ("fail", "error"):
            failed += 1
    return passed, failed


def data_as_of(database: Path) -> str | None:
    con = duckdb.connect(str(database), read_only=True)
    try:
        value = con.execute("select as_of_at from intermediate.int_as_of").fetchall()[0][0]
    except duckdb.Error:
        return None
    finally:
        con.close()
    return value.isoformat(timespec="seconds") if value else None
