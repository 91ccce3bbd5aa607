"""The fast path of the CSV reader: blocks of a UTF-8 file parsed by Arrow, for blocks that are plainly clean.

`readers.read_csv` owns the rules (what a row is, its number, what is set aside and why); this module only
parses the part of a file after its header in blocks of tens of megabytes, each cut at a line end outside
quotes, with `pyarrow.csv` on every core. A block is taken from Arrow only when it is certain that Python's
strict `csv` reader (the reference) would read it into exactly the same records:

- every quote opens a field (it follows a delimiter or a line end), closes one (a delimiter, a line end or
  the end of the file follows it), or is half of a doubled quote inside a quoted field (RFC 4180), so no
  record breaks the quoting and the file does not end inside a quoted value;
- Arrow finds every record to have the header's number of fields (a blank line is one field, so it counts too),
  and as many records as there are line ends outside quotes.

Any block where one of these does not hold, or Arrow raises, goes to the Python reader (the caller's), which
starts at the block's first byte with the row and line numbers the records before it reached, so every row
number and message stays what the Python reader alone would give.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

READ_BYTES = 32 << 20  # bytes read per block (a block grows to the next line end outside quotes)
MAX_BLOCK_BYTES = 512 << 20  # a block that finds no such line end within this goes to the Python reader
PARSE_BLOCK_BYTES = 4 << 20  # Arrow's own unit of parallel work inside a block

_QUOTE, _LF, _CR = ord('"'), ord("\n"), ord("\r")


@dataclass
class Block:
    data: bytes
    offset: int  # byte offset of the block in the file
    last: bool  # the block runs to the end of the file
    overflow: bool = False  # no line end outside quotes within MAX_BLOCK_BYTES: read the rest with Python


def blocks(f: BinaryIO, offset: int, read_bytes: int = READ_BYTES) -> Iterator[Block]:
    """The file from `offset` on, in blocks that each end at a line end outside quotes (counting quotes as
    toggles, which is what they are in a well-quoted file) or at the end of the file. A block that finds no such
    line end within MAX_BLOCK_BYTES comes with `overflow` set, and is the last: the caller reads the rest of the
    file with Python."""
    f.seek(offset)
    pending = b""
    while True:
        data = f.read(read_bytes)
        if not data:
            if pending:
                yield Block(pending, offset, True)
            return
        pending += data
        cut = _last_boundary(pending)
        if cut is None:
            if len(pending) >= MAX_BLOCK_BYTES:
                yield Block(pending, offset, False, overflow=True)
                return
            continue
        block, pending = pending[:cut], pending[cut:]
        yield Block(block, offset, False)
        offset += len(block)


def _last_boundary(data: bytes) -> int | None:
    """The end (exclusive) of the last LF of `data` preceded by an even number of quotes, or None."""
    end = data.rfind(b"\n")
    if end < 0:
        return None
    quotes = data.count(b'"', 0, end)
    while quotes % 2:
        previous = data.rfind(b"\n", 0, end)
        if previous < 0:
            return None
        quotes -= data.count(b'"', previous, end)
        end = previous
    return end + 1


def boundary_before(data: bytes, end: int) -> int | None:
    """The end of the last line end before `end` preceded by an even number of quotes (from the start of
    `data`), or None."""
    cut = _last_boundary(data[:end])
    return cut if cut and cut < len(data) else None


def line_count(data: bytes) -> int:
    """Lines as Python's universal-newline reading counts them in `data` (ending at a line end): LF, CRLF, CR."""
    crs = data.count(b"\r")
    return data.count(b"\n") + (crs - data.count(b"\r\n") if crs else 0)


def _quoting_is_plain(buf: np.ndarray, delimiter: int) -> tuple[bool, np.ndarray]:
    """Whether every quote of the block opens a field, closes one or is half of a doubled quote, and the block
    does not end inside quotes; also the positions of the quotes (counting them as toggles, the even-numbered
    ones open a quoted stretch). A quote right after a closing quote, or right before an opening one, is the
    other half of a doubled quote: the quotes are sorted, so the two are neighbours in the list."""
    quotes = np.flatnonzero(buf == _QUOTE)
    if not len(quotes):
        return True, quotes
    if len(quotes) % 2:
        return False, quotes  # the block (so the file) ends inside a quoted value, or a quote stands alone
    n = len(buf)
    opening, closing = quotes[0::2], quotes[1::2]
    before = np.where(opening > 0, buf[np.maximum(opening - 1, 0)], _LF)  # the block starts a record
    after = np.where(closing + 1 < n, buf[np.minimum(closing + 1, n - 1)], _LF)  # the end of the file
    ok_open = (before == delimiter) | (before == _LF) | (before == _CR) | (before == _QUOTE)
    ok_close = (after == delimiter) | (after == _LF) | (after == _CR) | (after == _QUOTE)
    return bool(ok_open.all() and ok_close.all()), quotes


