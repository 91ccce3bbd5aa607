"""Issue 16: the same dbt project on Spark gives the same marts as on DuckDB (docs/scaling-out.md).

`make test-spark` runs this file (marker `spark`): the scale-0.1 sample built by `closedloop build` on DuckDB and by
`closedloop build --engine spark` (Spark local, in full), every mart compared table by table with closedloop.compare:
same columns and types, same rows and keys, counts exactly, doubles (rates, money in doubles) within 1e-9. Skipped
when the `spark` extra or Java is missing (the default .venv has neither: `make spark-venv`).
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from closedloop.compare import compare_warehouses

pytestmark = [
    pytest.mark.spark,
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("pyspark") is None or shutil.which("java") is None,
                       reason="needs the spark extra and Java 17: make spark-venv"),
]

SCALE = "0.1"
SEED = "42"


def _closedloop(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "closedloop.cli", *args], capture_output=True, text=True,
                          timeout=1800, check=False)
    assert done.returncode == 0, f"closedloop {' '.join(args)} failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    root = tmp_path_factory.mktemp("spark")
    raw = root / "raw"
    _closedloop("generate", "--scale", SCALE, "--seed", SEED, "--out", str(raw))
    on_duckdb, on_spark = root / "duckdb" / "wh.duckdb", root / "spark" / "wh.duckdb"
    _closedloop("build", "--raw", str(raw), "--warehouse", str(on_duckdb))
    log = _closedloop("build", "--raw", str(raw), "--warehouse", str(on_spark), "--engine", "spark")
    return on_duckdb, on_spark, log


def test_every_mart_is_equal_on_both_engines(built: tuple[Path, Path, str]) -> None:
    on_duckdb, on_spark, _ = built
    differences = compare_warehouses(on_duckdb, on_spark, ("marts",))
    assert not differences, "marts differ between DuckDB and Spark:\n" + "\n".join(str(d) for d in differences)


def test_the_spark_build_publishes_a_served_warehouse(built: tuple[Path, Path, str]) -> None:
    on_duckdb, on_spark, log = built
    assert "Building with dbt on Spark" in log and "Copied" in log
    con = duckdb.connect(str(on_spark), read_only=True)
    try:
        marts = {r[0] for r in con.execute(
            "select table_name from duckdb_tables() where schema_name = 'marts'").fetchall()}
        history = con.execute("select mode, message from ops.closedloop_runs order by started_at").fetchall()
        ops = con.execute("select count(*) from ops.closedloop_load_report").fetchall()[0][0]
    finally:
        con.close()
    assert len(marts) >= 35 and {"fct_leads", "fct_opportunities", "dim_date", "fct_attribution"} <= marts
    assert history[-1][0] == "full" and "Spark" in history[-1][1]
    assert ops == 16  # the ops reports are DuckDB's own, read from the same landing


def test_the_compare_reports_a_differing_mart_with_its_rows(built: tuple[Path, Path, str],
                                                             tmp_path: Path) -> None:
    on_duckdb, _, _ = built
    changed = tmp_path / "changed.duckdb"
    shutil.copyfile(on_duckdb, changed)
    con = duckdb.connect(str(changed))
    con.execute("update marts.fct_leads set response_hours = response_hours + 1e-6 "
                "where lead_id = (select min(lead_id) from marts.fct_leads where response_hours is not null)")
    con.close()
    differences = compare_warehouses(on_duckdb, changed, ("marts",))
    assert [d.table for d in differences] == ["marts.fct_leads"]
    assert "response_hours" in str(differences[0])
