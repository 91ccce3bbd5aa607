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
import shutil
import sys
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TextIO

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from closedloop import contract
from closedloop.readers import FILE, ROW, ReadError, Rejection
from closedloop.sources import SourceError, TableInput, default_inputs

MANIFEST = "_manifest.json"
REJECTED = "_rejected.parquet"
LOAD_REPORT = "_load_report.parquet"
SOURCE_FILE, SOURCE_ROW = "_source_file", "_source_row"
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

    def line(self) -> str:
        if self.status == "absent":
            return f"  {self.table:<32} absent (marts over it will be empty)"
        text = (f"  {self.table:<32} {self.rows_read:>9,} read  {self.rows_loaded:>9,} loaded  "
                f"{self.rows_rejected:>7,} set aside")
        if self.rejected_by_rule:
            text += "  (" + ", ".join(f"{k} {v:,}" for k, v in sorted(self.rejected_by_rule.items())) + ")"
        if self.warnings_by_rule:
            text += "  warnings: " + ", ".join(f"{k} {v:,}" for k, v in sorted(self.warnings_by_rule.items()))
        return text


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sql_list(paths: list[Path]) -> str:
    return "[" + ", ".join("'" + str(p).replace("'", "''") + "'" for p in paths) + "]"


def _normalise(frame: pd.DataFrame, table: contract.Table, report: TableReport) -> pd.DataFrame:
    """Trim values (staging would), blank → null, and add absent contract columns as nulls."""
    for col in frame.columns:
        if col in (FILE, ROW) or frame[col].dtype != object:
            continue
        stripped = frame[col].str.strip()
        frame[col] = stripped.where(stripped.notna() & (stripped != ""), None)
    for c in table.column_names:
        if c not in frame:
            frame[c] = pd.Series([None] * len(frame), dtype=object)
            if c not in report.missing_optional_columns:
                report.missing_optional_columns.append(c)
    for c in frame.columns:
        if c not in table.column_names and c not in (FILE, ROW) and c not in report.extra_columns:
            report.extra_columns.append(c)
    return frame


