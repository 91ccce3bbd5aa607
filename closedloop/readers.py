"""Read one raw export file (CSV in any accepted encoding, also gzip- or zip-compressed; Excel .xlsx; legacy Excel
.xls and OpenDocument .ods through python-calamine; Parquet) as chunks of text rows.

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
import os
import re
import stat
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
TEXT_SUFFIXES = (".csv", ".tsv", ".txt")
COMPRESSED = (".gz", ".zip")
# Every name ending a part file may have (a compressed text file: `.csv.gz`, `.tsv.zip` …).
SUFFIXES = (*TEXT_SUFFIXES, *(t + c for c in COMPRESSED for t in TEXT_SUFFIXES), ".xlsx", ".xls", ".ods", ".parquet")
FORMATS = ".csv, .tsv, .txt (also as .gz or a one-file .zip), .xlsx, .xls, .ods, .parquet"
# Lineage and working columns are the project's own: a vendor column with one of these names (or a helper
# column's, `x__parsed`) is renamed `vendor_<name>` and kept as an extra column, so it can neither replace
# `_source_file`/`_source_row` nor break the reading.
SOURCE_FILE, SOURCE_ROW = "_source_file", "_source_row"
# The helper columns validation adds beside a column (`x__parsed`, `x__issue` …; closedloop.validate._SHADOW).
HELPER_KINDS = ("parsed", "issue", "norm", "date")
_RESERVED = re.compile(rf"^(?:{SOURCE_FILE}|{SOURCE_ROW}|__.*|.+__(?:{'|'.join(HELPER_KINDS)}|in__.+))$",
                       re.IGNORECASE)

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
    renamed: dict[str, str] = field(default_factory=dict)  # vendor column -> the name it is kept under


# The encoding of a CSV file that is not UTF-8 throughout: each record is decided on its own (`decide_record`).
PER_RECORD = "utf-8|gbk"


def open_binary(path: Path, display: str | None = None) -> io.BufferedIOBase:
    """The bytes of a text part: the file itself, a `.gz`'s content, or the one text file inside a `.zip`."""
    name = path.name.lower()
    if name.endswith(".gz"):
        import gzip

        return gzip.open(path, "rb")
    if name.endswith(".zip"):
        import zipfile

        try:
            archive = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise ReadError(f"{display or path}: cannot be opened as a zip archive: {exc}.") from exc
        members = [m for m in archive.infolist() if not m.is_dir() and not m.filename.startswith("__MACOSX/")]
        if len(members) != 1 or not members[0].filename.lower().endswith(TEXT_SUFFIXES):
            archive.close()
            listed = ", ".join(m.filename for m in members[:5]) or "nothing"
            raise ReadError(f"{display or path}: a zipped export must hold exactly one .csv, .tsv or .txt file; "
                            f"this one holds {len(members)} ({listed}).")
        member = archive.open(members[0])
        close = member.close

        def close_both() -> None:
            close()
            archive.close()

        member.close = close_both  # the archive goes with its member
        return member
    return path.open("rb")


def _text(path: Path, encoding: str, display: str | None = None) -> io.TextIOWrapper:
    return io.TextIOWrapper(open_binary(path, display), encoding=encoding, newline="")


def detect_encoding(path: Path, display: str | None = None) -> str:
    """UTF-8 (with or without BOM) or UTF-16 with BOM (Excel's "Unicode text") when the whole file is that;
    otherwise PER_RECORD: each record is decided on its own, UTF-8 or GBK/GB18030 (what Excel in China writes), and
    a record that is plausibly neither is set aside (rule `encoding`) rather than read as garbled text."""
    with open_binary(path, display) as f:
        head = f.read(4)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig" if _first_decode_error(path, "utf-8") is None else PER_RECORD
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if _first_decode_error(path, "utf-8") is None:
        return "utf-8"
    return "gb18030" if _gbk_throughout(path) else PER_RECORD


