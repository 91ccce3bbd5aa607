"""Both doors over one raw folder, and what must be identical between them: the landed Parquet of every table,
`_rejected.parquet`, `_load_report.parquet` and `_manifest.json` (compared value for value, types included).
Used by tests/test_door_equality.py and, for a dirtied scale-10 copy, bench/door_equality.py."""

from __future__ import annotations

import datetime as dt
import io
import json
import time
from pathlib import Path

import pyarrow.parquet as pq

# One clock for both doors: the future-date rule compares with "now", which must not move between the two runs.
NOW = dt.datetime(2026, 12, 1, 12, 0, 0)


def land_with(door: str, raw: Path, landing_dir: Path, mapping: str | None = None, validator=None) -> float:
    """Land `raw` through `door` (a fresh Validator unless one of that door is given); seconds taken."""
    from closedloop import landing, validate

    started = time.monotonic()
    own = validator is None
    validator = validator or validate.Validator(now=NOW, door=door)
    assert validator.door == door
    try:
        landing.land(raw, landing_dir, mapping=mapping, out=io.StringIO(), validator=validator)
    finally:
        if own:
            validator.close()
    return time.monotonic() - started


def landed_files(landing_dir: Path) -> list[str]:
    return sorted(str(p.relative_to(landing_dir)) for p in landing_dir.rglob("*") if p.is_file())


def differences(a: Path, b: Path) -> list[str]:
    """What differs between two landing folders (empty: identical)."""
    out = []
    files_a, files_b = landed_files(a), landed_files(b)
    if files_a != files_b:
        return [f"files differ: {sorted(set(files_a) ^ set(files_b))}"]
    for name in files_a:
        if name.endswith(".parquet"):
            ta, tb = pq.read_table(a / name), pq.read_table(b / name)
            if ta.schema != tb.schema:
                out.append(f"{name}: schema\n{ta.schema}\n!=\n{tb.schema}")
            elif not ta.equals(tb):
                da, db = ta.to_pylist(), tb.to_pylist()
                first = next((i for i, (x, y) in enumerate(zip(da, db, strict=False)) if x != y), min(len(da), len(db)))
                out.append(f"{name}: {len(da)} vs {len(db)} rows; first difference at row {first}: "
                           f"{da[first] if first < len(da) else None} != {db[first] if first < len(db) else None}")
        elif name.endswith(".json"):
            if json.loads((a / name).read_text(encoding="utf-8")) != json.loads((b / name).read_text(encoding="utf-8")):
                out.append(f"{name} differs")
        elif (a / name).read_bytes() != (b / name).read_bytes():
            out.append(f"{name} differs")
    return out
