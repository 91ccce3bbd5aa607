"""The door in DuckDB: the Great Expectations suites compiled to SQL predicates, run over whole chunks and tables.

`expectations/*.json` stay the one declaration of the rules. Each expectation type the suites use compiles here
to a DuckDB predicate that is true exactly for the rows GX's pandas path reports as unexpected (nulls skipped
where GX skips them, row conditions applied where GX applies them); an expectation type or option with no
compilation stops validation at start-up, naming it (`compile_suites`). `closedloop/landing.py` runs the row
rules per chunk, the table rules (unique keys, foreign keys) and the warning rules with these predicates
(`CLOSEDLOOP_DOOR=sql`, the default) or with GX itself (`CLOSEDLOOP_DOOR=gx`, the previous door, kept so the
two can be compared: tests/test_door_equality.py). Why and how GX still checks what the SQL decides:
docs/validation.md, "The door in DuckDB".
"""

from __future__ import annotations

import datetime as dt
import os
from collections import Counter

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from closedloop import contract
from closedloop.sql import ident, literal

DOORS = ("sql", "gx")
DEFAULT_DOOR = "sql"


def door() -> str:
    """Which door validates: `sql` (compiled predicates) or `gx` (GX's pandas path, row by row)."""
    name = os.environ.get("CLOSEDLOOP_DOOR", DEFAULT_DOOR).strip().lower() or DEFAULT_DOOR
    if name not in DOORS:
        from closedloop.validate import SuiteError

        raise SuiteError(f"CLOSEDLOOP_DOOR={name!r}: expected one of {', '.join(DOORS)}.")
    return name


def _parameter(value: dict, parameters: dict) -> object:
    from closedloop.validate import SuiteError

    if value["$PARAMETER"] not in parameters:
        raise SuiteError(f"expectation parameter `{value['$PARAMETER']}` is not one closedloop provides "
                         f"({', '.join(sorted(parameters))}).")
    return parameters[value["$PARAMETER"]]


def _value_sql(value: object, parameters: dict) -> str:
    if isinstance(value, dict) and "$PARAMETER" in value:
        value = _parameter(value, parameters)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dt.datetime):
        return f"timestamp '{value.isoformat(sep=' ')}'"
    if isinstance(value, dt.date):
        return f"timestamp '{value.isoformat()}'"
    if isinstance(value, str):
        return literal(value)
    raise TypeError(f"cannot put {type(value).__name__} {value!r} into SQL")


_OPERATORS = {"==": "=", "!=": "<>", "<": "<", ">": ">", "<=": "<=", ">=": ">="}


def condition_sql(condition: object, parameters: dict) -> str:
    """A GX row condition (its JSON form) as SQL that is true exactly where GX keeps the row (null is false)."""
    from closedloop.validate import SuiteError

    if condition is None:
        return "true"
    if not isinstance(condition, dict):
        raise SuiteError(f"row condition {condition!r}: only the JSON form (nullity/comparison under and/or) "
                         "compiles to SQL.")
    kind = condition.get("type")
    if kind in ("and", "or"):
        parts = [condition_sql(c, parameters) for c in condition["conditions"]]
        return "(" + f" {kind} ".join(parts) + ")"
    column = ident(condition["column"]["name"])
    if kind == "nullity":
        return f"({column} is {'' if condition['is_null'] else 'not '}null)"
    if kind == "comparison" and condition.get("operator") in _OPERATORS:
        value = _value_sql(condition["parameter"], parameters)
        return f"coalesce({column} {_OPERATORS[condition['operator']]} {value}, false)"
    raise SuiteError(f"row condition of type {kind!r} (operator {condition.get('operator')!r}) does not compile "
                     "to SQL.")


def _in_set(column: str, values: list, parameters: dict) -> str:
    if not values:
        return f"({column} is not null)"
    return f"({column} is not null and {column} not in ({', '.join(_value_sql(v, parameters) for v in values)}))"