# Bytes by class, for a quick look at a whole block: L an ASCII letter, H a byte of a character beyond ASCII.
_CLASSES = bytes(ord("L") if chr(c).isascii() and chr(c).isalpha() else ord("H") if c >= 0x80 else ord(".")
                 for c in range(256))


def _utf8_line(line: bytes) -> bool:
    """Whether a line is well-formed UTF-8 (without raising for every line that is not)."""
    if b"\xef\xbf\xbd" in line:  # U+FFFD itself: only a strict decoding can tell
        try:
            line.decode("utf-8")
            return True
        except UnicodeDecodeError:
            return False
    return "\ufffd" not in line.decode("utf-8", "replace")


def _gbk_throughout(path: Path) -> bool:
    """Whether every record of the file would be decided GBK (`decide_record`), checked in blocks of whole lines,
    mostly at C speed: then the file is read as GB18030 in one go, as fast as before records were decided one by
    one, with the same outcome. True when the file decodes strictly, every character is GBK text, no line where a
    byte beyond ASCII touches an ASCII letter reads a Latin word as GBK, and no line with text beyond ASCII is
    well-formed UTF-8 (it may be a UTF-8 record among GBK ones: the record-by-record reading decides)."""
    with open_binary(path) as f:
        pending = b""
        while True:
            data = f.read(8 << 20)
            block = pending + data
            cut = block.rfind(b"\n") + 1 if data else len(block)
            block, pending = block[:cut], block[cut:]
            if block:
                try:
                    text = block.decode("gb18030")
                except UnicodeDecodeError:
                    return False
                if not _GBK_TEXT.fullmatch(text):
                    return False
                classes = block.translate(_CLASSES)
                check_latin = b"HL" in classes or b"LH" in classes
                for line in block.split(b"\n"):
                    if line.isascii():
                        continue
                    if _utf8_line(line) or (check_latin and _latin_in_gbk(line)):
                        return False
            if not data:
                return True


def _first_decode_error(path: Path, encoding: str) -> str | None:
    decoder = codecs.getincrementaldecoder(encoding)()
    offset = 0
    with open_binary(path) as f:
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


# What GBK text in a real export holds besides ASCII: CJK ideographs (and GB18030's extensions), CJK and full-width
# punctuation, kana, the symbols, box drawing, Greek, Cyrillic and pinyin letters of GB2312's symbol rows.
_GBK_TEXT = re.compile(
    "[\t\n\r\x1f\x20-\x7e\u00a4\u00a7\u00a8\u00b0\u00b1\u00b7\u00d7\u00e0-\u00fc\u00f7\u0101-\u01dc"
    "\u0251\u0261\u02c7-\u02d9\u0391-\u03c9\u0401-\u0451\u2010-\u203b\u20ac\u2103\u2116\u2121"
    "\u2160-\u217f\u2190-\u2199\u2208-\u22bf\u2312\u2460-\u24ff\u2500-\u25ff\u2605\u2606\u2640\u2642"
    "\u3000-\u303f\u3040-\u30ff\u3105-\u3129\u3220-\u32a3\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
    "\ufe30-\ufe6b\uff01-\uffe5\U00020000-\U0003134f]*")
_HIGH_THEN_LETTER = re.compile(rb"[\x81-\xfe][A-Za-z]")
_LETTER = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


def _latin_in_gbk(data: bytes) -> bool:
    """Whether a GBK reading of `data` pairs a high byte with an ASCII letter that sits among ASCII letters: how
    a Latin-1/cp1252 word reads as GBK (`Josée` → `Jos` + 閑, `Müller`), never how Chinese text is written."""
    if not _HIGH_THEN_LETTER.search(data):
        return False
    i, n, after_letter = 0, len(data), False  # after_letter: the character before is an ASCII letter
    while i < n - 1:
        if data[i] < 0x80:
            after_letter = data[i] in _LETTER
            i += 1
            continue
        trail = data[i + 1]
        if trail in _LETTER and (after_letter or (i + 2 < n and data[i + 2] in _LETTER)):
            return True
        after_letter = False
        i += 4 if 0x30 <= trail <= 0x39 else 2  # GB18030's four-byte sequences have a digit second
    return False