def _records_expected(data: bytes, quotes: np.ndarray, lines: int) -> int:
    """Records in the block: line ends (LF, CRLF, lone CR; `lines` in all) outside quoted stretches, plus a
    final unterminated line."""
    count = lines
    if len(quotes):
        # Line ends inside quoted stretches are part of a value (a CRLF cannot straddle a closing quote).
        inside = b"".join(data[o:c] for o, c in zip(quotes[0::2].tolist(), quotes[1::2].tolist(), strict=True))
        count -= line_count(inside)
    if data and data[-1:] not in (b"\n", b"\r"):
        count += 1  # the last line has no line end (the end of the file)
    return count


def parse(block: Block, width: int, delimiter: str, lines: int) -> pa.Table | None:
    """The block's records as a table of `width` string columns f0…, or None when the block is not plainly
    clean (see the module docstring) and must be read by the Python reader. `lines`: its line_count()."""
    if not block.data or block.data.startswith(b"\xef\xbb\xbf"):
        return None  # Arrow would take a value's leading U+FEFF for a byte-order mark and drop it
    buf = np.frombuffer(block.data, dtype=np.uint8)
    plain, quotes = _quoting_is_plain(buf, ord(delimiter))
    if not plain:
        return None
    expected = _records_expected(block.data, quotes, lines)
    names = [f"f{i}" for i in range(width)]
    invalid = []

    def on_invalid(row) -> str:
        invalid.append(row)
        return "skip"

    try:
        table = pacsv.read_csv(
            pa.py_buffer(block.data),
            read_options=pacsv.ReadOptions(column_names=names, use_threads=True, block_size=PARSE_BLOCK_BYTES),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, quote_char='"', double_quote=True,
                                             escape_char=False, newlines_in_values=True, ignore_empty_lines=False,
                                             invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in names},
                                                 strings_can_be_null=False, quoted_strings_can_be_null=False,
                                                 check_utf8=True))
    except (pa.ArrowException, ValueError):
        return None
    if invalid or table.num_rows != expected:
        return None
    return table


def empty_rows(table: pa.Table) -> np.ndarray:
    """Rows whose every field is empty (a line of delimiters: an empty sheet row, not a row)."""
    candidates = np.arange(table.num_rows)
    for col in table.columns:
        if not len(candidates):
            break
        lengths = pc.binary_length(col.take(candidates) if len(candidates) < table.num_rows else col)
        candidates = candidates[np.asarray(lengths.to_numpy(zero_copy_only=False)) == 0]
    mask = np.zeros(table.num_rows, dtype=bool)
    mask[candidates] = True
    return mask


def suspicious_rows(table: pa.Table, data: bytes, max_chars: int) -> np.ndarray:
    """Rows holding a NUL or a value longer than `max_chars` (the reader sets those aside, with its message).
    A value cannot hold more characters than bytes, and a block without a NUL byte has no NUL anywhere."""
    nul = b"\x00" in data
    mask = None
    for col in table.columns:
        m = None
        if nul:
            m = pc.match_substring(col, "\x00")
        if (pc.max(pc.binary_length(col)).as_py() or 0) > max_chars:
            long = pc.greater(pc.utf8_length(col), max_chars)
            m = long if m is None else pc.or_(m, long)
        if m is not None:
            mask = m if mask is None else pc.or_(mask, m)
    if mask is None:
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(np.asarray(mask.to_numpy(zero_copy_only=False), dtype=bool))


def blank_as_null(column: pa.ChunkedArray) -> pa.Array:
    """'' as null, without copying the text: the validity bitmap is `length != 0`."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if array.offset:
        array = pa.concat_arrays([array])  # offset 0, so the bitmap lines up
    present = pc.not_equal(pc.binary_length(array), 0)
    if present.null_count == 0 and pc.all(present).as_py():
        return array
    bitmap = present.buffers()[1]
    if array.null_count:
        bitmap = pc.and_(present, pc.is_valid(array)).buffers()[1]
    return pa.StringArray.from_buffers(len(array), array.buffers()[1], array.buffers()[2], bitmap)