def _write_part(frame: pd.DataFrame, path: Path, text_columns: list[str]) -> None:
    fields = []
    for col in frame.columns:
        if col in text_columns:
            fields.append(pa.field(col, pa.string()))
        else:
            fields.append(pa.field(col, pa.Array.from_pandas(frame[col]).type))
    pq.write_table(pa.Table.from_pandas(frame, schema=pa.schema(fields), preserve_index=False), path)


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
        cols = [f"cast(null as varchar) as {_quote(c)}" for c in self.table.column_names]
        cols += [f"cast(null as varchar) as {SOURCE_FILE}", f"cast(null as bigint) as {SOURCE_ROW}"]
        self.target.parent.mkdir(parents=True, exist_ok=True)
        self.con.execute(f"copy (select {', '.join(cols)} limit 0) to '{self.target}' (format parquet)")
        return self.report

    def land(self, source: TableInput, parameters: dict, keys: dict[str, set]) -> TableReport:
        v, validate, table = self.v, self.validate, self.table
        self.report.files, self.report.note = source.files, source.note
        self.work.mkdir(parents=True, exist_ok=True)
        row_rules = validate.split(self.expectations, "row")
        table_rules = tuple(e for e in validate.split(self.expectations, "table", "reject")
                            if all(r in keys for r in e.references))
        self.report.not_checked = sorted(
            {f"{e.rule} {e.reported_column}" for e in validate.split(self.expectations, "table", "reject")
             if e not in table_rules})
        parts: list[Path] = []
        for chunk in source.chunks():
            frame = _normalise(chunk.frame, table, self.report)
            self.report.rows_read += len(frame) + len(chunk.rejections)
            self.rejections += chunk.rejections
            prepared = v.prepare(table, frame, row_rules + table_rules, keys)
            failures = v.run(table, "row", prepared, parameters, row_rules)
            self.rejections += [validate.rejection(table, prepared, f) for f in failures]
            good = prepared.drop(index=sorted({f.position for f in failures})).drop(columns=[validate.POSITION])
            part = self.work / f"part-{len(parts):05d}.parquet"
            text = [c for c in good.columns if not validate._SHADOW.match(c) and c != ROW]
            _write_part(good, part, text)
            parts.append(part)
        set_aside = self._table_rules(parts, table_rules, parameters)
        self._write_landed(parts, set_aside)
        return self.report

    def _table_rules(self, parts: list[Path], rules: tuple, parameters: dict) -> pd.DataFrame:
        """Unique keys and foreign keys over the whole table, on only the columns they read."""
        validate, table = self.validate, self.table
        empty = pd.DataFrame({FILE: pd.Series([], dtype=object), ROW: pd.Series([], dtype="int64")})
        if not rules or not parts:
            return empty
        columns = sorted({c for e in rules for c in e.columns} | {FILE, ROW})
        frame = self.con.sql(f"select {', '.join(_quote(c) for c in columns)} from read_parquet("
                             f"{_sql_list(parts)}, union_by_name = true)").df()
        frame[validate.POSITION] = range(len(frame))
        # References first, keys second: the newest *valid* version of a record wins, whichever rule the newer
        # version broke (a row-level rule already removed it before this point, so this keeps both paths alike).
        uniques = tuple(e for e in rules if e.rule == "duplicate_key")
        failures = self.v.run(table, "table", frame, parameters, tuple(e for e in rules if e not in uniques))
        if uniques:
            rest = frame.drop(index=sorted({f.position for f in failures}))
            duplicates = self.v.run(table, "unique", rest, parameters, uniques)
            failures += self._keep_last_duplicate(rest, duplicates, uniques)
        self.rejections += [validate.rejection(table, frame, f) for f in failures]
        positions = sorted({f.position for f in failures})
        return frame.loc[positions, [FILE, ROW]]

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

    def _write_landed(self, parts: list[Path], set_aside: pd.DataFrame) -> None:
        table = self.table
        self.target.parent.mkdir(parents=True, exist_ok=True)
        columns = [_quote(c) for c in table.column_names + self.report.extra_columns]
        columns += [f"{FILE} as {SOURCE_FILE}", f"{ROW} as {SOURCE_ROW}"]
        partial = self.target.with_suffix(".parquet.partial")
        self.con.register("set_aside", set_aside)
        self.con.execute(
            f"copy (select {', '.join(columns)} from read_parquet({_sql_list(parts)}, union_by_name = true) p "
            f"where not exists (select 1 from set_aside s where s.{FILE} = p.{FILE} and s.{ROW} = p.{ROW}) "
            f"order by {FILE}, {ROW}) to '{partial}' (format parquet)")
        self.con.unregister("set_aside")
        partial.replace(self.target)
        report = self.report
        report.rows_loaded = self.con.execute(f"select count(*) from read_parquet('{self.target}')").fetchall()[0][0]
        distinct_rows = {(r.file, r.row) for r in self.rejections}
        report.rows_rejected = len(distinct_rows)
        by_rule: dict[str, set] = {}
        for r in self.rejections:
            by_rule.setdefault(r.rule, set()).add((r.file, r.row))
        report.rejected_by_rule = {k: len(v) for k, v in sorted(by_rule.items())}
        if report.rows_read != report.rows_loaded + report.rows_rejected:
            raise LandingError(f"internal error: `{table.key}` read {report.rows_read:,} rows but loaded "
                               f"{report.rows_loaded:,} and set aside {report.rows_rejected:,}. Please report this.")


def _loaded_keys(con: duckdb.DuckDBPyConnection, landing_dir: Path, table: contract.Table,
                 wanted: set[str]) -> dict[str, set]:
    """Loaded keys of `table` that later foreign-key expectations compare against (`crm/accounts.account_id`)."""
    out = {}
    target = landing_dir / table.family / f"{table.name}.parquet"
    for ref in sorted(wanted):
        key, column = ref.split(".")
        if key == table.key:
            rows = con.execute(f"select distinct {_quote(column)} from read_parquet('{target}') "
                               f"where {_quote(column)} is not null").fetchall()
            out[ref] = {r[0] for r in rows}
    return out


