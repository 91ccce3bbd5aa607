"""dbt on Spark in this process (issue 16, docs/scaling-out.md).

dbt-spark runs Python models only on Databricks clusters (dbt-labs/dbt-spark#415, #1062): in `session` mode (one
machine, `spark_local`) it has no way to submit one. `enable_session_python_models()` adds a `session` submission
method that runs the compiled model in the SparkSession dbt already holds, and makes it the default for a session
connection; `closedloop build --engine spark` (and `python -m closedloop.spark`, dbt's command line with this
patch) call it before dbt starts. On Databricks the models run as dbt-databricks submits them.

The built tables come back into DuckDB through Arrow from a session in this process (`copy_tables_to_duckdb`), or,
from a cluster, as Parquet files Spark writes and DuckDB reads (`copy_tables_through_files`; `copy_route`).
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from closedloop.sql import ident

# Set by `shared_session`: the folder of the SparkSession's metastore and tables that the builds in this process share.
_shared_dir: Path | None = None


@contextmanager
def shared_session(spark_dir: Path) -> Iterator[None]:
    """Every `--engine spark` build inside runs in one SparkSession (one JVM start-up, ≈ 30–50 s here) with its
    metastore and table files under `spark_dir`, instead of a session and a folder of its own per build: for the tests
    and benchmarks that build several sets in a row. Each build still registers its own landing and rebuilds every
    model in full (dropping the previous build's tables), and copies back only the tables it built. The session is
    stopped and `spark_dir` removed at the end."""
    global _shared_dir
    _shared_dir = spark_dir
    try:
        yield
    finally:
        _shared_dir = None
        _stop_session()
        shutil.rmtree(spark_dir, ignore_errors=True)


def enable_session_python_models() -> None:
    """Let dbt-spark run Python models in its own SparkSession (method `session`); idempotent."""
    from dbt.adapters.base import PythonJobHelper
    from dbt.adapters.spark.connections import SparkConnectionMethod
    from dbt.adapters.spark.impl import SparkAdapter

    if getattr(SparkAdapter, "_closedloop_session_python", False):
        return

    class SessionPythonJobHelper(PythonJobHelper):
        def __init__(self, parsed_model: dict, credentials: Any) -> None:
            self.parsed_model = parsed_model
            self.credentials = credentials

        def submit(self, compiled_code: str) -> None:
            from pyspark.sql import SparkSession

            spark = SparkSession.builder.getOrCreate()
            name = f"<dbt python model {self.parsed_model.get('unique_id', '?')}>"
            exec(compile(compiled_code, name, "exec"), {"spark": spark, "__name__": "__dbt_python_model__"})

    helpers = SparkAdapter.python_submission_helpers.fget
    default = SparkAdapter.default_python_submission_method.fget

    def python_submission_helpers(self):
        return {**helpers(self), "session": SessionPythonJobHelper}

    def default_python_submission_method(self):
        if self.config.credentials.method == SparkConnectionMethod.SESSION:
            return "session"
        return default(self)

    SparkAdapter.python_submission_helpers = property(python_submission_helpers)
    SparkAdapter.default_python_submission_method = property(default_python_submission_method)
    SparkAdapter._closedloop_session_python = True


def copy_tables_to_duckdb(duckdb_path: Path, schemas: tuple[str, ...] = ("marts",),
                          tables: list[str] | None = None) -> list[str]:
    """Copy every table of `schemas` from this process's SparkSession (the one dbt-spark's session method holds)
    into the DuckDB file `duckdb_path`, replacing tables of the same name; returns `schema.table` names copied.
    Arrow carries the types: string → VARCHAR, timestamp_ntz → TIMESTAMP, decimal(p,s), date, bigint, double …"""
    import duckdb
    from pyspark.sql import SparkSession

    spark = SparkSession.builder.getOrCreate()
    copied = []
    con = duckdb.connect(str(duckdb_path))
    try:
        for schema in schemas:
            if not spark.catalog.databaseExists(schema):
                continue
            con.execute(f"create schema if not exists {ident(schema)}")
            for table in spark.catalog.listTables(schema):
                if table.isTemporary or table.tableType == "VIEW" or (tables is not None and table.name not in tables):
                    continue
                arrow = spark.table(f"`{schema}`.`{table.name}`").toArrow()  # noqa: F841 - read by DuckDB below
                con.execute(f"create or replace table {ident(schema)}.{ident(table.name)} as select * from arrow")
                copied.append(f"{schema}.{table.name}")
    finally:
        con.close()
    return copied


def _target_output(target: str) -> dict:
    """profiles.yml's entry for `target` (empty when there is none)."""
    import yaml

    from closedloop import PROJECT_DIR

    outputs = yaml.safe_load((PROJECT_DIR / "profiles.yml").read_text(encoding="utf-8"))["closedloop"]["outputs"]
    return outputs.get(target) or {}


