"""Property-based tests for `closedloop.readers`: whatever text a table holds, written as CSV (every accepted
encoding, line end and delimiter), XLSX or Parquet, the reader gives back exactly those values ('' as None), in
order, each with the row number a person would use (the Excel row, header = row 1; the Parquet record number),
and every row it read is either returned or set aside (NUL byte, longer than an Excel cell)."""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from closedloop import readers
from closedloop.readers import MAX_FIELD_CHARS, ROW

SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ENCODINGS = ["utf-8", "utf-8-sig", "gb18030", "utf-16"]
DELIMITERS = [",", "\t", ";", "|"]
TOO_LONG = "<one character more than an Excel cell holds>"  # written as MAX_FIELD_CHARS + 1 characters
# Values real exports carry and a naive reader gets wrong.
SPECIAL = ["", " ", "  padded  ", ",", ";", "|", "\t", '"', '""', "a,b", 'say "hi"', "line1\nline2", "a\r\nb", "\r",
           "张伟", "华为技术有限公司，北京", "=HYPERLINK(\"http://x\",\"y\")", "+cmd|' /C calc'!A0", "0012", "1,200.50",
           "\ufeffbom", "a\x00b", TOO_LONG]
_XLSX_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\r]")  # not storable in an .xlsx cell (or normalised away)


def _real(value: str) -> str:
    return "长" * (MAX_FIELD_CHARS + 1) if value == TOO_LONG else value


def _names() -> st.SearchStrategy[list[str]]:
    name = st.one_of(st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,10}", fullmatch=True),
                     st.text(st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5), min_size=1, max_size=4))
    return st.lists(name, min_size=2, max_size=5, unique_by=str.lower)


def _values(plain_text: bool = False) -> st.SearchStrategy[str]:
    text = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
    # An .xlsx cannot hold more than an Excel cell either: openpyxl cuts longer text to 32,767 characters.
    special = st.sampled_from([v for v in SPECIAL if not (plain_text and (_XLSX_ILLEGAL.search(v) or v == TOO_LONG))])
    if plain_text:
        text = text.map(lambda v: _XLSX_ILLEGAL.sub("", v))
    return st.one_of(text, special)


@st.composite
def tables(draw, plain_text: bool = False) -> tuple[list[str], list[list[str]]]:
    header = draw(_names())
    rows = draw(st.lists(st.lists(_values(plain_text), min_size=len(header), max_size=len(header)), max_size=8))
    return header, rows


def _expand(rows: list[list[str]]) -> list[list[str]]:
    return [[_real(v) for v in row] for row in rows]


def _expected(header: list[str], rows: list[list[str]], first: int, skip_empty: bool):
    """(values with '' as None, row numbers) of the rows returned, and (row, column, rule) of those set aside."""
    kept, numbers, rejected = [], [], []
    for number, row in enumerate(rows, start=first):
        if skip_empty and all(v == "" for v in row):
            continue  # an empty line or sheet row is not a row
        bad = next(((number, name, "nul_byte" if "\x00" in v else "too_long")
                    for name, v in zip(header, row, strict=True) if "\x00" in v or len(v) > MAX_FIELD_CHARS), None)
        if bad:
            rejected.append(bad)
            continue
        kept.append([v if v != "" else None for v in row])
        numbers.append(number)
    return kept, numbers, rejected


def _check(path: Path, header: list[str], rows: list[list[str]], first: int, skip_empty: bool,
           chunk_rows: int) -> None:
    kept, numbers, rejected = _expected(header, rows, first, skip_empty)
    frame, rejections = readers.read_all(path, display="t")
    assert list(frame.columns) == [*header, ROW]
    assert frame[header].to_numpy().tolist() == kept
    assert frame[ROW].tolist() == numbers
    assert [(r.row, r.column, r.rule) for r in rejections] == rejected
    assert all(r.file == "t" for r in rejections)
    readable = sum(1 for row in rows if not (skip_empty and all(v == "" for v in row)))
    assert len(frame) + len(rejections) == readable
    # Chunked reading gives the same rows, never more than asked per chunk.
    chunks = list(readers.read_file(path, chunk_rows=chunk_rows))
    assert all(len(c.frame) <= chunk_rows for c in chunks)
    together = pd.concat([c.frame for c in chunks], ignore_index=True)
    assert together[header].to_numpy().tolist() == kept and together[ROW].tolist() == numbers
    assert sum(len(c.rejections) for c in chunks) == len(rejected)


