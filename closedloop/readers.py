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
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

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


class Chunk:
    """Rows read together: text columns + `__row`, as a pandas frame of `str`/None (`frame`), or as an Arrow
    table of strings (`table`, the CSV reader's), from which `frame` is made when first asked for."""

    def __init__(self, frame: pd.DataFrame | None = None, rejections: list[Rejection] | None = None,
                 table: pa.Table | None = None):
        if frame is None and table is None:
            raise ValueError("a chunk needs a frame or a table")
        self._frame, self.table = frame, table
        self.rejections = rejections if rejections is not None else []

    @property
    def frame(self) -> pd.DataFrame:
        if self._frame is None:
            self._frame = _frame_from_arrow(self.table)
        return self._frame

    @frame.setter
    def frame(self, value: pd.DataFrame) -> None:
        self._frame, self.table = value, None

    def __len__(self) -> int:
        return self.table.num_rows if self._frame is None else len(self._frame)


def _frame_from_arrow(table: pa.Table) -> pd.DataFrame:
    data = {}
    for name, column in zip(table.column_names, table.columns, strict=True):
        if name == ROW:
            data[name] = pd.Series(column.to_numpy(), dtype="int64")
        else:
            data[name] = pd.Series(column.to_numpy(zero_copy_only=False), dtype=object)
    return pd.DataFrame(data, index=pd.RangeIndex(table.num_rows))


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
                if encoding == "utf-8" and chunk.isascii() and decoder.getstate()[0] == b"":
                    offset += len(chunk)  # nothing to decode: ASCII is UTF-8 (and no character is half read)
                    continue
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
             info: FileInfo | None = None, header_only: bool = False, encoding: str | None = None) -> Iterator[Chunk]:
    """`encoding`: what detect_encoding() found for this file already (it reads the whole file), if it was asked."""
    display = display or str(path)
    encoding = encoding or detect_encoding(path, display)
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
        if header_only:
            return
        out = _Emitter(header, chunk_rows)
        if FAST_CSV and encoding in ("utf-8", "utf-8-sig") and '"' not in first and first.endswith("\n") \
                and reader.line_num == 1:
            # The header is the first line exactly: the rows start at its end, in bytes.
            offset = len(first.encode("utf-8")) + (3 if encoding == "utf-8-sig" else 0)
            f.close()
            yield from _read_csv_blocks(path, offset, display, header, delimiter, out)
        else:
            state = _Position(row=1)
            yield from _python_rows(reader, display, header, delimiter, state, out)
        yield from out.finish()


# The Arrow fast path for clean blocks of UTF-8 files (closedloop.fastcsv); off, every file is read by Python.
FAST_CSV = True


@dataclass
class _Position:
    """Where the Python reader is: the row number of the last record read (header = 1) and the physical lines
    before the text it reads (for the line numbers in its messages)."""

    row: int
    lines_before: int = 0
    unfinished: bool = False  # the text ended inside a quoted value


class _Emitter:
    """Collects rows (Arrow tables of the header's columns + `__row`) and rejections, and gives them back as
    chunks of at most `chunk_rows` rows; the rejections go with the next chunk, in row order."""

    def __init__(self, header: list[str], chunk_rows: int):
        self.header, self.chunk_rows = header, max(1, chunk_rows)
        self.schema = pa.schema([pa.field(h, pa.string()) for h in header] + [pa.field(ROW, pa.int64())])
        self.pending: list[pa.Table] = []
        self.pending_rows = 0
        self.rejections: list[Rejection] = []
        self.emitted = False

    def add_rows(self, rows: list[list[str | None]], numbers: list[int]) -> Iterator[Chunk]:
        if not rows:
            return iter(())
        cols = list(zip(*rows, strict=True))
        arrays = [pa.array(col, type=pa.string()) for col in cols] + [pa.array(numbers, type=pa.int64())]
        return self.add_table(pa.Table.from_arrays(arrays, schema=self.schema))

    def add_table(self, table: pa.Table) -> Iterator[Chunk]:
        if table.num_rows:
            self.pending.append(table)
            self.pending_rows += table.num_rows
        while self.pending_rows >= self.chunk_rows:
            yield self._emit(self.chunk_rows)

    def _emit(self, n: int) -> Chunk:
        if not self.pending:
            together = self.schema.empty_table()
        elif len(self.pending) == 1:
            together = self.pending[0]
        else:
            together = pa.concat_tables(self.pending)
        head, rest = together.slice(0, n), together.slice(n)
        self.pending = [rest] if rest.num_rows else []
        self.pending_rows = rest.num_rows
        rejections, self.rejections = self.rejections, []
        self.emitted = True
        return Chunk(rejections=rejections, table=head.combine_chunks())

    def finish(self) -> Iterator[Chunk]:
        while self.pending_rows > self.chunk_rows:
            yield self._emit(self.chunk_rows)
        if self.pending_rows or self.rejections or not self.emitted:
            yield self._emit(self.pending_rows)


