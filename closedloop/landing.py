"""Validate a raw export and land it as one Parquet file per contract table, the files dbt's sources read.

For every table: read its files (or a vendor export through a mapping), run its Great Expectations suite,
set failing rows aside with file, row, column, rule and value, and land the rest. Every contract column is
present in the landed file (absent optional ones as nulls, so a thinner export still builds), extra columns
are kept, and `_source_file`/`_source_row` say where each row came from. An absent table lands empty.

Rows read = rows loaded + rows set aside, for every table, always; `land` raises rather than break it.
The landing folder also gets `_rejected.parquet` (one row per failure), `_load_report.parquet` (one row per
table) and `_manifest.json`; dbt reads the first two into `closedloop_rejected_rows` and
`closedloop_load_report`.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TextIO

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from closedloop import contract, door
from closedloop.door_cache import DoorCache, FileAnswer
from closedloop.publish import link_or_copy
from closedloop.readers import FILE, ROW, SOURCE_FILE, SOURCE_ROW, ReadError, Rejection
from closedloop.sources import SourceError, TableInput, default_inputs, ignored_files, unmatched_files
from closedloop.sql import ident, literal, literal_list

MANIFEST = "_manifest.json"
REJECTED = "_rejected.parquet"
LOAD_REPORT = "_load_report.parquet"
_REJECTED_SCHEMA = pa.schema([("table_key", pa.string()), ("file", pa.string()), ("row", pa.int64()),
                              ("column_name", pa.string()), ("rule", pa.string()), ("value", pa.string()),
                              ("message", pa.string())])


class LandingError(Exception):
    """A table-level problem that stops the build (missing required table or column, unreadable file)."""


@dataclass
class TableReport:
    table: str
    files: list[str] = field(default_factory=list)
    status: str = "loaded"  # loaded | absent
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    rejected_by_rule: dict[str, int] = field(default_factory=dict)
    warnings_by_rule: dict[str, int] = field(default_factory=dict)
    not_checked: list[str] = field(default_factory=list)
    extra_columns: list[str] = field(default_factory=list)
    missing_optional_columns: list[str] = field(default_factory=list)
    note: str = ""
    # Said in the report, never silent: entries named like a part of the table that are not read, and vendor
    # columns kept under another name because theirs is one closedloop gives its own columns (lineage).
    ignored_files: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)

    def line(self, verb: str = "loaded") -> str:
        """One line of the load report; `verb` is what happens to the rows that pass ("loaded", "would load")."""
        if self.status == "absent":
            return f"  {self.table:<32} absent (marts over it will be empty)"
        text = (f"  {self.table:<32} {self.rows_read:>9,} read  {self.rows_loaded:>9,} {verb}  "
                f"{self.rows_rejected:>7,} set aside")
        if self.rejected_by_rule:
            text += "  (" + ", ".join(f"{k} {v:,}" for k, v in sorted(self.rejected_by_rule.items())) + ")"
        if self.warnings_by_rule:
            text += "  warnings: " + ", ".join(f"{k} {v:,}" for k, v in sorted(self.warnings_by_rule.items()))
        return text


# Every value and name put into SQL goes through closedloop.sql (paths come from users: `it's; drop …`).
_quote = ident
_sql_list = literal_list


# Rows per chunk of the row rules (GX costs ~0.15 s a run plus ~0.5 µs a row and expectation: larger chunks
# spend less on the first, and stay well within memory as Arrow).
LAND_CHUNK_ROWS = 500_000
# Rows per partition of the table rules (unique keys are checked within partitions by key hash, so a partition
# holds every row of its keys; foreign keys are row by row) and per batch of the warn-level checks.
RULES_PARTITION_ROWS = 2_000_000
# Check row rules in a second process too when the raw files are at least this large: starting one, with its own
# GX context, costs ~5 s of CPU, and when no second core is free the two only take turns (measured: ~8% slower at
# scale 100 with the other core busy; ~15% faster at scale 10 with it idle).
PARALLEL_MIN_BYTES = 1 << 30
WORKERS = 2  # processes checking row rules: this one and, for large inputs, one worker (1: this one alone)
# Parts are read once or twice per build and kept as the door cache's answers (closedloop.door_cache): no
# dictionary (~3× faster writes than dictionary + snappy), LZ4 pages (measured on a 500k-row part of scale 100:
# 75 → 30 MB for +0.08 s of writing, reads as fast; zstd level 1 gave 16 MB for +0.13 s), so the cache takes
# ~40% of the uncompressed parts' disk. Statistics stay: DuckDB writes a column it can prove has no null (from
# them) as required in the landed file.
PART_WRITE = {"compression": "lz4", "use_dictionary": False}
DUCKDB_MEMORY = "4GB"  # the landing's DuckDB spills to the work folder beyond this
# What Python's str.strip() strips: every character str.isspace() calls whitespace.
_WHITESPACE = "".join(ch for ch in map(chr, range(sys.maxunicode + 1)) if ch.isspace())
_ORD = "__ord"  # a row's place in file order: part number × 2³² + its row in the part


def _normalise(data: pa.Table, table: contract.Table, report: TableReport) -> pa.Table:
    """Trim values (as Python's str.strip(): staging would), blank → null, and add absent contract columns as
    nulls."""
    from closedloop.fastcsv import blank_as_null

    names = data.column_names
    for i, name in enumerate(names):
        column = data.column(i)
        if name in (FILE, ROW) or not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
            continue
        data = data.set_column(i, name, blank_as_null(pc.utf8_trim(column, characters=_WHITESPACE)))
    for c in table.column_names:
        if c not in names:
            data = data.append_column(c, pa.nulls(data.num_rows, pa.string()))
            if c not in report.missing_optional_columns:
                report.missing_optional_columns.append(c)
    for c in names:
        if c not in table.column_names and c not in (FILE, ROW) and c not in report.extra_columns:
            report.extra_columns.append(c)
    return data


def _arrow(chunk) -> pa.Table:
    """A chunk's rows as Arrow: text columns as strings, `__row` as int64."""
    if chunk.table is not None:
        return chunk.table
    frame = chunk.frame.reset_index(drop=True)
    arrays, names = [], []
    for col in frame.columns:
        values = frame[col]
        if col == ROW:
            arrays.append(pa.array(values.to_numpy(dtype="int64")))
        elif values.dtype == object or pd.api.types.is_string_dtype(values.dtype):
            objects = values.to_numpy(dtype=object)
            try:
                arrays.append(pa.array(objects, type=pa.string(), from_pandas=True))
            except (pa.ArrowTypeError, pa.ArrowInvalid):
                # Only text is a value here; anything else was never one (normalising made it null).
                arrays.append(pa.array([v if isinstance(v, str) else None for v in objects], type=pa.string()))
        else:
            arrays.append(pa.Array.from_pandas(values))
        names.append(col)
    return pa.Table.from_arrays(arrays, names=names) if names else pa.table({})


def gx_columns(data: pa.Table, helpers: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """The frame GX judges: `columns` from the Arrow rows (text as pandas' Arrow-backed `str`, missing as NaN)
    or from the helper columns, plus the row position."""
    from closedloop.validate import POSITION

    out = {}
    for c in columns:
        if c in helpers:
            out[c] = helpers[c].reset_index(drop=True)
        elif c in data.column_names:
            out[c] = data.column(c).to_pandas()
    out[POSITION] = pd.Series(np.arange(data.num_rows, dtype=np.int64))
    return pd.DataFrame(out, index=pd.RangeIndex(data.num_rows))


@dataclass
class _RowsChecked:
    """A table after its row rules: the parts that passed, and what the table report needs to know."""

    key: str
    parts: list[Path] = field(default_factory=list)
    rows_read: int = 0
    rejections: list[Rejection] = field(default_factory=list)
    missing_optional_columns: list[str] = field(default_factory=list)
    extra_columns: list[str] = field(default_factory=list)
    # With a door cache: the entries this table's files are kept under, and how many files were not read again.
    cache_entries: list[str] = field(default_factory=list)
    files_reused: int = 0


def _table_rules_of(table: contract.Table, available: dict[str, Path], severity: str = "reject") -> tuple:
    from closedloop import validate

    return tuple(e for e in validate.split(validate.suite(table.key), "table", severity)
                 if all(r in available for r in e.references))


def _stored_helpers(table: contract.Table) -> list[str]:
    """Helper columns the table rules read, kept in the parts (`event_at__parsed` of a compound key …)."""
    from closedloop import validate

    rules = validate.split(validate.suite(table.key), "table")
    return sorted({c for e in rules for c in e.columns if validate._SHADOW.match(c) and not validate.reference(c)})


def check_rows(validator, source: TableInput, work: Path, parameters: dict,
               chunk_rows: int = LAND_CHUNK_ROWS, cache: DoorCache | None = None) -> _RowsChecked:
    """Read a table chunk by chunk, run its row rules (compiled to SQL, or GX with `CLOSEDLOOP_DOOR=gx`) and write
    the rows that pass as parts under `work` (one part per chunk, in read order). With `cache`, a file whose answer
    is kept (closedloop.door_cache) is not read: its parts are linked in, its rows set aside taken as they were."""
    from closedloop import validate

    table = source.table
    out = _RowsChecked(table.key)
    expectations = validate.suite(table.key)
    row_rules = validate.split(expectations, "row")
    if any(validate.reference(c) for e in row_rules for c in e.columns):
        raise validate.SuiteError(f"suite for `{table.key}`: a foreign key is a table rule (meta.scope table).")
    stored = _stored_helpers(table)
    shadows = sorted({c for e in row_rules for c in e.columns if validate._SHADOW.match(c)} | set(stored))
    gx_read = list(dict.fromkeys(c for e in row_rules for c in e.columns))
    folder = work / table.family / table.name
    folder.mkdir(parents=True, exist_ok=True)
    rejudge = door.Rejudge(table, row_rules)

    def checked(chunks) -> FileAnswer:
        """One file's answer on its own (its parts, rows and columns), so that it can be kept for the next build."""
        answer, columns = FileAnswer([], 0, []), TableReport(table=table.key)
        for chunk in chunks:
            data = _normalise(_arrow(chunk), table, columns)
            answer.rows_read += data.num_rows + len(chunk.rejections)
            answer.rejections += chunk.rejections
            part = folder / f"part-{len(out.parts) + len(answer.parts):05d}.parquet"
            answer.parts.append(part)
            if validator.door == "sql":
                # The part holds the rows that passed as they land (typed), parsed once for both.
                failures, passing = door.check_chunk(validator._con, table, data, parameters, row_rules, stored)
                answer.rejections += [validate.rejection(table, data, f) for f in failures]
                pq.write_table(passing, part, **PART_WRITE)
                rejudge.add(data, failures)
                continue
            helpers = validator.helpers(table, data, shadows)
            failures = validator.run(table, "row", gx_columns(data, helpers, gx_read), parameters, row_rules,
                                     source=data)
            answer.rejections += [validate.rejection(table, data, f) for f in failures]
            keep = np.ones(data.num_rows, dtype=bool)
            keep[[f.position for f in failures]] = False
            for s in stored:
                data = data.append_column(s, pa.Array.from_pandas(helpers[s]) if len(helpers) else pa.nulls(0))
            if not keep.all():
                data = data.filter(pa.array(keep))
            pq.write_table(data, part)
        answer.missing_optional_columns, answer.extra_columns = columns.missing_optional_columns, columns.extra_columns
        return answer

    for path, display, chunks in source.files_of(chunk_rows):
        name, answer = cache.lookup(table.key, path, display) if cache is not None and path is not None else ("", None)
        if answer is None:
            answer = checked(chunks)
            if name:
                cache.store(table.key, name, answer)
            out.parts += answer.parts
        else:
            out.files_reused += 1
            for kept in answer.parts:
                part = folder / f"part-{len(out.parts):05d}.parquet"
                link_or_copy(kept, part)
                out.parts.append(part)
        if name:
            out.cache_entries.append(name)
        out.rows_read += answer.rows_read
        out.rejections += answer.rejections
        # In file order, each column once: what one report over the table's chunks would list.
        out.missing_optional_columns = list(dict.fromkeys(out.missing_optional_columns
                                                          + answer.missing_optional_columns))
        out.extra_columns = list(dict.fromkeys(out.extra_columns + answer.extra_columns))
    rejudge.check(validator, parameters)
    return out



class _TableLander:
    def __init__(self, con: duckdb.DuckDBPyConnection, validator, table: contract.Table, work: Path,
                 landing_dir: Path):
        from closedloop import validate

        self.v, self.validate = validator, validate
        self.con, self.table, self.work = con, table, work / table.family / table.name
        self.target = landing_dir / table.family / f"{table.name}.parquet"
        self.expectations = validate.suite(table.key)
        self.report = TableReport(table=table.key)
        self.rejections: list[Rejection] = []

    def land_absent(self) -> TableReport:
        self.report.status = "absent"
        cols = [f"cast(null as {c.data_type}) as {_quote(c.name)}" for c in self.table.columns]
        cols += [f"cast(null as varchar) as {SOURCE_FILE}", f"cast(null as bigint) as {SOURCE_ROW}"]
        self.target.parent.mkdir(parents=True, exist_ok=True)
        self.con.execute(f"copy (select {', '.join(cols)} limit 0) to {literal(self.target)} (format parquet)")
        return self.report

    def land(self, source: TableInput, checked: _RowsChecked, parameters: dict,
             available: dict[str, Path]) -> TableReport:
        validate = self.validate
        report = self.report
        report.files, report.note = source.files, source.note
        report.notices = list(source.notices)
        report.rows_read = checked.rows_read
        report.missing_optional_columns = checked.missing_optional_columns
        report.extra_columns = checked.extra_columns
        self.rejections += checked.rejections
        table_rules = _table_rules_of(self.table, available)
        report.not_checked = sorted(
            {f"{e.rule} {e.reported_column}" for e in validate.split(self.expectations, "table", "reject")
             if e not in table_rules})
        set_aside = self._table_rules(checked.parts, table_rules, parameters, available)
        # Files are read in name order, rows in file order: the parts are in (file, row) order already when the
        # names sort as DuckDB sorts them (bytewise, which for UTF-8 is code point order, as Python's).
        in_order = bool(source.paths) and source.files == sorted(source.files)
        self._write_landed(checked.parts, set_aside, in_order)
        return report

    def _table_rules(self, parts: list[Path], rules: tuple, parameters: dict,
                     available: dict[str, Path]) -> pd.DataFrame:
        """Unique keys and foreign keys over the whole table, on only the columns they read, in partitions by key
        hash (every row of a key in one partition, so memory stays bounded however large the table)."""
        validate, table = self.validate, self.table
        empty = pd.DataFrame({FILE: pd.Series([], dtype=object), ROW: pd.Series([], dtype="int64")})
        if not rules or not parts:
            return empty
        relation = _rules_relation(parts, rules, available)
        if self.v.door == "sql":
            failing, failures = door.table_failures(self.con, relation, rules, parameters, _ORD)
            self.rejections += [validate.rejection(table, failing, f) for f in failures]
            return door.set_aside_frame(failing, failures)
        uniques = tuple(e for e in rules if e.rule == "duplicate_key")
        references = tuple(e for e in rules if e not in uniques)
        total = self.con.execute(f"select count(*) from read_parquet({_sql_list(parts)})").fetchall()[0][0]
        partitions = max(1, -(-total // RULES_PARTITION_ROWS))
        if len({tuple(e.columns) for e in uniques}) > 1:
            partitions = 1  # two different keys cannot share one partitioning
        if not uniques:
            # Foreign keys alone are row by row: any batches will do.
            batches = (pa.Table.from_batches([b]).to_pandas() for b in
                       self.con.sql(relation).to_arrow_reader(RULES_PARTITION_ROWS))
        elif partitions > 1:
            key = ", ".join(_quote(c) for c in uniques[0].columns)
            folder = self.work / "rules"
            self.con.execute(f"copy (select *, hash({key}) % {partitions} as __partition from ({relation})) to "
                             f"{literal(folder)} (format parquet, partition_by (__partition))")
            batches = (self.con.sql(f"select * exclude (__partition) from read_parquet("
                                    f"{literal(folder / f'__partition={p}' / '*.parquet')}) order by {_ORD}").df()
                       for p in range(partitions) if (folder / f"__partition={p}").exists())
        else:
            batches = iter([self.con.sql(f"select * from ({relation}) order by {_ORD}").df()])
        set_aside = [empty]
        for frame in batches:
            frame = frame.reset_index(drop=True)
            frame[validate.POSITION] = range(len(frame))
            # References first, keys second: the newest *valid* version of a record wins, whichever rule the newer
            # version broke (a row-level rule already removed it before this point, so this keeps both paths
            # alike).
            failures = self.v.run(table, "table", frame, parameters, references)
            if uniques:
                rest = frame.drop(index=sorted({f.position for f in failures}))
                duplicates = self.v.run(table, "unique", rest, parameters, uniques)
                failures += self._keep_last_duplicate(rest, duplicates, uniques)
            self.rejections += [validate.rejection(table, frame, f) for f in failures]
            positions = sorted({f.position for f in failures})
            set_aside.append(frame.loc[positions, [FILE, ROW]])
        return pd.concat(set_aside, ignore_index=True)

    def _keep_last_duplicate(self, frame: pd.DataFrame, failures: list, rules: tuple) -> list:
        """GX flags every row of a duplicated key; the last one in file order is loaded, the others set aside
        (a later export of the same record is its newer version)."""
        dup_positions = sorted({f.position for f in failures if f.rule == "duplicate_key"})
        if not dup_positions:
            return failures
        kwargs = rules[0].config["kwargs"]
        key_frame = frame.loc[dup_positions, kwargs.get("column_list") or [kwargs["column"]]].astype(str)
        # dropna=False: a key part may be empty (an event without a user); such rows still form a group.
        last = set(key_frame.groupby(list(key_frame.columns), sort=False, dropna=False).tail(1).index)
        return [f for f in failures if not (f.rule == "duplicate_key" and f.position in last)]

    def _write_landed(self, parts: list[Path], set_aside: pd.DataFrame, in_order: bool = False) -> None:
        table = self.table
        self.target.parent.mkdir(parents=True, exist_ok=True)
        names = table.column_names + self.report.extra_columns
        typed = _typed_columns(table, names)
        # The sql door's parts are typed already (closedloop.door.check_chunk): only renamed on the way out.
        typed_parts = self.v.door == "sql"
        select = _typed_columns(table, names, typed=False) if typed_parts else typed
        partial = self.target.with_suffix(".parquet.partial")
        if not parts:
            self.con.execute(f"copy (select {typed} from ({_empty_text(names)})) to {literal(partial)} "
                             "(format parquet)")
        elif not (in_order and _copy_in_order(self.con, parts, set_aside, names, typed, partial, typed_parts)):
            self.con.register("set_aside", set_aside)
            self.con.execute(
                f"copy (select {select} from read_parquet({_sql_list(parts)}, union_by_name = true) p "
                f"where not exists (select 1 from set_aside s where s.{FILE} = p.{FILE} and s.{ROW} = p.{ROW}) "
                f"order by {FILE}, {ROW}) to {literal(partial)} (format parquet)")
            self.con.unregister("set_aside")
        partial.replace(self.target)
        report = self.report
        report.rows_loaded = self.con.execute(
            f"select count(*) from read_parquet({literal(self.target)})").fetchall()[0][0]
        distinct_rows = {(r.file, r.row) for r in self.rejections}
        report.rows_rejected = len(distinct_rows)
        by_rule: dict[str, set] = {}
        for r in self.rejections:
            by_rule.setdefault(r.rule, set()).add((r.file, r.row))
        report.rejected_by_rule = {k: len(v) for k, v in sorted(by_rule.items())}
        if report.rows_read != report.rows_loaded + report.rows_rejected:
            raise LandingError(f"internal error: `{table.key}` read {report.rows_read:,} rows but loaded "
                               f"{report.rows_loaded:,} and set aside {report.rows_rejected:,}. Please report this.")


def _typed_columns(table: contract.Table, names: list[str], typed: bool = True) -> str:
    """The landed file's select list over the checked rows: every contract column typed as declared, with the same
    staging macro validation checked it with (so staging reads types, not text, and never parses a value twice),
    extra columns as text, and where each row came from. `typed=False`: the rows are typed already."""
    from closedloop import validate

    contract_names = set(table.column_names)
    if not typed:
        # try() as the typing has it: DuckDB then never proves a typed column free of nulls (and writes it as
        # optional), as it cannot through the macro.
        selects = [f"try({_quote(c)}) as {_quote(c)}" if c in contract_names and validate.typed_sql(table, c)
                   else _quote(c) for c in names]
        return ", ".join([*selects, f"{FILE} as {SOURCE_FILE}", f"{ROW} as {SOURCE_ROW}"])
    selects = [f"{validate.typed_sql(table, c) or _quote(c)} as {_quote(c)}" if c in contract_names
               else _quote(c) for c in names]
    return ", ".join([*selects, f"{FILE} as {SOURCE_FILE}", f"{ROW} as {SOURCE_ROW}"])


def _empty_text(names: list[str]) -> str:
    """No rows, every column text (what a part holds before typing)."""
    columns = [f"cast(null as varchar) as {_quote(c)}" for c in names]
    return f"select {', '.join([*columns, f'cast(null as varchar) as {FILE}', f'cast(null as bigint) as {ROW}'])} " \
        "limit 0"


def _copy_in_order(con: duckdb.DuckDBPyConnection, parts: list[Path], set_aside: pd.DataFrame, columns: list[str],
                   typed: str, target: Path, typed_parts: bool = False) -> bool:
    """Write the parts' rows but those set aside to `target`, typed (`typed`: the select list), part by part: the
    parts hold the rows in the order they were read, which for a table's own files (name order, then row order) is
    the landed order, so nothing needs sorting (a join or a sort over the whole table is what this saves). False
    when the parts do not agree on a column's type (then the caller lets DuckDB unify them)."""
    schemas = [pq.read_schema(p) for p in parts]
    types: dict[str, pa.DataType] = {}
    for schema in schemas:
        for name in [*columns, FILE, ROW]:
            if name in schema.names and types.setdefault(name, schema.field(name).type) != schema.field(name).type:
                return False
    fields = [pa.field(c, types.get(c, pa.int64() if c == ROW else pa.string())) for c in [*columns, FILE, ROW]]
    text_schema = pa.schema(fields)
    # The landed schema is what typing the text gives (typed parts hold those types already; values are text).
    as_read = [pa.field(c, pa.string()) if typed_parts and c in columns else f for c, f in zip(
        [*columns, FILE, ROW], fields, strict=True)]
    empty = pa.schema(as_read).empty_table()  # noqa: F841 (read by name in the query below)
    schema = con.sql(f"select {typed} from empty").to_arrow_table().schema
    aside = {f: pa.array(g[ROW].to_numpy(dtype="int64")) for f, g in set_aside.groupby(FILE)} if len(set_aside) else {}
    with pq.ParquetWriter(target, schema) as writer:
        for part, part_schema in zip(parts, schemas, strict=True):
            data = pq.read_table(part, columns=[c for c in [*columns, FILE, ROW] if c in part_schema.names])
            if aside:
                drop = None
                for file, rows in aside.items():
                    hit = pc.and_(pc.equal(data.column(FILE), file), pc.is_in(data.column(ROW), value_set=rows))
                    drop = hit if drop is None else pc.or_(drop, hit)
                data = data.filter(pc.invert(pc.fill_null(drop, False)))
            arrays = [data.column(c) if c in data.column_names else pa.nulls(data.num_rows, types.get(c, pa.string()))
                      for c in [*columns, FILE, ROW]]
            rows = pa.Table.from_arrays(arrays, schema=text_schema)  # noqa: F841 (read by name in the query below)
            if typed_parts:
                writer.write_table(pa.Table.from_arrays(rows.columns, names=schema.names).cast(schema))
                continue
            # DuckDB keeps insertion order through a projection, so the landed order stays the read order.
            writer.write_table(con.sql(f"select {typed} from rows").to_arrow_table().cast(schema))
    return True


def _reference_sql(column: str, available: dict[str, Path], alias: str) -> tuple[str, str]:
    """(select expression, join) for a foreign-key helper column: the value when the parent loaded that key,
    else null, looked up in the parent's landed file."""
    from closedloop import validate

    ref = validate.reference(column)
    base = validate.base_column(column)
    key = ref.split(".")[1]
    join = (f"left join (select distinct {_quote(key)} as k from read_parquet({literal(available[ref])}) "
            f"where {_quote(key)} is not null) {alias} on p.{_quote(base)} = {alias}.k")
    return f"case when {alias}.k is not null then p.{_quote(base)} end as {_quote(column)}", join


def _rules_relation(parts: list[Path], rules: tuple, available: dict[str, Path]) -> str:
    """SQL for the columns the table rules read, over the parts, with foreign-key helper columns joined in and
    each row's place in file order."""
    from closedloop import validate

    columns = sorted({c for e in rules for c in e.columns} | {FILE, ROW})
    selects, joins = [], []
    for c in columns:
        if validate.reference(c):
            select, join = _reference_sql(c, available, f"k{len(joins)}")
            selects.append(select)
            joins.append(join)
        else:
            selects.append(f"p.{_quote(c)}")
    part_number = "cast(regexp_extract(p.filename, 'part-(\\d+)\\.parquet$', 1) as bigint)"
    selects.append(f"{part_number} * 4294967296 + p.file_row_number as {_ORD}")
    return (f"select {', '.join(selects)} from read_parquet({_sql_list(parts)}, union_by_name = true, "
            f"filename = true, file_row_number = true) p {' '.join(joins)}")


def _warnings(con, validator, landing_dir: Path, reports: dict[str, TableReport], parameters: dict,
              available: dict[str, Path]) -> None:
    """Warn-level checks (optional foreign keys) over the landed tables, in batches; the rows stay, the counts
    are reported."""
    from closedloop import validate

    for key, report in reports.items():
        if report.status == "absent":
            continue
        table = contract.table(key)
        rules = _table_rules_of(table, available, "warn")
        if not rules:
            continue
        columns = sorted({c for e in rules for c in e.columns})
        bases = sorted({validate.base_column(c) for c in columns if not validate.reference(c)} |
                       {validate.base_column(c) for c in columns if validate.reference(c)})
        shadows = [c for c in columns if validate._SHADOW.match(c) and not validate.reference(c)]
        source = landing_dir / table.family / f"{table.name}.parquet"
        selects, joins = [f"p.{_quote(c)}" for c in bases], []
        for c in columns:
            if validate.reference(c):
                select, join = _reference_sql(c, available, f"k{len(joins)}")
                selects.append(select)
                joins.append(join)
        sql = f"select {', '.join(selects)} from read_parquet({literal(source)}) p {' '.join(joins)}"
        if validator.door == "sql":
            report.warnings_by_rule = door.warning_counts(con, table, sql, rules, parameters)
            continue
        counts: Counter = Counter()
        reader = con.sql(sql).to_arrow_reader(RULES_PARTITION_ROWS)
        for batch in reader:
            data = pa.Table.from_batches([batch])
            helpers = validator.helpers(table, data, shadows)
            frame = gx_columns(data, helpers, columns)
            counts.update(f"{f.rule} {f.column}" for f in validator.run(table, "warn", frame, parameters, rules,
                                                                         source=data))
        report.warnings_by_rule = dict(sorted(counts.items()))


def _inputs(raw_dir: Path, mapping: str | None) -> tuple[dict[str, TableInput], str | None]:
    try:
        if mapping:
            from closedloop.mapping import load_mapping

            m = load_mapping(mapping)
            return m.inputs(raw_dir), getattr(m, "name", mapping)
        return default_inputs(raw_dir), None
    except (SourceError, ReadError) as exc:
        raise LandingError(str(exc)) from exc


# The worker process's validator, made by its initializer.
_WORKER: dict = {}


def _worker_start() -> None:
    from closedloop import validate

    _WORKER["validator"] = validate.Validator()  # its clock is not used: the parameters come from the parent


def _worker_check(key: str, files: list[str], paths: list[Path], encodings: list[str | None], work: Path,
                  parameters: dict, chunk_rows: int, cache: DoorCache | None) -> _RowsChecked:
    source = TableInput(contract.table(key), files, paths=paths, encodings=encodings)
    return check_rows(_WORKER["validator"], source, work, parameters, chunk_rows, cache)


def _parallel(inputs: dict[str, TableInput], mapping: str | None) -> bool:
    if mapping or WORKERS < 2 or (os.cpu_count() or 1) < 2 or not all(i.paths for i in inputs.values()):
        return False
    size = sum(p.stat().st_size for i in inputs.values() for p in i.paths)
    return size >= PARALLEL_MIN_BYTES


class _RowChecks:
    """The row rules of every table, in this process or, for large inputs, shared with one worker process:
    the worker takes the largest table not yet started whenever it is free; this process checks the table whose
    table rules are due next when it is still waiting to start, or, while the worker holds that one, the
    largest other table waiting. A table's error is raised when its turn comes in load order, as it would be
    checking one table after another."""

    def __init__(self, inputs: dict[str, TableInput], validator, work: Path, parameters: dict, parallel: bool,
                 cache: DoorCache | None = None):
        self.inputs, self.validator, self.work, self.parameters = inputs, validator, work, parameters
        self.cache = cache
        self.done: dict[str, _RowsChecked | BaseException] = {}
        sizes = {k: sum(p.stat().st_size for p in i.paths) for k, i in inputs.items()}
        self.waiting = sorted(inputs, key=lambda k: -sizes[k])
        self.pool = self.running = None
        if parallel:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            self.pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"),
                                            initializer=_worker_start)
            self._feed()

    def _feed(self) -> None:
        if self.running is not None and self.running[1].done():
            key, future = self.running
            try:
                self.done[key] = future.result()
            except (SourceError, ReadError, LandingError) as exc:
                self.done[key] = exc
            self.running = None
        if self.pool is not None and self.running is None and self.waiting:
            key = self.waiting.pop(0)
            source = self.inputs[key]
            self.running = (key, self.pool.submit(_worker_check, key, source.files, source.paths, source.encodings,
                                                  self.work, self.parameters, LAND_CHUNK_ROWS, self.cache))

    def _here(self, key: str) -> None:
        self.waiting.remove(key)
        try:
            self.done[key] = check_rows(self.validator, self.inputs[key], self.work, self.parameters,
                                        cache=self.cache)
        except (SourceError, ReadError, LandingError) as exc:
            self.done[key] = exc

    def result(self, key: str) -> _RowsChecked:
        while key not in self.done:
            self._feed()
            if key in self.done:
                break
            if key in self.waiting:
                self._here(key)
            elif self.waiting:
                self._here(self.waiting[0])
            else:
                self.running[1].result() if self.running else None
                self._feed()
        outcome = self.done.pop(key)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)


def land(raw_dir: str | Path, landing_dir: str | Path, mapping: str | None = None, out: TextIO | None = None,
         validator=None, verb: str = "loaded", cache_dir: Path | None = None, reuse: bool = True) -> list[TableReport]:
    """Validate and land every contract table of `raw_dir` into `landing_dir`; return one report per table.
    With `out`, a progress line per table as it is checked (closedloop.progress), then the report, whose rows that
    pass are `verb` ("loaded"; `closedloop validate` says "would load").

    With `cache_dir`, each raw file's row-rule answer is kept there (closedloop.door_cache) and, with `reuse`, a
    file whose answer is kept is not read again; the table rules and the landed files are the same either way.
    Entries no file of this landing used are removed once it succeeds."""
    from closedloop import validate
    from closedloop.progress import Progress

    progress = Progress(out)

    raw_dir, landing_dir = Path(raw_dir), Path(landing_dir)
    if not raw_dir.is_dir():
        raise LandingError(f"{raw_dir}: raw folder does not exist.")
    inputs, mapping_name = _inputs(raw_dir, mapping)
    if mapping:
        from closedloop.mapping import load_mapping

        ignored = load_mapping(mapping).ignored_files(raw_dir)
    else:
        ignored = ignored_files(raw_dir)
    for table in contract.tables():
        if table.required and table.key not in inputs:
            where = f"mapping `{mapping_name}` found no source for it in {raw_dir}" if mapping_name else (
                f"no file in {raw_dir / table.family} (expected {table.name}.csv, {table.name}_*.csv, .xlsx, .xls or "
                ".parquet)")
            if ignored.get(table.key):
                where += f"; not read: {'; '.join(ignored[table.key])}"
            raise LandingError(f"required table `{table.key}` is missing: {where}.")
    landing_dir.mkdir(parents=True, exist_ok=True)
    work = landing_dir / ".work"
    shutil.rmtree(work, ignore_errors=True)
    own_validator = validator is None
    validator = validator or validate.Validator()
    parameters = validator.base_parameters()
    if validator.door == "sql":
        progress.update("  compiling the expectation suites to SQL", step=True)
        door.compile_suites(parameters=parameters)  # an expectation with no SQL stops here, before any file is read
    else:
        progress.update("  loading the expectation suites (Great Expectations)", step=True)
    # A mapping derives each table from several vendor files at once: no answer belongs to one file.
    cache = DoorCache(cache_dir, validator.door, LAND_CHUNK_ROWS, parameters, read=reuse) \
        if cache_dir is not None and not mapping else None
    con = duckdb.connect(config={"memory_limit": DUCKDB_MEMORY, "temp_directory": str(work / "duckdb")})
    reports: dict[str, TableReport] = {}
    rejections: list[tuple[str, Rejection]] = []
    available: dict[str, Path] = {}
    needed = {r for t in contract.tables() for e in validate.suite(t.key) for r in e.references}
    checks = None
    cache_entries: set[str] = set()
    files_reused = 0
    try:
        checks = _RowChecks(inputs, validator, work, parameters, _parallel(inputs, mapping), cache)
        order = validate.load_order([t.key for t in contract.tables()])
        for index, key in enumerate(order, start=1):
            table = contract.table(key)
            lander = _TableLander(con, validator, table, work, landing_dir)
            step = f"  [{index:>2}/{len(order)}] {key}"
            started = time.monotonic()
            progress.update(f"{step}: checking …")
            try:
                if key in inputs:
                    checked = checks.result(key)
                    report = lander.land(inputs[key], checked, parameters, available)
                    cache_entries.update(checked.cache_entries)
                    files_reused += checked.files_reused
                else:
                    report = lander.land_absent()
            except (SourceError, ReadError) as exc:
                raise LandingError(str(exc)) from exc
            finally:
                progress.done()
            progress.update(f"{step}: absent" if report.status == "absent" else
                            f"{step}: {report.rows_read:,} rows checked in {time.monotonic() - started:.1f} s",
                            step=True)
            report.ignored_files = ignored.get(key, [])
            report.note = "; ".join(filter(None, [report.note, *report.notices,
                                                  *(f"ignored {i}" for i in report.ignored_files)]))
            reports[key] = report
            rejections += [(key, r) for r in lander.rejections]
            if report.status != "absent":
                target = landing_dir / table.family / f"{table.name}.parquet"
                available |= {ref: target for ref in needed if ref.split(".")[0] == key}
        progress.update("  checking the warning rules (optional references)", step=True)
        _warnings(con, validator, landing_dir, reports, parameters, available)
    finally:
        progress.done()
        if checks is not None:
            checks.close()
        con.close()
        if own_validator:
            validator.close()
        shutil.rmtree(work, ignore_errors=True)
    ordered = [reports[t.key] for t in contract.tables()]
    # Files near no table's name (a README, a notes.xlsx): listed, never silently passed over. A mapping reads the
    # vendor's own file names, so there the mapping's report says what it did not read.
    not_read = [] if mapping else [display for key, display in unmatched_files(raw_dir) if key is None]
    if out is not None:
        print_reports(ordered, out, verb)
        if not_read:
            print("Files not read (named like no table of the input contract, docs/input-contract.md):", file=out)
            for display in not_read:
                print(f"  ! {display}", file=out)
    _write_reports(landing_dir, raw_dir, mapping_name, ordered, rejections, not_read)
    if cache is not None:
        cache.prune(cache_entries)
        if out is not None:
            total = sum(len(i.paths) for i in inputs.values())
            print(f"Door cache: {files_reused:,} of {total:,} raw files unchanged since an earlier build, their "
                  "row checks reused"
                  + ("" if reuse else " (none: a full refresh checks every file)"), file=out, flush=True)
    return ordered


def _write_reports(landing_dir: Path, raw_dir: Path, mapping: str | None, reports: list[TableReport],
                   rejections: list[tuple[str, Rejection]], not_read: list[str] | None = None) -> None:
    rows = {name: [] for name in _REJECTED_SCHEMA.names}
    order = {t.key: i for i, t in enumerate(contract.tables())}
    rejections = sorted(rejections, key=lambda kr: (order[kr[0]], kr[1].file, kr[1].row, kr[1].column or ""))
    for key, r in rejections:
        values = (key, r.file, r.row, r.column, r.rule, r.value, r.message)
        for name, value in zip(_REJECTED_SCHEMA.names, values, strict=True):
            rows[name].append(value)
    pq.write_table(pa.table(rows, schema=_REJECTED_SCHEMA), landing_dir / REJECTED)
    report_frame = pd.DataFrame([{
        "table_key": r.table, "status": r.status, "files": json.dumps(r.files, ensure_ascii=False),
        "rows_read": r.rows_read, "rows_loaded": r.rows_loaded, "rows_rejected": r.rows_rejected,
        "rejected_by_rule": json.dumps(r.rejected_by_rule, ensure_ascii=False),
        "warnings_by_rule": json.dumps(r.warnings_by_rule, ensure_ascii=False),
        "not_checked": json.dumps(r.not_checked, ensure_ascii=False),
        "missing_optional_columns": json.dumps(r.missing_optional_columns, ensure_ascii=False),
        "extra_columns": json.dumps(r.extra_columns, ensure_ascii=False), "note": r.note,
        "mapping": mapping or "", "raw_dir": str(raw_dir.resolve())} for r in reports])
    report_frame.to_parquet(landing_dir / LOAD_REPORT, index=False)
    (landing_dir / MANIFEST).write_text(
        json.dumps({"raw_dir": str(raw_dir.resolve()), "mapping": mapping, "tables": [asdict(r) for r in reports],
                    "files_not_read": not_read or []},
                   ensure_ascii=False, indent=2), encoding="utf-8")


def print_reports(reports: list[TableReport], out: TextIO = sys.stdout, verb: str = "loaded") -> None:
    for r in reports:
        print(r.line(verb), file=out)
    ignored = [i for r in reports for i in r.ignored_files]
    if ignored:
        print("Ignored files (named like a table or a part of one, not read):", file=out)
        for text in ignored:
            print(f"  ! {text}", file=out)
    notices = [n for r in reports for n in r.notices]
    if notices:
        print("Renamed columns:", file=out)
        for text in notices:
            print(f"  ! {text}", file=out)
