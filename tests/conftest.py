"""Shared fixtures: one generated company, landed and built with real dbt into a real DuckDB file per session."""

from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

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


@dataclass(frozen=True)
class Sample:
    raw: Path
    warehouse: Path
    truth: dict
    build_log: str


@pytest.fixture(scope="session")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Sample:
    from closedloop.build import build
    from closedloop.generate import generate

    root = tmp_path_factory.mktemp("sample")
    raw = root / "raw"
    generate(raw, scale=TEST_SCALE, seed=TEST_SEED)
    log = io.StringIO()
    build(raw, root / "warehouse.duckdb", out=log)
    truth = json.loads((raw / "truth.json").read_text(encoding="utf-8"))
    return Sample(raw=raw, warehouse=root / "warehouse.duckdb", truth=truth, build_log=log.getvalue())


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
    from corpus.defects import write_defects

    from closedloop.build import build
    from closedloop.paths import current_landing_dir

    root = tmp_path_factory.mktemp("defects")
    raw = write_defects(root / "raw")
    log = io.StringIO()
    result = build(raw, root / "warehouse.duckdb", out=log)
    return Defects(raw=raw, warehouse=result.warehouse, landing=current_landing_dir(result.warehouse),
                   tables={t.table: t for t in result.tables}, build_log=log.getvalue())


@pytest.fixture(scope="session")
def as_of(sample) -> date:
    """The sample's "now" (int_as_of), which the dashboards' default period is measured from."""
    con = duckdb.connect(str(sample.warehouse), read_only=True)
    try:
        return con.execute("select as_of_date from intermediate.int_as_of").fetchall()[0][0]
    finally:
        con.close()
