"""Where things live, from flags or the CLOSEDLOOP_* environment variables."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path


class ConfigError(Exception):
    """A missing or contradictory setting, reported as one sentence."""


def landing_root_for(warehouse: Path) -> Path:
    """Landed Parquet sits beside the warehouse it feeds: data/warehouse.duckdb -> data/landing/<build>/."""
    return warehouse.parent / "landing"


def new_landing_dir(warehouse: Path) -> Path:
    """A fresh folder per build: the served warehouse's staging views keep reading the landing they were built
    over until a newer build is published, so a failed or killed build never breaks them."""
    stamp = time.strftime("%Y%m%dT%H%M%S")
    return landing_root_for(warehouse) / f"{stamp}-{os.getpid()}"


# What new_landing_dir names a build (and `closedloop rollback --to` accepts): 20261207T030900-11961.
BUILD_ID = re.compile(r"[0-9]{8}T[0-9]{6}-[0-9]+")


def read_current(warehouse: Path) -> str | None:
    """The build id landing/CURRENT names, or None when it is absent, unreadable or holds anything but a build id.
    Its content becomes a path below landing/, so a hand-edited or damaged pointer (`../../etc`, binary bytes, a
    NUL) must never be followed: it counts as no pointer at all."""
    try:
        with (landing_root_for(warehouse) / "CURRENT").open("rb") as f:
            text = f.read(200).decode("ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return text if BUILD_ID.fullmatch(text) else None


def current_landing_dir(warehouse: Path) -> Path:
    """The landing the published warehouse was built over (recorded in landing/CURRENT at publish)."""
    root = landing_root_for(warehouse)
    build_id = read_current(warehouse)
    return root / build_id if build_id else root


def working_file_for(warehouse: Path) -> Path:
    """dbt builds here; only a build whose tests pass replaces the served warehouse. Same file name in a side
    folder, because DuckDB names the catalog after the file and views must resolve after the move."""
    return warehouse.parent / ".building" / warehouse.name
