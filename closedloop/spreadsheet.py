"""Spreadsheet-safe exports shared by the dashboards' download buttons and `closedloop validate --rejected`.

Text cells that a spreadsheet would run as a formula (=, +, -, @, tab, carriage return first) get a leading
apostrophe, as OWASP recommends against CSV injection: an export of CRM text must never execute in Excel.
"""

from __future__ import annotations

import io
import re

import pandas as pd

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_SHEET_BAD = re.compile(r"[\[\]\:\*\?\/\\]")


def neutralise_cell(value):
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def neutralise(df: pd.DataFrame) -> pd.DataFrame:
    """A copy whose text cells and headers cannot run as spreadsheet formulas."""
    out = df.copy()
    out.columns = [neutralise_cell(str(c)) for c in out.columns]
    for col in out.columns:
        s = out[col]
        if s.dtype == object or pd.api.types.is_string_dtype(s):
            out[col] = s.map(neutralise_cell)
    return out


def _plain(df: pd.DataFrame) -> pd.DataFrame:
    """Timezone-free datetimes (Excel cannot hold tz-aware ones)."""
    out = df.copy()
    for col in out.columns:
        if isinstance(out[col].dtype, pd.DatetimeTZDtype):
            out[col] = out[col].dt.tz_localize(None)
    return out


def csv_bytes(df: pd.DataFrame) -> bytes:
    """UTF-8 with BOM, so Excel in China opens the Chinese text correctly."""
    return neutralise(_plain(df)).to_csv(index=False).encode("utf-8-sig")


def sheet_name(name: str, used: set[str]) -> str:
    base = _SHEET_BAD.sub(" ", name).strip()[:31] or "Sheet"
    candidate, n = base, 2
    while candidate.lower() in used:
        suffix = f" ({n})"
        candidate = base[: 31 - len(suffix)] + suffix
        n += 1
    used.add(candidate.lower())
    return candidate


def xlsx_bytes(tables: list[tuple[str, pd.DataFrame]]) -> bytes:
    buf = io.BytesIO()
    used: set[str] = set()
    with pd.ExcelWriter(buf, engine="openpyxl") as writer:
        if not tables:
            pd.DataFrame().to_excel(writer, sheet_name="empty", index=False)
        for name, df in tables:
            neutralise(_plain(df)).to_excel(writer, sheet_name=sheet_name(name, used), index=False)
    return buf.getvalue()
