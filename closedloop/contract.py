"""The raw input contract (docs/input-contract.md), read from the dbt sources YAML so it is written down once."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from closedloop import PROJECT_DIR

SOURCES_YAML = PROJECT_DIR / "models" / "staging" / "_sources.yml"


@dataclass(frozen=True)
class Column:
    name: str
    data_type: str
    required: bool


@dataclass(frozen=True)
class Table:
    family: str
    name: str
    required: bool
    columns: tuple[Column, ...]

    @property
    def key(self) -> str:
        return f"{self.family}/{self.name}"

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.required]


def _meta(node: dict) -> dict:
    return (node.get("config") or {}).get("meta") or node.get("meta") or {}


@cache
def tables(path: Path = SOURCES_YAML) -> tuple[Table, ...]:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    out = []
    for source in doc["sources"]:
        for t in source["tables"]:
            cols = tuple(
                Column(c["name"], c["data_type"], bool(_meta(c).get("required", False))) for c in t["columns"]
            )
            out.append(Table(source["name"], t["name"], bool(_meta(t).get("required", False)), cols))
    return tuple(out)


def table(key: str) -> Table:
    """Look a table up by `family/name`, e.g. `crm/leads`."""
    for t in tables():
        if t.key == key:
            return t
    raise KeyError(key)


@cache
def project_vars() -> dict:
    """The dbt vars of dbt_project.yml (thresholds, time zone …), for the Python steps that need them too."""
    doc = yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text(encoding="utf-8"))
    return dict(doc.get("vars") or {})