def _target_runs_in_this_process(target: str) -> bool:
    """Whether profiles.yml's `target` is dbt-spark's `session` method (Spark in this process): the only kind whose
    tables `copy_tables_to_duckdb` can read through Arrow. A Thrift server, EMR or Databricks keeps them on the
    cluster, and they come back through files (`export_tables_as_parquet`)."""
    found = _target_output(target)
    return found.get("type") == "spark" and found.get("method") == "session"


def copy_route(target: str) -> str:
    """How the built tables come back into DuckDB: `arrow` (in process, the default for a session target; faster
    here, docs/benchmarks.md) or `files` (Spark writes Parquet where DuckDB reads it; the only way from a cluster).
    CLOSEDLOOP_SPARK_COPY=files forces the file route on a session target too (tests/test_spark.py)."""
    from closedloop.build import BuildError

    asked = os.environ.get("CLOSEDLOOP_SPARK_COPY", "").strip().lower()
    if asked not in ("", "arrow", "files"):
        raise BuildError(f"CLOSEDLOOP_SPARK_COPY={asked!r}: expected `arrow` or `files`")
    if not _target_runs_in_this_process(target):
        if asked == "arrow":
            raise BuildError(f"CLOSEDLOOP_SPARK_COPY=arrow needs Spark in this process (target spark_local); target "
                             f"`{target}` runs on a cluster, whose tables come back through files only")
        return "files"
    return asked or "arrow"


def export_locations(target: str, working: Path, build_id: str, vars_: dict | None) -> tuple[str, str]:
    """Where Spark writes the built tables as Parquet, and the same folder as this machine reads it (they differ
    when the share is mounted elsewhere, e.g. `dbfs:/mnt/lake/…` on Databricks, `/mnt/lake/…` here): var
    `spark_export_location` or CLOSEDLOOP_SPARK_EXPORT_LOCATION, then CLOSEDLOOP_SPARK_EXPORT_READ_AS for this side;
    each build writes under its own `<build_id>/`. A session target defaults to the build's work folder."""
    from closedloop.build import BuildError

    spark_side = str((vars_ or {}).get("spark_export_location") or os.environ.get("CLOSEDLOOP_SPARK_EXPORT_LOCATION")
                     or "").rstrip("/")
    if not spark_side:
        if not _target_runs_in_this_process(target):
            raise BuildError(f"target `{target}` keeps its tables on the cluster: set CLOSEDLOOP_SPARK_EXPORT_LOCATION "
                             f"(or var spark_export_location) to a folder Spark writes and this machine reads (a "
                             f"shared mount, or s3://… with DuckDB's httpfs extension installed), and "
                             f"CLOSEDLOOP_SPARK_EXPORT_READ_AS if this machine sees it under another name "
                             f"(docs/scaling-out.md, 'Copy-back from a cluster')")
        folder = str(working.parent / "spark-export")
        return folder, folder
    here = (os.environ.get("CLOSEDLOOP_SPARK_EXPORT_READ_AS") or spark_side).rstrip("/")
    return f"{spark_side}/{build_id}", f"{here}/{build_id}"


def read_exported_tables(duckdb_path: Path, location: str, tables: list[str]) -> list[str]:
    """Create each `schema.table` of `tables` in the DuckDB file from the Parquet Spark wrote under
    `location/<schema>/<table>/` (`cl_export_tables`), replacing a table of the same name; returns the names."""
    import duckdb

    from closedloop.sql import literal

    con = duckdb.connect(str(duckdb_path))
    try:
        for name in tables:
            schema, table = name.split(".")
            con.execute(f"create schema if not exists {ident(schema)}")
            files = literal(f"{location}/{schema}/{table}/*.parquet")
            con.execute(f"create or replace table {ident(schema)}.{ident(table)} as "
                        f"select * from read_parquet({files})")
    finally:
        con.close()
    return list(tables)


