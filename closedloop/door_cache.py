"""What the door decided about each raw file, kept for the next build: the rows that passed the row rules (the parts
`closedloop.landing.check_rows` writes, typed) and the rows it set aside, by the file's content.

A daily export adds files to a folder that already holds years of them. Reading, typing and row-checking the old
files again gives the same answer every time, so a build reuses a file's parts when the file's bytes (SHA-256), its
name in the raw folder and everything the answer depends on (the door's code, the suites, the contract, the
parameters, the libraries that type the values) are the same. What a new file can change in the old rows is decided
by table rules (duplicate keys, references), and those still run over every row of the table, old and new, as in a
full build: a new version of a record makes the old one a duplicate, a late parent resolves an orphan.

One parameter moves with the clock: `latest_allowed_at` (rows dated after it are set aside as in the future). A later
bound passes every row an earlier one passed (the suites only use it as a maximum, checked below), so a file whose
rows all passed stays valid; a file with a row set aside by such a rule is checked again.

Entries live beside the landings (`landing/.door-cache/`), one folder per file, written whole or not at all; a build
keeps only the entries it used. `closedloop build --full-refresh` reads none of them (it writes them again).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import re
import shutil
from dataclasses import asdict, dataclass, field
from importlib.metadata import version
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from closedloop import PROJECT_DIR
from closedloop.publish import checksum, link_or_copy
from closedloop.readers import Rejection

ENTRY = "entry.json"
_PART = re.compile(r"part-\d{5}\.parquet")
REJECTED = "rejected.parquet"
# Parameters that may move between builds, and the direction a cached answer stays right in.
_RISING = ("latest_allowed_at",)
# The code and declarations a door's answer for a file depends on: any change checks every file again.
_CODE = ("door.py", "landing.py", "readers.py", "fastcsv.py", "sources.py", "validate.py", "contract.py", "sql.py",
         "door_cache.py")
_LIBRARIES = ("duckdb", "pyarrow", "pandas", "great-expectations")
_REJECTED_SCHEMA = pa.schema([("file", pa.string()), ("row", pa.int64()), ("column", pa.string()),
                              ("rule", pa.string()), ("value", pa.string()), ("message", pa.string())])


def cache_dir_for(warehouse: Path) -> Path:
    from closedloop.paths import landing_root_for

    return landing_root_for(warehouse) / ".door-cache"


def door_key(door: str, chunk_rows: int, parameters: dict) -> str:
    """A hash of everything but the file and the rising parameters that a file's answer depends on."""
    package = Path(__file__).resolve().parent
    digest = hashlib.sha256(f"{door}\0{chunk_rows}\0".encode())
    for name in _CODE:
        digest.update(name.encode() + b"\0" + (package / name).read_bytes() + b"\0")
    for path in sorted((PROJECT_DIR / "expectations").glob("*.json")) + [PROJECT_DIR / "models" / "staging" /
                                                                          "_sources.yml", PROJECT_DIR /
                                                                          "dbt_project.yml"]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    for library in _LIBRARIES:
        digest.update(f"{library}={version(library)}\0".encode())
    fixed = {k: v for k, v in parameters.items() if k not in _RISING}
    digest.update(json.dumps(fixed, sort_keys=True, default=str).encode())
    return digest.hexdigest()


def rising_rules(table_key: str) -> set[str]:
    """The rules of `table_key` that read a rising parameter. Raises ValueError when one reads it as anything but
    a maximum: then a later bound could fail a row an earlier one passed, and no answer could be reused."""
    from closedloop import validate

    rules = set()
    for e in validate.suite(table_key):
        kwargs = e.config.get("kwargs", {})
        for name, value in kwargs.items():
            if isinstance(value, dict) and value.get("$PARAMETER") in _RISING:
                if name != "max_value":
                    raise ValueError(f"{table_key}: `{value['$PARAMETER']}` used as {name}")
                rules.add(e.rule)
    return rules


@dataclass
class FileAnswer:
    """The door's answer for one raw file: its parts (in read order), what was read and set aside, and the column
    lists its chunks added to the table's report."""

    parts: list[Path]
    rows_read: int
    rejections: list[Rejection]
    missing_optional_columns: list[str] = field(default_factory=list)
    extra_columns: list[str] = field(default_factory=list)


