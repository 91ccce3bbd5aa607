"""Join an independent result to a mart on its keys and say, row by row, where they differ."""

from __future__ import annotations

import numpy as np
import pandas as pd

_NULL_KEY = "<null>"
SHOW = 12


def _norm(col: pd.Series) -> pd.Series:
    if isinstance(col.dtype, pd.DatetimeTZDtype):
        return col.dt.tz_localize(None).astype("datetime64[us]")
    if pd.api.types.is_datetime64_any_dtype(col.dtype):
        return col.astype("datetime64[us]")
    if col.dtype == object and len(col.dropna()) and hasattr(col.dropna().iloc[0], "isoformat"):
        return pd.to_datetime(col).astype("datetime64[us]")
    return col


def _keys(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    out = frame.copy()
    for k in keys:
        col = _norm(out[k])
        if pd.api.types.is_datetime64_any_dtype(col.dtype):
            out[k] = col.dt.strftime("%Y-%m-%d %H:%M:%S").fillna(_NULL_KEY)
        else:
            out[k] = col.astype("string").fillna(_NULL_KEY).astype(str)
    return out


def _canon(v):
    """One comparable Python value per cell, whatever the frame's dtype (outer joins turn ints into floats, bools
    into objects …): None, bool, float, Timestamp or str."""
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, bool | np.bool_):
        return bool(v)
    if isinstance(v, int | float | np.integer | np.floating):
        return None if np.isnan(float(v)) else float(v)
    if hasattr(v, "as_tuple"):  # Decimal
        return float(v)
    if hasattr(v, "isoformat"):
        ts = pd.Timestamp(v)
        return ts.tz_convert(None) if ts.tzinfo is not None else ts
    return str(v)


def _same(a: pd.Series, b: pd.Series, tol: float | None) -> pd.Series:
    out = []
    for x, y in zip(map(_canon, a.tolist()), map(_canon, b.tolist()), strict=True):
        if x is None or y is None:
            out.append(x is None and y is None)
        elif tol is not None and isinstance(x, float) and isinstance(y, float):
            out.append(abs(x - y) <= tol)
        else:
            out.append(x == y and type(x) is type(y))
    return pd.Series(out, index=a.index)


def mismatches(mine: pd.DataFrame, mart: pd.DataFrame, keys: list[str], exact: list[str] = (),
               approx: list[str] = (), tol: float = 1e-9, fill_mine: dict | None = None,
               fill_mart: dict | None = None) -> dict[str, pd.DataFrame]:
    """Outer join on `keys`; per compared column the rows that differ. A row on one side only is reported under
    'missing in mart' / 'missing in independent' unless a fill dict says what an absent row means (e.g. zero
    counts for a funnel stage nobody reached)."""
    cols = [*exact, *approx]
    a = _keys(mine[[*keys, *cols]], keys)
    b = _keys(mart[[*keys, *cols]], keys)
    dup_a, dup_b = a.duplicated(keys).sum(), b.duplicated(keys).sum()
    problems: dict[str, pd.DataFrame] = {}
    if dup_a:
        problems["duplicate keys in independent"] = a[a.duplicated(keys, keep=False)]
    if dup_b:
        problems["duplicate keys in mart"] = b[b.duplicated(keys, keep=False)]
    m = a.merge(b, on=keys, how="outer", suffixes=("_independent", "_mart"), indicator=True)
    for side, fill, which in (("mart", fill_mart, "left_only"), ("independent", fill_mine, "right_only")):
        only = m["_merge"] == which
        if not only.any():
            continue
        if fill is None:
            problems[f"missing in {side}"] = m.loc[only, keys]
            m = m[~only]
            continue
        for c in cols:
            if c in fill:
                col = f"{c}_{side}"
                m[col] = m[col].astype(object)
                m.loc[only, col] = fill[c]
    for c in cols:
        same = _same(m[f"{c}_independent"], m[f"{c}_mart"], tol if c in approx else None)
        if not same.all():
            problems[c] = m.loc[~same.to_numpy(), [*keys, f"{c}_independent", f"{c}_mart"]]
    return problems


def report(problems: dict[str, pd.DataFrame], what: str) -> str:
    lines = [f"{what}: independent implementation and mart disagree"]
    for name, rows in problems.items():
        lines.append(f"-- {name}: {len(rows)} row(s); first {min(len(rows), SHOW)}:")
        with pd.option_context("display.width", 250, "display.max_columns", 30, "display.max_colwidth", 40):
            lines.append(rows.head(SHOW).to_string(index=False))
    return "\n".join(lines)


def assert_match(mine: pd.DataFrame, mart: pd.DataFrame, keys: list[str], what: str, **kwargs) -> None:
    __tracebackhide__ = True  # the message has the differing rows; the frame locals would only bury them
    problems = mismatches(mine, mart, keys, **kwargs)
    assert not problems, report(problems, what)
