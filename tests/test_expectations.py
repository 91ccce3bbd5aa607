"""The expectation suites agree with the contract, and what validation accepts, staging can type."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from closedloop import contract, validate

_TYPED = {"timestamp": "type_timestamp", "date": "type_date", "decimal(18,2)": "type_number",
          "integer": "type_integer", "bigint": "type_integer", "boolean": "type_boolean"}


@pytest.mark.parametrize("table", contract.tables(), ids=lambda t: t.key)
def test_suite_covers_the_contract(table: contract.Table) -> None:
    expectations = validate.suite(table.key)
    rules = {(e.rule, e.reported_column) for e in expectations}
    for column in table.required_columns:
        assert ("required", column) in rules, f"{table.key}.{column} is required but not checked"
    for c in table.columns:
        if c.data_type in _TYPED:
            assert (_TYPED[c.data_type], c.name) in rules, f"{table.key}.{c.name} is never parsed"
    names = set(table.column_names)
    for e in expectations:
        for col in e.columns:
            assert validate.base_column(col) in names, f"{table.key}: `{col}` is not a contract column"
        for ref in e.references:
            parent, key = ref.split(".")
            assert key in contract.table(parent).column_names, f"{table.key}: {ref} does not exist"


def test_every_suite_loads_into_great_expectations() -> None:
    import great_expectations as gx

    for table in contract.tables():
        configs = [e.config for e in validate.suite(table.key)]
        suite = gx.ExpectationSuite(name=table.key.replace("/", "."), expectations=configs)
        assert len(suite.expectations) == len(configs)


def test_foreign_keys_load_parents_first() -> None:
    order = validate.load_order([t.key for t in contract.tables()])
    for key in order:
        for parent in validate.foreign_parents(key):
            if parent != key:
                assert order.index(parent) < order.index(key), f"{parent} must land before {key}"


_TIMESTAMPS = ["2026-03-01", "2026-03-01 09:30", "2026-03-01T09:30:00", "2026-03-01T09:30:00.250",
               "2026-03-01T01:30:00Z", "2026-03-01T09:30:00+08:00", "2026-03-01T09:30:00+0800",
               "2026-03-01 09:30:00 +08",
               "2026/03/01", "2026-3-1", "2026-02-30", "01/03/2026", "20260301", "2026-03-01 09:30:00 +0800",
               "2026年3月1日", "yesterday", "2026-03-01T25:00:00", "45000",
               "2026-03-01 09:30:00 UTC", "2026-03-01 09:30:00 America/New_York", "2026-03-01 09:30:00 GMT+8",
               "2026-03-01 09:30:00 CST", "2026-03-01 09:30:00 Nowhere/City", "0001-01-01", "10000-01-01",
               "2026-03-01T09:30:00-05:00:00", "2026-03-01 09:30:00 北京时间"]
_NUMBERS = ["12", "12.5", "-3", "1e3", "1,200", "¥12", " 7 ", "12.345", "abc", "0x10", "NaN", "1_000", "1e5",
            "12.340", "1.0", "+4", "inf"]


@pytest.mark.parametrize(("data_type", "values"), [("timestamp", _TIMESTAMPS), ("date", _TIMESTAMPS),
                                                   ("decimal(18,2)", _NUMBERS), ("integer", _NUMBERS)])
def test_what_validation_accepts_staging_can_cast(data_type: str, values: list[str]) -> None:
    """Validation types a value with the staging macro wrapped in try(); staging runs the same macro without
    try() and fails the build on an error. Every value validation accepts must therefore cast in staging."""
    table = contract.Table("t", "t", False, (contract.Column("x", data_type, False),))
    frame = pd.DataFrame({"x": pd.Series(values, dtype=object)})
    con = duckdb.connect()
    typed = con.from_df(frame).project(f"{validate.shadow_sql(table, 'x__parsed')} as p").df()["p"]
    accepted = [v for v, p in zip(values, typed, strict=True) if not pd.isna(p)]
    rejected = [v for v, p in zip(values, typed, strict=True) if pd.isna(p)]
    staging = validate._PARSERS[data_type]
    expression = getattr(validate._macros(), staging)('"x"')
    for value in accepted:
        con.execute(f"select {expression} from (select ? as x)", [value]).fetchall()
    for value in rejected:
        with pytest.raises(duckdb.Error):
            con.execute(f"select {expression} from (select ? as x)", [value]).fetchall()
    assert accepted and rejected
