"""Where each contract table's rows come from: the files of a raw folder, found by name (this module) or
translated from a vendor's export by a mapping (`closedloop.mapping`). Both give the same thing, a
`TableInput` whose chunks carry contract column names plus `__file` and `__row`, so validation and landing
never care which it was."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from closedloop import contract
from closedloop.readers import (
    CHUNK_ROWS,
    FILE,
    FORMATS,
    Chunk,
    ReadError,
    check_readable,
    file_kind,
    read_file,
    read_info,
)


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
    # For the report: vendor columns kept under another name (their names are the project's lineage/working ones).
    notices: list[str] = field(default_factory=list)

    def files_of(self, chunk_rows: int) -> Iterator[tuple[Path | None, str | None, Iterator[Chunk]]]:
        """(path, display name, its chunks) per file of the table's own files, in read order, at most `chunk_rows`
        rows a chunk; a mapping's rows, derived from several vendor files at once, come as one (None, None, chunks)."""
        if self.paths:
            for path, display, encoding in zip(self.paths, self.files, self.encodings, strict=True):
                yield path, display, _renamed_chunks(path, display, self.table, chunk_rows, encoding)
        else:
            yield None, None, self.chunks()


def _looks_like_part(name: str, table: contract.Table, siblings: list[str]) -> bool:
    """`leads.csv`, `leads_2026-11.xlsx`, `leads-3.whatever`, `leads.csv.bak`: the table's name, then nothing or a
    `_`, `-` or `.`; not a sibling table whose name extends it (`campaigns*` is not `campaign_spend*`), not hidden,
    not an Excel lock file."""
    lower, own = name.lower(), table.name.lower()
    if name.startswith((".", "~$")) or not (lower == own or (lower.startswith(own) and lower[len(own)] in "_-.")):
        return False
    return not any(lower.startswith(s.lower()) and len(s) > len(table.name) for s in siblings)


def scan(raw_dir: Path, table: contract.Table) -> tuple[list[Path], list[str]]:
    """(parts, ignored): the files of one table in its family folder, in name order (the order later rows win on
    duplicate keys), and the entries named like a part of it in a format closedloop does not read, each as
    "display: why" for the report. A part that cannot be read (a dangling or looping symbolic link, a FIFO, a folder,
    no read permission) raises SourceError naming it: it is plainly data of the table, so it is never skipped."""
    folder = raw_dir / table.family
    try:
        if not folder.is_dir():
            if folder.is_symlink() or folder.exists():
                check_readable(folder, table.family)  # a dangling or looping link explains itself
            return [], []
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except ReadError as exc:
        raise SourceError(str(exc)) from exc
    except OSError as exc:
        raise SourceError(f"{table.family}: the folder cannot be read: {exc.strerror or exc}.") from exc
    siblings = [t.name for t in contract.tables() if t.family == table.family and t.name != table.name]
    parts, ignored = [], []
    for entry in entries:
        if not _looks_like_part(entry.name, table, siblings):
            continue
        path = folder / entry.name
        display = str(path.relative_to(raw_dir))
        if file_kind(entry.name) is None:
            suffixes = Path(entry.name).suffixes
            suffix = "".join(suffixes[-2:] if suffixes[-1:] in ([".gz"], [".zip"]) else suffixes[-1:]) or "(none)"
            ignored.append(f"{display}: named like a part of `{table.key}` but its type `{suffix}` is not one "
                           f"closedloop reads ({FORMATS}); not read")
            continue
        try:
            check_readable(path, display)
        except ReadError as exc:
            raise SourceError(f"{exc} It is named like a part of table `{table.key}`.") from exc
        parts.append(path)
    return parts, ignored


def discover(raw_dir: Path, table: contract.Table) -> list[Path]:
    """Files of one table: `leads.csv`, `leads_2026-11-01.csv.gz`, `leads_0001.parquet`, `leads.xls` … in its
    family folder, in name order (see `scan`)."""
    return scan(raw_dir, table)[0]


def ignored_files(raw_dir: Path) -> dict[str, list[str]]:
    """Per table key, the entries named like its parts that are not read (see `scan`), and the files of its family
    folder named like no table whose name is closest to its own (a typo: `crm/opportunity.csv`), for tables that
    have any."""
    out: dict[str, list[str]] = {}
    for table in contract.tables():
        try:
            ignored = scan(raw_dir, table)[1]
        except SourceError:
            continue  # the table's own reading raises it
        if ignored:
            out[table.key] = ignored
    for key, display in unmatched_files(raw_dir):
        if key is not None:
            out.setdefault(key, []).append(f"{display}: named like no table; the closest is `{key}` (a typo?); "
                                           "not read")
    return out


def unmatched_files(raw_dir: Path) -> list[tuple[str | None, str]]:
    """The files in the family folders (crm/, campaign/, service/) that no table reads by name, each with the
    table whose name is closest to it (or None): never read, so they are listed, never silently passed over.
    Hidden files and Excel lock files are left out."""
    import difflib

    found = []
    for family in sorted({t.family for t in contract.tables()}):
        folder = raw_dir / family
        tables = [t for t in contract.tables() if t.family == family]
        try:
            names = sorted(e.name for e in os.scandir(folder)) if folder.is_dir() else []
        except OSError:
            continue  # the tables' own scans name an unreadable folder
        for name in names:
            if name.startswith((".", "~$")):
                continue
            if any(_looks_like_part(name, t, [s.name for s in tables if s is not t]) for t in tables):
                continue
            stem = name.lower().split(".")[0]
            close = difflib.get_close_matches(stem, [t.name for t in tables], n=1, cutoff=0.75)
            key = f"{family}/{close[0]}" if close else None
            found.append((key, f"{family}/{name}"))
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
    encodings, notices = [], []
    for path, display in zip(paths, displays, strict=True):
        info = read_info(path, display)
        header = info.header
        notices += [f"{display}: vendor column `{old}` kept as `{new}` (`{old}` is a name closedloop gives its own "
                    "columns)" for old, new in info.renamed.items()]
        encodings.append(info.encoding if info.delimiter else None)
        lower = {h.lower() for h in header}
        missing = [c for c in table.required_columns if c not in lower]
        if missing:
            raise SourceError(missing_columns_message(display, table, header, missing))

    def chunks() -> Iterator[Chunk]:
        for path, display, encoding in zip(paths, displays, encodings, strict=True):
            yield from _renamed_chunks(path, display, table, encoding=encoding)

    return TableInput(table, displays, chunks, paths=paths, encodings=encodings, notices=notices)


def default_inputs(raw_dir: Path) -> dict[str, TableInput]:
    """Every contract table that has files in `raw_dir`, keyed `family/name`."""
    out = {}
    for table in contract.tables():
        found = file_input(raw_dir, table)
        if found is not None:
            out[table.key] = found
    return out
