"""What the dbt Python models hand to pandas, the same on DuckDB and on Spark (docs/scaling-out.md).

`dbt.ref(...)` is a DuckDB relation under dbt-duckdb and a Spark DataFrame under dbt-spark; `to_pandas(rel)` gives the
pandas DataFrame either way, with the types DuckDB's `.df()` gives: decimals as float64, timestamps and dates as
datetime64. Both relations take `.filter("sql condition")`, so models filter before converting.
"""

from __future__ import annotations

import pandas as pd


def to_pandas(relation) -> pd.DataFrame:
    """A DuckDB relation or a Spark DataFrame as a pandas DataFrame (DuckDB's `.df()` types)."""
    if hasattr(relation, "df"):
        return relation.df()
    return _spark_frame(relation)


def _spark_frame(df) -> pd.DataFrame:
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    columns = []
    for field in df.schema.fields:
        col = F.col(f"`{field.name}`")
        if isinstance(field.dataType, T.DecimalType):
            col = col.cast("double")
        columns.append(col.alias(field.name))
    table = df.select(*columns).toArrow()
    return table.to_pandas(date_as_object=False)
