"""Properties of the mapping layer over random vendor files: the output equals a plain-Python computation of the
mapping, no row is lost or invented, provenance (`__file`, `__row`) is the vendor file's, and what a mapping does
not know passes through unchanged."""

from __future__ import annotations

import csv
import datetime as dt
import tempfile
from decimal import Decimal
from pathlib import Path

import pandas as pd
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from closedloop.mapping import EXCLUDED_RULE, ColumnSpec, apply_map, clean_number, load_mapping, parse_dates
from closedloop.readers import FILE, ROW

IO = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FAST = settings(max_examples=200, deadline=None)

# Vendor text: anything a CSV cell can hold except NUL (the reader rejects it) and lone surrogates (not UTF-8).
TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=8)
CELL = st.one_of(st.none(), TEXT)
NAME = st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,7}", fullmatch=True)
MISSING = object()


@st.composite
def vendor_frames(draw, min_columns: int = 2):
    names = draw(st.lists(NAME, min_size=min_columns, max_size=5, unique_by=str.lower))
    n = draw(st.integers(0, 25))
    rows = [[draw(CELL) for _ in names] for _ in range(n)]
    return names, rows


def is_row(row: list) -> bool:
    """The reader skips lines whose fields are all empty (`,,,`: an empty spreadsheet row)."""
    return any(v not in (None, "") for v in row)


def read_back(value: str | None) -> str | None:
    """What a vendor cell is after the reader: text, with an empty cell as None."""
    return None if value in (None, "") else value


def expected_map(value: str | None, table: dict, default=MISSING) -> str | None:
    if value is None:
        result = table.get(None)
    elif value.strip() in table:
        result = table[value.strip()]
    elif default is not MISSING:
        result = default
    else:
        result = value
    return None if result == "" else result