def failing_sql(expectation, parameters: dict, partition: str | None = None) -> str:
    """The predicate true for exactly the rows GX would list as unexpected for this expectation, over a relation
    holding the columns it reads (helper columns included). Window functions for the uniqueness types."""
    from closedloop.validate import SuiteError

    cfg = expectation.config
    kind, kw = cfg["type"], dict(cfg["kwargs"])
    condition = condition_sql(kw.pop("row_condition", None), parameters)
    kw.pop("condition_parser", None)
    if kw.pop("mostly", 1) != 1:
        raise SuiteError(f"`{kind}` with `mostly` below 1 does not compile to SQL (a row either passes or not).")
    allowed: set[str]
    if kind == "expect_column_values_to_not_be_null":
        allowed, pred = {"column"}, f"({ident(kw.get('column', ''))} is null)"
    elif kind == "expect_column_values_to_not_match_regex":
        c = ident(kw.get("column", ""))
        allowed, pred = {"column", "regex"}, f"({c} is not null and regexp_matches({c}, {literal(kw['regex'])}))"
    elif kind == "expect_column_values_to_match_regex":
        c = ident(kw.get("column", ""))
        allowed, pred = {"column", "regex"}, f"({c} is not null and not regexp_matches({c}, {literal(kw['regex'])}))"
    elif kind == "expect_column_values_to_be_in_set":
        values = kw.get("value_set")
        if isinstance(values, dict):
            values = _parameter(values, parameters)
        allowed, pred = {"column", "value_set"}, _in_set(ident(kw.get("column", "")), list(values), parameters)
    elif kind == "expect_column_values_to_be_between":
        c = ident(kw.get("column", ""))
        outside = []
        if kw.get("min_value") is not None:
            outside.append(f"{c} {'<=' if kw.get('strict_min') else '<'} {_value_sql(kw['min_value'], parameters)}")
        if kw.get("max_value") is not None:
            outside.append(f"{c} {'>=' if kw.get('strict_max') else '>'} {_value_sql(kw['max_value'], parameters)}")
        if not outside:
            raise SuiteError(f"`{kind}` needs min_value or max_value.")
        allowed = {"column", "min_value", "max_value", "strict_min", "strict_max"}
        pred = f"({c} is not null and ({' or '.join(outside)}))"
    elif kind == "expect_column_pair_values_a_to_be_greater_than_b":
        a, b = ident(kw.get("column_A", "")), ident(kw.get("column_B", ""))
        holds = f"coalesce({a} {'>=' if kw.get('or_equal') else '>'} {b}, false)"
        ignore = kw.get("ignore_row_if", "both_values_are_missing")
        skip = {"both_values_are_missing": f"({a} is null and {b} is null)",
                "either_value_is_missing": f"({a} is null or {b} is null)", "neither": "false"}.get(ignore)
        if skip is None:
            raise SuiteError(f"`{kind}` with ignore_row_if {ignore!r} does not compile to SQL.")
        allowed = {"column_A", "column_B", "or_equal", "ignore_row_if"}
        pred = f"(not {skip} and not {holds})"
    elif kind == "expect_column_values_to_be_unique":
        c = ident(kw.get("column", ""))
        # GX skips null values before it looks for repeats.
        allowed = {"column"}
        pred = f"({c} is not null and count(*) over (partition by {c}) > 1)"
        pred = _within(_within(pred, condition), partition)
        condition = "true"
    elif kind == "expect_compound_columns_to_be_unique":
        cols = [ident(c) for c in kw.get("column_list", [])]
        ignore = kw.get("ignore_row_if", "all_values_are_missing")
        skip = {"all_values_are_missing": " and ".join(f"{c} is null" for c in cols),
                "any_value_is_missing": " or ".join(f"{c} is null" for c in cols), "never": "false"}.get(ignore)
        if skip is None or not cols:
            raise SuiteError(f"`{kind}` with ignore_row_if {ignore!r} does not compile to SQL.")
        allowed = {"column_list", "ignore_row_if"}
        # Rows GX ignores do not count towards another row's repeats (they are in their own partition).
        pred = f"(not ({skip}) and count(*) over (partition by ({skip}), {', '.join(cols)}) > 1)"
        pred = _within(_within(pred, condition), partition)
        condition = "true"
    else:
        raise SuiteError(f"expectation type `{kind}` has no SQL compilation in closedloop/door.py; add one (and a "
                         "case in tests/test_door_equality.py) or run the previous door with CLOSEDLOOP_DOOR=gx.")
    extra = set(kw) - allowed
    if extra:
        raise SuiteError(f"`{kind}` with {', '.join(sorted(extra))} does not compile to SQL.")
    return f"coalesce({condition} and {pred}, false)"