def _utf8_text(text: str) -> bool:
    """UTF-8 that is text: no C0/C1 control characters but tab and line ends (and the unit separator fields are
    joined by), no private-use or unassigned code points."""
    import unicodedata

    return text.isascii() or all(
        ch in "\t\n\r\x1f" or unicodedata.category(ch) not in ("Cc", "Co", "Cn", "Cs") for ch in text if ord(ch) > 0x7e
        or ord(ch) < 0x20)


def _latin_words(text: str) -> bool:
    """Every character beyond ASCII is a Latin letter written inside a word of ASCII letters (José, Müller)."""
    for i, ch in enumerate(text):
        if ch.isascii():
            continue
        if not ("\u00c0" <= ch <= "\u024f" and ch not in "\u00d7\u00f7"):
            return False
        if not ((i > 0 and text[i - 1].isascii() and text[i - 1].isalpha())
                or (i + 1 < len(text) and text[i + 1].isascii() and text[i + 1].isalpha())):
            return False
    return True


def decide_record(data: bytes) -> str | None:
    """The encoding of one record of a file that is not UTF-8 throughout: `utf-8`, `gb18030` or None (plausibly
    neither). GB18030 and Latin-1 decode almost any bytes, so "decodes" is not "fits": GBK must decode strictly
    *and* give the characters Chinese text is made of, with no Latin word read as ideographs. When both fit, UTF-8
    wins if its only characters beyond ASCII are accented letters inside Latin words, or it has a character beyond
    U+07FF and reads as Chinese text or has nothing between U+0080 and U+07FF (GBK bytes that happen to be
    well-formed UTF-8 that far are improbable); GBK wins otherwise (short GBK text is often well-formed UTF-8 of
    two-byte characters)."""
    return _decided(data)[0]


def _decided(data: bytes) -> tuple[str | None, str | None]:
    """(encoding, text) of `decide_record`: the text as that encoding decodes it, so nothing is decoded twice."""
    if data.isascii():
        return "utf-8", data.decode("ascii")
    try:
        utf8 = data.decode("utf-8")
        utf8 = utf8 if _utf8_text(utf8) else None
    except UnicodeDecodeError:
        utf8 = None
    try:
        gbk = data.decode("gb18030")
        gbk = gbk if _GBK_TEXT.fullmatch(gbk) and not _latin_in_gbk(data) else None
    except UnicodeDecodeError:
        gbk = None
    if utf8 is not None and (gbk is None or _latin_words(utf8) or (any(ord(ch) > 0x7FF for ch in utf8) and (
            _GBK_TEXT.fullmatch(utf8) or not any(0x7F < ord(ch) <= 0x7FF for ch in utf8)))):
        return "utf-8", utf8
    return ("gb18030", gbk) if gbk is not None else (None, None)


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


def is_reserved(name: str) -> bool:
    """A name the project gives its own columns (lineage, working and helper columns)."""
    return bool(_RESERVED.match(name))


