"""Read one raw export file (CSV in any accepted encoding, Excel .xlsx, Parquet) as chunks of text rows.

Every value comes out as `str` or `None` (typing is staging's job, checking is validation's), every row keeps
the number a person would use to find it (`__row`: the Excel row, header = row 1, for CSV and XLSX; the
1-based record number for Parquet), and every record the reader cannot turn into a row is returned as a
`Rejection` instead of being dropped. Problems with the file as a whole raise `ReadError`.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pandas as pd

ROW = "__row"
FILE = "__file"
CHUNK_ROWS = 100_000
# Excel's own limit on a cell; no export meant to be opened in Excel carries a longer value.
MAX_FIELD_CHARS = 32_767
DELIMITERS = (",", "\t", ";", "|")
SUFFIXES = (".csv", ".tsv", ".txt", ".xlsx", ".parquet")

csv.field_size_limit(1 << 30)


class ReadError(Exception):
    """The file as a whole cannot be read (encoding, empty, no header); the message names the file."""


@dataclass
class Rejection:
    """One row set aside: where it is, which column, which rule, the offending value."""

    file: str
    row: int
    column: str | None
    rule: str
    value: str | None
    message: str


@dataclass
class Chunk:
    frame: pd.DataFrame  # text columns + `__row`
    rejections: list[Rejection] = field(default_factory=list)


@dataclass
class FileInfo:
    path: Path
    encoding: str | None = None
    delimiter: str | None = None
    header: list[str] = field(default_factory=list)


def detect_encoding(path: Path, display: str | None = None) -> str:
    """UTF-8 (with or without BOM), UTF-16 with BOM (Excel's "Unicode text"), else GB18030 (a superset of GBK,
    what Excel in China writes). Anything that is none of these is a file-level error naming the file (as
    `display`, relative to the raw folder, when given) and the byte."""
    with path.open("rb") as f:
        head = f.read(4)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    failure = _first_decode_error(path, "utf-8")
    if failure is None:
        return "utf-8"
    if _first_decode_error(path, "gb18030") is None:
        return "gb18030"
    raise ReadError(f"{display or path}: unreadable encoding: not UTF-8 ({failure}) and not GBK/GB18030 either. "
                    "Save the export as UTF-8 CSV.")


def _first_decode_error(path: Path, encoding: str) -> str | None:
    decoder = codecs.getincrementaldecoder(encoding)()
    offset = 0
    with path.open("rb") as f:
        try:
            while chunk := f.read(1 << 20):
                decoder.decode(chunk)
                offset += len(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            return f"byte 0x{exc.object[exc.start]:02x} at offset {offset + exc.start:,}"
    return None


def sniff_delimiter(header_line: str) -> str:
    """The candidate that splits the header most; a header none of them splits is one column (caught later as
    missing required columns, with a hint about the delimiter)."""
    counts = {d: _count_outside_quotes(header_line, d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] > 0 else ","


def _count_outside_quotes(line: str, delim: str) -> int:
    n, quoted = 0, False
    for ch in line:
        if ch == '"':
            quoted = not quoted
        elif ch == delim and not quoted:
            n += 1
    return n


def clean_header(names: list[str]) -> list[str]:
    return [(n or "").replace("\ufeff", "").strip() for n in names]


def _unique_header(path: Path, names: list[str]) -> list[str]:
    seen: set[str] = set()
    for i, name in enumerate(names):
        if not name:
            raise ReadError(f"{path}: column {i + 1} of the header has no name.")
        if name.lower() in seen:
            raise ReadError(f"{path}: column `{name}` appears twice in the header.")
        seen.add(name.lower())
    return names


def _frame(header: list[str], rows: list[list[str | None]], row_numbers: list[int]) -> pd.DataFrame:
    cols = list(zip(*rows, strict=True)) if rows else [()] * len(header)
    frame = pd.DataFrame({name: pd.Series(col, dtype=object) for name, col in zip(header, cols, strict=True)})
    frame[ROW] = pd.Series(row_numbers, dtype="int64")
    return frame


def _check_values(display: str, row: int, header: list[str], values: list[str]) -> Rejection | None:
    """Row-level defects a reader can see: a NUL byte (binary junk or a corrupted export) or a value longer
    than an Excel cell can hold."""
    for name, value in zip(header, values, strict=True):
        if value is None:
            continue
        if "\x00" in value:
            return Rejection(display, row, name, "nul_byte", _preview(value),
                             "value contains a NUL byte (binary data or a corrupted export)")
        if len(value) > MAX_FIELD_CHARS:
            return Rejection(display, row, name, "too_long", _preview(value),
                             f"value has {len(value):,} characters; the limit is {MAX_FIELD_CHARS:,} (an Excel cell)")
    return None


def _preview(value: str, limit: int = 200) -> str:
    value = value.replace("\x00", "\\0")
    return value if len(value) <= limit else f"{value[:limit]}… ({len(value):,} characters)"


def read_csv(path: Path, display: str | None = None, chunk_rows: int = CHUNK_ROWS,
             info: FileInfo | None = None) -> Iterator[Chunk]:
    display = display or str(path)
    encoding = detect_encoding(path, display)
    with path.open("r", encoding=encoding, newline="") as f:
        first = f.readline()
        if not first.strip():
            raise ReadError(f"{display}: the file is empty (no header row).")
        if "\x00" in first:
            # Column names never hold a NUL; a header full of them is UTF-16 text that lost its byte-order mark.
            raise ReadError(f"{display}: unreadable encoding: the header row contains NUL bytes (UTF-16 without a "
                            "byte-order mark?). Save the export as UTF-8 CSV, or as Unicode text with its BOM.")
        delimiter = sniff_delimiter(first)
        f.seek(0)
        reader = csv.reader(f, delimiter=delimiter, quotechar='"', doublequote=True, strict=True)
        try:
            header = _unique_header(Path(display), clean_header(next(reader)))
        except csv.Error as exc:
            raise ReadError(f"{display}: the header row cannot be parsed: {exc}.") from exc
        if info is not None:
            info.encoding, info.delimiter, info.header = encoding, delimiter, header
        width = len(header)
        rows: list[list[str | None]] = []
        numbers: list[int] = []
        rejections: list[Rejection] = []
        row = 1
        while True:
            try:
                record = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                # Strict quoting: a quote closed mid-field or a file cut inside a quoted value.
                row += 1
                rejections.append(Rejection(display, row, None, "bad_quoting", None,
                                            f"the row cannot be parsed as CSV: {exc} (line {reader.line_num})"))
                continue
            row += 1
            if not record or (len(record) == 1 and not record[0].strip() and width > 1) or not any(record):
                # A blank line is not a row (Excel leaves them at the end of exports), nor is a line of empty
                # fields (`,,,,`: how Excel writes an empty row of the sheet), as in an .xlsx.
                continue
            if len(record) != width:
                rejections.append(Rejection(
                    display, row, None, "field_count", _preview(delimiter.join(record)),
                    f"expected {width} fields, found {len(record)} (a truncated row, a stray delimiter or an "
                    "unclosed quote)"))
                continue
            bad = _check_values(display, row, header, record)
            if bad is not None:
                rejections.append(bad)
                continue
            rows.append([v if v != "" else None for v in record])
            numbers.append(row)
            if len(rows) >= chunk_rows:
                yield Chunk(_frame(header, rows, numbers), rejections)
                rows, numbers, rejections = [], [], []
        yield Chunk(_frame(header, rows, numbers), rejections)


def _cell_text(value: object) -> str | None:
    """Excel cells arrive typed; give them the text an ISO export would carry."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.isoformat(sep="T") if (value.hour, value.minute, value.second, value.microsecond) != (
            0, 0, 0, 0) else value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.isoformat()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    text = str(value)
    return text if text != "" else None