def _within(pred: str, condition: str | None) -> str:
    if condition in (None, "true"):
        return pred
    # A condition narrows the rows a window counts over, as GX filters the frame before it looks for repeats.
    return pred.replace("partition by ", f"partition by ({condition}), ")


def compile_suites(tables: list[contract.Table] | None = None, parameters: dict | None = None) -> dict[str, list]:
    """Every expectation of every suite compiled once: fails at start-up, naming the type, for one that does not
    compile. Returns the predicates per table key (suite order)."""
    from closedloop import validate

    parameters = parameters or {"latest_allowed_at": dt.datetime(2000, 1, 1), "stage_names": ["x"]}
    return {t.key: [failing_sql(e, parameters) for e in validate.suite(t.key)]
            for t in (tables or contract.tables())}



def _or(names: list[str]) -> str:
    return " or ".join(names) if names else "false"


def _detail(expectation) -> str:
    refs = expectation.references
    return f": no {' or '.join(refs)} with this value was loaded" if refs else ""


def _issue_column(expectation, columns) -> str | None:
    issue = expectation.config["kwargs"].get("column", "")
    return issue if issue.endswith("__issue") and issue in columns else None


def _typed_name(column: str) -> str:
    return f"__typed__{column}"


def check_chunk(con, table: contract.Table, data: pa.Table, parameters: dict, expectations: tuple,
                stored: list[str]) -> tuple[list, pa.Table]:
    """The row rules over one chunk (Arrow, normalised) in one DuckDB pass that also types it: every typed
    contract column parsed once by its staging macro (`typed_sql`), the helper columns derived from that, every
    predicate evaluated. Returns the Failures (the same, in the same order, as `Validator.run` gives) and the
    rows that pass as they land: typed contract columns, other columns as read, `stored` helper columns (the
    table rules read them)."""
    from closedloop.readers import FILE, ROW
    from closedloop.validate import _SHADOW, POSITION, Failure, _value, reference, shadow_sql, typed_sql

    columns = sorted({c for e in expectations for c in e.columns})
    shadows = sorted({c for c in columns if _SHADOW.match(c) and not reference(c)} | set(stored))
    contract_names = set(table.column_names)
    typed = {c: sql for c in data.column_names if c in contract_names and (sql := typed_sql(table, c))}
    chunk = data.append_column(POSITION, pa.array(np.arange(data.num_rows, dtype=np.int64)))
    first = [ident(POSITION), *map(ident, data.column_names),
             *(f"{sql} as {ident(_typed_name(c))}" for c, sql in typed.items())]
    derived = {c: ident(_typed_name(c)) for c in typed}
    helpers = [f"{shadow_sql(table, s, derived)} as {ident(s)}" for s in shadows]
    flags = [f"{failing_sql(e, parameters)} as __f{j}" for j, e in enumerate(expectations)]
    issues = sorted({i for e in expectations if (i := _issue_column(e, shadows))})
    landed = [f"{ident(_typed_name(c)) if c in typed else ident(c)} as {ident(c)}" for c in data.column_names]
    names = [f"__f{j}" for j in range(len(expectations))]
    order = f" order by {ident(POSITION)}" if any(" over (" in f for f in flags) else ""
    out = [*landed, *map(ident, stored), ident(POSITION), *names, *map(ident, issues), f"({_or(names)}) as __fail"]
    con.register("__door_chunk", chunk)
    try:
        result = con.sql(
            f"with t as (select {', '.join(first)} from __door_chunk), "
            f"h as (select *{''.join(', ' + h for h in helpers)} from t), "
            f"f as (select *{''.join(', ' + f for f in flags)} from h) "
            # A projection keeps the chunk's order; only a window (a uniqueness rule per chunk) needs the sort.
            f"select {', '.join(out)} from f{order}").to_arrow_table()
    finally:
        con.unregister("__door_chunk")
    position = result.column(POSITION)
    if order == "" and len(position) > 1 and not pc.all(pc.greater(position[1:], position[:-1])).as_py():
        result = result.sort_by(POSITION)  # the parts' order is the landed order: never trust it unchecked
    fail = result.column("__fail")
    if not pc.any(fail).as_py():
        return [], result.select([*data.column_names, *stored])
    failing = result.filter(fail).select([POSITION, *names, *issues]).to_pydict()
    failures = []
    for j, e in enumerate(expectations):
        column, detail, issue = e.reported_column, _detail(e), _issue_column(e, shadows)
        for k, pos in enumerate(failing[POSITION]):
            if failing[f"__f{j}"][k]:
                if issue is not None:  # `rule: detail`, from the macro that checked the value
                    detail = ": " + str(failing[issue][k]).partition(": ")[2]
                failures.append(Failure(pos, column, e.rule, e.severity, _value(data, pos, column), detail))
    passing = result.filter(pc.invert(fail)).select([*data.column_names, *stored])
    assert FILE in passing.column_names and ROW in passing.column_names
    return failures, passing