def _unique_header(path: Path, names: list[str], info: FileInfo | None = None) -> list[str]:
    """The header checked (every column named, no name twice) with reserved names renamed `vendor_<name>` (the
    renames are recorded in `info`)."""
    seen: set[str] = set()
    for i, name in enumerate(names):
        if not name:
            raise ReadError(f"{path}: column {i + 1} of the header has no name.")
        if name.lower() in seen:
            raise ReadError(f"{path}: column `{name}` appears twice in the header.")
        seen.add(name.lower())
    out = []
    for name in names:
        if is_reserved(name):
            new, n = f"vendor_{name}", 2
            while new.lower() in seen or is_reserved(new):
                new, n = f"vendor_{name}_{n}", n + 1
            seen.add(new.lower())
            if info is not None:
                info.renamed[name] = new
            name = new
        out.append(name)
    return out


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
    per_record = encoding == PER_RECORD
    # Per record, the file is read as Latin-1 (one character a byte: the delimiters, quotes and line ends, all ASCII,
    # are where they are in UTF-8 and GBK alike) and each record's bytes are decoded once its encoding is decided.
    with _text(path, "latin-1" if per_record else encoding, display) as f:
        first = f.readline()
        if per_record:
            if first.startswith("\u00ef\u00bb\u00bf"):
                first = first[3:]
            header_encoding = decide_record(first.encode("latin-1"))
            if header_encoding is None:
                failure = _first_decode_error(path, "utf-8")
                raise ReadError(f"{display}: unreadable encoding: the header row is neither UTF-8 ({failure}) nor "
                                "GBK/GB18030 text. Save the export as UTF-8 CSV.")
            first = first.encode("latin-1").decode(header_encoding)
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
            names = next(reader)
            if per_record:
                if names and names[0].startswith("\u00ef\u00bb\u00bf"):
                    names[0] = names[0][3:]  # the UTF-8 byte-order mark, read as Latin-1
                names = [n.encode("latin-1").decode(header_encoding) for n in names]
            header = _unique_header(Path(display), clean_header(names), info)
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
            yield from _python_rows(reader, display, header, delimiter, state, out,
                                    decode=_record_decoder(delimiter) if per_record else None)
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


def _record_decoder(delimiter: str):
    """For a file read per record: a record of Latin-1 fields -> its decoded fields, or a Rejection's (value,
    message) when it is plausibly neither UTF-8 nor GBK."""

    def decode(record: list[str]) -> list[str] | tuple[str, str]:
        # The fields joined by a unit separator (ASCII, never part of a GBK character): one decoding a record.
        joined = "\x1f".join(record)
        data = joined.encode("latin-1")
        encoding, text = _decided(data)
        if encoding is not None and joined.count("\x1f") == len(record) - 1:
            return text.split("\x1f")
        if encoding is None:
            data = delimiter.join(record).encode("latin-1")
            try:
                data.decode("utf-8")
                why = "it decodes as UTF-8 but not as text"
            except UnicodeDecodeError as exc:
                why = f"byte 0x{data[exc.start]:02x} at position {exc.start + 1} is not UTF-8"
            return (_preview(data.decode("utf-8", errors="backslashreplace")),
                    f"the row is neither UTF-8 nor GBK text ({why}; Latin-1/Windows-1252 or another encoding?): the "
                    "file mixes encodings. Save the export as UTF-8 CSV")
        return [v.encode("latin-1").decode(encoding) for v in record]

    return decode


def _python_rows(reader, display: str, header: list[str], delimiter: str, state: _Position,
                 out: _Emitter, decode=None) -> Iterator[Chunk]:
    """Python's strict csv reader over `reader` (the reference every CSV row is read by, or checked against).
    `decode`: for a file read per record, what turns each record into text (or says why it cannot)."""
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
        if decode is not None:
            decoded = decode(record)
            if isinstance(decoded, tuple):
                out.rejections.append(Rejection(display, row, None, "encoding", *decoded))
                continue
            record = decoded
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
    with open_binary(path, display) as f:
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
    with open_binary(path, display) as raw:
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


_FORMULA_TAG = re.compile(rb"<(?:\w+:)?f[\s>/]")


