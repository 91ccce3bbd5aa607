"""The one way closedloop puts a value or a name into SQL text.

Paths (the raw folder, the landing, the warehouse) and column names come from users and vendors: a folder named
`it's; drop table x; --` must stay a folder name. Where DuckDB takes a prepared parameter (`?`, `$name`) we pass
one; where it does not (`copy … to '…'`, `attach '…'`, `read_parquet('…')` inside a view a later session reads),
the value goes through `literal`, and every identifier through `ident`. Nothing else builds SQL from user text.
"""

from __future__ import annotations

import os
from collections.abc import Iterable


def literal(value: str | os.PathLike) -> str:
    """A SQL string literal holding exactly `value` (standard SQL: a quote is doubled; no backslash escapes)."""
    text = os.fspath(value) if isinstance(value, os.PathLike) else str(value)
    if "\x00" in text:
        raise ValueError("a NUL character cannot be part of a SQL string")
    return "'" + text.replace("'", "''") + "'"


def literal_list(values: Iterable[str | os.PathLike]) -> str:
    """A DuckDB list literal of string literals: `['a', 'b''c']`."""
    return "[" + ", ".join(literal(v) for v in values) + "]"


def ident(name: str) -> str:
    """A quoted SQL identifier naming exactly `name` (a double quote inside is doubled)."""
    if "\x00" in name:
        raise ValueError("a NUL character cannot be part of a SQL identifier")
    return '"' + name.replace('"', '""') + '"'
