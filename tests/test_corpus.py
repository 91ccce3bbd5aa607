"""The malformed-input corpus (tests/corpus/cases.py), each case through the real `closedloop` CLI in-process.

Every case asserts the exit code, the message, the counts invariant (rows read = rows loaded + rows set aside,
per table and in total) and the rows set aside (file, row, column, rule) as `validate --rejected` writes them.
A table-level case also runs `closedloop build` against a copy of a good warehouse (the session's `defects`
build) and checks that warehouse and its landing are untouched and still answer queries.

One Great Expectations context is shared by every case (`Validator` is patched to hand it out, its close() a
no-op): starting GX costs ~3 s, everything else is the code a user runs.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from corpus.cases import CASES, ROWS, TABLE_ERRORS, Case
from corpus.defects import MINIMAL

from closedloop import contract, landing, validate
from closedloop.cli import main

PROJECT = Path(__file__).resolve().parent.parent
# `validate` says "would load" (nothing is loaded), `build` and `land` say "loaded".
_LINE = re.compile(r"^  (?P<table>\S+)\s+(?:(?P<absent>absent) \(marts over it will be empty\)|(?P<read>[\d,]+) read"
                   r"\s+(?P<loaded>[\d,]+) (?:loaded|would load)\s+(?P<aside>[\d,]+) set aside"
                   r"(?:  \((?P<rules>[^)]*)\))?.*)$")
_TOTAL = re.compile(r"^(?P<read>[\d,]+) rows read, (?P<loaded>[\d,]+) would load, (?P<aside>[\d,]+) set aside\.$")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@pytest.fixture(scope="session")
def gx() -> validate.Validator:
    v = validate.Validator()
    yield v
    v.close()


class _Shared:
    """The session's validator, handed to code that would start (and close) its own."""

    def __init__(self, v: validate.Validator):
        self._v = v

    def __getattr__(self, name: str):
        return getattr(self._v, name)

    def close(self) -> None:
        pass


@pytest.fixture
def one_gx(monkeypatch: pytest.MonkeyPatch, gx: validate.Validator) -> None:
    monkeypatch.setattr(validate, "Validator", lambda *a, **k: _Shared(gx))


@dataclass(frozen=True)
class Previous:
    warehouse: Path  # a good build; its landing/ is beside it
    opportunities: int


@pytest.fixture(scope="session")
def previous(defects) -> Previous:
    """The last good warehouse a failing build must leave alone: the session's build of the defects folder
    (tests/conftest.py), reused rather than building another."""
    con = duckdb.connect(str(defects.warehouse), read_only=True)
    count = con.execute("select count(*) from marts.fct_opportunities").fetchone()[0]
    con.close()
    return Previous(defects.warehouse, count)


def _keeping(kept: Path, reports: list):
    """`landing.land` that also keeps a copy of what `validate` lands into its temporary folder, and the reports."""
    real = landing.land

    def land(raw_dir, landing_dir, *args, **kwargs):
        result = real(raw_dir, landing_dir, *args, **kwargs)
        shutil.copytree(landing_dir, kept)
        reports.extend(result)
        return result

    return land


def _raw(case: Case, tmp_path: Path) -> Path:
    raw = tmp_path / "raw"
    shutil.copytree(MINIMAL, raw)
    case.mutate(raw)
    return raw


def _tree(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(folder.rglob("*"))}


def _number(text: str) -> int:
    return int(text.replace(",", ""))


def _report(out: str) -> tuple[dict[str, tuple[int, int, int] | None], dict[str, dict[str, int]], tuple]:
    """Per table (read, loaded, set aside) or None when absent, rules per table, and the total line."""
    tables, rules, total = {}, {}, None
    for text in out.splitlines():
        if m := _LINE.match(text):
            if m["absent"]:
                tables[m["table"]] = None
                continue
            tables[m["table"]] = (_number(m["read"]), _number(m["loaded"]), _number(m["aside"]))
            rules[m["table"]] = {k: _number(v) for k, v in (r.rsplit(" ", 1) for r in m["rules"].split(", "))} \
                if m["rules"] else {}
        elif m := _TOTAL.match(text):
            total = (_number(m["read"]), _number(m["loaded"]), _number(m["aside"]))
    return tables, rules, total