def _python_rows(reader, display: str, header: list[str], delimiter: str, state: _Position,
                 out: _Emitter) -> Iterator[Chunk]:
    """Python's strict csv reader over `reader` (the reference every CSV row is read by, or checked against)."""
    width = len(header)
    rows: list[list[str | None]] = []
    numbers: list[int] = []
    row = state.row
    while True:
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            # Strict quoting: a quote closed mid-field or a file cut inside a quoted value.
            row += 1
            state.unfinished = str(exc).startswith("unexpected end of data")
            out.rejections.append(Rejection(
                display, row, None, "bad_quoting", None,
                f"the row cannot be parsed as CSV: {exc} (line {state.lines_before + reader.line_num})"))
            continue
        row += 1
        if not record or (len(record) == 1 and not record[0].strip() and width > 1) or not any(record):
            # A blank line is not a row (Excel leaves them at the end of exports), nor is a line of empty
            # fields (`,,,,`: how Excel writes an empty row of the sheet), as in an .xlsx.
            continue
        if len(record) != width:
            out.rejections.append(Rejection(
                display, row, None, "field_count", _preview(delimiter.join(record)),
                f"expected {width} fields, found {len(record)} (a truncated row, a stray delimiter or an "
                "unclosed quote)"))
            continue
        bad = _check_values(display, row, header, record)
        if bad is not None:
            out.rejections.append(bad)
            continue
        rows.append([v if v != "" else None for v in record])
        numbers.append(row)
        if len(rows) >= out.chunk_rows:
            yield from out.add_rows(rows, numbers)
            rows, numbers = [], []
    yield from out.add_rows(rows, numbers)
    state.row = row


def _read_csv_blocks(path: Path, offset: int, display: str, header: list[str], delimiter: str,
                     out: _Emitter) -> Iterator[Chunk]:
    """The rows of a UTF-8 file after its header: clean stretches through Arrow, the others through Python."""
    from closedloop import fastcsv

    state = _Position(row=1, lines_before=1)
    with path.open("rb") as f:
        for block in fastcsv.blocks(f, offset):
            if block.overflow:
                yield from _python_to_end(path, block.offset, display, header, delimiter, state, out)
                return
            stuck = yield from _region(block.data, block.last, display, header, delimiter, state, out)
            if stuck is not None:
                # Python's reading did not end at a record boundary: it reads on to the end of the file.
                yield from _python_to_end(path, block.offset + stuck, display, header, delimiter, state, out)
                return


# A stretch Arrow cannot take is halved (at a line end outside quotes) until it is this small, then read by Python.
PYTHON_STRETCH_BYTES = 256 << 10


