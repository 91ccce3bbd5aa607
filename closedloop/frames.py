"""What the dbt Python models hand to pandas, the same on DuckDB and on Spark (docs/scaling-out.md).

`dbt.ref(...)` is a DuckDB relation under dbt-duckdb and a Spark DataFrame under dbt-spark; `to_pandas(rel)` gives the
pandas DataFrame either way, with the types DuckDB's `.df()` gives: decimals as float64, timestamps and dates as
datetime64. Both relations take `.filter("sql condition")`, so models filter before converting.
"""

from __future__ import annotations

import pandas as pd


def to_pandas(relation, columns: list[str] | None = None) -> pd.DataFrame:
    """A DuckDB relation or a Spark DataFrame as a pandas DataFrame (DuckDB's `.df()` types), of `columns` only when
    given: a model reads the columns it uses, since a mart's other columns would be strings held in pandas (the deal
    probabilities read two marts of millions of rows at scale 1000)."""
    if columns is not None:
        relation = relation.select(*columns)
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


def to_result(frame: pd.DataFrame, session):
    """A Python model's pandas result as its engine's materialization takes it: the frame itself, except an empty frame
    on Spark. dbt-spark turns a pandas result into a table with `spark.createDataFrame(frame)`, which infers the schema
    from the rows and fails on none (CANNOT_INFER_EMPTY_SCHEMA: the Maven set has no repeat purchases); an empty
    frame becomes an empty Spark DataFrame typed from its pandas dtypes, as Spark types the rows of a non-empty one."""
    if len(frame) or not hasattr(session, "createDataFrame"):
        return frame
    from pyspark.sql import types as T

    ntz = str(session.conf.get("spark.sql.timestampType", "")).upper() == "TIMESTAMP_NTZ"
    by_kind = {"i": T.LongType(), "u": T.LongType(), "f": T.DoubleType(), "b": T.BooleanType(),
               "M": T.TimestampNTZType() if ntz else T.TimestampType()}
    schema = T.StructType([T.StructField(str(name), by_kind.get(dtype.kind, T.StringType()), True)
                           for name, dtype in frame.dtypes.items()])
    return session.createDataFrame([], schema)