def _marts_without_python_models(target: str, landing_dir: Path, working: Path) -> None:
    """Refuse, before anything runs, a Thrift/EMR target: dbt-spark submits Python models only to Databricks (and
    `enable_session_python_models` to a session), so the marts built on them would be missing. The served marts
    must be complete; the message names them."""
    from closedloop import PROJECT_DIR
    from closedloop.build import BuildError, run_dbt

    found = _target_output(target)
    if found.get("type") != "spark" or found.get("method") == "session":
        return
    python_models = sorted(p.stem for p in (PROJECT_DIR / "models").rglob("*.py"))
    if not python_models:
        return
    listed = run_dbt(["ls", "--resource-type", "model", "--output", "name",
                      "--select", *[f"{name}+,path:models/marts" for name in python_models]],
                     landing_dir, working, out=None, target_path=working.parent / "target-ls")
    marts = sorted(listed.result or []) if listed.success else ["(the list could not be made)"]
    raise BuildError(f"target `{target}` ({found.get('method')}) cannot run dbt's Python models "
                     f"({', '.join(python_models)}): dbt-spark submits them to Databricks only, so these marts would "
                     f"be missing: {', '.join(marts)}. Use target databricks, or spark_local on one big machine "
                     f"(docs/scaling-out.md, 'Where it stands').")


def build_on_spark(landing_dir: Path, working: Path, vars_: dict | None, out) -> None:
    """`closedloop build --engine spark`: dbt builds the seeds and models (selector `closedloop_spark`) on the Spark
    target (CLOSEDLOOP_SPARK_TARGET, default spark_local) over `landing_dir`, in full, then the intermediate and marts
    tables are copied into the DuckDB working file. Spark's metastore and tables live beside the working file
    (`.building/spark`, removed with it); raises BuildError naming the failing nodes."""
    import json

    from closedloop.build import BuildError, _failure_paragraph, run_dbt

    try:
        import pyspark  # noqa: F401
    except ImportError as exc:
        raise BuildError("--engine spark needs the `spark` extra (pip install -e '.[spark]') and Java 17 "
                         "(make spark-venv): docs/scaling-out.md") from exc
    target = os.environ.get("CLOSEDLOOP_SPARK_TARGET", "spark_local")
    # Checked before anything runs on the cluster: how the tables come back, and whether all marts can be built.
    route = copy_route(target)
    if route == "files":
        export_to, export_from = export_locations(target, working, landing_dir.name, vars_)
    _marts_without_python_models(target, landing_dir, working)
    enable_session_python_models()
    shared = _shared_dir is not None
    spark_dir = _shared_dir if shared else working.parent / "spark"
    if not shared:
        shutil.rmtree(spark_dir, ignore_errors=True)
    spark_dir.mkdir(parents=True, exist_ok=True)
    args = ["build", "--selector", "closedloop_spark", "--full-refresh", "--target", target]
    if vars_:
        args += ["--vars", json.dumps(vars_)]
    saved = os.environ.get("CLOSEDLOOP_SPARK_DIR")
    os.environ["CLOSEDLOOP_SPARK_DIR"] = str(spark_dir)
    try:
        # The landed Parquet as Spark tables (macros/engines.sql), then the models.
        register = ["run-operation", "cl_register_sources", "--target", target]
        if vars_:
            register += ["--vars", json.dumps(vars_)]
        # Each step's seconds are printed: bench/spark_vs_duckdb.py reads them (the first one holds the JVM start-up).
        started = time.perf_counter()
        result = run_dbt(register, landing_dir, working, out=None, target_path=working.parent / "target-spark")
        if not result.success:
            raise BuildError(f"On Spark: the landed Parquet could not be registered: {result.exception or ''}")
        print(f"Spark session ready and the landed Parquet registered in {time.perf_counter() - started:.1f} s",
              file=out, flush=True)
        started = time.perf_counter()
        result = run_dbt(args, landing_dir, working, out=out, target_path=working.parent / "target-spark")
        if not result.success:
            raise BuildError(f"On Spark: {_failure_paragraph(result)} The served warehouse was left unchanged.")
        print(f"dbt on Spark passed in {time.perf_counter() - started:.1f} s", file=out, flush=True)
        # only this build's models: a shared session's metastore holds the previous build's tables too
        built = [r.node for r in result.result.results if r.node.resource_type == "model"
                 and r.node.schema in ("intermediate", "marts") and r.node.config.materialized != "view"]
        started = time.perf_counter()
        if route == "arrow":
            copied = copy_tables_to_duckdb(working, ("intermediate", "marts"), sorted(n.alias or n.name for n in built))
        else:
            copied = copy_tables_through_files(sorted(f"{n.schema}.{n.alias or n.name}" for n in built), target,
                                               export_to, export_from, landing_dir, working, vars_)
        print(f"Copied {len(copied)} tables from Spark into the working warehouse ({route}) in "
              f"{time.perf_counter() - started:.1f} s", file=out, flush=True)
    finally:
        if saved is None:
            os.environ.pop("CLOSEDLOOP_SPARK_DIR", None)
        else:
            os.environ["CLOSEDLOOP_SPARK_DIR"] = saved
        if not shared:
            _stop_session()
            # Spark's tables were copied; its metastore and files are no use to the next build.
            shutil.rmtree(spark_dir, ignore_errors=True)


