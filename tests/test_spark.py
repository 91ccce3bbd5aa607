"""Issue 16: the same dbt project on Spark gives the same marts as on DuckDB (docs/scaling-out.md).

`make test-spark` runs this file (marker `spark`): the scale-0.1 sample and the three real sets (Maven, Olist, the
Salesforce sample; tests/test_realdata_builds.py checks their DuckDB builds against the vendor files) built by
`closedloop.build` on DuckDB and with `engine="spark"` (Spark local, in full), every mart compared table by table with
closedloop.compare: same columns and types, same rows and keys, counts exactly, doubles (rates, money in doubles)
within 1e-9. The four Spark builds share one SparkSession (`closedloop.spark.shared_session`: one JVM start-up
instead of four). Two of them (`FILE_ROUTE`) bring the tables back the way a cluster build does, Spark writing
Parquet that DuckDB reads (CLOSEDLOOP_SPARK_COPY=files), the other two through Arrow in process (spark_local's
default). Skipped when the `spark` extra or Java is missing (the default .venv has neither: `make
spark-venv`).
"""

from __future__ import annotations

import importlib.util
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from closedloop.build import build
from closedloop.compare import compare_warehouses

pytestmark = [
    pytest.mark.spark,
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("pyspark") is None or shutil.which("java") is None,
                       reason="needs the spark extra and Java 17: make spark-venv"),
]

SCALE = "0.1"
SEED = "42"
REALDATA = Path(__file__).parent / "fixtures" / "realdata"
# set name -> (raw folder or None for the generated sample, mapping preset)
SETS = {
    "sample": (None, None),
    "maven": (REALDATA / "maven_crm_sales_opportunities", "maven"),
    "olist": (REALDATA / "olist_marketing_funnel", "olist"),
    "salesforce": (REALDATA / "salesforce_developer_edition_sample_export", "salesforce"),
}
# Sets whose Spark build copies back through files: the sample has every mart filled, Maven has empty ones.
FILE_ROUTE = {"sample", "maven"}


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path, str] | Exception]:
    """Every set built once on each engine: name -> (DuckDB warehouse, Spark-built warehouse, the Spark build's
    output), or the exception its builds raised (reported by that set's test, the others still run)."""
    from closedloop.spark import shared_session

    root = tmp_path_factory.mktemp("spark")
    sample = root / "raw"
    done = subprocess.run([sys.executable, "-m", "closedloop.cli", "generate", "--scale", SCALE, "--seed", SEED,
                           "--out", str(sample)], capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    built: dict[str, tuple[Path, Path, str] | Exception] = {}
    with shared_session(root / "spark-session"):
        for name, (raw, mapping) in SETS.items():
            on_duckdb, on_spark = root / name / "duckdb" / "wh.duckdb", root / name / "spark" / "wh.duckdb"
            out = io.StringIO()
            try:
                build(raw or sample, on_duckdb, out=io.StringIO(), mapping=mapping)
                os.environ["CLOSEDLOOP_SPARK_COPY"] = "files" if name in FILE_ROUTE else "arrow"
                build(raw or sample, on_spark, out=out, mapping=mapping, engine="spark")
            except Exception as exc:  # noqa: BLE001 - handed to this set's test, which fails with it
                built[name] = RuntimeError(f"{name}: {exc}\n{out.getvalue()[-4000:]}")
            else:
                built[name] = (on_duckdb, on_spark, out.getvalue())
            finally:
                os.environ.pop("CLOSEDLOOP_SPARK_COPY", None)
    return built


def _built(builds: dict, name: str) -> tuple[Path, Path, str]:
    found = builds[name]
    if isinstance(found, Exception):
        raise found
    return found


@pytest.mark.parametrize("name", list(SETS))
def test_every_mart_is_equal_on_both_engines(builds: dict, name: str) -> None:
    on_duckdb, on_spark, log = _built(builds, name)
    assert f"({'files' if name in FILE_ROUTE else 'arrow'}) in" in log
    differences = compare_warehouses(on_duckdb, on_spark, ("marts",))
    assert not differences, f"{name}: marts differ between DuckDB and Spark:\n" + "\n".join(
        str(d) for d in differences)


def test_the_spark_build_publishes_a_served_warehouse(builds: dict) -> None:
    _, on_spark, log = _built(builds, "sample")
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


def test_the_file_route_brings_back_empty_tables_with_their_columns(builds: dict) -> None:
    """Maven has no repeat purchases, web touches or tickets: marts over them are empty, and through files they still
    come back with DuckDB's own columns and types (compared above; here: that such marts exist at all)."""
    on_duckdb, on_spark, _ = _built(builds, "maven")
    empty = []
    for path in (on_duckdb, on_spark):
        con = duckdb.connect(str(path), read_only=True)
        try:
            tables = [r[0] for r in con.execute("select table_name from duckdb_tables() where schema_name = 'marts' "
                                                "order by 1").fetchall()]
            empty.append({t: con.execute(f'describe marts."{t}"').fetchall() for t in tables
                          if con.execute(f'select count(*) from marts."{t}"').fetchone()[0] == 0})
        finally:
            con.close()
    assert empty[0] and empty[0] == empty[1]
    assert all(columns for columns in empty[1].values())


def test_the_compare_reports_a_differing_mart_with_its_rows(builds: dict, tmp_path: Path) -> None:
    on_duckdb, _, _ = _built(builds, "sample")
    changed = tmp_path / "changed.duckdb"
    shutil.copyfile(on_duckdb, changed)
    con = duckdb.connect(str(changed))
    con.execute("update marts.fct_leads set response_hours = response_hours + 1e-6 "
                "where lead_id = (select min(lead_id) from marts.fct_leads where response_hours is not null)")
    con.close()
    differences = compare_warehouses(on_duckdb, changed, ("marts",))
    assert [d.table for d in differences] == ["marts.fct_leads"]
    assert "response_hours" in str(differences[0])


@pytest.mark.parametrize(("settings", "refusal"), [
    ({}, "CLOSEDLOOP_SPARK_EXPORT_LOCATION"),
    ({"CLOSEDLOOP_SPARK_COPY": "arrow"}, "needs Spark in this process"),
    ({"CLOSEDLOOP_SPARK_EXPORT_LOCATION": "/srv/share/export"}, "cannot run dbt's Python models"),
])
def test_a_thrift_target_is_refused_before_anything_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         settings: dict, refusal: str) -> None:
    """A cluster's tables come back through files only, so it needs an export location; and a Thrift server (or EMR)
    cannot run the Python models, so the marts built on them would be missing: the build names them and stops before
    anything runs there, leaving no served warehouse (docs/scaling-out.md)."""
    from closedloop.build import BuildError

    monkeypatch.setenv("CLOSEDLOOP_SPARK_TARGET", "spark_thrift")
    for key, value in settings.items():
        monkeypatch.setenv(key, value)
    warehouse = tmp_path / "wh.duckdb"
    with pytest.raises(BuildError, match=refusal) as raised:
        build(SETS["salesforce"][0], warehouse, out=io.StringIO(), mapping="salesforce", engine="spark")
    assert "spark_thrift" in str(raised.value) and not warehouse.exists()
    if "Python" in refusal:
        missing = str(raised.value).split("would be missing: ")[1]
        # the marts downstream of the four Python models, and no mart that does not depend on them
        assert {"fct_attribution", "fct_channel_attribution", "fct_customer_predicted_value"} <= set(
            missing.split(". ")[0].split(", "))
        assert "fct_leads" not in missing and "dim_date" not in missing