def _warnings(con, validator, landing_dir: Path, reports: dict[str, TableReport], parameters: dict,
              keys: dict[str, set]) -> None:
    """Warn-level checks (optional foreign keys) over the landed tables; the rows stay, the counts are reported."""
    from closedloop import validate

    for key, report in reports.items():
        if report.status == "absent":
            continue
        table = contract.table(key)
        rules = tuple(e for e in validate.split(validate.suite(key), "table", "warn")
                      if all(r in keys for r in e.references))
        if not rules:
            continue
        columns = sorted({validate.base_column(c) for e in rules for c in e.columns})
        source = landing_dir / table.family / f"{table.name}.parquet"
        frame = con.sql(f"select {', '.join(_quote(c) for c in columns if not validate.reference(c))} "
                        f"from read_parquet('{source}')").df()
        frame = validator.prepare(table, frame, rules, keys)
        counts = Counter(f"{f.rule} {f.column}" for f in validator.run(table, "warn", frame, parameters, rules))
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


def land(raw_dir: str | Path, landing_dir: str | Path, mapping: str | None = None, out: TextIO | None = None,
         validator=None) -> list[TableReport]:
    """Validate and land every contract table of `raw_dir` into `landing_dir`; return one report per table."""
    from closedloop import validate

    raw_dir, landing_dir = Path(raw_dir), Path(landing_dir)
    if not raw_dir.is_dir():
        raise LandingError(f"{raw_dir}: raw folder does not exist.")
    inputs, mapping_name = _inputs(raw_dir, mapping)
    for table in contract.tables():
        if table.required and table.key not in inputs:
            where = f"mapping `{mapping_name}` found no source for it in {raw_dir}" if mapping_name else (
                f"no file in {raw_dir / table.family} (expected {table.name}.csv, {table.name}_*.csv, .xlsx or "
                ".parquet)")
            raise LandingError(f"required table `{table.key}` is missing: {where}.")
    landing_dir.mkdir(parents=True, exist_ok=True)
    work = landing_dir / ".work"
    shutil.rmtree(work, ignore_errors=True)
    own_validator = validator is None
    validator = validator or validate.Validator()
    con = duckdb.connect()
    reports: dict[str, TableReport] = {}
    rejections: list[tuple[str, Rejection]] = []
    parameters = validator.base_parameters()
    keys: dict[str, set] = {}
    needed = {r for t in contract.tables() for e in validate.suite(t.key) for r in e.references}
    try:
        for key in validate.load_order([t.key for t in contract.tables()]):
            table = contract.table(key)
            lander = _TableLander(con, validator, table, work, landing_dir)
            try:
                report = lander.land(inputs[key], parameters, keys) if key in inputs else lander.land_absent()
            except (SourceError, ReadError) as exc:
                raise LandingError(str(exc)) from exc
            reports[key] = report
            rejections += [(key, r) for r in lander.rejections]
            if report.status != "absent":
                keys |= _loaded_keys(con, landing_dir, table, needed)
        _warnings(con, validator, landing_dir, reports, parameters, keys)
    finally:
        con.close()
        if own_validator:
            validator.close()
        shutil.rmtree(work, ignore_errors=True)
    ordered = [reports[t.key] for t in contract.tables()]
    if out is not None:
        print_reports(ordered, out)
    _write_reports(landing_dir, raw_dir, mapping_name, ordered, rejections)
    return ordered


def _write_reports(landing_dir: Path, raw_dir: Path, mapping: str | None, reports: list[TableReport],
                   rejections: list[tuple[str, Rejection]]) -> None:
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
        json.dumps({"raw_dir": str(raw_dir.resolve()), "mapping": mapping, "tables": [asdict(r) for r in reports]},
                   ensure_ascii=False, indent=2), encoding="utf-8")


def print_reports(reports: list[TableReport], out: TextIO = sys.stdout) -> None:
    for r in reports:
        print(r.line(), file=out)