def _field(value: str, delimiter: str) -> str:
    """RFC 4180: quote a field holding the delimiter, a quote or a line break; double the quotes inside."""
    if any(c in value for c in (delimiter, '"', "\r", "\n")):
        return '"' + value.replace('"', '""') + '"'
    return value


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("properties")


@SETTINGS
@given(table=tables(), encoding=st.sampled_from(ENCODINGS), newline=st.sampled_from(["\n", "\r\n"]),
       delimiter=st.sampled_from(DELIMITERS), chunk_rows=st.integers(1, 4))
def test_csv_gives_back_every_value_and_row_number(folder: Path, table, encoding: str, newline: str,
                                                   delimiter: str, chunk_rows: int) -> None:
    header, rows = table[0], _expand(table[1])
    text = "".join(delimiter.join(_field(v, delimiter) for v in row) + newline for row in [header, *rows])
    data = text.encode(encoding)
    path = folder / "t.csv"
    path.write_bytes(data)
    if encoding == "gb18030":
        with contextlib.suppress(UnicodeDecodeError):
            assume(data.decode("utf-8") != text)  # else it is a UTF-8 file (ASCII, or GBK bytes that are UTF-8)
        _check_per_record(path, header, rows, delimiter)
        return
    _check(path, header, rows, first=2, skip_empty=True, chunk_rows=chunk_rows)


def _check_per_record(path: Path, header: list[str], rows: list[list[str]], delimiter: str) -> None:
    """A file that is not UTF-8 throughout is decided record by record: whatever text it holds, a row comes back
    exactly as written or is set aside (`encoding` when it is not plausibly GBK text, as arbitrary Unicode
    written in GB18030 often is not), never garbled; every row read is one or the other."""
    assume(readers.decide_record(delimiter.join(header).encode("gb18030")) is not None)
    frame, rejections = readers.read_all(path, display="t")
    assert list(frame.columns) == [*header, ROW]
    by_number = dict(enumerate(rows, start=2))
    for number, values in zip(frame[ROW], frame[header].to_numpy().tolist(), strict=True):
        assert values == [v if v != "" else None for v in by_number[number]]
    assert {r.rule for r in rejections} <= {"encoding", "nul_byte", "too_long"}
    readable = sum(1 for row in rows if not all(v == "" for v in row))
    assert len(frame) + len(rejections) == readable


@SETTINGS
@given(table=tables(plain_text=True), chunk_rows=st.integers(1, 4))
def test_xlsx_gives_back_every_value_and_row_number(folder: Path, table, chunk_rows: int) -> None:
    from openpyxl import Workbook

    header, rows = table
    wb = Workbook()
    ws = wb.active
    ws.append(header)
    for r, row in enumerate(rows, start=2):
        for c, value in enumerate(row, start=1):
            if value != "":
                ws.cell(row=r, column=c, value=value).data_type = "s"  # text, even "=…" (else a formula)
    path = folder / "t.xlsx"
    wb.save(path)
    _check(path, header, rows, first=2, skip_empty=True, chunk_rows=chunk_rows)


@SETTINGS
@given(table=tables(), chunk_rows=st.integers(1, 4))
def test_parquet_gives_back_every_value_and_record_number(folder: Path, table, chunk_rows: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    header, rows = table[0], _expand(table[1])
    columns = {name: pa.array([row[i] for row in rows], type=pa.string()) for i, name in enumerate(header)}
    path = folder / "t.parquet"
    pq.write_table(pa.table(columns), path)
    _check(path, header, rows, first=1, skip_empty=False, chunk_rows=chunk_rows)


@SETTINGS
@given(names=_names(), delimiter=st.sampled_from(DELIMITERS))
def test_the_header_decides_the_delimiter(names: list[str], delimiter: str) -> None:
    assert readers.sniff_delimiter(delimiter.join(names) + "\r\n") == delimiter