def copy_tables_through_files(tables: list[str], target: str, export_to: str, export_from: str, landing_dir: Path,
                              working: Path, vars_: dict | None) -> list[str]:
    """The file route: Spark writes `tables` as Parquet under `export_to`, DuckDB creates them from `export_from`
    (the same folder as this machine sees it). A local export folder is removed afterwards; one on object storage
    is left to its lifecycle rule."""
    try:
        export_tables_as_parquet(tables, target, export_to, landing_dir, working, vars_)
        return read_exported_tables(working, export_from, tables)
    finally:
        if "://" not in export_from:
            shutil.rmtree(export_from, ignore_errors=True)


def export_tables_as_parquet(tables: list[str], target: str, export_to: str, landing_dir: Path, working: Path,
                             vars_: dict | None) -> None:
    """Spark writes each `schema.table` of `tables` as Parquet under `export_to/<schema>/<table>/` (run-operation
    `cl_export_tables`, macros/engines.sql: plain SQL over dbt's connection to `target`)."""
    import json

    from closedloop.build import BuildError, run_dbt

    exported = run_dbt(["run-operation", "cl_export_tables", "--target", target,
                        "--args", json.dumps({"tables": tables, "location": export_to}),
                        *(["--vars", json.dumps(vars_)] if vars_ else [])],
                       landing_dir, working, out=None, target_path=working.parent / "target-spark")
    if not exported.success:
        raise BuildError(f"On Spark: the built tables could not be written as Parquet under {export_to}: "
                         f"{exported.exception or ''}")


def _stop_session() -> None:
    """Stop this process's SparkSession (its memory is the DuckDB build's next)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        return
    session = SparkSession.getActiveSession()
    if session is not None:
        session.stop()


# Flags of a dbt command that the registering run-operation takes too (each with its value).
_SHARED_FLAGS = {"--project-dir", "--profiles-dir", "--target", "--target-path", "--log-path", "--vars", "--profile"}


def _shared_flags(args: list[str]) -> list[str]:
    """The `_SHARED_FLAGS` of a dbt command line, each with its value."""
    out, i = [], 1
    while i < len(args):
        if args[i] in _SHARED_FLAGS and i + 1 < len(args):
            out += args[i: i + 2]
            i += 2
        else:
            i += 1
    return out


def main(argv: list[str] | None = None) -> int:
    """dbt's command line with session Python models enabled: `python -m closedloop.spark build --target …`; before
    build/run/seed/test/compile it registers the landed Parquet (`run-operation cl_register_sources`).
    `--copy-to FILE.duckdb` (first) copies the marts into a DuckDB file afterwards, in the same SparkSession."""
    from dbt.cli.main import dbtRunner

    args = list(sys.argv[1:] if argv is None else argv)
    copy_to = None
    if args[:1] == ["--copy-to"]:
        copy_to, args = Path(args[1]), args[2:]
    enable_session_python_models()
    if args[:1] in (["build"], ["run"], ["seed"], ["test"], ["compile"]):
        # the landed Parquet as Spark tables first (macros/engines.sql), with the same project, profile and target
        registered = dbtRunner().invoke(["run-operation", "cl_register_sources", *_shared_flags(args)])
        if not registered.success:
            return 1
    result = dbtRunner().invoke(args)
    if copy_to is not None:
        copied = copy_tables_to_duckdb(copy_to, ("marts",))
        print(f"Copied {len(copied)} tables into {copy_to}")
    return 0 if result.success else 1


if __name__ == "__main__":
    raise SystemExit(main())