def _has_formulas(path: Path) -> bool:
    """Whether any worksheet of an .xlsx holds a formula (an `<f>` element), read as a stream: only then is the
    workbook read a second time for the formulas whose values were never saved."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            for name in archive.namelist():
                if not (name.startswith("xl/worksheets/") and name.endswith(".xml")):
                    continue
                with archive.open(name) as member:
                    tail = b""
                    while block := member.read(1 << 20):
                        if _FORMULA_TAG.search(tail + block):
                            return True
                        tail = block[-16:]
    except (zipfile.BadZipFile, OSError, EOFError):
        return True  # let openpyxl say what is wrong
    return False


def _formula_text(value: object) -> str | None:
    text = getattr(value, "text", value)  # an array formula is an object holding its text
    return text if isinstance(text, str) and text.startswith("=") else None


def _sheet_rows(display: str, header: list[str], rows: Iterator[tuple[list[object], list[object] | None]],
                chunk_rows: int) -> Iterator[Chunk]:
    """Rows of a worksheet after its header (row 2 on), each with its formulas (or None when none was read), as
    chunks: empty sheet rows skipped, values beyond the header, NULs, over-long values and formulas whose value was
    never saved set aside."""
    width = len(header)
    kept: list[list[str | None]] = []
    numbers: list[int] = []
    rejections: list[Rejection] = []
    for row, (cells, formulas) in enumerate(rows, start=2):
        texts = [_cell_text(v) for v in cells]
        unsaved = [(i, f) for i, (v, f) in enumerate(zip(cells, formulas or (), strict=False))
                   if v is None and _formula_text(f)] if formulas else []
        if all(t is None for t in texts) and not unsaved:
            continue
        extra = [t for t in texts[width:] if t is not None]
        if extra:
            rejections.append(Rejection(display, row, None, "field_count", _preview(" | ".join(extra)),
                                        f"values beyond the {width} header columns"))
            continue
        if unsaved:
            rejections += [Rejection(display, row, header[i] if i < width else None, "formula_without_value",
                                     _preview(_formula_text(f)),
                                     "a formula whose result was never saved in the file (written by a program, not "
                                     "Excel?): open and save it in Excel, or paste the values, and export again")
                           for i, f in unsaved]
            continue
        texts = (texts + [None] * width)[:width]
        bad = _check_values(display, row, header, texts)
        if bad is not None:
            rejections.append(bad)
            continue
        kept.append(texts)
        numbers.append(row)
        if len(kept) >= chunk_rows:
            yield Chunk(_frame(header, kept, numbers), rejections)
            kept, numbers, rejections = [], [], []
    yield Chunk(_frame(header, kept, numbers), rejections)


def _sheet_header(display: str, first: list[object] | tuple | None, info: FileInfo | None, kind: str) -> list[str]:
    if first is None or all(v is None or v == "" for v in first):
        raise ReadError(f"{display}: the first worksheet is empty (no header row).")
    header = [_cell_text(v) or "" for v in first]
    while header and not header[-1]:
        header.pop()
    header = _unique_header(Path(display), clean_header(header), info)
    if info is not None:
        info.encoding, info.delimiter, info.header = kind, None, header
    return header


def read_xlsx(path: Path, display: str | None = None, chunk_rows: int = CHUNK_ROWS,
              info: FileInfo | None = None) -> Iterator[Chunk]:
    """The first worksheet; row 1 is the header. Cells hold the values Excel saved; a workbook with formulas is
    also read for its formulas (streamed alongside, so memory stays one row), to report a formula without a saved
    value instead of loading an empty cell."""
    from openpyxl import load_workbook

    display = display or str(path)
    opened = []
    try:
        try:
            workbook = load_workbook(path, read_only=True, data_only=True)
            opened.append(workbook)
            formulas_book = load_workbook(path, read_only=True, data_only=False) if _has_formulas(path) else None
            if formulas_book is not None:
                opened.append(formulas_book)
        except Exception as exc:  # openpyxl raises several types for a damaged or mislabelled file
            raise ReadError(f"{display}: cannot be opened as an Excel workbook: {exc}") from exc
        values = workbook.worksheets[0].iter_rows(values_only=True)
        formulas = formulas_book.worksheets[0].iter_rows(values_only=True) if formulas_book is not None else None
        header = _sheet_header(display, next(values, None), info, "xlsx")
        if formulas is not None:
            next(formulas, None)
        rows = ((list(cells), list(next(formulas, ()) or ()) if formulas is not None else None) for cells in values)
        yield from _sheet_rows(display, header, rows, chunk_rows)
    finally:
        for book in opened:
            book.close()


def read_calamine(path: Path, display: str | None = None, chunk_rows: int = CHUNK_ROWS,
                  info: FileInfo | None = None) -> Iterator[Chunk]:
    """Legacy Excel (.xls, what many Chinese systems still export) and OpenDocument (.ods), read by
    python-calamine: the first worksheet, its first row the header, rows numbered as Excel shows them."""
    from python_calamine import CalamineWorkbook

    display = display or str(path)
    try:
        workbook = CalamineWorkbook.from_path(str(path))
        sheet = workbook.get_sheet_by_index(0)
        rows = sheet.to_python(skip_empty_area=False)
    except Exception as exc:  # calamine raises its own errors, and ValueError/OSError, for a damaged file
        raise ReadError(f"{display}: cannot be opened as a spreadsheet (.xls/.ods): {exc}") from exc
    cells = iter(rows)  # calamine gives "" for an empty cell, which _cell_text and _sheet_header read as empty
    header = _sheet_header(display, next(cells, None), info, "spreadsheet")
    yield from _sheet_rows(display, header, ((r, None) for r in cells), chunk_rows)


def _arrow_text(column: pa.ChunkedArray) -> list[str | None]:
    """A Parquet column as text, straight from Arrow: integers and decimals keep every digit (pandas would
    turn an int64 column with a null into float64, and 987654321098765432 into 987654321098765440)."""
    kind = column.type
    if pa.types.is_dictionary(kind):
        column = column.cast(kind.value_type)
        kind = kind.value_type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return [v if v != "" else None for v in column.to_pylist()]
    if pa.types.is_integer(kind):
        return column.cast(pa.string()).to_pylist()
    return [None if v is None else _cell_text(v) for v in column.to_pylist()]


def read_parquet(path: Path, display: str | None = None, chunk_rows: int = CHUNK_ROWS,
                 info: FileInfo | None = None) -> Iterator[Chunk]:
    import pyarrow.parquet as pq

    display = display or str(path)
    try:
        parquet = pq.ParquetFile(path)
    except Exception as exc:
        raise ReadError(f"{display}: cannot be read as Parquet: {exc}") from exc
    header = _unique_header(Path(display), clean_header(list(parquet.schema_arrow.names)), info)
    if info is not None:
        info.encoding, info.delimiter, info.header = "parquet", None, header
    start = 1
    try:
        for batch in parquet.iter_batches(batch_size=chunk_rows):
            columns = [_arrow_text(batch.column(i)) for i in range(batch.num_columns)]
            rows, numbers, rejections = [], [], []
            for i, values in enumerate(zip(*columns, strict=True)):
                values = list(values)
                bad = _check_values(display, start + i, header, values)
                if bad is not None:
                    rejections.append(bad)
                    continue
                rows.append(values)
                numbers.append(start + i)
            start += batch.num_rows
            yield Chunk(_frame(header, rows, numbers), rejections)
    except (pa.ArrowException, OSError) as exc:
        raise ReadError(f"{display}: cannot be read as Parquet: {exc}") from exc
    if parquet.metadata.num_rows == 0:
        yield Chunk(_frame(header, [], []), [])


def file_kind(name: str) -> str | None:
    """`csv` (also compressed), `xlsx`, `calamine` (.xls, .ods) or `parquet` by a file's name; None when closedloop
    does not read it."""
    name = name.lower()
    if name.endswith(COMPRESSED):
        name = name.rsplit(".", 1)[0]
        return "csv" if name.endswith(TEXT_SUFFIXES) else None
    if name.endswith(TEXT_SUFFIXES):
        return "csv"
    return {".xlsx": "xlsx", ".xls": "calamine", ".ods": "calamine", ".parquet": "parquet"}.get(Path(name).suffix)


def check_readable(path: Path, display: str) -> None:
    """A part must be a regular file closedloop can open: a dangling symbolic link, a link loop, a FIFO, a folder or
    a file without read permission raises ReadError naming it (never silently skipped, never a hang)."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError as exc:
        target = os.readlink(path) if path.is_symlink() else "?"
        raise ReadError(f"{display}: is a symbolic link to {target}, which does not exist.") from exc
    except OSError as exc:
        raise ReadError(f"{display}: cannot be read: {exc.strerror or exc} (a symbolic link loop?).") from exc
    if not stat.S_ISREG(mode):
        what = ("a folder" if stat.S_ISDIR(mode) else "a FIFO (named pipe)" if stat.S_ISFIFO(mode)
                else "a socket" if stat.S_ISSOCK(mode) else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
                else "not a regular file")
        raise ReadError(f"{display}: is {what}, not a file; closedloop reads only regular files. Move it out of the "
                        "raw folder or replace it with the export.")
    try:
        with path.open("rb"):
            pass
    except OSError as exc:
        raise ReadError(f"{display}: cannot be opened: {exc.strerror or exc}. Give closedloop read access to it.") \
            from exc


