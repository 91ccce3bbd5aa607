"""Bring your own CRM: translate a vendor's export into the raw input contract with a YAML mapping
(docs/input-contract.md, docs/mappings.md).

A mapping file says, per contract table, which vendor file(s) feed it and how each contract column is made:
renamed from a vendor column, a constant, or a DuckDB SQL expression over the vendor columns; then optionally
translated through a value map and parsed as a date. Sources can look values up in another vendor file,
filter rows (`where`), derive a dimension from the distinct values of a fact file (`distinct`), and several
sources can be unioned into one table. `docs/mappings.md` documents the format; the presets live in
`closedloop/mappings/`.

The mapping translates, it never judges: a value a date format cannot parse or a value map does not know is
passed through unchanged, and validation sets the row aside afterwards with its file, row and column. Rows a
mapping deliberately leaves out (`where`) are returned as `excluded_by_mapping` rejections, so for every
row-by-row source, rows out + rows excluded = rows read. Problems with the mapping itself or with a vendor
file's header raise `MappingError` naming the mapping, the vendor file and the column.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import fnmatch
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import yaml

from closedloop import contract
from closedloop.readers import (
    CHUNK_ROWS,
    FILE,
    FORMATS,
    ROW,
    SUFFIXES,
    Chunk,
    ReadError,
    Rejection,
    check_readable,
    file_kind,
    is_reserved,
    read_all,
    read_file,
    read_header,
)
from closedloop.sources import SourceError, TableInput

PRESETS_DIR = Path(__file__).resolve().parent / "mappings"
EXCLUDED_RULE = "excluded_by_mapping"
AGGREGATES = ("first", "last", "min", "max")
_MISSING = object()  # "no default given" (a default of null is a real default)
_EXCEL_EPOCH = pd.Timestamp("1899-12-30")
_EXCEL_MAX_SERIAL = 2_958_465  # 9999-12-31
_TIME_DIRECTIVE = re.compile(r"%[HIMSfpXc]")
_OFFSET_DIRECTIVE = re.compile(r"%[zZ]")
_OFFSET = re.compile(r"^(Z|[+-][0-9]{2}:[0-9]{2})$")
_NUMBER = re.compile(r"^[0-9]+(\.[0-9]+)?$")
# Spaces and currency signs around amounts as spreadsheets and Chinese CRMs write them; commas only as thousands
# separators in groups of three (a decimal comma, 1234,50, is left for validation to report).
_NUMBER_NOISE = re.compile(r"[\s¥￥$€£元]")
_GROUPED_NUMBER = re.compile(r"^[+-]?[0-9]{1,3}([,，][0-9]{3})+(\.[0-9]+)?$")
_PLAIN_NUMBER = re.compile(r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)$")
_DAYFIRST = re.compile(r"^([0-9]{1,2})[./-]([0-9]{1,2})[./-]([0-9]{4}|[0-9]{2})"
                       r"(?:[ T]+([0-9]{1,2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]{1,6}))?)?)?$")


class MappingError(SourceError):
    """The mapping file is invalid, or a vendor file does not fit it (missing column, unknown preset)."""


# --------------------------------------------------------------------------------------------------------------
# The YAML format, parsed into plain dataclasses
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ColumnSpec:
    """How one output column is made: a base value (vendor column, constant or SQL expression), then an optional
    value map, then optional date parsing."""

    target: str
    column: tuple[str, ...] = ()  # candidate vendor column names, the first present one is used
    const: str | None = None
    expr: str | None = None
    is_const: bool = False
    map: dict | None = None  # str | None -> str | None
    default: object = _MISSING
    date_formats: tuple[str, ...] = ()
    dayfirst: bool = False
    excel_serial: bool = False
    offset: str | None = None
    number: bool = False

    @property
    def parses_dates(self) -> bool:
        return bool(self.date_formats or self.dayfirst or self.excel_serial)


@dataclass(frozen=True)
class LookupSpec:
    files: tuple[str, ...]
    key: str  # column of the lookup file
    on: ColumnSpec  # value of this source's row to look up
    columns: dict[str, str]  # new column name -> column of the lookup file
    aggregate: str = "first"
    optional: bool = False


@dataclass(frozen=True)
class Filter:
    keep: str  # SQL predicate; a row is kept when it is true
    reason: str


@dataclass(frozen=True)
class SourceSpec:
    files: tuple[str, ...]
    columns: dict[str, ColumnSpec]
    name: str | None = None
    unless_files: tuple[str, ...] = ()
    optional_columns: tuple[str, ...] = ()
    lookups: tuple[LookupSpec, ...] = ()
    where: tuple[Filter, ...] = ()
    distinct: tuple[str, ...] = ()
    keep: dict[str, str] = field(default_factory=dict)  # extra output column -> vendor column


@dataclass(frozen=True)
class TableSpec:
    table: contract.Table
    sources: tuple[SourceSpec, ...]


class _Loader(yaml.SafeLoader):
    """YAML where every scalar is text except null (`~`, `null`, empty): `yes`, `1`, `2024-01-01` and `true` stay
    exactly as written, which is what value maps over vendor text need. Duplicate keys are an error."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key_node, _ in node.value:
                if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                    if key_node.value in seen:
                        raise yaml.constructor.ConstructorError(
                            None, None, f"duplicate key `{key_node.value}`", key_node.start_mark)
                    seen.add(key_node.value)
        return super().construct_mapping(node, deep)