def _assert_previous_untouched(raw: Path, tmp_path: Path, previous: Previous, case: Case,
                               capsys: pytest.CaptureFixture) -> None:
    served = tmp_path / "served"
    shutil.copytree(previous.warehouse.parent / "landing", served / "landing")
    warehouse = served / previous.warehouse.name
    shutil.copyfile(previous.warehouse, warehouse)
    before = (_tree(served / "landing"), hashlib.sha256(warehouse.read_bytes()).hexdigest())
    code = main(["build", "--raw", str(raw), "--warehouse", str(warehouse)])
    err = capsys.readouterr().err
    assert code == 1, err
    assert err.startswith("closedloop build: ") and re.search(case.error, err), err
    assert (_tree(served / "landing"), hashlib.sha256(warehouse.read_bytes()).hexdigest()) == before
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        for relation in ("marts.fct_opportunities", "staging.stg_crm__opportunities"):
            assert con.execute(f"select count(*) from {relation}").fetchone()[0] == previous.opportunities
    finally:
        con.close()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_corpus_case(case: Case, tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch,
                     one_gx: None, previous: Previous) -> None:
    raw = _raw(case, tmp_path)
    rejected_file = tmp_path / "rejected.csv"
    reports = []
    monkeypatch.setattr(landing, "land", _keeping(tmp_path / "landing", reports))
    code = main(["validate", "--raw", str(raw), "--fail-on-reject", "--rejected", str(rejected_file)])
    out, err = capsys.readouterr()

    if case.error:
        assert code == 1, out + err
        assert err.startswith("closedloop validate: ") and re.search(case.error, err), err
        assert "rows read" not in out
        _assert_previous_untouched(raw, tmp_path, previous, case, capsys)
        return

    assert code == (2 if case.rejected else 0), err
    tables, rules, total = _report(out)
    assert set(tables) == {t.key for t in contract.tables()}, out
    present = {k: v for k, v in tables.items() if v is not None}
    assert present == case.counts, out
    for key, (read, loaded, aside) in present.items():
        assert read == loaded + aside, f"{key}: {read} read != {loaded} loaded + {aside} set aside"
    assert total == tuple(map(sum, zip(*present.values(), strict=True)))
    assert total[0] == total[1] + total[2]
    for pattern in case.stdout:
        assert re.search(pattern, out, re.MULTILINE), f"{pattern!r} not in\n{out}"

    if not case.rejected:
        assert not rejected_file.exists()
        assert all(not r for r in rules.values()), out
    else:
        rejected = pd.read_csv(rejected_file, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        got = sorted((r.file, int(r.row), r.column_name or None, r.rule) for r in rejected.itertuples())
        assert got == sorted(case.rejected, key=lambda r: (r[0], r[1], r[2] or ""))
        by_rule: dict[str, Counter] = {}
        for r in rejected.drop_duplicates(["table_key", "file", "row", "rule"]).itertuples():
            by_rule.setdefault(r.table_key, Counter())[r.rule] += 1
        assert rules == {k: dict(by_rule.get(k, {})) for k in rules}
        for pattern in case.messages:
            assert rejected["message"].str.contains(pattern, regex=True).any(), (pattern, rejected["message"].tolist())
        # The export of rows set aside is formula-safe: no cell a spreadsheet would run.
        cells = [str(v) for v in rejected.to_numpy().ravel()]
        assert not [c for c in cells if c.startswith(_FORMULA_START)]

    assert {r.table: (r.rows_read, r.rows_loaded, r.rows_rejected) for r in reports if r.status != "absent"} \
        == case.counts
    for (key, column), values in case.landed.items():
        table = contract.table(key)
        frame = pd.read_parquet(tmp_path / "landing" / table.family / f"{table.name}.parquet")
        assert [None if pd.isna(v) else v for v in frame[column]] == values, (key, column)


def test_rows_set_aside_exit_0_without_fail_on_reject(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                      one_gx: None) -> None:
    case = next(c for c in ROWS if c.id == "negative_amount")
    assert main(["validate", "--raw", str(_raw(case, tmp_path))]) == 0
    assert "1 set aside." in capsys.readouterr().out


def test_corpus_covers_the_issue() -> None:
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids)) >= 30
    assert len(TABLE_ERRORS) >= 10 and len(ROWS) >= 30
    rules = {r[3] for c in ROWS for r in c.rejected}
    assert rules >= {"field_count", "bad_quoting", "nul_byte", "too_long", "required", "type_timestamp", "type_number",
                     "type_boolean", "allowed_values", "out_of_range", "non_negative", "future_date", "order",
                     "duplicate_key", "foreign_key"}


def test_docs_list_every_case() -> None:
    doc = (PROJECT / "docs" / "validation.md").read_text(encoding="utf-8")
    section = doc.split("## The malformed-input corpus", 1)[1]
    missing = [c.id for c in CASES if f"`{c.id}`" not in section]
    assert not missing, f"docs/validation.md does not list {missing}"