def read_xlsx(path: Path, display: str | None = None, chunk_rows: int = CHUNK_ROWS,
              info: FileInfo | None = None) -> Iterator[Chunk]:
    """The first worksheet; row 1 is the header."""
    from openpyxl import load_workbook

    display = display or str(path)
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises several types for a damaged or mislabelled file
        raise ReadError(f"{display}: cannot be opened as an Excel workbook: {exc}") from exc
    try:
        sheet = workbook.worksheets[0]
        values = sheet.iter_rows(values_only=True)
        first = next(values, None)
        if first is None or all(v is None for v in first):
            raise ReadError(f"{display}: the first worksheet is empty (no header row).")
        header = [_cell_text(v) or "" for v in first]
        while header and not header[-1]:
            header.pop()
        header = _unique_header(Path(display), clean_header(header))
        if info is not None:
            info.encoding, info.delimiter, info.header = "xlsx", None, header
        width = len(header)
        rows: list[list[str | None]] = []
        numbers: list[int] = []
        rejections: list[Rejection] = []
        for row, cells in enumerate(values, start=2):
            texts = [_cell_text(v) for v in cells]
            if all(t is None for t in texts):
                continue
            extra = [t for t in texts[width:] if t is not None]
            if extra:
                rejections.append(Rejection(display, row, None, "field_count", _preview(" | ".join(extra)),
                                            f"values beyond the {width} header columns"))
                continue
            texts = (texts + [None] * width)[:width]
            bad = _check_values(display, row, header, texts)
            if bad is not None:
                rejections.append(bad)
                continue
            rows.append(texts)
            numbers.append(row)
            if len(rows) >= chunk_rows:
                yield Chunk(_frame(header, rows, numbers), rejections)
                rows, numbers, rejections = [], [], []
        yield Chunk(_frame(header, rows, numbers), rejections)
    finally:
        workbook.close()


