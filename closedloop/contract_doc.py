"""The tables of docs/input-contract.md, rendered from models/staging/_sources.yml.

The sources YAML is the one place the raw input contract is written (landing, validation, the generator and dbt all
read it); the document shows it to people. `python -m closedloop.contract_doc` rewrites the generated part of the
document, and tests/test_metric_docs.py fails when the two differ.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

from closedloop import PROJECT_DIR
from closedloop.contract import SOURCES_YAML

DOC = PROJECT_DIR / "docs" / "input-contract.md"
BEGIN = "<!-- BEGIN generated from models/staging/_sources.yml by `python -m closedloop.contract_doc` -->"
END = "<!-- END generated -->"


def _meta(node: dict) -> dict:
    return (node.get("config") or {}).get("meta") or node.get("meta") or {}


def _freshness_column(table: dict) -> str | None:
    """The column `dbt source freshness` reads for this table (the argument of cl_freshness_query), if any."""
    query = (table.get("config") or {}).get("loaded_at_query") or table.get("loaded_at_query") or ""
    found = re.search(r"cl_freshness_query\('([^']+)'", query)
    return found.group(1) if found else None


def _cell(text: str) -> str:
    return " ".join(str(text or "").split()).replace("|", "\\|")


def render(path: Path = SOURCES_YAML) -> str:
    """The generated tables: one section per source family, one table per raw table."""
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    out = [BEGIN, ""]
    for source in doc["sources"]:
        out += [f"### `{source['name']}/`", ""]
        for table in source["tables"]:
            required = "required table" if _meta(table).get("required") else "optional table"
            fresh = _freshness_column(table)
            checked = f"; freshness checked on `{fresh}`" if fresh else ""
            out += [f"#### `{source['name']}/{table['name']}`", "",
                    f"{_cell(table.get('description'))} ({required}{checked})", "",
                    "| column | type | required | description |", "|---|---|---|---|"]
            for col in table["columns"]:
                star = "★" if _meta(col).get("required") else ""
                cells = (f"`{col['name']}`", col.get("data_type", ""), star, _cell(col.get("description")))
                out.append("| " + " | ".join(cells) + " |")
            out.append("")
    out.append(END)
    return "\n".join(out)


def current(doc: Path = DOC) -> str:
    """The generated part as it stands in the document."""
    text = doc.read_text(encoding="utf-8")
    start, end = text.index(BEGIN), text.index(END) + len(END)
    return text[start:end]


def update(doc: Path = DOC) -> bool:
    """Rewrite the generated part of the document; True when it changed."""
    text = doc.read_text(encoding="utf-8")
    old = current(doc)
    new = render()
    if old == new:
        return False
    doc.write_text(text.replace(old, new), encoding="utf-8")
    return True


if __name__ == "__main__":
    changed = update()
    print(f"{DOC.relative_to(PROJECT_DIR)} {'updated' if changed else 'already up to date'}.")
    sys.exit(0)
