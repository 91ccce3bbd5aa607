"""dbt on Spark in this process (issue 16, docs/scaling-out.md).

dbt-spark runs Python models only on Databricks clusters (dbt-labs/dbt-spark#415, #1062): in `session` mode (one
machine, `spark_local`) it has no way to submit one. `enable_session_python_models()` adds a `session` submission
method that runs the compiled model in the SparkSession dbt already holds, and makes it the default for a session
connection; `closedloop build --engine spark` (and `python -m closedloop.spark`, dbt's command line with this
patch) call it before dbt starts. On Databricks the models run as dbt-databricks submits them.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from closedloop.sql import ident


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
                if table.isTemporary or (tables is not None and table.name not in tables):
                    continue
                arrow = spark.table(f"`{schema}`.`{table.name}`").toArrow()  # noqa: F841 - read by DuckDB below
                con.execute(f"create or replace table {ident(schema)}.{ident(table.name)} as select * from arrow")
                copied.append(f"{schema}.{table.name}")
    finally:
        con.close()
    return copied


def main(argv: list[str] | None = None) -> int:
    """dbt's command line with session Python models enabled: `python -m closedloop.spark build --target …`.
    `--copy-to FILE.duckdb` (first) copies the marts into a DuckDB file afterwards, in the same SparkSession."""
    from dbt.cli.main import dbtRunner

    args = list(sys.argv[1:] if argv is None else argv)
    copy_to = None
    if args[:1] == ["--copy-to"]:
        copy_to, args = Path(args[1]), args[2:]
    enable_session_python_models()
    result = dbtRunner().invoke(args)
    if copy_to is not None:
        copied = copy_tables_to_duckdb(copy_to, ("marts",))
        print(f"Copied {len(copied)} tables into {copy_to}")
    return 0 if result.success else 1


if __name__ == "__main__":
    raise SystemExit(main())