def read_parquet(path: Path, display: str | None = None, chunk_rows: int = CHUNK_ROWS,
                 info: FileInfo | None = None) -> Iterator[Chunk]:
    import pyarrow.parquet as pq

    display = display or str(path)
    try:
        parquet = pq.ParquetFile(path)
    except Exception as exc:
        raise ReadError(f"{display}: cannot be read as Parquet: {exc}") from exc
    header = _unique_header(Path(display), clean_header(list(parquet.schema_arrow.names)))
    if info is not None:
        info.encoding, info.delimiter, info.header = "parquet", None, header
    start = 1
    for batch in parquet.iter_batches(batch_size=chunk_rows):
        frame = batch.to_pandas(types_mapper=None)
        frame.columns = header
        rows, numbers, rejections = [], [], []
        for i, record in enumerate(zip(*(frame[c].map(_cell_text, na_action="ignore") for c in header), strict=True)):
            values = [None if (v is None or v != v) else str(v) for v in record]
            bad = _check_values(display, start + i, header, values)
            if bad is not None:
                rejections.append(bad)
                continue
            rows.append(values)
            numbers.append(start + i)
        start += len(frame)
        yield Chunk(_frame(header, rows, numbers), rejections)
    if parquet.metadata.num_rows == 0:
        yield Chunk(_frame(header, [], []), [])


def read_file(path: Path, display: str | None = None, chunk_rows: int = CHUNK_ROWS,
              info: FileInfo | None = None) -> Iterator[Chunk]:
    """Dispatch on the suffix: .csv/.tsv/.txt (delimiter sniffed), .xlsx, .parquet."""
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        return read_xlsx(path, display, chunk_rows, info)
    if suffix == ".parquet":
        return read_parquet(path, display, chunk_rows, info)
    if suffix in (".csv", ".tsv", ".txt"):
        return read_csv(path, display, chunk_rows, info)
    raise ReadError(f"{display or path}: unsupported file type `{suffix}` (use .csv, .xlsx or .parquet).")


def read_header(path: Path, display: str | None = None) -> list[str]:
    """The column names of a file, without reading its rows."""
    info = FileInfo(path)
    chunks = read_file(path, display, chunk_rows=1, info=info)
    next(chunks, None)
    chunks.close()
    return info.header


def read_all(path: Path, display: str | None = None) -> tuple[pd.DataFrame, list[Rejection]]:
    """The whole file as one frame (small files: fixtures, mapping look-ups, tests)."""
    frames, rejections = [], []
    for chunk in read_file(path, display):
        frames.append(chunk.frame)
        rejections += chunk.rejections
    return pd.concat(frames, ignore_index=True), rejections


__all__ = ["Chunk", "FileInfo", "ReadError", "Rejection", "read_all", "read_file", "read_header", "ROW", "FILE",
           "SUFFIXES"]
