"""Where each contract table's rows come from: the files of a raw folder, found by name (this module) or
translated from a vendor's export by a mapping (`closedloop.mapping`). Both give the same thing, a
`TableInput` whose chunks carry contract column names plus `__file` and `__row`, so validation and landing
never care which it was."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from closedloop import contract
from closedloop.readers import CHUNK_ROWS, FILE, SUFFIXES, Chunk, read_file, read_info


class SourceError(Exception):
    """A table-level problem: a required table or column is missing, a file cannot be read at all."""


@dataclass
class TableInput:
    table: contract.Table
    files: list[str] = field(default_factory=list)  # display names, relative to the raw folder
    # Yields chunks whose frames have contract column names (+ extra columns) and `__file`, `__row`.
    chunks: Callable[[], Iterator[Chunk]] = lambda: iter(())
    note: str = ""  # how the rows were derived, for the report (mappings)
    # The table's own files (not a mapping's), with the CSV encodings the header check found: another process
    # can read them again, in chunks of any size.
    paths: list[Path] = field(default_factory=list)
    encodings: list[str | None] = field(default_factory=list)

    def chunks_of(self, chunk_rows: int) -> Iterator[Chunk]:
        """The chunks, at most `chunk_rows` rows each where the input allows choosing (its own files)."""
        if self.paths:
            for path, display, encoding in zip(self.paths, self.files, self.encodings, strict=True):
                yield from _renamed_chunks(path, display, self.table, chunk_rows, encoding)
        else:
            yield from self.chunks()


def discover(raw_dir: Path, table: contract.Table) -> list[Path]:
    """Files of one table: `leads.csv`, `leads_2026-11-01.csv`, `leads_0001.parquet`, `leads.xlsx` … in its
    family folder, in name order (the order later rows win on duplicate keys)."""
    folder = raw_dir / table.family
    if not folder.is_dir():
        return []
    siblings = [t.name for t in contract.tables() if t.family == table.family and t.name != table.name]
    suffixes = "|".join(s.lstrip(".") for s in SUFFIXES)
    pattern = re.compile(rf"^{re.escape(table.name)}(?:[_\-.].*)?\.({suffixes})$", re.IGNORECASE)
    found = []
    for path in sorted(folder.iterdir()):
        if not path.is_file() or not pattern.match(path.name) or path.name.startswith((".", "~$")):
            continue
        # `campaigns*` must not swallow a sibling table whose name extends it (`campaign_spend`).
        if any(path.name.lower().startswith(s.lower()) and len(s) > len(table.name) for s in siblings):
            continue
        found.append(path)
    return found


def missing_columns_message(display: str, table: contract.Table, header: list[str], missing: list[str]) -> str:
    hint = ""
    if len(header) == 1 and any(d in header[0] for d in (":", " ", "，", "、")):
        hint = " The header was read as a single column: is the file delimited by something other than , ; tab or |?"
    return (f"{display}: required column(s) {', '.join(missing)} missing for table `{table.key}` "
            f"(columns found: {', '.join(header) or 'none'}).{hint}")


def _renamed_chunks(path: Path, display: str, table: contract.Table, chunk_rows: int = CHUNK_ROWS,
                    encoding: str | None = None) -> Iterator[Chunk]:
    wanted = set(table.column_names)
    for chunk in read_file(path, display, chunk_rows, encoding=encoding):
        if chunk.table is not None:
            data = chunk.table
            names = [c.lower() if c.lower() in wanted else c for c in data.column_names]
            files = pa.array([display], pa.string()).take(pa.array(np.zeros(data.num_rows, dtype=np.int32)))
            yield Chunk(rejections=chunk.rejections, table=data.rename_columns(names).append_column(FILE, files))
            continue
        frame = chunk.frame
        # Contract names match case-insensitively (`Lead_ID` is `lead_id`); extras keep their own names.
        frame.columns = [c.lower() if c.lower() in wanted else c for c in frame.columns]
        frame[FILE] = display
        yield Chunk(frame, chunk.rejections)


def file_input(raw_dir: Path, table: contract.Table) -> TableInput | None:
    """The table read from its own files, or None when it has none. Every file's header is checked for the
    required columns before a row is read."""
    paths = discover(raw_dir, table)
    if not paths:
        return None
    displays = [str(p.relative_to(raw_dir)) for p in paths]
    encodings = []
    for path, display in zip(paths, displays, strict=True):
        info = read_info(path, display)
        header = info.header
        encodings.append(info.encoding if info.delimiter else None)
        lower = {h.lower() for h in header}
        missing = [c for c in table.required_columns if c not in lower]
        if missing:
            raise SourceError(missing_columns_message(display, table, header, missing))

    def chunks() -> Iterator[Chunk]:
        for path, display, encoding in zip(paths, displays, encodings, strict=True):
            yield from _renamed_chunks(path, display, table, encoding=encoding)

    return TableInput(table, displays, chunks, paths=paths, encodings=encodings)


def default_inputs(raw_dir: Path) -> dict[str, TableInput]:
    """Every contract table that has files in `raw_dir`, keyed `family/name`."""
    out = {}
    for table in contract.tables():
        found = file_input(raw_dir, table)
        if found is not None:
            out[table.key] = found
    return out
