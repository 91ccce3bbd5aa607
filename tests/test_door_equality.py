"""The door in DuckDB (closedloop/door.py) against the previous door (GX's pandas path judging every row).

Both land the same raw folder; the landed Parquet of every table, `_rejected.parquet`, `_load_report.parquet` and
`_manifest.json` must be identical, value for value and type for type (tests/independent/doors.py). Inputs: every
row-level case of the malformed-input corpus, the defects folder (every defect in every format at once), the
three real sets through their mapping presets, and the session's scale-1 sample dirtied by bench/dirty.py
(every rule fires there, thousands of times). A scale-10 dirtied copy was compared once by hand
(bench/door_equality.py; docs/benchmarks.md, "Issue 17").
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from corpus.cases import CASES
from corpus.defects import MINIMAL, write_defects
from independent.doors import NOW, differences, land_with

from closedloop import contract, door, validate

PROJECT = Path(__file__).resolve().parent.parent
REALDATA = Path(__file__).parent / "fixtures" / "realdata"
REAL_SETS = {"maven": REALDATA / "maven_crm_sales_opportunities", "olist": REALDATA / "olist_marketing_funnel",
             "salesforce": REALDATA / "salesforce_developer_edition_sample_export"}
ROW_CASES = [c for c in CASES if not c.error]


@pytest.fixture(scope="module")
def gx_door() -> validate.Validator:
    """One GX context for every comparison in this module (starting one costs ~3 s)."""
    v = validate.Validator(now=NOW, door="gx")
    yield v
    v.close()


def _both(raw: Path, tmp_path: Path, gx_door: validate.Validator, mapping: str | None = None) -> Path:
    land_with("gx", raw, tmp_path / "gx", mapping, validator=gx_door)
    land_with("sql", raw, tmp_path / "sql", mapping)
    assert differences(tmp_path / "gx", tmp_path / "sql") == []
    return tmp_path / "sql"


@pytest.mark.slow  # ~3 s a case with GX judging every row; the defects folder below holds every defect at once
@pytest.mark.parametrize("case", ROW_CASES, ids=[c.id for c in ROW_CASES])
def test_corpus_case_lands_the_same_through_both_doors(case, tmp_path: Path, gx_door) -> None:
    raw = tmp_path / "raw"
    shutil.copytree(MINIMAL, raw)
    case.mutate(raw)
    _both(raw, tmp_path, gx_door)


def test_defects_folder_lands_the_same_through_both_doors(tmp_path: Path, gx_door) -> None:
    write_defects(tmp_path / "raw")
    landed = _both(tmp_path / "raw", tmp_path, gx_door)
    assert pq.read_table(landed / "_rejected.parquet").num_rows > 20


@pytest.mark.slow
@pytest.mark.parametrize("preset", sorted(REAL_SETS))
def test_real_set_lands_the_same_through_both_doors(preset: str, tmp_path: Path, gx_door) -> None:
    _both(REAL_SETS[preset], tmp_path, gx_door, mapping=preset)


@pytest.mark.slow
def test_dirtied_sample_lands_the_same_through_both_doors(sample, tmp_path: Path, gx_door) -> None:
    sys.path.insert(0, str(PROJECT / "bench"))
    from dirty import dirty

    dirty(sample.raw, tmp_path / "raw", rate=0.02, seed=7)
    landed = _both(tmp_path / "raw", tmp_path, gx_door)
    rules = set(pq.read_table(landed / "_rejected.parquet").column("rule").to_pylist())
    # Every rule the suites declare fired at least once, so the comparison covers each compiled predicate.
    declared = {e.rule for t in contract.tables() for e in validate.suite(t.key)}
    assert declared <= rules, declared - rules


def test_every_expectation_of_every_suite_compiles() -> None:
    compiled = door.compile_suites()
    assert sum(map(len, compiled.values())) == sum(len(validate.suite(k)) for k in compiled)


def test_an_expectation_type_without_sql_stops_validation_naming_it(tmp_path: Path, monkeypatch) -> None:
    odd = validate.Expectation({"type": "expect_column_values_to_be_json_parseable", "kwargs": {"column": "x"}},
                               "odd", "row", "reject")
    with pytest.raises(validate.SuiteError, match="expect_column_values_to_be_json_parseable"):
        door.failing_sql(odd, {})
    monkeypatch.setattr(validate, "suite", lambda key: (odd,))
    with pytest.raises(validate.SuiteError, match="expect_column_values_to_be_json_parseable"):
        door.compile_suites()


def test_an_unknown_door_is_refused(monkeypatch) -> None:
    monkeypatch.setenv("CLOSEDLOOP_DOOR", "pandas")
    with pytest.raises(validate.SuiteError, match="CLOSEDLOOP_DOOR"):
        validate.Validator()


def test_gx_rejudges_the_rows_set_aside_and_stops_on_a_disagreement(tmp_path: Path, monkeypatch) -> None:
    compiled = door.failing_sql

    def wrong(e, parameters, partition=None):  # a compilation bug: every opportunity "lacks" its id
        if e.rule == "required" and e.reported_column == "opportunity_id":
            return "true"
        return compiled(e, parameters, partition)

    monkeypatch.setattr(door, "failing_sql", wrong)
    with pytest.raises(validate.SuiteError, match="crm/opportunities.*disagree"):
        land_with("sql", MINIMAL, tmp_path / "landing")


def test_a_clean_export_never_starts_gx(tmp_path: Path) -> None:
    from closedloop import landing

    v = validate.Validator(now=NOW, door="sql")
    try:
        landing.land(MINIMAL, tmp_path / "landing", validator=v)
        assert pq.read_table(tmp_path / "landing" / "_rejected.parquet").num_rows == 0
        assert v._gx is None
    finally:
        v.close()