_Loader.yaml_implicit_resolvers = {}
_Loader.add_implicit_resolver("tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""])
_Loader.add_implicit_resolver("tag:yaml.org,2002:merge", re.compile(r"^(?:<<)$"), ["<"])

_TOP_KEYS = ("name", "description", "version", "definitions", "tables")  # definitions: a home for YAML anchors
_SOURCE_KEYS = ("file", "name", "unless_file", "optional_columns", "lookups", "where", "distinct", "keep", "columns")
_COLUMN_KEYS = ("column", "const", "expr", "map", "default", "date_format", "dayfirst", "excel_serial", "offset",
                "number")
_LOOKUP_KEYS = ("file", "key", "on", "columns", "aggregate", "optional")
_FILTER_KEYS = ("keep", "reason")


class _Parser:
    def __init__(self, origin: str):
        self.origin = origin

    def fail(self, where: str, problem: str) -> MappingError:
        return MappingError(f"{self.origin}: {where}: {problem}")

    def dict(self, value, where: str, allowed: tuple[str, ...], required: tuple[str, ...] = ()) -> dict:
        if not isinstance(value, dict):
            raise self.fail(where, f"expected a mapping with keys {', '.join(allowed)}, found {_kind(value)}")
        unknown = [k for k in value if k not in allowed]
        if unknown:
            # A key is shown only when it looks like one: a file given by mistake (say /etc/shadow) is not echoed.
            if not re.fullmatch(r"[\w.\-/ ]{1,60}", str(unknown[0])):
                if where == "top level" and "tables" not in value:
                    raise self.fail(where, "not a closedloop mapping (no `tables:`; see docs/mappings.md)")
                raise self.fail(where, f"an unknown key (allowed: {', '.join(allowed)})")
            raise self.fail(where, f"unknown key `{unknown[0]}` (allowed: {', '.join(allowed)})")
        missing = [k for k in required if k not in value]
        if missing:
            raise self.fail(where, f"`{missing[0]}` is required")
        return value

    def text(self, value, where: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(where, f"expected text, found {_kind(value)}")
        return value

    def nullable_text(self, value, where: str) -> str | None:
        if value is None or isinstance(value, str):
            return value
        raise self.fail(where, f"expected text or null, found {_kind(value)}")

    def names(self, value, where: str) -> tuple[str, ...]:
        items = value if isinstance(value, list) else [value]
        if not items:
            raise self.fail(where, "expected at least one name")
        return tuple(self.text(v, where) for v in items)

    def bool(self, value, where: str) -> bool:
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise self.fail(where, f"expected true or false, found {_kind(value)}")

    def mapping(self, doc) -> tuple[str | None, str, dict[str, TableSpec]]:
        doc = self.dict(doc, "top level", _TOP_KEYS, ("tables",))
        if doc.get("version") not in (None, "1"):
            raise self.fail("version", f"unsupported version `{doc['version']}` (this closedloop reads version 1)")
        name = self.text(doc["name"], "name") if "name" in doc else None
        description = self.nullable_text(doc.get("description"), "description") or ""
        tables = doc["tables"]
        if not isinstance(tables, dict) or not tables:
            raise self.fail("tables", f"expected a mapping of contract tables (crm/leads: …), found {_kind(tables)}")
        keys = [t.key for t in contract.tables()]
        out = {}
        for key, value in tables.items():
            if key not in keys:
                raise self.fail(f"tables.{key}", f"`{key}` is not a contract table (tables: {', '.join(keys)})")
            out[key] = self.table(contract.table(key), value, f"tables.{key}")
        return name, description, out

    def table(self, table: contract.Table, value, where: str) -> TableSpec:
        if isinstance(value, dict) and "file" in value:
            raw_sources = [value]
            paths = [where]
        else:
            value = self.dict(value, where, ("sources",), ("sources",))
            raw_sources = value["sources"]
            if not isinstance(raw_sources, list) or not raw_sources:
                raise self.fail(f"{where}.sources", f"expected a list of sources, found {_kind(raw_sources)}")
            paths = [f"{where}.sources[{i}]" for i in range(len(raw_sources))]
        sources = tuple(self.source(table, s, p) for s, p in zip(raw_sources, paths, strict=True))
        names = [s.name for s in sources if s.name]
        if len(names) != len(set(names)):
            raise self.fail(where, "two sources have the same `name`")
        return TableSpec(table, sources)

    def source(self, table: contract.Table, value, where: str) -> SourceSpec:
        value = self.dict(value, where, _SOURCE_KEYS, ("file", "columns"))
        raw_columns = value["columns"]
        if not isinstance(raw_columns, dict) or not raw_columns:
            raise self.fail(f"{where}.columns", f"expected a mapping of contract columns, found {_kind(raw_columns)}")
        columns = {}
        for target, spec in raw_columns.items():
            if target not in table.column_names:
                raise self.fail(f"{where}.columns.{target}", f"`{target}` is not a column of `{table.key}` "
                                f"(columns: {', '.join(table.column_names)})")
            columns[target] = self.column(spec, f"{where}.columns.{target}", target)
        missing = [c for c in table.required_columns if c not in columns]
        if missing:
            raise self.fail(f"{where}.columns", f"required column(s) {', '.join(missing)} of `{table.key}` are not "
                            "mapped (map them, or use `const: ~` to leave them empty on purpose)")
        distinct = self.names(value["distinct"], f"{where}.distinct") if "distinct" in value else ()
        for key in distinct:
            if key not in columns:
                raise self.fail(f"{where}.distinct", f"`{key}` is not one of this source's columns")
        keep = self.keep(value.get("keep"), f"{where}.keep", table)
        lookups = value.get("lookups") or []
        if not isinstance(lookups, list):
            raise self.fail(f"{where}.lookups", f"expected a list, found {_kind(lookups)}")
        lookup_specs = tuple(self.lookup(lk, f"{where}.lookups[{i}]") for i, lk in enumerate(lookups))
        new_names = [n.lower() for lk in lookup_specs for n in lk.columns]
        if len(new_names) != len(set(new_names)):
            raise self.fail(f"{where}.lookups", "two lookups add a column of the same name")
        optional = value.get("optional_columns") or []
        return SourceSpec(
            files=self.names(value["file"], f"{where}.file"),
            columns=columns,
            name=self.text(value["name"], f"{where}.name") if "name" in value else None,
            unless_files=self.names(value["unless_file"], f"{where}.unless_file") if "unless_file" in value else (),
            optional_columns=self.names(optional, f"{where}.optional_columns") if optional else (),
            lookups=lookup_specs,
            where=self.filters(value.get("where"), f"{where}.where"),
            distinct=distinct,
            keep=keep,
        )

    def keep(self, value, where: str, table: contract.Table) -> dict[str, str]:
        if value is None:
            return {}
        if isinstance(value, list):
            pairs = {self.text(v, where): v for v in value}
        elif isinstance(value, dict):
            pairs = {self.text(k, where): self.text(v, f"{where}.{k}") for k, v in value.items()}
        else:
            raise self.fail(where, f"expected a list of vendor columns, found {_kind(value)}")
        for name in pairs:
            if name.lower() in table.column_names:
                raise self.fail(where, f"`{name}` is a contract column of `{table.key}`: map it under `columns`")
            if is_reserved(name):
                raise self.fail(where, f"`{name}`: the name is reserved (closedloop's lineage and working columns)")
        return pairs

    def column(self, value, where: str, target: str) -> ColumnSpec:
        if isinstance(value, str):
            return ColumnSpec(target, column=(self.text(value, where),))
        value = self.dict(value, where, _COLUMN_KEYS)
        bases = [k for k in ("column", "const", "expr") if k in value]
        if len(bases) != 1:
            raise self.fail(where, "give exactly one of `column`, `const` or `expr`")
        spec: dict = {"target": target}
        if "column" in value:
            spec["column"] = self.names(value["column"], f"{where}.column")
        elif "const" in value:
            spec["const"] = self.nullable_text(value["const"], f"{where}.const")
            spec["is_const"] = True
        else:
            spec["expr"] = self.text(value["expr"], f"{where}.expr")
        if "map" in value:
            raw = value["map"]
            if not isinstance(raw, dict) or not raw:
                raise self.fail(f"{where}.map", f"expected a mapping of vendor value: contract value, found "
                                f"{_kind(raw)}")
            spec["map"] = {self.nullable_text(k, f"{where}.map"): self.nullable_text(v, f"{where}.map.{k}")
                           for k, v in raw.items()}
        if "default" in value:
            if "map" not in value:
                raise self.fail(f"{where}.default", "`default` only applies to a `map`")
            spec["default"] = self.nullable_text(value["default"], f"{where}.default")
        if "date_format" in value:
            formats = self.names(value["date_format"], f"{where}.date_format")
            for f in formats:
                if "%" not in f:
                    raise self.fail(f"{where}.date_format", f"`{f}` is not a strftime format (e.g. %d/%m/%Y %H:%M)")
            spec["date_formats"] = formats
        if "dayfirst" in value:
            spec["dayfirst"] = self.bool(value["dayfirst"], f"{where}.dayfirst")
            if spec["dayfirst"] and "date_formats" in spec:
                raise self.fail(where, "give either `date_format` or `dayfirst`, not both")
        if "excel_serial" in value:
            spec["excel_serial"] = self.bool(value["excel_serial"], f"{where}.excel_serial")
        if "offset" in value:
            offset = self.text(value["offset"], f"{where}.offset")
            if not _OFFSET.match(offset):
                raise self.fail(f"{where}.offset", f"`{offset}` is not a UTC offset like +08:00, -05:00 or Z")
            spec["offset"] = offset
        if "number" in value:
            spec["number"] = self.bool(value["number"], f"{where}.number")
        result = ColumnSpec(**spec)
        if result.number and result.parses_dates:
            raise self.fail(where, "a column is either a `number` or a date, not both")
        if result.offset and not result.parses_dates:
            raise self.fail(f"{where}.offset", "`offset` applies to parsed dates: add `date_format`, `dayfirst` "
                            "or `excel_serial`")
        return result

    def lookup(self, value, where: str) -> LookupSpec:
        value = self.dict(value, where, _LOOKUP_KEYS, ("file", "key", "columns"))
        key = self.text(value["key"], f"{where}.key")
        on = self.column(value.get("on", key), f"{where}.on", "")
        if on.parses_dates:
            raise self.fail(f"{where}.on", "a lookup key is matched as text; date parsing does not apply")
        raw = value["columns"]
        if isinstance(raw, list):
            columns = {self.text(c, f"{where}.columns"): c for c in raw}
        elif isinstance(raw, dict) and raw:
            columns = {self.text(k, f"{where}.columns"): self.text(v, f"{where}.columns.{k}") for k, v in raw.items()}
        else:
            raise self.fail(f"{where}.columns", f"expected the lookup file's columns to bring, found {_kind(raw)}")
        for name in columns:
            if is_reserved(name):
                raise self.fail(f"{where}.columns", f"`{name}`: the name is reserved (closedloop's lineage and working "
                                "columns)")
        aggregate = value.get("aggregate", "first")
        if aggregate not in AGGREGATES:
            raise self.fail(f"{where}.aggregate", f"`{aggregate}` is not one of {', '.join(AGGREGATES)}")
        optional = self.bool(value["optional"], f"{where}.optional") if "optional" in value else False
        return LookupSpec(self.names(value["file"], f"{where}.file"), key, on, columns, aggregate, optional)

    def filters(self, value, where: str) -> tuple[Filter, ...]:
        if value is None:
            return ()
        items = value if isinstance(value, list) else [value]
        out = []
        for i, item in enumerate(items):
            path = f"{where}[{i}]" if isinstance(value, list) else where
            if isinstance(item, str):
                out.append(Filter(self.text(item, path), f"excluded by the mapping's filter: {item}"))
            else:
                item = self.dict(item, path, _FILTER_KEYS, ("keep", "reason"))
                out.append(Filter(self.text(item["keep"], f"{path}.keep"), self.text(item["reason"], f"{path}.reason")))
        return tuple(out)


def _kind(value) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    # A few characters at most: a file that is not a mapping (say /etc/passwd) must not be echoed back.
    text = " ".join(str(value).split())
    if len(text) > 24 or "\n" in str(value):
        return f"{type(value).__name__ if not isinstance(value, str) else 'text'} ({len(str(value)):,} characters)"
    return f"`{text}`"


# --------------------------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------------------------


def presets() -> list[str]:
    return sorted(p.stem for p in PRESETS_DIR.glob("*.yml"))


def load_mapping(ref: str | Path) -> Mapping:
    """A preset by name (`maven`, `olist`, `salesforce`, `zh`) or a mapping file by path."""
    text_ref = str(ref)
    is_path = isinstance(ref, Path) or text_ref.lower().endswith((".yml", ".yaml")) or "/" in text_ref or (
        "\\" in text_ref)
    if is_path:
        path = Path(ref)
        if not path.is_file():
            raise MappingError(f"mapping file {path} does not exist.")
    else:
        path = PRESETS_DIR / f"{text_ref}.yml"
        if not path.is_file():
            raise MappingError(f"unknown mapping `{text_ref}`: the presets are {', '.join(presets())}; or give the "
                               "path of a mapping .yml file (see docs/mappings.md).")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise MappingError(f"mapping file {path} cannot be read: {exc}") from exc
    return parse_mapping(text, path)


def parse_mapping(text: str, path: Path | str = "<mapping>") -> Mapping:
    path = Path(path)
    origin = f"mapping file {path}"
    try:
        doc = yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        # The problem and its line, not PyYAML's excerpt of the file (which would echo any file given by mistake).
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise MappingError(f"{origin}: invalid YAML{where} ({getattr(exc, 'problem', None) or 'unreadable'})") \
            from None
    parser = _Parser(origin)
    name, description, tables = parser.mapping(doc)
    name = name or path.stem
    return Mapping(name=name, path=path, description=description, tables=tables)


# --------------------------------------------------------------------------------------------------------------
# Running a mapping over a raw folder
# --------------------------------------------------------------------------------------------------------------


@dataclass
class Mapping:
    name: str
    path: Path
    description: str
    tables: dict[str, TableSpec]

    @property
    def origin(self) -> str:
        return f"mapping `{self.name}` ({self.path})"

    def ignored_files(self, raw_dir: str | Path) -> dict[str, list[str]]:
        """Per table key, the entries a stem pattern of its sources names (`Lead` → `Lead.numbers`,
        `Lead_2024.csv.bak`) in a format closedloop does not read, each as "display: why" for the report."""
        raw_dir = Path(raw_dir)
        out = {}
        for key, spec in self.tables.items():
            patterns = dict.fromkeys(p for s in spec.sources for p in (*s.files, *(f for lk in s.lookups
                                                                                     for f in lk.files)))
            found = [f"{display}: matches `{pattern}` of {self.origin} but is not a type closedloop reads "
                     f"({FORMATS}); not read" for pattern in patterns for display in _unread(raw_dir, pattern)]
            if found:
                out[key] = list(dict.fromkeys(found))
        return out

    def inputs(self, raw_dir: str | Path, chunk_rows: int = CHUNK_ROWS) -> dict[str, TableInput]:
        """The contract tables this mapping produces from `raw_dir`, keyed `family/name`; a table whose vendor
        files are all absent is left out. Headers are checked (and `distinct` dimensions derived) here; rows
        are read when a table's `chunks()` is called."""
        raw_dir = Path(raw_dir)
        if not raw_dir.is_dir():
            raise MappingError(f"{self.origin}: raw folder {raw_dir} does not exist.")
        run = _Run(self, raw_dir, chunk_rows)
        bound: dict[str, list[_BoundSource]] = {}
        for key, spec in self.tables.items():
            sources = [b for i, s in enumerate(spec.sources) if (b := run.bind(spec, i, s)) is not None]
            if sources:
                _label_collisions(sources)
                bound[key] = sources
        row_wise_files = {f.display for sources in bound.values() for b in sources if not b.spec.distinct
                          for f in b.files}
        out = {}
        for key, sources in bound.items():
            table = self.tables[key].table
            derived = _derive([b for b in sources if b.spec.distinct], row_wise_files)
            out[key] = TableInput(table, list(dict.fromkeys(f.display for b in sources for f in b.files)),
                                  _chunks(sources, derived), _note(sources, derived))
        return out


@dataclass
class _File:
    path: Path
    display: str  # relative to the raw folder, what the reader reports
    label: str  # `__file` of the rows: the display, or display#source when two sources read the file
    resolved: dict[str, str | None]  # vendor column named in the mapping -> header spelling (None: optional, absent)
    absent_optional: tuple[str, ...]


@dataclass
class _BoundSource:
    """One source of one table, bound to the files found for it and the loaded lookups."""

    mapping: Mapping
    table: contract.Table
    index: int
    spec: SourceSpec
    files: list[_File]
    lookups: list[tuple[LookupSpec, dict[str, pd.Series]]]
    lookup_files: list[str]
    targets: list[str]  # output contract columns (the union over the table's sources)
    extras: list[str]  # output extra columns (the union over the table's sources)
    chunk_rows: int

    @property
    def label_name(self) -> str:
        return self.spec.name or f"source{self.index + 1}"


class _Run:
    def __init__(self, mapping: Mapping, raw_dir: Path, chunk_rows: int):
        self.mapping, self.raw_dir, self.chunk_rows = mapping, raw_dir, chunk_rows
        self._found: dict[str, list[Path]] = {}
        self._lookups: dict[tuple, dict[str, pd.Series]] = {}

    def fail(self, problem: str) -> MappingError:
        return MappingError(f"{self.mapping.origin}: {problem}")

    def display(self, path: Path) -> str:
        return str(path.relative_to(self.raw_dir))

    def find(self, pattern: str) -> list[Path]:
        """Files of the raw folder matching a pattern: `Opportunity` (a stem: Opportunity.csv, Opportunity.xlsx,
        Opportunity_2024-01.csv …), `sales_pipeline.csv` or a glob (`exports/*.csv`), case-insensitively."""
        if pattern not in self._found:
            self._found[pattern] = _find(self.raw_dir, pattern)
        return self._found[pattern]

    def find_all(self, patterns: tuple[str, ...]) -> list[Path]:
        return list(dict.fromkeys(p for pattern in patterns for p in self.find(pattern)))

    def bind(self, spec: TableSpec, index: int, source: SourceSpec) -> _BoundSource | None:
        if source.unless_files and self.find_all(source.unless_files):
            return None
        paths = self.find_all(source.files)
        if not paths:
            return None
        table = spec.table
        lookups = [(lk, self.lookup(table, lk)) for lk in source.lookups]
        lookup_files = [self.display(p) for lk in source.lookups for p in self.find_all(lk.files)]
        targets = [c for c in table.column_names if any(c in s.columns for s in spec.sources)]
        extras = list(dict.fromkeys(k for s in spec.sources for k in s.keep))
        bound = _BoundSource(self.mapping, table, index, source, [], lookups, lookup_files, targets, extras,
                             self.chunk_rows)
        for path in paths:
            display = self.display(path)
            bound.files.append(self.check_file(bound, path, display, read_header(path, display)))
        return bound

    def check_file(self, bound: _BoundSource, path: Path, display: str, header: list[str]) -> _File:
        """Every vendor column the source names must be in the header (unless listed in `optional_columns`),
        and every SQL expression must bind to the header's columns."""
        source, table = bound.spec, bound.table
        lower = {h.lower(): h for h in header}
        added = {n.lower(): n for lk in source.lookups for n in lk.columns}
        clash = [n for n in added if n in lower]
        if clash:
            raise self.fail(f"{display}: a lookup of `{table.key}` adds column `{added[clash[0]]}`, which the file "
                            "already has; give the looked-up column another name")
        optional = {c.lower() for c in source.optional_columns}
        resolved: dict[str, str | None] = {}
        absent_optional: list[str] = []

        def need(names: tuple[str, ...], what: str, vendor_only: bool = False) -> None:
            for name in names:
                if name.lower() in lower:
                    resolved[name] = lower[name.lower()]
                    return
                if name.lower() in added and not vendor_only:
                    resolved[name] = added[name.lower()]
                    return
            if any(n.lower() in optional for n in names):
                resolved[names[0]] = None
                return
            raise self.fail(f"{display}: column {' or '.join(f'`{n}`' for n in names)} needed for {what} is missing "
                            f"(columns found: {', '.join(header) or 'none'})")

        for target, spec in source.columns.items():
            if spec.column:
                need(spec.column, f"`{table.key}.{target}`")
        for lk in source.lookups:
            if lk.on.column:
                need(lk.on.column, f"the key of the lookup in {' or '.join(lk.files)}", vendor_only=True)
        for vendor in source.keep.values():  # extras are kept when present
            if vendor.lower() in lower or vendor.lower() in added:
                need((vendor,), "an extra column")
        for name in source.optional_columns:
            if name.lower() not in lower:
                absent_optional.append(name)
        columns = list(header) + absent_optional
        self.check_sql(bound, display, columns, added.values())
        return _File(path, display, display, resolved, tuple(absent_optional))

    def check_sql(self, bound: _BoundSource, display: str, vendor: list[str], added) -> None:
        source, table = bound.spec, bound.table
        if not _uses_sql(source):
            return
        con = _connect()
        try:
            empty = {c: pa.array([], pa.string()) for c in vendor}
            empty[ROW] = pa.array([], pa.int64())
            con.register("vendor", pa.table(empty))
            on_exprs = [(lk.on.expr, f"the lookup key of {', '.join(lk.files)}") for lk in source.lookups
                        if lk.on.expr]
            for expr, what in on_exprs:
                self._bind(con, f"CAST(({expr}) AS VARCHAR)", display, what, expr)
            for name in added:
                empty[name] = pa.array([], pa.string())
            con.unregister("vendor")
            con.register("vendor", pa.table(empty))
            for f in source.where:
                self._bind(con, f"CAST(({f.keep}) AS BOOLEAN)", display, "a `where` filter", f.keep)
            for target, spec in source.columns.items():
                if spec.expr:
                    self._bind(con, f"CAST(({spec.expr}) AS VARCHAR)", display, f"`{table.key}.{target}`", spec.expr)
        finally:
            con.close()

    def _bind(self, con: duckdb.DuckDBPyConnection, select: str, display: str, what: str, expr: str) -> None:
        try:
            rows = con.sql(f"SELECT {select} FROM vendor").fetchall()
        except duckdb.Error as exc:
            message = str(exc).split("\n")[0]
            raise self.fail(f"{display}: the expression for {what} cannot be evaluated on this file: {message} "
                            f"(expression: {expr})") from exc
        if rows:
            raise self.fail(f"{display}: the expression for {what} must give one value per row (no aggregates): "
                            f"{expr}")

    def lookup(self, table: contract.Table, lk: LookupSpec) -> dict[str, pd.Series]:
        """The lookup file as one Series per brought column, indexed by the key (the first, last, smallest or
        largest non-empty value per key). Unparseable rows of a lookup file are not used."""
        cache_key = (lk.files, lk.key, tuple(lk.columns.items()), lk.aggregate)
        if cache_key in self._lookups:
            return self._lookups[cache_key]
        paths = self.find_all(lk.files)
        if not paths:
            if lk.optional:
                return {name: pd.Series(dtype=object) for name in lk.columns}
            raise self.fail(f"`{table.key}` needs {' or '.join(lk.files)} (a lookup) but no such file is in "
                            f"{self.raw_dir}; mark the lookup `optional: true` to run without it")
        frames = []
        for path in paths:
            display = self.display(path)
            frame, _ = read_all(path, display)
            lower = {c.lower(): c for c in frame.columns if c != ROW}
            wanted = [lk.key, *lk.columns.values()]
            missing = [c for c in wanted if c.lower() not in lower]
            if missing:
                raise self.fail(f"{display}: column `{missing[0]}` needed for a lookup of `{table.key}` is missing "
                                f"(columns found: {', '.join(lower.values())})")
            frames.append(pd.DataFrame({c: frame[lower[c.lower()]] for c in dict.fromkeys(wanted)}))
        data = pd.concat(frames, ignore_index=True)
        data = data[data[lk.key].notna()]
        out = {}
        for name, column in lk.columns.items():
            if lk.aggregate in ("min", "max"):
                pairs = data[[lk.key, column]].dropna(subset=[column])
                series = getattr(pairs.groupby(lk.key, sort=False)[column], lk.aggregate)()
            else:
                series = data.drop_duplicates(lk.key, keep=lk.aggregate).set_index(lk.key)[column]
            out[name] = series.astype(object)
        self._lookups[cache_key] = out
        return out


def _find(raw_dir: Path, pattern: str) -> list[Path]:
    folder, _, name = pattern.replace("\\", "/").rpartition("/")
    base = raw_dir / folder if folder else raw_dir
    if not base.is_dir():
        return []
    glob = fnmatch.translate(name)
    if not name.lower().endswith(SUFFIXES):
        # A stem: `Lead` is Lead.csv, Lead.xlsx, Lead_2024-01.csv; never LeadHistory.csv.
        suffixes = "|".join(re.escape(s.lstrip(".")) for s in SUFFIXES)
        glob = glob.removesuffix(r"\Z") + rf"(?:[_\-.].*)?\.(?:{suffixes})\Z"
    regex = re.compile(glob, re.IGNORECASE)
    try:
        found = sorted(p for p in base.iterdir() if regex.match(p.name) and not p.name.startswith((".", "~$")))
    except OSError as exc:
        raise MappingError(f"{base}: the folder cannot be read: {exc.strerror or exc}.") from exc
    for path in found:
        try:
            check_readable(path, str(path.relative_to(raw_dir)))  # a matching FIFO or dangling link is never skipped
        except ReadError as exc:
            raise MappingError(f"{exc} It matches `{pattern}`.") from exc
    return found


def _unread(raw_dir: Path, pattern: str) -> list[str]:
    """Entries a stem pattern names whose type closedloop does not read (see `Mapping.ignored_files`)."""
    folder, _, name = pattern.replace("\\", "/").rpartition("/")
    base = raw_dir / folder if folder else raw_dir
    if name.lower().endswith(SUFFIXES) or any(c in name for c in "*?[") or not base.is_dir():
        return []
    regex = re.compile(rf"{re.escape(name)}(?:[_\-.].*)?\Z", re.IGNORECASE)
    try:
        return sorted(str((base / e.name).relative_to(raw_dir)) for e in os.scandir(base)
                      if regex.match(e.name) and not e.name.startswith((".", "~$")) and file_kind(e.name) is None)
    except OSError:
        return []  # `_find` says why the folder cannot be read


def _label_collisions(sources: list[_BoundSource]) -> None:
    """Rows of one table must have distinct (`__file`, `__row`): a file read by two sources of the same table
    (events derived twice from one row, a dimension from two columns) is labelled `file#source` the second time."""
    seen: set[str] = set()
    for b in sources:
        for f in b.files:
            if f.display in seen:
                f.label = f"{f.display}#{b.label_name}"
                if f.label in seen:
                    raise MappingError(f"{b.mapping.origin}: `{b.table.key}` reads {f.display} from two sources with "
                                       f"the same label; give them different `name`s")
            seen.add(f.label)


def _connect() -> duckdb.DuckDBPyConnection:
    # Expressions see the chunk only: no files, no network.
    return duckdb.connect(config={"enable_external_access": False})


def _uses_sql(source: SourceSpec) -> bool:
    return bool(source.where or any(s.expr for s in source.columns.values()) or any(
        lk.on.expr for lk in source.lookups))


class _Connection:
    """A DuckDB connection opened on first use (most renaming-only sources never need one)."""

    def __init__(self):
        self._con: duckdb.DuckDBPyConnection | None = None

    def get(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            self._con = _connect()
        return self._con

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None


# --------------------------------------------------------------------------------------------------------------
# Transforming chunks
# --------------------------------------------------------------------------------------------------------------


def _text(series: pd.Series) -> pd.Series:
    """An object Series of str or None (never NaN, never '')."""
    s = series.astype(object)
    s = s.where(s.notna(), None)
    return s.mask(s.eq(""), None)


def _constant(value: str | None, n: int) -> pd.Series:
    return pd.Series([value] * n, dtype=object)


def _sql(connection: _Connection, frame: pd.DataFrame, selects: list[str]) -> list[pa.ChunkedArray]:
    """Evaluate row-level SQL expressions over a chunk (vendor columns as VARCHAR, `__row` as BIGINT). Only the
    columns the expressions can name are handed to DuckDB (a 60-column export costs what its 3 used columns do)."""
    if not selects:
        return []
    con = connection.get()
    text = " ".join(selects).lower()
    every = "*" in text or "columns(" in text
    columns = [c for c in frame.columns if c != ROW and (every or c.lower() in text)]
    table = pa.Table.from_pandas(frame[columns], schema=pa.schema([(c, pa.string()) for c in columns]),
                                 preserve_index=False)
    table = table.append_column(ROW, pa.array(frame[ROW].to_numpy(dtype="int64"), type=pa.int64()))
    con.register("vendor", table)
    try:
        result = con.sql(f"SELECT {', '.join(selects)} FROM vendor").to_arrow_table()
    finally:
        con.unregister("vendor")
    if result.num_rows != len(frame):
        raise MappingError(f"an expression gave {result.num_rows} values for {len(frame)} rows")
    return [result.column(i) for i in range(result.num_columns)]


def _sql_text(column: pa.ChunkedArray) -> pd.Series:
    return _text(pd.Series(column.to_pylist(), dtype=object))


def apply_map(values: pd.Series, spec: ColumnSpec) -> pd.Series:
    """Translate values through `spec.map`: a value is looked up with surrounding spaces ignored; a value not in
    the map becomes `default` when one is given and passes through unchanged when not. Empty values are only
    translated by an explicit null key (`~: …`)."""
    table = {k: v for k, v in spec.map.items() if k is not None}
    present = values.notna()
    stripped = values.where(present, None).astype(object)
    stripped[present] = values[present].astype(str).str.strip()
    hit = present & stripped.isin(list(table))
    out = values.astype(object).copy()
    out[hit] = stripped[hit].map(table)
    if spec.default is not _MISSING:
        out[present & ~hit] = spec.default
    if None in spec.map:
        out[~present] = spec.map[None]
    return _text(out)


def clean_number(values: pd.Series) -> pd.Series:
    """`¥1,234.50`, `1 234元` → `1234.50`, `1234`: spaces and currency signs removed, commas removed when they group
    thousands. When what is left is not a plain number the value passes unchanged (validation reports it)."""
    values = _text(values)
    present = values.notna()
    cleaned = values[present].str.replace(_NUMBER_NOISE.pattern, "", regex=True)
    grouped = cleaned.str.fullmatch(_GROUPED_NUMBER.pattern).fillna(False).astype(bool)
    cleaned[grouped] = cleaned[grouped].str.replace(r"[,，]", "", regex=True)
    ok = cleaned.str.fullmatch(_PLAIN_NUMBER.pattern).fillna(False).astype(bool)
    out = values.copy()
    out[ok[ok].index] = cleaned[ok]
    return out


def parse_dates(values: pd.Series, spec: ColumnSpec, date_only: bool = False) -> pd.Series:
    """ISO 8601 text from the declared formats: Excel serial numbers, strftime formats (tried in order) or
    day-first dates. A value no declared format parses is returned unchanged (validation reports it)."""
    values = _text(values)
    out = values.copy()
    todo = values.notna()
    text = values.where(todo, None)
    text[todo] = values[todo].str.strip()
    if spec.excel_serial and todo.any():
        number = todo & text.str.fullmatch(_NUMBER.pattern).fillna(False).astype(bool)
        days = pd.to_numeric(text[number], errors="coerce")
        number[number] = (days >= 1) & (days <= _EXCEL_MAX_SERIAL)
        if number.any():
            ts = (_EXCEL_EPOCH + pd.to_timedelta(days[number], unit="D")).dt.round("s")
            with_time = (ts - ts.dt.normalize()) != pd.Timedelta(0)
            out[number] = _iso(ts, with_time, date_only, spec.offset)
            todo &= ~number
    for fmt in spec.date_formats:
        if not todo.any():
            break
        if _OFFSET_DIRECTIVE.search(fmt):
            parsed = _strptime_offsets(text[todo], fmt, date_only)
            ok = parsed.notna()
            out[ok[ok].index] = parsed[ok]
        else:
            ts = pd.to_datetime(text[todo], format=fmt, errors="coerce")
            ok = ts.notna()
            has_time = bool(_TIME_DIRECTIVE.search(fmt))
            out[ok[ok].index] = _iso(ts[ok], pd.Series(has_time, index=ts[ok].index), date_only, spec.offset)
        todo[ok[ok].index] = False
    if spec.dayfirst and todo.any():
        ts, with_time = _dayfirst(text[todo])
        ok = ts.notna()
        out[ok[ok].index] = _iso(ts[ok], with_time[ok], date_only, spec.offset)
    return out


def _iso(ts: pd.Series, with_time: pd.Series, date_only: bool, offset: str | None) -> pd.Series:
    if ts.empty:
        return pd.Series([], dtype=object, index=ts.index)
    date = ts.dt.strftime("%Y-%m-%d").astype(object)
    if date_only:
        return date
    full = ts.dt.strftime("%Y-%m-%dT%H:%M:%S").astype(object)
    micro = ts.dt.microsecond != 0
    if micro.any():
        full[micro] = ts[micro].dt.strftime("%Y-%m-%dT%H:%M:%S.%f").astype(object)
    if offset:
        full = full + offset
    return full.where(with_time.to_numpy(dtype=bool), date)


def _strptime_offsets(text: pd.Series, fmt: str, date_only: bool) -> pd.Series:
    """Formats with %z keep each value's own offset; parsed once per distinct value."""
    parsed: dict[str, str | None] = {}
    for value in text.dropna().unique():
        try:
            stamp = dt.datetime.strptime(value, fmt)
        except ValueError:
            parsed[value] = None
            continue
        parsed[value] = stamp.date().isoformat() if date_only else stamp.isoformat()
    return text.map(parsed).astype(object).where(lambda s: s.notna(), None)


def _dayfirst(text: pd.Series) -> tuple[pd.Series, pd.Series]:
    parts = text.str.extract(_DAYFIRST)
    year = pd.to_numeric(parts[2], errors="coerce")
    two_digit = parts[2].str.len() == 2
    year = year.where(~two_digit, year + np.where(year < 69, 2000, 1900))
    micro = parts[6].fillna("").str.ljust(6, "0")
    fields = pd.DataFrame({
        "year": year, "month": pd.to_numeric(parts[1], errors="coerce"),
        "day": pd.to_numeric(parts[0], errors="coerce"),
        "hour": pd.to_numeric(parts[3], errors="coerce").fillna(0),
        "minute": pd.to_numeric(parts[4], errors="coerce").fillna(0),
        "second": pd.to_numeric(parts[5], errors="coerce").fillna(0),
        "microsecond": pd.to_numeric(micro, errors="coerce").fillna(0),
    }, index=text.index)
    ts = pd.to_datetime(fields, errors="coerce")
    return ts, parts[3].notna()


def _evaluate(spec: ColumnSpec, work: pd.DataFrame, file: _File, sql: dict[str, pd.Series], date_only: bool
              ) -> pd.Series:
    n = len(work)
    if spec.expr is not None:
        values = sql[spec.expr]
    elif spec.is_const:
        values = _constant(spec.const, n)
    else:
        actual = next((file.resolved[c] for c in spec.column if c in file.resolved), None)
        values = work[actual] if actual is not None else _constant(None, n)
    values = _text(values)
    if spec.map is not None:
        values = apply_map(values, spec)
    if spec.number:
        values = clean_number(values)
    if spec.parses_dates:
        values = parse_dates(values, spec, date_only)
    return values


def _transform(bound: _BoundSource, file: _File, frame: pd.DataFrame, con: _Connection
               ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One reader chunk -> (contract-shaped rows, excluded rows as `__row` + `reason`)."""
    source, table = bound.spec, bound.table
    work = frame.reset_index(drop=True)
    for name in file.absent_optional:
        work[name] = _constant(None, len(work))
    # 1. lookups: the key of each row (a column, constant or expression, optionally mapped), then the values
    on_exprs = list(dict.fromkeys(lk.on.expr for lk, _ in bound.lookups if lk.on.expr))
    on_sql = dict(zip(on_exprs, map(_sql_text, _sql(con, work, [f"CAST(({e}) AS VARCHAR)" for e in on_exprs])),
                      strict=True))
    keys = [_evaluate(lk.on, work, file, on_sql, False) for lk, _ in bound.lookups]
    for (_, series_by_name), key in zip(bound.lookups, keys, strict=True):
        for name, series in series_by_name.items():
            work[name] = _text(key.map(series)) if len(series) else _constant(None, len(work))
    # 2. filters and expressions, one SQL pass
    exprs = list(dict.fromkeys(s.expr for s in source.columns.values() if s.expr))
    selects = [f"CAST(({f.keep}) AS BOOLEAN)" for f in source.where] + [f"CAST(({e}) AS VARCHAR)" for e in exprs]
    results = _sql(con, work, selects)
    flags = [pc.fill_null(c, False).to_numpy(zero_copy_only=False).astype(bool) for c in results[:len(source.where)]]
    sql = dict(zip(exprs, map(_sql_text, results[len(source.where):]), strict=True))
    kept = np.logical_and.reduce(flags) if flags else np.ones(len(work), dtype=bool)
    excluded = pd.DataFrame({ROW: work.loc[~kept, ROW].to_numpy(dtype="int64")})
    if flags and (~kept).any():
        reasons = np.select([~f for f in flags], [f.reason for f in source.where], default="")
        excluded["reason"] = reasons[~kept]
    if not kept.all():
        work = work[kept].reset_index(drop=True)
        sql = {k: v[kept].reset_index(drop=True) for k, v in sql.items()}
    # 3. contract columns
    n = len(work)
    out = {}
    for target in bound.targets:
        spec = source.columns.get(target)
        if spec is None:
            out[target] = _constant(None, n)
        else:
            out[target] = _evaluate(spec, work, file, sql, table_type(table, target) == "date")
    for name in bound.extras:
        vendor = source.keep.get(name)
        actual = file.resolved.get(vendor) if vendor else None
        out[name] = _text(work[actual]) if actual else _constant(None, n)
    out[FILE] = _constant(file.label, n)
    out[ROW] = work[ROW].to_numpy(dtype="int64")
    return pd.DataFrame(out, index=pd.RangeIndex(n)), excluded


def table_type(table: contract.Table, column: str) -> str:
    return next(c.data_type for c in table.columns if c.name == column)


def _relabel(rejections: list[Rejection], file: _File) -> list[Rejection]:
    if file.label == file.display:
        return rejections
    return [dataclasses.replace(r, file=file.label) for r in rejections]


def _source_chunks(bound: _BoundSource) -> Iterator[Chunk]:
    """A row-by-row source: every row read comes out as a row or as an `excluded_by_mapping` rejection."""
    con = _Connection()
    try:
        for file in bound.files:
            for chunk in read_file(file.path, file.display, bound.chunk_rows):
                frame, excluded = _transform(bound, file, chunk.frame, con)
                rejections = _relabel(chunk.rejections, file)
                rejections += [Rejection(file.label, int(row), None, EXCLUDED_RULE, None, reason)
                               for row, reason in zip(excluded[ROW], excluded.get("reason", []), strict=True)]
                yield Chunk(frame, rejections)
    finally:
        con.close()


@dataclass
class _Derived:
    """A `distinct` source, derived when `inputs()` runs: one row per distinct key, the first row with it."""

    bound: _BoundSource
    frame: pd.DataFrame
    rejections: list[Rejection]
    rows_considered: int


def _derive(sources: list[_BoundSource], row_wise_files: set[str]) -> list[_Derived]:
    """Distinct sources of one table share their seen keys, so a key derived from two files appears once (the
    first source wins). Rows without a key, and rows a `where` filter leaves out, make no dimension row. The
    reader's rejections are passed on only for files no row-by-row source of the mapping reads (they are reported
    there otherwise)."""
    seen: dict[tuple[str, ...], set[str]] = {}
    out = []
    for bound in sources:
        keys = bound.spec.distinct
        known = seen.setdefault(keys, set())
        frames, rejections, considered = [], [], 0
        con = _Connection()
        try:
            for file in bound.files:
                for chunk in read_file(file.path, file.display, bound.chunk_rows):
                    considered += len(chunk.frame)
                    if file.display not in row_wise_files:
                        rejections += _relabel(chunk.rejections, file)
                    frame, _ = _transform(bound, file, chunk.frame, con)
                    frame = frame[frame[list(keys)].notna().all(axis=1)]
                    joined = frame[keys[0]].astype(str)
                    for key in keys[1:]:
                        joined = joined + "\x1f" + frame[key].astype(str)
                    new = ~joined.duplicated() & ~joined.isin(known)
                    known.update(joined[new])
                    frames.append(frame[new.to_numpy(dtype=bool)])
        finally:
            con.close()
        frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=bound.targets + [FILE, ROW])
        out.append(_Derived(bound, frame, rejections, considered))
    return out


def _chunks(sources: list[_BoundSource], derived: list[_Derived]) -> Callable[[], Iterator[Chunk]]:
    by_bound = {id(d.bound): d for d in derived}

    def chunks() -> Iterator[Chunk]:
        for bound in sources:
            d = by_bound.get(id(bound))
            if d is not None:
                yield Chunk(d.frame.copy(), list(d.rejections))
            else:
                yield from _source_chunks(bound)

    return chunks


def _note(sources: list[_BoundSource], derived: list[_Derived]) -> str:
    by_bound = {id(d.bound): d for d in derived}
    parts = []
    for bound in sources:
        files = ", ".join(f.label for f in bound.files)
        d = by_bound.get(id(bound))
        if d is not None:
            what = ", ".join(_describe_key(bound, k) for k in bound.spec.distinct)
            parts.append(f"{len(d.frame):,} distinct {what} values of {d.rows_considered:,} rows of {files} "
                         "(each row placed at the first vendor row with its value)")
            continue
        text = f"rows of {files}"
        if bound.spec.where:
            text += " (rows left out are reported as excluded_by_mapping: " + "; ".join(
                f.reason for f in bound.spec.where) + ")"
        if bound.lookup_files:
            text += f", with values looked up in {', '.join(dict.fromkeys(bound.lookup_files))}"
        parts.append(text)
    return "; ".join(parts)


def _describe_key(bound: _BoundSource, target: str) -> str:
    spec = bound.spec.columns[target]
    if spec.column:
        return spec.column[0]
    return target


__all__ = ["EXCLUDED_RULE", "Mapping", "MappingError", "apply_map", "clean_number", "load_mapping", "parse_dates",
           "parse_mapping", "presets"]
