"""The two ways the marts come back from Spark (issue 16, docs/scaling-out.md "Copy-back"; a benchmark, not a test).

One `closedloop build --engine spark` of a generated sample in a shared SparkSession (Arrow route), then, with its
`intermediate` and `marts` tables still in the session, each route timed on the same tables, alternately, `--rounds`
times:

  arrow   closedloop.spark.copy_tables_to_duckdb: `spark.table(…).toArrow()` on the driver, DuckDB `create table … as
          select * from arrow` (spark_local's default)
  files   closedloop.spark.copy_tables_through_files: run-operation `cl_export_tables` (Spark writes Parquet,
          `insert overwrite directory … using parquet`; timed apart as `export`, a dbt start-up and parse included),
          then DuckDB `create table … from read_parquet(…)` (`read`); the only route from a cluster

The two DuckDB files are then compared table by table (closedloop.compare; must be 0). Writes `<out>/result.json`
with the machine, load and commit.

    .venv/bin/python bench/spark_copy_routes.py --scale 0.1 --out /tmp/copy01
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="0.1")
    parser.add_argument("--seed", default="42")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    from closedloop.build import build
    from closedloop.compare import compare_warehouses
    from closedloop.spark import (
        copy_tables_to_duckdb,
        export_tables_as_parquet,
        read_exported_tables,
        shared_session,
    )

    shutil.rmtree(args.out, ignore_errors=True)
    args.out.mkdir(parents=True)
    raw = args.out / "raw"
    subprocess.run([sys.executable, "-m", "closedloop.cli", "generate", "--scale", args.scale, "--seed", args.seed,
                    "--out", str(raw)], cwd=REPO, check=True, capture_output=True)
    result: dict = {"scale": args.scale, "seed": args.seed, "machine": platform.platform(), "cores": os.cpu_count(),
                    "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                                             text=True).stdout.strip(),
                    "load_before": os.getloadavg(), "arrow": [], "files": [], "export": [], "read": []}
    session = args.out / "session"
    os.environ["CLOSEDLOOP_SPARK_COPY"] = "arrow"
    with shared_session(session):
        started = time.perf_counter()
        build(raw, args.out / "built" / "wh.duckdb", out=io.StringIO(), engine="spark")
        result["spark_build_seconds"] = round(time.perf_counter() - started, 1)
        from pyspark.sql import SparkSession

        spark = SparkSession.builder.getOrCreate()
        tables = sorted(f"{schema}.{t.name}" for schema in ("intermediate", "marts")
                        for t in spark.catalog.listTables(schema) if not t.isTemporary and t.tableType != "VIEW")
        result["tables"] = len(tables)
        os.environ["CLOSEDLOOP_SPARK_DIR"] = str(session)  # what build_on_spark sets while dbt runs
        for i in range(args.rounds):
            arrow_file, files_file = args.out / f"arrow{i}" / "wh.duckdb", args.out / f"files{i}" / "wh.duckdb"
            arrow_file.parent.mkdir()
            files_file.parent.mkdir()
            started = time.perf_counter()
            copy_tables_to_duckdb(arrow_file, ("intermediate", "marts"), [t.split(".")[1] for t in tables])
            result["arrow"].append(round(time.perf_counter() - started, 2))
            export = args.out / f"export{i}"
            started = time.perf_counter()
            export_tables_as_parquet(tables, "spark_local", str(export), args.out, files_file, None)
            middle = time.perf_counter()
            read_exported_tables(files_file, str(export), tables)
            ended = time.perf_counter()
            result["export"].append(round(middle - started, 2))
            result["read"].append(round(ended - middle, 2))
            result["files"].append(round(ended - started, 2))
            result["export_bytes"] = sum(p.stat().st_size for p in export.rglob("*.parquet"))
            shutil.rmtree(export)
        result["differing_tables"] = len(compare_warehouses(arrow_file, files_file, ("intermediate", "marts")))
        result["warehouse_bytes"] = arrow_file.stat().st_size
    result["load_after"] = os.getloadavg()
    (args.out / "result.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0 if result["differing_tables"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
