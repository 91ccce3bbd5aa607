"""The value rules of issue 13 at the level of the macros validation and landing share (macros/staging.sql):
time zones against Python's zoneinfo, the `timezone_abbreviations` var, and that no model's date series is
unbounded. The corpus (tests/corpus/cases_values.py) runs the same rules through `closedloop validate`."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pandas as pd
import pytest

from closedloop import contract, validate

PROJECT = Path(__file__).resolve().parent.parent
BUSINESS = ZoneInfo("Asia/Shanghai")


def _typed(values: list[str], data_type: str = "timestamp") -> pd.DataFrame:
    """Each value's `x__parsed` and `x__issue`, as validation computes them (landing writes `x__parsed`'s macro)."""
    table = contract.Table("t", "t", False, (contract.Column("x", data_type, False),))
    frame = pd.DataFrame({"x": pd.Series(values, dtype=object)})
    with duckdb.connect() as con:
        return con.from_df(frame).project(
            f"{validate.shadow_sql(table, 'x__parsed')} as parsed, {validate.shadow_sql(table, 'x__issue')} as issue"
        ).df()


@pytest.fixture
def project_vars(monkeypatch: pytest.MonkeyPatch):
    """Render the macros with changed dbt vars (as if dbt_project.yml said so), then restore them."""
    base = contract.project_vars()

    def use(**changes: object) -> None:
        monkeypatch.setattr(contract, "project_vars", lambda: {**base, **changes})
        validate._macros.cache_clear()

    yield use
    monkeypatch.undo()
    validate._macros.cache_clear()


_ZONES = ["UTC", "Asia/Shanghai", "Europe/Berlin", "America/New_York", "America/Sao_Paulo", "Australia/Sydney",
          "Asia/Kolkata", "Europe/London", "Pacific/Auckland", "Asia/Kathmandu"]
# Days around the daylight-saving changes of 2026 in the zones above, and ordinary ones.
_INSTANTS = [dt.datetime(2026, m, d, h, 30) for m, d in [(1, 5), (3, 8), (3, 29), (4, 5), (7, 1), (10, 4), (10, 25),
                                                         (11, 1), (12, 31)] for h in (0, 9, 23)]


def test_iana_names_convert_as_zoneinfo_does() -> None:
    """Every IANA name converts to business time exactly as Python's zoneinfo converts it, DST included."""
    values, expected = [], []
    for zone in _ZONES:
        for local in _INSTANTS:
            values.append(f"{local:%Y-%m-%d %H:%M:%S} {zone}")
            expected.append(local.replace(tzinfo=ZoneInfo(zone)).astimezone(BUSINESS).replace(tzinfo=None))
    got = _typed(values)
    assert got["issue"].isna().all()
    assert [p.to_pydatetime() for p in got["parsed"]] == expected


@pytest.mark.parametrize(("value", "hours"), [
    ("2026-01-05T10:00:00Z", 0), ("2026-01-05 10:00:00 utc", 0), ("2026-01-05 10:00:00 GMT", 0),
    ("2026-01-05 10:00:00 UT", 0), ("2026-01-05 10:00:00+08", 8), ("2026-01-05 10:00:00 +0800", 8),
    ("2026-01-05 10:00:00 +08:00", 8), ("2026-01-05T10:00:00-5", -5), ("2026-01-05 10:00 GMT+8", 8),
    ("2026-01-05 10:00 UTC+05:30", 5.5), ("2026-01-05 10:00 GMT -05:00", -5), ("2026-01-05T10:00:00.250+0545", 5.75),
    ("2026-01-05 UTC", 0), ("2026-01-05 10:00:00 JST", 9), ("2026-01-05 10:00:00 CET", 1),
])
def test_offsets_and_unambiguous_names_convert(value: str, hours: float) -> None:
    wall = dt.datetime.fromisoformat(re.match(r"[\d-]+(?:[T ][\d:.]+)?", value).group().replace(" ", "T"))
    expected = wall - dt.timedelta(hours=hours) + dt.timedelta(hours=8)
    got = _typed([value])
    assert got["issue"].isna().all(), got["issue"][0]
    assert got["parsed"][0].to_pydatetime() == expected


@pytest.mark.parametrize(("value", "rule", "detail"), [
    ("2026-01-05 10:00:00 CST", "ambiguous_timezone", "China Standard Time (UTC+08:00), US Central Standard Time"),
    ("2026-01-05 10:00:00 cdt", "ambiguous_timezone", "US Central Daylight Time"),
    ("2026-01-05 10:00:00 IST", "ambiguous_timezone", "India Standard Time"),
    ("2026-01-05 10:00:00 BST", "ambiguous_timezone", "British Summer Time"),
    ("2026-01-05 10:00:00 Etc/GMT-8", "ambiguous_timezone", "means UTC+8"),
    ("2026-01-05 10:00:00 Atlantis/Capital", "unknown_timezone", "`Atlantis/Capital`"),
    ("2026-01-05 10:00:00 QQT", "unknown_timezone", "`QQT`"),
    ("2026-01-05 10:00:00 -13:75", "unknown_timezone", "`-13:75`"),
    ("0001-01-01", "implausible_date", "outside 1900-01-01 to 2100-12-31"),
    ("10000-01-01 00:00:00", "implausible_date", "outside"),
    ("2101-01-01T07:59:00+08:00", "implausible_date", "outside"),
    ("1899-12-31 23:00:00 -02:00", None, None),  # 1900-01-01 09:00 in Shanghai: plausible
])
def test_values_set_aside_with_their_rule(value: str, rule: str | None, detail: str | None) -> None:
    for data_type in ("timestamp", "date"):
        got = _typed([value], data_type)
        if rule is None:
            assert got["issue"].isna().all() and not got["parsed"].isna().any()
            continue
        assert got["parsed"].isna().all(), "a value set aside must not type"
        assert got["issue"][0].startswith(f"{rule}: ") and detail in got["issue"][0], got["issue"][0]


