"""Publish a built warehouse atomically, keep the last few builds, and roll back to an earlier one.

Layout beside the served file (say `data/warehouse.duckdb`):

    data/warehouse.duckdb               what the dashboards open (read-only, per query)
    data/builds/<build>/warehouse.duckdb  the last N published builds, hard links (no copy, no extra space
                                        while the served file is one of them)
    data/landing/<build>/               the Parquet each kept build's staging views read
    data/landing/CURRENT                the build being served

Publishing is one `os.replace` of the served name, which is atomic on POSIX: a reader sees the old file or the
new one, never half of either. The kept copy keeps the served file's name inside its own folder because
DuckDB names a database's catalog after its file name and the views inside refer to it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from closedloop.paths import ConfigError, landing_root_for

KEEP = 3


def builds_dir(warehouse: Path) -> Path:
    return warehouse.parent / "builds"


def kept_builds(warehouse: Path) -> list[str]:
    """Build ids kept for rollback, oldest first (ids sort by time)."""
    root = builds_dir(warehouse)
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / warehouse.name).is_file())


def served_build(warehouse: Path) -> str | None:
    pointer = landing_root_for(warehouse) / "CURRENT"
    return pointer.read_text(encoding="utf-8").strip() if pointer.exists() else None


def _point_current(warehouse: Path, build_id: str) -> None:
    root = landing_root_for(warehouse)
    tmp = root / "CURRENT.tmp"
    tmp.write_text(build_id, encoding="utf-8")
    os.replace(tmp, root / "CURRENT")


def _link_or_copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.unlink(missing_ok=True)
    try:
        os.link(source, target)
    except OSError:  # a filesystem without hard links: pay for a copy
        shutil.copy2(source, target)


def publish(working: Path, warehouse: Path, build_id: str, keep: int = KEEP) -> None:
    """Serve `working` as `warehouse`, keep it as build `build_id`, and drop builds beyond the newest `keep`."""
    os.replace(working, warehouse)
    _link_or_copy(warehouse, builds_dir(warehouse) / build_id / warehouse.name)
    _point_current(warehouse, build_id)
    prune(warehouse, keep)


def prune(warehouse: Path, keep: int = KEEP) -> None:
    """Delete kept builds beyond the newest `keep` (never the served one) and landings no kept build reads."""
    served = served_build(warehouse)
    builds = kept_builds(warehouse)
    keep_ids = set(builds[-max(keep, 1):]) | ({served} if served else set())
    for build_id in builds:
        if build_id not in keep_ids:
            shutil.rmtree(builds_dir(warehouse) / build_id, ignore_errors=True)
    root = landing_root_for(warehouse)
    for landing in root.iterdir() if root.is_dir() else ():
        if landing.is_dir() and landing.name[:8].isdigit() and landing.name not in keep_ids:
            shutil.rmtree(landing, ignore_errors=True)


def rollback(warehouse: Path, to: str | None = None) -> tuple[str | None, str]:
    """Serve the build before the one being served (or build `to`); return (was served, now served)."""
    builds = kept_builds(warehouse)
    served = served_build(warehouse)
    if to is None:
        older = [b for b in builds if served is None or b < served]
        if not older:
            kept = ", ".join(builds) or "none"
            raise ConfigError(f"no earlier build to roll back to (serving {served}; kept: {kept}).")
        to = older[-1]
    elif to not in builds:
        raise ConfigError(f"build {to} is not kept (kept: {', '.join(builds) or 'none'}).")
    staged = warehouse.with_name(warehouse.name + ".rollback")
    _link_or_copy(builds_dir(warehouse) / to / warehouse.name, staged)
    os.replace(staged, warehouse)
    _point_current(warehouse, to)
    return served, to
