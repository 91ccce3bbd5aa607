"""dbt on Spark in this process (issue 16, docs/scaling-out.md).

dbt-spark runs Python models only on Databricks clusters (dbt-labs/dbt-spark#415, #1062): in `session` mode (one
machine, `spark_local`) it has no way to submit one. `enable_session_python_models()` adds a `session` submission
method that runs the compiled model in the SparkSession dbt already holds, and makes it the default for a session
connection; `closedloop build --engine spark` (and `python -m closedloop.spark`, dbt's command line with this
patch) call it before dbt starts. On Databricks the models run as dbt-databricks submits them.
"""

from __future__ import annotations

import sys
from typing import Any


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


def main(argv: list[str] | None = None) -> int:
    """dbt's command line with session Python models enabled: `python -m closedloop.spark build --target …`."""
    from dbt.cli.main import dbtRunner

    enable_session_python_models()
    result = dbtRunner().invoke(list(sys.argv[1:] if argv is None else argv))
    return 0 if result.success else 1


if __name__ == "__main__":
    raise SystemExit(main())
