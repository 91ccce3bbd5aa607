"""Where things live, from flags or the CLOSEDLOOP_* environment variables."""

from __future__ import annotations

import os
from pathlib import Path


class ConfigError(Exception):
    """A missing or contradictory setting, reported as one sentence."""


def resolve(value: str | os.PathLike | None, env: str, what: str) -> Path:
    """A flag wins over its environment variable; neither is an error that says which to set."""
    chosen = value or os.environ.get(env)
    if not chosen:
        raise ConfigError(f"no {what} given: pass it as a flag or set {env}.")
    return Path(chosen).expanduser().resolve()


def landing_dir_for(warehouse: Path) -> Path:
    """Landed Parquet sits beside the warehouse it feeds: data/warehouse.duckdb -> data/landing/."""
    return warehouse.parent / "landing"


def working_file_for(warehouse: Path) -> Path:
    """dbt builds here; only a build whose tests pass replaces the served warehouse. Same file name in a side
    folder, because DuckDB names the catalog after the file and views must resolve after the move."""
    return warehouse.parent / ".building" / warehouse.name
