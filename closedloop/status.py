"""`closedloop status`: what a warehouse holds and how current its data is."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from closedloop.paths import ConfigError
from closedloop.sql import ident


@dataclass(frozen=True)
class MartCount:
    name: str
    rows: int


def connect_read_only(warehouse: Path, verify: bool = True) -> duckdb.DuckDBPyConnection:
    """A read-only connection to a served warehouse that is the file its build published (closedloop.publish
    checksums it), or one sentence saying what is wrong with it."""
    from closedloop import publish

    if not warehouse.exists():
        raise ConfigError(f"{warehouse}: no warehouse there yet; run `closedloop build` first.")
    if not warehouse.is_file():
        raise ConfigError(f"{warehouse} is not a file; --warehouse names the DuckDB file.")
    if verify:
        publish.verify(warehouse)
    try:
        return duckdb.connect(str(warehouse), read_only=True)
    except duckdb.Error as exc:
        raise publish.CorruptWarehouse(publish.corrupt_sentence(
            warehouse, f"DuckDB cannot open it: {_first_line(exc)}")) from None


def _first_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:160] + ("…" if len(text) > 160 else "")


def read_error(warehouse: Path, exc: duckdb.Error) -> ConfigError:
    """A query of the marts failed: the file opens but is not a complete closedloop warehouse."""
    from closedloop import publish

    return publish.CorruptWarehouse(publish.corrupt_sentence(
        warehouse, f"it opens but cannot be read as a closedloop warehouse: {_first_line(exc)}"))


def mart_counts(con: duckdb.DuckDBPyConnection) -> list[MartCount]:
    names = [r[0] for r in con.execute(
        "select table_name from information_schema.tables where table_schema = 'marts' order by table_name"
    ).fetchall()]
    return [MartCount(n, con.execute(f"select count(*) from marts.{ident(n)}").fetchall()[0][0]) for n in names]


def as_of(con: duckdb.DuckDBPyConnection):
    return con.execute("select as_of_at from intermediate.int_as_of").fetchall()[0][0]


def print_status(warehouse: Path) -> None:
    con = connect_read_only(warehouse)
    try:
        when, counts = as_of(con), mart_counts(con)
    except duckdb.Error as exc:
        raise read_error(warehouse, exc) from None
    finally:
        con.close()
    print(f"Warehouse {warehouse}")
    print(f"Data as of {when}")
    for m in counts:
        print(f"  marts.{m.name:<30} {m.rows:>12,} rows")
    print_runs(warehouse)


def print_runs(warehouse: Path, last: int = 10) -> None:
    """The last builds from the run history (failed and killed ones too) and the builds kept for rollback."""
    from closedloop import publish, runs

    history = runs.history(warehouse)[-last:]
    if history:
        print("Last run:" if len(history) == 1 else f"Last {len(history)} runs (newest last):")
    for r in history:
        rows = f"{r.rows_read:,} read, {r.rows_set_aside:,} set aside" if r.rows_read is not None else ""
        tests = f"tests {r.tests_passed} passed / {r.tests_failed} failed" if r.tests_passed is not None else ""
        detail = "; ".join(x for x in (r.mode or "", rows, tests, r.message[:120]) if x)
        print(f"  {r.started_at}  {r.status:<11} {r.run_id}  {detail}")
    served = publish.served_build(warehouse)
    kept = publish.kept_builds(warehouse)
    if kept:
        print("Kept builds: " + ", ".join(f"{b} (served)" if b == served else b for b in kept))