def _region(data: bytes, last: bool, display: str, header: list[str], delimiter: str, state: _Position,
            out: _Emitter):
    """Read `data`, which starts at a record boundary: through Arrow when it is plainly clean, else in halves,
    down to stretches Python reads. Returns None when all of it was read, or the offset in `data` from which
    nothing was (Python's reading from there ran past the end of `data` inside a quoted value)."""
    from closedloop import fastcsv

    lines = fastcsv.line_count(data)
    table = fastcsv.parse(fastcsv.Block(data, 0, last), len(header), delimiter, lines)
    if table is not None:
        yield from _arrow_rows(table, data, display, header, state, out)
        state.lines_before += lines
        return None
    start = 0
    cut = fastcsv.boundary_before(data, len(data) // 2) if len(data) > PYTHON_STRETCH_BYTES else None
    if cut:
        # The first half starts at a record boundary; if Arrow takes it, its end is one too, so the second half
        # starts at one. If Python reads it and stops inside quotes, Python reads on from there.
        stuck = yield from _region(data[:cut], False, display, header, delimiter, state, out)
        if stuck is None:
            stuck = yield from _region(data[cut:], last, display, header, delimiter, state, out)
            if stuck is None:
                return None
            stuck += cut
        start = stuck
    return (yield from _python_region(data, start, last, display, header, delimiter, state, out))


def _python_region(data: bytes, start: int, last: bool, display: str, header: list[str], delimiter: str,
                   state: _Position, out: _Emitter):
    """Python reads `data[start:]` on its own; what it read counts only if it ended outside quotes (else
    `start` is returned and nothing is kept)."""
    from closedloop import fastcsv

    text = data[start:]
    probe = _Emitter(header, 1 << 62)
    probe_state = _Position(row=state.row, lines_before=state.lines_before)
    reader = csv.reader(io.StringIO(text.decode("utf-8"), newline=""), delimiter=delimiter, quotechar='"',
                        doublequote=True, strict=True)
    for _ in _python_rows(reader, display, header, delimiter, probe_state, probe):
        pass  # nothing comes out before the end: the probe's chunks are as large as can be
    if probe_state.unfinished and not last:
        return start
    out.rejections += probe.rejections
    for part in probe.pending:
        yield from out.add_table(part)
    state.row = probe_state.row
    state.lines_before += fastcsv.line_count(text)
    return None


def _python_to_end(path: Path, offset: int, display: str, header: list[str], delimiter: str, state: _Position,
                   out: _Emitter) -> Iterator[Chunk]:
    with path.open("rb") as raw:
        raw.seek(offset)
        text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
        reader = csv.reader(text, delimiter=delimiter, quotechar='"', doublequote=True, strict=True)
        yield from _python_rows(reader, display, header, delimiter, state, out)


def _arrow_rows(table: pa.Table, data: bytes, display: str, header: list[str], state: _Position,
                out: _Emitter) -> Iterator[Chunk]:
    """A block Arrow read: number the records, set aside NULs and over-long values, skip empty rows."""
    from closedloop import fastcsv

    n = table.num_rows
    numbers = np.arange(state.row + 1, state.row + 1 + n, dtype=np.int64)
    keep = ~fastcsv.empty_rows(table) if n else np.zeros(0, dtype=bool)
    for i in fastcsv.suspicious_rows(table, data, MAX_FIELD_CHARS):
        if not keep[i]:
            continue
        values = [table.column(j)[int(i)].as_py() for j in range(len(header))]
        bad = _check_values(display, int(numbers[i]), header, values)
        if bad is not None:
            out.rejections.append(bad)
            keep[i] = False
    state.row += n
    columns = [fastcsv.blank_as_null(col) for col in table.columns]
    result = pa.Table.from_arrays(columns + [pa.array(numbers)], schema=out.schema)
    if not keep.all():
        result = result.filter(pa.array(keep))
    yield from out.add_table(result)


def _cell_text(value: object) -> str | None:
    """Excel cells arrive typed; give them the text an ISO export would carry."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        # Midnight is written as a date, unless the value has a zone: 00:00 UTC is 08:00 in Shanghai.
        return value.isoformat(sep="T") if value.tzinfo is not None or (
            value.hour, value.minute, value.second, value.microsecond) != (0, 0, 0, 0) else value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.isoformat()
    if isinstance(value, float):
        # The number as Excel shows it: 15 significant digits, never an exponent (0.1+0.2 is 0.3, not
        # 0.30000000000000004, which the amount rule would set aside for its decimals; 1e-05 is 0.00001).
        return str(int(value)) if value.is_integer() else format(Decimal(format(value, ".15g")), "f")
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
              info: FileInfo | None = None, encoding: str | None = None) -> Iterator[Chunk]:
    """Dispatch on the suffix: .csv/.tsv/.txt (delimiter sniffed; `encoding` when known already), .xlsx,
    .parquet."""
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        return read_xlsx(path, display, chunk_rows, info)
    if suffix == ".parquet":
        return read_parquet(path, display, chunk_rows, info)
    if suffix in (".csv", ".tsv", ".txt"):
        return read_csv(path, display, chunk_rows, info, encoding=encoding)
    raise ReadError(f"{display or path}: unsupported file type `{suffix}` (use .csv, .xlsx or .parquet).")


def read_header(path: Path, display: str | None = None) -> list[str]:
    """The column names of a file, without reading its rows."""
    return read_info(path, display).header


def read_info(path: Path, display: str | None = None) -> FileInfo:
    """The column names of a file, its encoding and delimiter (CSV), without reading its rows."""
    info = FileInfo(path)
    if path.suffix.lower() in (".csv", ".tsv", ".txt"):
        for _ in read_csv(path, display, info=info, header_only=True):
            pass
        return info
    chunks = read_file(path, display, chunk_rows=1, info=info)
    next(chunks, None)
    chunks.close()
    return info


def read_all(path: Path, display: str | None = None) -> tuple[pd.DataFrame, list[Rejection]]:
    """The whole file as one frame (small files: fixtures, mapping look-ups, tests)."""
    frames, rejections = [], []
    for chunk in read_file(path, display):
        frames.append(chunk.frame)
        rejections += chunk.rejections
    return pd.concat(frames, ignore_index=True), rejections


__all__ = ["Chunk", "FileInfo", "ReadError", "Rejection", "read_all", "read_file", "read_header", "ROW", "FILE",
           "SUFFIXES"]