def read_file(path: Path, display: str | None = None, chunk_rows: int = CHUNK_ROWS,
              info: FileInfo | None = None, encoding: str | None = None) -> Iterator[Chunk]:
    """Dispatch on the name: .csv/.tsv/.txt, also .gz or a one-file .zip (delimiter sniffed; `encoding` when known
    already), .xlsx, .xls/.ods, .parquet. Any failure to read the file (permissions, a truncated archive, a
    damaged workbook) is a ReadError naming it."""
    display = display or str(path)
    kind = file_kind(path.name)
    if kind is None:
        raise ReadError(f"{display}: unsupported file type (closedloop reads {FORMATS}).")
    check_readable(path, display)
    if kind == "xlsx":
        chunks = read_xlsx(path, display, chunk_rows, info)
    elif kind == "calamine":
        chunks = read_calamine(path, display, chunk_rows, info)
    elif kind == "parquet":
        chunks = read_parquet(path, display, chunk_rows, info)
    else:
        chunks = read_csv(path, display, chunk_rows, info, encoding=encoding)
    return _guarded(chunks, display)


def _guarded(chunks: Iterator[Chunk], display: str) -> Iterator[Chunk]:
    """The chunks, with any failure of reading the file (an I/O error, a truncated archive, damaged XML inside a
    workbook …) as one ReadError naming it: a file never makes a traceback."""
    try:
        yield from chunks
    except ReadError:
        raise
    except Exception as exc:  # noqa: BLE001 (the readers' libraries raise many types for a damaged file)
        reason = getattr(exc, "strerror", None) or str(exc).split("\n")[0] or type(exc).__name__
        raise ReadError(f"{display}: cannot be read: {reason}.") from exc
    finally:
        chunks.close()


def read_header(path: Path, display: str | None = None) -> list[str]:
    """The column names of a file, without reading its rows."""
    return read_info(path, display).header


def read_info(path: Path, display: str | None = None) -> FileInfo:
    """The column names of a file, its encoding and delimiter (CSV), without reading its rows."""
    info = FileInfo(path)
    display = display or str(path)
    if file_kind(path.name) == "csv":
        check_readable(path, display)
        for _ in _guarded(read_csv(path, display, info=info, header_only=True), display):
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


__all__ = ["Chunk", "FileInfo", "ReadError", "Rejection", "check_readable", "file_kind", "is_reserved", "read_all",
           "read_file", "read_header", "ROW", "FILE", "FORMATS", "SUFFIXES"]
