"""The Arrow fast path of the CSV reader (`closedloop.fastcsv`) against the Python reader it stands in for:
on any bytes at all (stray and doubled quotes, blank lines, lines of delimiters, lone CRs, NULs, over-long
values, files cut inside quotes), in blocks small enough that every boundary case comes up, both give the
same rows, row numbers, rejections and messages."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from closedloop import fastcsv, readers

PIECES = ["a", "\ufeff", "b", "张", " ", ",", ";", "|", "\t", '"', '""', "\n", "\r\n", "\r", "\x00", "x" * 40, "", "1",
          '"q,"', '"line\nbreak"', ",,", "\n\n"]


def _read(path: Path, fast: bool, chunk_rows: int) -> tuple[pd.DataFrame, list[tuple]]:
    old = readers.FAST_CSV
    readers.FAST_CSV = fast
    try:
        chunks = list(readers.read_file(path, "t.csv", chunk_rows))
    finally:
        readers.FAST_CSV = old
    assert all(len(c.frame) <= chunk_rows for c in chunks)
    frame = pd.concat([c.frame for c in chunks], ignore_index=True)
    return frame, [(r.file, r.row, r.column, r.rule, r.value, r.message) for r in (x for c in chunks
                                                                                  for x in c.rejections)]


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch):
    monkeypatch.setattr(fastcsv, "READ_BYTES", 7)
    monkeypatch.setattr(readers, "PYTHON_STRETCH_BYTES", 8)
    monkeypatch.setattr(fastcsv, "MAX_BLOCK_BYTES", 400)
    monkeypatch.setattr(readers, "MAX_FIELD_CHARS", 30)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(body=st.lists(st.sampled_from(PIECES), max_size=60), delimiter=st.sampled_from([",", ";", "\t", "|"]),
       bom=st.booleans(), crlf=st.booleans(), chunk_rows=st.integers(1, 5))
def test_fast_path_reads_what_python_reads(tmp_path_factory, body, delimiter, bom, crlf, chunk_rows):
    header = delimiter.join(["id", "name", "note"]) + ("\r\n" if crlf else "\n")
    text = header + "".join(p.replace(",", delimiter) if p in (",", ",,", '"q,"') else p for p in body)
    data = (b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8")
    path = tmp_path_factory.mktemp("fast") / "t.csv"
    path.write_bytes(data)
    slow_frame, slow_rejections = _read(path, False, chunk_rows)
    fast_frame, fast_rejections = _read(path, True, chunk_rows)
    assert fast_rejections == slow_rejections
    assert fast_frame.columns.tolist() == slow_frame.columns.tolist()
    assert fast_frame.to_numpy().tolist() == slow_frame.to_numpy().tolist()
    assert list(fast_frame.dtypes) == list(slow_frame.dtypes)


VALUES = ["", "\ufeffa", "a", " b ", "张伟", "x" * 35, "a\x00b", 'say "hi"', "l1\nl2", "l1\r\nl2", "\r", ",", ";", "|",
          "\t"]
DEFECTS = ["", "", "", "", "\n", "\r\n", '"', '"x"y', ",", "\r"]


@st.composite
def records(draw, delimiter: str) -> str:
    """Mostly well-formed rows (RFC 4180 quoting, 3 fields), now and then a defect at a record's end."""
    out = []
    for _ in range(draw(st.integers(0, 12))):
        fields = draw(st.lists(st.sampled_from(VALUES), min_size=3, max_size=3))
        quoted = [('"' + v.replace('"', '""') + '"') if (any(c in v for c in (delimiter, '"', "\r", "\n"))
                                                           or draw(st.booleans())) else v for v in fields]
        out.append(delimiter.join(quoted) + draw(st.sampled_from(["\n", "\r\n"])) + draw(st.sampled_from(DEFECTS)))
    return "".join(out)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(data=st.data(), delimiter=st.sampled_from([",", ";", "\t", "|"]), chunk_rows=st.integers(1, 5),
       cut=st.integers(0, 3))
def test_fast_path_reads_well_formed_files_as_python_does(tmp_path_factory, data, delimiter, chunk_rows, cut):
    text = delimiter.join(["id", "name", "note"]) + "\n" + data.draw(records(delimiter))
    path = tmp_path_factory.mktemp("fast") / "t.csv"
    path.write_bytes((text[:len(text) - cut] if len(text) - cut > 15 else text).encode("utf-8"))  # cut short
    slow_frame, slow_rejections = _read(path, False, chunk_rows)
    fast_frame, fast_rejections = _read(path, True, chunk_rows)
    assert fast_rejections == slow_rejections
    assert fast_frame.to_numpy().tolist() == slow_frame.to_numpy().tolist()


def test_blocks_end_at_line_ends_outside_quotes(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(b'a,"x\ny"\nb,c\n"d\n\n",e\nf,g')
    with path.open("rb") as f:
        blocks = list(fastcsv.blocks(f, 0, read_bytes=3))
    assert b"".join(b.data for b in blocks) == path.read_bytes()
    for b in blocks[:-1]:
        assert b.data.endswith(b"\n") and b.data.count(b'"') % 2 == 0