WINDOWED = ("expect_column_values_to_be_unique", "expect_compound_columns_to_be_unique")
# Rows set aside by the row rules that GX re-judges per table (the first ones, in file order).
REJUDGE_ROWS = 100_000


class Rejudge:
    """GX's own verdict on the rows the compiled row rules set aside: the set-aside rows of a table (up to
    REJUDGE_ROWS) go through GX's pandas path with the same suite, and GX must find exactly the same failures
    (row, rule, column, value, detail) on them, or validation stops naming the first disagreement. GX starts only
    when something was set aside, so a clean export pays nothing for it."""

    def __init__(self, table: contract.Table, expectations: tuple):
        # A rule over several rows (uniqueness within a chunk) cannot be re-judged on a sample of the rows: a
        # table with one is left to the equality tests.
        self.table = table
        self.expectations = () if any(e.config["type"] in WINDOWED for e in expectations) else expectations
        self.rows: list[pa.Table] = []
        self.failures: list = []
        self.count = 0

    def add(self, data: pa.Table, failures: list) -> None:
        from closedloop.validate import Failure

        positions = sorted({f.position for f in failures})[:max(0, REJUDGE_ROWS - self.count)]
        if not positions or not self.expectations:
            return
        at = {p: self.count + i for i, p in enumerate(positions)}
        self.rows.append(data.take(pa.array(positions, type=pa.int64())))
        self.failures += [Failure(at[f.position], f.column, f.rule, f.severity, f.value, f.detail)
                          for f in failures if f.position in at]
        self.count += len(positions)

    def check(self, validator, parameters: dict) -> None:
        from closedloop.landing import gx_columns
        from closedloop.validate import _SHADOW, SuiteError

        if not self.rows:
            return
        rows = pa.concat_tables(self.rows, promote_options="default").combine_chunks()
        columns = list(dict.fromkeys(c for e in self.expectations for c in e.columns))
        shadows = sorted({c for c in columns if _SHADOW.match(c)})
        frame = gx_columns(rows, validator.helpers(self.table, rows, shadows), columns)
        found = validator.run(self.table, "row", frame, parameters, self.expectations, source=rows)

        def key(f) -> tuple:
            return f.position, f.rule, f.column or "", str(f.value), f.detail

        sql, gx = sorted(map(key, self.failures)), sorted(map(key, found))
        if sql != gx:
            first = next((a, b) for a, b in zip([*sql, None], [*gx, None], strict=False) if a != b)
            raise SuiteError(f"`{self.table.key}`: the compiled rules and Great Expectations disagree on a row set "
                             f"aside (SQL {first[0]}, GX {first[1]}). This is a bug in closedloop/door.py; "
                             "CLOSEDLOOP_DOOR=gx validates with GX alone meanwhile. Please report it.")


