"""The journey's search box finds a person by a phone typed in any spelling staging folds to the same number: the
dashboards' normaliser (dashboards/pii.py `normalised_phone`) gives what the dbt macro staging stores phones with
(macros/staging.sql `cl_phone`) on one list of spellings, the macro run by real dbt."""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb
import pytest

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from dashboards import access  # noqa: E402
from dashboards import queries as q  # noqa: E402
from dashboards.pii import normalised_phone  # noqa: E402

# (as typed, as stored)
PHONES = [
    ("13800138000", "13800138000"),
    ("138 0013 8000", "13800138000"),
    ("138-0013-8000", "13800138000"),
    ("+86 138 0013 8000", "13800138000"),
    ("+8613800138000", "13800138000"),
    ("0086 13800138000", "13800138000"),
    ("8613800138000", "13800138000"),
    ("１３８００１３８０００", "13800138000"),
    ("＋86 138 0013 8000", "13800138000"),
    ("  (138) 0013-8000 ", "13800138000"),
    ("+86 10 6552 8888", "01065528888"),
    ("0086-21-5888 1234", "02158881234"),
    ("010-6552 8888", "01065528888"),
    ("86 10 6552 8888", "861065528888"),  # no plus, not a mobile: kept as written
    ("12345", "12345"),
    ("+1 415 555 0100", "14155550100"),
    ("00861380013800", "01380013800"),   # 0086 before ten digits is not a mobile: a trunk 0 comes back
    ("tel:", None),
    ("", None),
]


def test_the_search_normalises_phones_as_staging_does(tmp_path):
    from closedloop.build import run_dbt

    values = ", ".join("(" + str(i) + ", '" + typed.replace("'", "''") + "')" for i, (typed, _) in enumerate(PHONES))
    sql = f"select i, {{{{ cl_phone('typed') }}}} as stored from (values {values}) as cases(i, typed) order by i"
    result = run_dbt(["show", "--inline", sql, "--limit", str(len(PHONES))], landing_dir=tmp_path,
                     warehouse=tmp_path / "scratch.duckdb", out=None, target_path=tmp_path / "target")
    assert result.success, result.exception
    table = result.result.results[0].agate_table
    by_macro = {int(row["i"]): row["stored"] for row in table.rows}
    assert len(by_macro) == len(PHONES)
    for i, (typed, stored) in enumerate(PHONES):
        assert by_macro[i] == stored, (typed, by_macro[i])
        assert normalised_phone(typed) == stored, typed


def test_a_person_is_found_by_any_spelling_of_their_phone(sample, monkeypatch):
    monkeypatch.setenv(q.ENV_WAREHOUSE, str(sample.warehouse))
    monkeypatch.delenv(access.ENV_ACCESS, raising=False)
    con = duckdb.connect(str(sample.warehouse), read_only=True)
    try:
        phone, person = con.execute("""
            select identifier_value, any_value(person_id) from marts.bridge_person_identifier
            where identifier_type = 'phone' and regexp_full_match(identifier_value, '1[3-9][0-9]{9}')
            group by identifier_value having count(distinct person_id) = 1
            order by identifier_value limit 1""").fetchone()
    finally:
        con.close()
    full_width = phone.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    for typed in (phone, f"+86 {phone[:3]} {phone[3:7]} {phone[7:]}", f"0086-{phone}", full_width,
                  f"({phone[:3]}) {phone[3:7]}-{phone[7:]}"):
        assert q.search_person(typed) == person, typed
    # what the viewer may not see is not searched
    with q.viewing(access.Access(None, row_level=True, see_pii=False, company_benchmark=True)):
        assert q.search_person(phone) is None


@pytest.mark.parametrize("typed", ["+86 10 6552 8888", "010-6552 8888", "01065528888"])
def test_a_landline_is_one_number_however_written(typed):
    assert normalised_phone(typed) == "01065528888"
