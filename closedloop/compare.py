"""Two warehouses' tables compared table by table (issue 16: DuckDB's marts against Spark's, docs/scaling-out.md).

Two tables are equal when they have the same columns, of the same types, and the same rows: every column but the
floating-point ones is a key and must match exactly (counts, ids, dates, texts, decimals), and the floating-point
ones (rates, shares, money computed in doubles) may differ by `tolerance` relative to their size (at least 1:
absolute below 1). Rows are matched on the key columns and, among rows with equal keys, in the order of their float
columns, so a duplicate row must be duplicated on both sides. A differing table is reported with its first
differing rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from closedloop.sql import ident, literal

FLOAT_TYPES = {"DOUBLE", "FLOAT", "REAL"}


@dataclass
class TableDifference:
    table: str
    problem: str
    rows: list[dict] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [f"{self.table}: {self.problem}"]
        lines += [f"    {row}" for row in self.rows]
        return "\n".join(lines)


def _columns(con: duckdb.DuckDBPyConnection, db: str, schema: str, table: str) -> dict[str, str]:
    rows = con.execute(
        "select column_name, data_type from duckdb_columns() where database_name = ? and schema_name = ? "
        "and table_name = ? order by column_index",
        [db, schema, table],
    ).fetchall()
    return {name: dtype for name, dtype in rows}


def _tables(con: duckdb.DuckDBPyConnection, db: str, schema: str) -> list[str]:
    rows = con.execute(
        "select table_name from duckdb_tables() where database_name = ? and schema_name = ? order by 1", [db, schema]
    ).fetchall()
    return [r[0] for r in rows]


def compare_table(con: duckdb.DuckDBPyConnection, schema: str, table: str, tolerance: float = 1e-9,
                  limit: int = 5) -> TableDifference | None:
    """Compare `lhs.<schema>.<table>` with `rhs.<schema>.<table>` (both attached to `con` as lhs and rhs)."""
    name = f"{schema}.{table}"
    left_cols = _columns(con, "lhs", schema, table)
    right_cols = _columns(con, "rhs", schema, table)
    if list(left_cols) != list(right_cols):
        return TableDifference(name, f"columns differ: {list(left_cols)} against {list(right_cols)}")
    typed = {c: (t, right_cols[c]) for c, t in left_cols.items() if t != right_cols[c]}
    if typed:
        listed = ", ".join(f"{c} {a} against {b}" for c, (a, b) in typed.items())
        return TableDifference(name, f"types differ: {listed}")
    floats = [c for c, t in left_cols.items() if t in FLOAT_TYPES or right_cols[c] in FLOAT_TYPES]
    keys = [c for c in left_cols if c not in floats]
    rel_l = f"lhs.{ident(schema)}.{ident(table)}"
    rel_r = f"rhs.{ident(schema)}.{ident(table)}"
    counts = con.execute(f"select (select count(*) from {rel_l}), (select count(*) from {rel_r})").fetchall()[0]
    problem = f"{counts[0]} rows against {counts[1]}" if counts[0] != counts[1] else ""
    order = ", ".join(ident(c) for c in floats) or "1"
    part = ", ".join(ident(c) for c in keys) or "1"

    def numbered(rel: str) -> str:
        return f"select *, row_number() over (partition by {part} order by {order}) as _cl_n from {rel}"

    join = " and ".join([f"l.{ident(c)} is not distinct from r.{ident(c)}" for c in keys] + ["l._cl_n = r._cl_n"])
    float_ok = " and ".join(
        f"(l.{ident(c)} is not distinct from r.{ident(c)} or abs(l.{ident(c)} - r.{ident(c)}) "
        f"<= {tolerance!r} * greatest(1, abs(l.{ident(c)})))"
        for c in floats
    ) or "true"
    sql = f"""
        with l as ({numbered(rel_l)}), r as ({numbered(rel_r)})
        select case when l._cl_n is null then 'only right' when r._cl_n is null then 'only left' else 'differs' end
                   as side, l.*, r.*
        from l full outer join r on {join}
        where l._cl_n is null or r._cl_n is null or not ({float_ok})
        limit {int(limit) * 2}
    """
    cur = con.execute(sql)
    found = cur.fetchall()
    if not found and not problem:
        return None
    cols = list(left_cols)
    rows = []
    for row in found[: limit * 2]:
        side, left, right = row[0], row[1: len(cols) + 1], row[len(cols) + 2: 2 * len(cols) + 2]
        if side == "differs":
            shown = {"side": side, **{c: v for c, v in zip(keys, [left[cols.index(k)] for k in keys], strict=True)}}
            shown.update({f"{c} (left, right)": (a, b) for c, a, b in zip(cols, left, right, strict=True)
                          if c in floats and a != b})
        else:
            shown = {"side": side, **dict(zip(cols, left if side == "only left" else right, strict=True))}
        rows.append(shown)
    return TableDifference(name, problem or f"{len(found)}+ rows differ", rows)


def compare_warehouses(left: Path, right: Path, schemas: tuple[str, ...] = ("marts",), tolerance: float = 1e-9,
                       tables: list[str] | None = None) -> list[TableDifference]:
    """Every table of `schemas` in `left` against the same table in `right`; [] when all are equal."""
    con = duckdb.connect()
    con.execute(f"attach {literal(str(left))} as lhs (read_only)")
    con.execute(f"attach {literal(str(right))} as rhs (read_only)")
    differences: list[TableDifference] = []
    for schema in schemas:
        names_l = _tables(con, "lhs", schema)
        names_r = _tables(con, "rhs", schema)
        for missing in sorted(set(names_l) ^ set(names_r)):
            side = "left" if missing in names_l else "right"
            differences.append(TableDifference(f"{schema}.{missing}", f"only in {side}"))
        for table in names_l:
            if table not in names_r or (tables is not None and table not in tables):
                continue
            diff = compare_table(con, schema, table, tolerance)
            if diff is not None:
                differences.append(diff)
    con.close()
    return differences


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Compare two warehouses' marts table by table.")
    parser.add_argument("left", type=Path)
    parser.add_argument("right", type=Path)
    parser.add_argument("--schema", action="append", dest="schemas")
    parser.add_argument("--tolerance", type=float, default=1e-9)
    args = parser.parse_args(argv)
    diffs = compare_warehouses(args.left, args.right, tuple(args.schemas or ["marts"]), args.tolerance)
    for diff in diffs:
        print(diff)
    print(f"{len(diffs)} differing table(s)")
    return 1 if diffs else 0


if __name__ == "__main__":
    raise SystemExit(main())