@dataclass
class DoorCache:
    """The cache of one warehouse. `read=False` (a full refresh) looks nothing up but still stores every answer."""

    root: Path
    door: str
    chunk_rows: int
    parameters: dict
    read: bool = True

    def __post_init__(self) -> None:
        self.key = door_key(self.door, self.chunk_rows, self.parameters)

    def _name(self, table_key: str, display: str, digest: str) -> str:
        return hashlib.sha256(f"{self.key}\0{table_key}\0{display}\0{digest}".encode()).hexdigest()[:40]

    def lookup(self, table_key: str, path: Path, display: str) -> tuple[str, FileAnswer | None]:
        """(the file's entry name, its answer when one is kept and still right)."""
        name = self._name(table_key, display, checksum(path))
        return name, (self._load(table_key, name) if self.read else None)

    def _load(self, table_key: str, name: str) -> FileAnswer | None:
        folder = self.root / name
        try:
            entry = json.loads((folder / ENTRY).read_text(encoding="utf-8"))
            # Only names this module writes: an entry is never a way to link another file into a landing.
            if not all(isinstance(p, str) and _PART.fullmatch(p) for p in entry["parts"]):
                return None
            parts = [folder / p for p in entry["parts"]]
            if not all(p.is_file() for p in parts):
                return None
            rejected = pq.read_table(folder / REJECTED)
            rejections = [Rejection(**r) for r in rejected.to_pylist()]
            if len(rejections) != entry["rejected"] or not self._still_right(table_key, entry, rejections):
                return None
        except (OSError, ValueError, KeyError, TypeError, pa.ArrowException):
            return None  # a damaged or half-removed entry is no answer: the file is checked again
        return FileAnswer(parts, entry["rows_read"], rejections, entry["missing_optional_columns"],
                          entry["extra_columns"])

    def _still_right(self, table_key: str, entry: dict, rejections: list[Rejection]) -> bool:
        try:
            rising = rising_rules(table_key)
        except ValueError:
            return all(entry["parameters"].get(k) == _text(self.parameters.get(k)) for k in _RISING)
        for k in _RISING:
            then, now = entry["parameters"].get(k), _text(self.parameters.get(k))
            if then == now:
                continue
            if then is None or now is None or dt.datetime.fromisoformat(now) < dt.datetime.fromisoformat(then):
                return False
            if any(r.rule in rising for r in rejections):
                return False
        return True

    def store(self, table_key: str, name: str, answer: FileAnswer) -> None:
        """Keep `answer` under `name` (its parts hard-linked where the file system allows, else copied)."""
        folder = self.root / name
        partial = self.root / f"{name}.partial-{os.getpid()}"
        try:
            shutil.rmtree(partial, ignore_errors=True)
            partial.mkdir(parents=True)
            names = []
            for i, part in enumerate(answer.parts):
                names.append(f"part-{i:05d}.parquet")
                link_or_copy(part, partial / names[-1])
            rows = [asdict(r) for r in answer.rejections]
            pq.write_table(pa.Table.from_pylist(rows, schema=_REJECTED_SCHEMA), partial / REJECTED)
            entry = {"table": table_key, "parts": names, "rows_read": answer.rows_read,
                     "rejected": len(answer.rejections),
                     "missing_optional_columns": answer.missing_optional_columns,
                     "extra_columns": answer.extra_columns,
                     "parameters": {k: _text(self.parameters.get(k)) for k in _RISING}}
            (partial / ENTRY).write_text(json.dumps(entry, ensure_ascii=False), encoding="utf-8")
            shutil.rmtree(folder, ignore_errors=True)
            partial.rename(folder)
        except OSError:
            # A cache that cannot be written (a full disk, a read-only folder) costs the next build time, not this
            # build its result.
            shutil.rmtree(partial, ignore_errors=True)

    def prune(self, used: set[str]) -> None:
        """Remove every entry but the `used` ones (files gone from the raw folder, older code or rules)."""
        with contextlib.suppress(OSError):
            for entry in self.root.iterdir():
                if entry.name not in used:
                    shutil.rmtree(entry, ignore_errors=True)


def _text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return str(value)
