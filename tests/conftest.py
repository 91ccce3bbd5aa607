"""Shared fixtures: one generated company, landed and built with real dbt into a real DuckDB file per session."""

from __future__ import annotations

import fcntl
import io
import json
import os
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TypeVar

import duckdb
import pandas as pd
import pytest

# Big enough that the planted department rates are recoverable, small enough for a quick `make test`.
TEST_SCALE = float(os.environ.get("CLOSEDLOOP_TEST_SCALE", "1"))
TEST_SEED = 7
FIXTURES = Path(__file__).parent / "fixtures"
# An unexpected exception in `closedloop` is one sentence for users (cli.main's last resort); in tests it is raised,
# so a bug is never mistaken for a handled error. Tests of that last resort unset it.
os.environ.setdefault("CLOSEDLOOP_DEBUG", "1")
T = TypeVar("T")


@dataclass(frozen=True)
class Sample:
    raw: Path
    warehouse: Path
    truth: dict
    build_log: str


def once_per_run(tmp_path_factory: pytest.TempPathFactory, name: str, make: Callable[[Path], T]) -> T:
    """`make(folder)` once per test run, shared by every pytest-xdist worker (`make test` runs two): the first
    worker to ask builds it under a lock, the others wait and read the pickled result. A failure is shared too,
    so every test that needs it fails with the builder's error instead of building it again."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return make(tmp_path_factory.mktemp(name))
    shared = tmp_path_factory.getbasetemp().parent / f"shared-{name}"
    with open(f"{shared}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, however this worker ends
        done, failed = shared / "result.pickle", shared / "error.txt"
        if not done.exists() and not failed.exists():
            shared.mkdir(exist_ok=True)
            try:
                result = make(shared)
            except BaseException as exc:
                failed.write_text(f"{type(exc).__name__}: {exc}", encoding="utf-8")
                raise
            done.write_bytes(pickle.dumps(result))
        if failed.exists():
            pytest.fail(f"the shared {name} fixture failed in another worker: {failed.read_text(encoding='utf-8')}")
        return pickle.loads(done.read_bytes())


@pytest.fixture(scope="session")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Sample:
    def make(root: Path) -> Sample:
        from closedloop.build import build
        from closedloop.generate import generate

        raw = root / "raw"
        generate(raw, scale=TEST_SCALE, seed=TEST_SEED)
        log = io.StringIO()
        build(raw, root / "warehouse.duckdb", out=log)
        truth = json.loads((raw / "truth.json").read_text(encoding="utf-8"))
        return Sample(raw=raw, warehouse=root / "warehouse.duckdb", truth=truth, build_log=log.getvalue())

    return once_per_run(tmp_path_factory, "sample", make)


@pytest.fixture(scope="session")
def wh(sample: Sample) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(sample.warehouse), read_only=True)
    yield con
    con.close()


@pytest.fixture(scope="session")
def mart(wh: duckdb.DuckDBPyConnection):
    """Read a whole mart as a DataFrame: mart('fct_leads')."""

    def read(name: str, schema: str = "marts") -> pd.DataFrame:
        return wh.execute(f'select * from {schema}."{name}"').df()

    return read


@dataclass(frozen=True)
class Defects:
    raw: Path
    warehouse: Path
    landing: Path  # the landing the published warehouse was built over (_rejected.parquet, _load_report.parquet)
    tables: dict  # table key -> closedloop.landing.TableReport
    build_log: str


@pytest.fixture(scope="session")
def defects(tmp_path_factory: pytest.TempPathFactory) -> Defects:
    """The minimal export plus every row-level defect of the malformed-input corpus at once (tests/corpus/defects.py:
    duplicate keys, orphans, bad dates and numbers, formula text in names, NUL, a 10 MB field, mixed time zones, GBK,
    UTF-16, XLSX and Parquet parts), built with real dbt. The build passes with rows set aside."""
    def make(root: Path) -> Defects:
        from corpus.defects import write_defects

        from closedloop.build import build
        from closedloop.paths import current_landing_dir

        raw = write_defects(root / "raw")
        log = io.StringIO()
        result = build(raw, root / "warehouse.duckdb", out=log)
        return Defects(raw=raw, warehouse=result.warehouse, landing=current_landing_dir(result.warehouse),
                       tables={t.table: t for t in result.tables}, build_log=log.getvalue())

    return once_per_run(tmp_path_factory, "defects", make)


@pytest.fixture(scope="session")
def as_of(sample) -> date:
    """The sample's "now" (int_as_of), which the dashboards' default period is measured from."""
    con = duckdb.connect(str(sample.warehouse), read_only=True)
    try:
        return con.execute("select as_of_date from intermediate.int_as_of").fetchall()[0][0]
    finally:
        con.close()


# Files that take minutes go first, so that on two workers (`make test`) they do not start last and leave one
# worker idle at the end. Order within a file is kept.
_LONG_FIRST = ("test_live_builds.py", "test_ops_hardening.py", "test_dashboard_browser.py", "test_incremental.py",
               "test_realdata_builds.py", "test_bench_smoke.py")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        name = item.path.name
        return _LONG_FIRST.index(name) if name in _LONG_FIRST else len(_LONG_FIRST)

    items.sort(key=rank)
