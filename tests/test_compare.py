"""closedloop.compare, the mart-by-mart check behind `make test-spark` (docs/scaling-out.md), on small files."""

from __future__ import annotations

from pathlib import Path

import duckdb

from closedloop.compare import compare_warehouses


def _warehouse(path: Path, rows: list[tuple], types: str = "id varchar, n bigint, rate double") -> Path:
    con = duckdb.connect(str(path))
    con.execute("create schema marts")
    con.execute(f"create table marts.t ({types})")
    if rows:
        con.executemany(f"insert into marts.t values ({', '.join('?' * len(rows[0]))})", rows)
    con.close()
    return path


def test_equal_within_the_tolerance_and_in_any_order(tmp_path: Path) -> None:
    a = _warehouse(tmp_path / "a.duckdb", [("x", 1, 0.1), ("y", 2, 1e6), ("y", 2, None)])
    b = _warehouse(tmp_path / "b.duckdb", [("y", 2, None), ("y", 2, 1e6 * (1 + 1e-12)), ("x", 1, 0.1 + 1e-15)])
    assert compare_warehouses(a, b) == []


def test_a_count_a_key_or_a_rate_that_differs_is_reported_with_its_rows(tmp_path: Path) -> None:
    a = _warehouse(tmp_path / "a.duckdb", [("x", 1, 0.5), ("y", 2, 0.25)])
    b = _warehouse(tmp_path / "b.duckdb", [("x", 1, 0.5 + 1e-6), ("y", 3, 0.25)])
    [diff] = compare_warehouses(a, b)
    text = str(diff)
    assert diff.table == "marts.t"
    assert "'rate (left, right)': (0.5, 0.500001)" in text
    assert "'only left'" in text and "'only right'" in text  # the count 2 against 3 is a different key


def test_row_counts_columns_and_types_must_match(tmp_path: Path) -> None:
    a = _warehouse(tmp_path / "a.duckdb", [("x", 1, 0.5)])
    assert "1 rows against 2" in str(compare_warehouses(a, _warehouse(tmp_path / "b.duckdb", [("x", 1, 0.5)] * 2))[0])
    typed = _warehouse(tmp_path / "c.duckdb", [("x", 1, 0.5)], "id varchar, n integer, rate double")
    assert "types differ: n BIGINT against INTEGER" in str(compare_warehouses(a, typed)[0])
    other = _warehouse(tmp_path / "d.duckdb", [("x", 1)], "id varchar, n bigint")
    assert "columns differ" in str(compare_warehouses(a, other)[0])
