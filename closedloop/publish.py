"""Publish a built warehouse atomically, keep the last few builds, and roll back to an earlier one.

Layout beside the served file (say `data/warehouse.duckdb`):

    data/warehouse.duckdb               what the dashboards open (read-only, per query)
    data/builds/<build>/warehouse.duckdb  the last N published builds, hard links (no copy, no extra space
                                        while the served file is one of them)
    data/landing/<build>/               the Parquet each kept build's staging views read
    data/landing/CURRENT                the build being served

A publish is the last step of a build and all or nothing: the working file is synced, checksummed (sha256, kept in
the run history) and linked as its kept build, the run history is written, and only then is the served name
switched; nothing the served file reads (its landing) is removed or overwritten before that, and old builds and
landings are pruned only after it. `verify` compares the served file with its checksum (status, summary and every
incremental build do), so a damaged file is named instead of read.

Publishing is one `os.replace` of the served name, which is atomic on POSIX: a reader sees the old file or the
new one, never half of either. The kept copy keeps the served file's name inside its own folder because
DuckDB names a database's catalog after its file name and the views inside refer to it.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
from pathlib import Path

from closedloop.paths import ConfigError, landing_root_for, read_current

KEEP = 3


class CorruptWarehouse(ConfigError):
    """The served file is not the file its build published (or DuckDB cannot open it)."""


def corrupt_sentence(warehouse: Path, what: str) -> str:
    return (f"the served warehouse {warehouse} is damaged ({what}); `closedloop rollback` serves the previous "
            "kept build, `closedloop build --full-refresh` rebuilds it from the raw folder.")


def verify(warehouse: Path) -> None:
    """Raise CorruptWarehouse when the served file's sha256 differs from the one recorded when its build was
    published. Builds published before checksums were recorded are not checked."""
    from closedloop import runs

    build_id = served_build(warehouse)
    expected = runs.checksum_of(warehouse, build_id) if build_id else None
    if expected is None:
        return
    try:
        actual = checksum(warehouse)
    except OSError as exc:
        raise CorruptWarehouse(corrupt_sentence(warehouse, f"it cannot be read: {exc.strerror or exc}")) from None
    if actual != expected:
        raise CorruptWarehouse(corrupt_sentence(
            warehouse, f"its content differs from build {build_id} as published: sha256 {actual[:12]}…, "
                       f"expected {expected[:12]}…"))


def builds_dir(warehouse: Path) -> Path:
    return warehouse.parent / "builds"


def kept_builds(warehouse: Path) -> list[str]:
    """Build ids kept for rollback, oldest first (ids sort by time)."""
    root = builds_dir(warehouse)
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / warehouse.name).is_file())


def served_build(warehouse: Path) -> str | None:
    """The kept build the served file is (the same file: hard links), else the one landing/CURRENT names.

    The file itself is the truth: publishing switches it with one `os.replace`, and CURRENT follows a moment later,
    so a crash (or a full disk) between the two must not make the served build look like another one."""
    try:
        served = warehouse.stat()
    except OSError:
        served = None
    if served is not None:
        for build_id in reversed(kept_builds(warehouse)):
            try:
                kept = (builds_dir(warehouse) / build_id / warehouse.name).stat()
            except OSError:
                continue
            if (kept.st_dev, kept.st_ino) == (served.st_dev, served.st_ino):
                return build_id
    return read_current(warehouse)


def _point_current(warehouse: Path, build_id: str) -> None:
    root = landing_root_for(warehouse)
    tmp = root / "CURRENT.tmp"
    _write_synced(tmp, build_id)
    os.replace(tmp, root / "CURRENT")
    _fsync_dir(root)


def _write_synced(path: Path, text: str) -> None:
    with path.open("w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    """A rename is durable once its folder is synced (POSIX); without it a power cut can undo a publish."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems do not sync folders; the rename is still atomic
    finally:
        os.close(fd)


def link_or_copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.unlink(missing_ok=True)
    try:
        os.link(source, target)
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise
        shutil.copy2(source, target)  # a filesystem without hard links: pay for a copy


def checksum(path: Path) -> str:
    """sha256 of a file, streamed (a warehouse can be many gigabytes)."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


def prepare(working: Path, warehouse: Path, build_id: str) -> str:
    """Everything a publish needs, before anything served changes: the working file synced to disk and kept as
    build `build_id` (a hard link: no extra space). Returns the file's checksum for the run history.
    A failure here (a full disk) leaves the served warehouse, its landing and CURRENT as they were."""
    _fsync_file(working)
    digest = checksum(working)
    kept = builds_dir(warehouse) / build_id / warehouse.name
    link_or_copy(working, kept)
    _fsync_file(kept)
    _fsync_dir(kept.parent)
    return digest


def switch(working: Path, warehouse: Path, build_id: str) -> None:
    """The publish itself, after `prepare`: one `os.replace` of the served name (atomic: readers see the old file
    or the new one), then CURRENT. Renames need no space, so a full disk cannot stop this half-way."""
    os.replace(working, warehouse)
    _fsync_dir(warehouse.parent)
    with contextlib.suppress(OSError):  # served_build() reads the served file itself; CURRENT is its fallback
        _point_current(warehouse, build_id)


def discard(warehouse: Path, build_id: str) -> None:
    """Undo `prepare` of a build that was not published (never the served one)."""
    if served_build(warehouse) != build_id:
        shutil.rmtree(builds_dir(warehouse) / build_id, ignore_errors=True)


def publish(working: Path, warehouse: Path, build_id: str, keep: int = KEEP) -> str:
    """Serve `working` as `warehouse`, keep it as build `build_id`, and drop builds beyond the newest `keep`.
    Returns the published file's checksum."""
    digest = prepare(working, warehouse, build_id)
    switch(working, warehouse, build_id)
    prune(warehouse, keep)
    return digest


def prune(warehouse: Path, keep: int = KEEP) -> None:
    """Delete kept builds beyond the newest `keep` (never the served one) and landings no kept build reads. Run only
    after a publish succeeded; a failure to delete is no failure of the build (the next prune tries again)."""
    served = served_build(warehouse)
    builds = kept_builds(warehouse)
    keep_ids = set(builds[-max(keep, 1):]) | ({served} if served else set())
    for build_id in builds:
        if build_id not in keep_ids:
            shutil.rmtree(builds_dir(warehouse) / build_id, ignore_errors=True)
    root = landing_root_for(warehouse)
    try:
        landings = [p for p in root.iterdir() if p.is_dir()] if root.is_dir() else []
    except OSError:
        return
    for landing in landings:
        if landing.name[:8].isdigit() and landing.name not in keep_ids:
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
    if to == served:
        return served, to  # nothing to switch: the caller says so instead of recording a rollback that was none
    staged = warehouse.with_name(warehouse.name + ".rollback")
    link_or_copy(builds_dir(warehouse) / to / warehouse.name, staged)
    os.replace(staged, warehouse)
    _point_current(warehouse, to)
    return served, to