def run_mapping(names: list[str], rows: list[list], tables: dict) -> tuple[pd.DataFrame, list]:
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw"
        raw.mkdir()
        with (raw / "v.csv").open("w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(names)
            writer.writerows([["" if v is None else v for v in row] for row in rows])
        path = Path(tmp) / "m.yml"
        path.write_text(yaml.safe_dump({"tables": tables}), encoding="utf-8")  # escaped: PyYAML mangles a raw NEL
        inputs = load_mapping(path).inputs(raw, chunk_rows=7)
        frames, rejections = [], []
        for chunk in next(iter(inputs.values())).chunks():
            frames.append(chunk.frame)
            rejections += chunk.rejections
        return pd.concat(frames, ignore_index=True), rejections


@st.composite
def column_specs(draw, names: list[str], rows: list[list]):
    """A random rename, constant or value map (with or without default) and its plain-Python meaning."""
    kind = draw(st.sampled_from(["column", "const", "map"]))
    if kind == "const":
        value = draw(CELL)
        return {"const": value}, lambda row: read_back(value)
    index = draw(st.integers(0, len(names) - 1))
    name = draw(st.sampled_from([names[index], names[index].upper(), names[index].lower()]))
    if kind == "column":
        return name, lambda row: read_back(row[index])
    seen = [read_back(r[index]).strip() for r in rows if read_back(r[index]) is not None]
    keys = draw(st.lists(st.one_of(st.sampled_from(seen) if seen else TEXT, TEXT, st.none()), max_size=4))
    table = {k: draw(CELL) for k in keys}
    spec = {"column": name, "map": table}
    default = MISSING
    if draw(st.booleans()):
        default = draw(CELL)
        spec["default"] = default
    if not table:
        spec = name  # an empty map is not allowed; a rename then
        return spec, lambda row: read_back(row[index])
    return spec, lambda row: expected_map(read_back(row[index]), table, default)


@IO
@given(st.data())
def test_renames_constants_and_maps_equal_plain_python(data):
    names, rows = data.draw(vendor_frames())
    targets = ["lead_id", "created_at", "channel", "status", "email", "region"]
    specs = {t: data.draw(column_specs(names, rows)) for t in targets}
    frame, rejections = run_mapping(names, rows, {"crm/leads": {"file": "v", "columns": {
        t: s for t, (s, _) in specs.items()}}})
    lines = [i for i, row in enumerate(rows) if is_row(row)]
    assert rejections == []
    assert frame[FILE].tolist() == ["v.csv"] * len(lines)
    assert frame[ROW].tolist() == [i + 2 for i in lines]
    for target, (_, meaning) in specs.items():
        assert frame[target].tolist() == [meaning(rows[i]) for i in lines], target


@IO
@given(vendor_frames(), st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00'"), st.data())
def test_where_partitions_rows_into_output_and_exclusions(frame_data, prefix, data):
    names, rows = frame_data
    index = data.draw(st.integers(0, len(names) - 1))
    keep = f"starts_with(\"{names[index]}\", '{prefix}')"
    frame, rejections = run_mapping(names, rows, {"crm/lead_events": {
        "file": "v", "where": {"keep": keep, "reason": "not ours"},
        "columns": {"lead_id": names[0], "event_at": names[-1], "event_type": {"const": "created"}}}})
    lines = [i for i, row in enumerate(rows) if is_row(row)]
    kept = [i for i in lines if read_back(rows[i][index]) is not None and read_back(rows[i][index]).startswith(prefix)]
    assert frame[ROW].tolist() == [i + 2 for i in kept]
    assert frame["lead_id"].tolist() == [read_back(rows[i][0]) for i in kept]
    assert sorted(r.row for r in rejections) == [i + 2 for i in lines if i not in kept]
    assert all(r.rule == EXCLUDED_RULE and r.message == "not ours" and r.file == "v.csv" for r in rejections)
    assert len(frame) + len(rejections) == len(lines)


@IO
@given(vendor_frames(), st.data())
def test_distinct_gives_each_key_once_at_its_first_row(frame_data, data):
    names, rows = frame_data
    index = data.draw(st.integers(0, len(names) - 1))
    frame, rejections = run_mapping(names, rows, {"crm/departments": {
        "file": "v", "distinct": "department_id",
        "columns": {"department_id": names[index], "department_name": names[0]}}})
    first: dict[str, int] = {}
    for i, row in enumerate(rows):
        key = read_back(row[index]) if is_row(row) else None
        if key is not None and key not in first:
            first[key] = i
    assert rejections == []
    assert frame["department_id"].tolist() == list(first)
    assert frame[ROW].tolist() == [i + 2 for i in first.values()]
    assert frame["department_name"].tolist() == [read_back(rows[i][0]) for i in first.values()]


@FAST
@given(st.lists(CELL, max_size=20), st.data())
def test_value_map_in_memory(values, data):
    keys = data.draw(st.lists(st.one_of(st.sampled_from([v.strip() for v in values if v]) if any(values) else TEXT,
                                        TEXT, st.none()), min_size=1, max_size=5))
    table = {k: data.draw(CELL) for k in keys}
    default = data.draw(st.one_of(st.just(MISSING), CELL))
    spec = ColumnSpec("x", column=("x",), map=table) if default is MISSING else ColumnSpec(
        "x", column=("x",), map=table, default=default)
    series = pd.Series([read_back(v) for v in values], dtype=object)
    assert apply_map(series, spec).tolist() == [expected_map(read_back(v), table, default) for v in values]


FORMATS = ["%Y-%m-%d %H:%M:%S", "%d/%m/%Y %H:%M", "%Y/%m/%d", "%Y年%m月%d日 %H:%M:%S", "%m-%d-%Y", "%Y%m%d%H%M%S"]
STAMPS = st.datetimes(min_value=dt.datetime(1901, 1, 1), max_value=dt.datetime(2099, 12, 31)).map(
    lambda d: d.replace(microsecond=0))


def iso(stamp: dt.datetime, fmt: str, date_only: bool) -> str:
    parsed = dt.datetime.strptime(stamp.strftime(fmt), fmt)
    if date_only:
        return parsed.date().isoformat()
    return parsed.isoformat() if any(d in fmt for d in ("%H", "%M", "%S")) else parsed.date().isoformat()


@FAST
@given(st.lists(STAMPS, max_size=10), st.sampled_from(FORMATS), st.lists(TEXT, max_size=5), st.booleans())
def test_date_formats_give_iso_and_leave_the_rest(stamps, fmt, junk, date_only):
    junk = [j for j in junk if j.strip() and not _parses(j.strip(), fmt)]
    values = [s.strftime(fmt) for s in stamps] + junk
    out = parse_dates(pd.Series(values, dtype=object), ColumnSpec("x", column=("x",), date_formats=(fmt,)), date_only)
    assert out.tolist() == [iso(s, fmt, date_only) for s in stamps] + junk


def _parses(text: str, fmt: str) -> bool:
    try:
        dt.datetime.strptime(text, fmt)
    except ValueError:
        return False
    return True


@FAST
@given(st.lists(STAMPS, max_size=10), st.sampled_from(["%d/%m/%Y", "%d.%m.%Y %H:%M", "%d-%m-%y %H:%M:%S"]))
def test_dayfirst(stamps, fmt):
    stamps = [s for s in stamps if "%y" not in fmt or 1969 <= s.year <= 2068]
    out = parse_dates(pd.Series([s.strftime(fmt) for s in stamps], dtype=object),
                      ColumnSpec("x", column=("x",), dayfirst=True))
    assert out.tolist() == [iso(s, fmt, False) for s in stamps]


@FAST
@given(st.lists(st.dates(min_value=dt.date(1900, 3, 1), max_value=dt.date(9999, 12, 31)), max_size=10))
def test_excel_serials(dates):
    serials = [str((d - dt.date(1899, 12, 30)).days) for d in dates]
    out = parse_dates(pd.Series(serials, dtype=object), ColumnSpec("x", column=("x",), excel_serial=True))
    assert out.tolist() == [d.isoformat() for d in dates]


@FAST
@given(st.lists(st.decimals(min_value=-10**12, max_value=10**12, places=2, allow_nan=False), max_size=10),
       st.sampled_from(["{:,}", "¥{:,}", "{:,}元", "{}", " {} "]))
def test_numbers_lose_separators_and_currency_only(amounts, pattern):
    values = [pattern.format(a) for a in amounts]
    out = clean_number(pd.Series(values, dtype=object))
    assert [Decimal(v) for v in out] == amounts