def table_failures(con, relation: str, rules: tuple, parameters: dict, order: str) -> tuple[pa.Table, list]:
    """Foreign keys, then unique keys over the rows whose references hold, the last row of a key in file order
    (`order`) kept: one DuckDB statement over `relation` (closedloop.landing._rules_relation). Returns the
    failing rows (file, row, the columns values are reported from) and their Failures (positions in it), in the
    order `_TableLander` produces them with GX."""
    from closedloop.readers import FILE, ROW
    from closedloop.validate import Failure

    uniques = tuple(e for e in rules if e.rule == "duplicate_key")
    references = tuple(e for e in rules if e not in uniques)
    names = con.sql(f"select * from ({relation}) limit 0").columns
    values = sorted({e.reported_column for e in rules} & set(names) - {FILE, ROW})
    r_flags = [f"__r{j}" for j in range(len(references))]
    u_flags = [f"__u{j}" for j in range(len(uniques))]
    steps = [f"r as ({relation})",
             "g as (select *" + "".join(f", {failing_sql(e, parameters)} as __r{j}"
                                        for j, e in enumerate(references)) + " from r)",
             f"g2 as (select *, ({_or(r_flags)}) as __refail from g)"]
    if uniques:
        kwargs = uniques[0].config["kwargs"]
        key = ", ".join(ident(c) for c in kwargs.get("column_list") or [kwargs["column"]])
        steps += ["u as (select *, " + ", ".join(
                      f"(not __refail and {failing_sql(e, parameters, '__refail')}) as __u{j}"
                      for j, e in enumerate(uniques)) + " from g2)",
                  f"d as (select *, ({_or(u_flags)}) as __dup from u)",
                  # Every row of a duplicated key is flagged; the last in file order loads (a newer export of the
                  # same record is its newer version).
                  f"l as (select *, (__dup and row_number() over (partition by __dup, {key} order by {order} desc)"
                  " > 1) as __drop from d)"]
    else:
        steps.append("l as (select *, false as __drop from g2)")
    select = [ident(FILE), ident(ROW), *map(ident, values), *r_flags, *u_flags]
    failing = con.sql(f"with {', '.join(steps)} select {', '.join(select)} from l where __refail or __drop "
                      f"order by {order}").to_arrow_table()
    flags = failing.select([*r_flags, *u_flags]).to_pydict()
    failures = []
    for j, e in enumerate(references):
        failures += [Failure(k, e.reported_column, e.rule, e.severity, _at(failing, k, e.reported_column),
                             _detail(e)) for k, hit in enumerate(flags[f"__r{j}"]) if hit]
    for j, e in enumerate(uniques):
        failures += [Failure(k, e.reported_column, e.rule, e.severity, _at(failing, k, e.reported_column),
                             _detail(e)) for k, hit in enumerate(flags[f"__u{j}"]) if hit]
    return failing.select([FILE, ROW, *values]), failures


def _at(rows: pa.Table, position: int, column: str) -> object:
    return rows.column(column)[position].as_py() if column in rows.column_names else None


def warning_counts(con, table: contract.Table, relation: str, rules: tuple, parameters: dict) -> dict[str, int]:
    """Rows failing each warning rule (`rule column` → rows), over `relation` with its helper columns added."""
    from closedloop.validate import _SHADOW, reference, shadow_sql

    columns = sorted({c for e in rules for c in e.columns})
    shadows = [c for c in columns if _SHADOW.match(c) and not reference(c)]
    helpers = "".join(f", {shadow_sql(table, s)} as {ident(s)}" for s in shadows)
    sums = [f"count(*) filter (where {failing_sql(e, parameters)})" for e in rules]
    totals = con.execute(f"with p as ({relation}), h as (select *{helpers} from p) select {', '.join(sums)} "
                         "from h").fetchone()
    counts: Counter = Counter()
    for e, n in zip(rules, totals, strict=True):
        if n:
            counts[f"{e.rule} {e.reported_column}"] += n
    return dict(sorted(counts.items()))


def set_aside_frame(failing: pa.Table, failures: list) -> pd.DataFrame:
    """(file, row) of the rows the table rules set aside, as `_TableLander._write_landed` takes them."""
    from closedloop.readers import FILE, ROW

    positions = sorted({f.position for f in failures})
    rows = failing.take(pa.array(positions, type=pa.int64())) if positions else failing.slice(0, 0)
    return pd.DataFrame({FILE: pd.Series(rows.column(FILE).to_pylist(), dtype=object),
                         ROW: pd.Series(rows.column(ROW).to_pylist(), dtype="int64")})


__all__ = ["DEFAULT_DOOR", "DOORS", "REJUDGE_ROWS", "Rejudge", "compile_suites", "door", "check_chunk", "failing_sql",
           "table_failures", "warning_counts"]