def test_a_var_says_what_cst_means(project_vars) -> None:
    """`timezone_abbreviations: {CST: "+08:00"}` reads CST as China Standard Time; an IANA name works too; the
    other ambiguous abbreviations stay set aside."""
    project_vars(timezone_abbreviations={"CST": "+08:00", "ist": "Asia/Kolkata"})
    got = _typed(["2026-01-05 10:00:00 CST", "2026-01-05 10:00:00 IST", "2026-01-05 10:00:00 BST"])
    assert list(got["parsed"][:2]) == [pd.Timestamp("2026-01-05 10:00:00"), pd.Timestamp("2026-01-05 12:30:00")]
    assert got["issue"][:2].isna().all()
    assert got["issue"][2].startswith("ambiguous_timezone: ")
    project_vars(timezone_abbreviations={"CST": "America/Chicago"})
    assert _typed(["2026-01-05 10:00:00 CST"])["parsed"][0] == pd.Timestamp("2026-01-06 00:00:00")


def test_plausible_bounds_come_from_the_vars(project_vars) -> None:
    project_vars(min_plausible_date="2000-01-01", max_plausible_date="2030-12-31")
    got = _typed(["1999-12-31", "2000-01-01", "2030-12-31 23:59:59", "2031-01-01"], "date")
    assert [p is pd.NaT or pd.isna(p) for p in got["parsed"]] == [True, False, False, True]
    assert got["issue"][0].startswith("implausible_date: outside 2000-01-01 to 2030-12-31")


@pytest.mark.parametrize(("data_type", "value"), [
    ("timestamp", "2026-01-05 10:00:00 CST"), ("timestamp", "2026-01-05 10:00:00 Mars/Base"),
    ("timestamp", "0001-01-01"), ("date", "10000-01-01"), ("decimal(18,2)", "12.345"), ("decimal(18,2)", "1e5"),
    ("decimal(18,2)", "1_000"), ("integer", "1.5"), ("integer", "1e3"), ("bigint", "1_000"),
])
def test_typing_macros_refuse_what_validation_sets_aside(data_type: str, value: str) -> None:
    """Without validation's try() the typing macro raises: nothing that uses it can type such a value silently."""
    macro = getattr(validate._macros(), validate._PARSERS[data_type])
    with duckdb.connect() as con, pytest.raises(duckdb.ConversionException):
        con.execute(f"select {macro('x')} from (select ? as x)", [value]).fetchall()


_SERIES = re.compile(r"\b(generate_series|range|cl_unnest_range|cl_unnest_days|cl_unnest_months)\s*\(")
# The engines' series primitives (macros/portable.sql: DuckDB's range/generate_series, Spark's sequence) take their
# bounds as arguments: the bound is checked where they are called, like a series written out.
PRIMITIVES = PROJECT / "macros" / "portable.sql"


def test_every_date_series_in_the_models_is_bounded() -> None:
    """Every generate_series / range in the dbt SQL (a spine over days or months), and every call of the portable
    series macros, goes through the plausible-date clamps (macros/date_spine.sql), so no model's cost depends on the
    span of raw dates without a bound."""
    unbounded = []
    for path in sorted([*(PROJECT / "models").rglob("*.sql"), *(PROJECT / "macros").rglob("*.sql")]):
        if path == PRIMITIVES:
            continue
        text = path.read_text(encoding="utf-8")
        sql = re.sub(r"\{%.*?%\}|\{#.*?#\}", "", text, flags=re.S)  # jinja statements and comments
        for m in _SERIES.finditer(sql):
            if "plausible_" not in sql[m.start():m.start() + 300]:
                unbounded.append(f"{path.relative_to(PROJECT)}: {sql[m.start():m.start() + 80]!r}")
    assert not unbounded, unbounded
    # in portable.sql only the series macros (checked at their calls above) build a series
    primitives = re.sub(r"\{#.*?#\}", "", PRIMITIVES.read_text(encoding="utf-8"), flags=re.S)
    for block in primitives.split("{% macro ")[1:]:
        name = block.split("(", 1)[0]
        if re.search(r"\b(generate_series|range|sequence)\s*\(", block):
            assert re.fullmatch(r"(\w+__)?cl_unnest_(range|days|months)", name), name
