"""Every row-level defect of the corpus at once (tests/corpus/defects.py), built for real with dbt: the build
passes, each bad row is set aside with its file, row, column and rule, the counts add up, nothing bad reaches
the marts, formula text arrives as plain text and leaves every spreadsheet export neutralised, and one instant
written in four time zones is one business time in staging."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import TYPE_CHECKING

import duckdb
import pandas as pd
import pytest
from corpus.defects import (
    AT_SUM,
    CMD,
    EXPECTED_COUNTS,
    EXPECTED_REJECTED,
    HYPERLINK,
    HYPERLINK_ACCOUNT,
    HYPERLINK_CHANNEL,
    HYPERLINK_OPPORTUNITY,
    MINUS_CMD,
    QUOTED_NEWLINE_NAME,
    SAME_INSTANT,
)

from closedloop import contract
from closedloop.landing import LOAD_REPORT, REJECTED
from closedloop.rejected import write_rejected
from closedloop.spreadsheet import csv_bytes, xlsx_bytes

if TYPE_CHECKING:
    from conftest import Defects

FORMULAS = {HYPERLINK, CMD, MINUS_CMD, AT_SUM, HYPERLINK_ACCOUNT, HYPERLINK_OPPORTUNITY, HYPERLINK_CHANNEL}


@pytest.fixture(scope="module")
def con(defects: Defects) -> duckdb.DuckDBPyConnection:
    c = duckdb.connect(str(defects.warehouse), read_only=True)
    yield c
    c.close()


def test_build_passes_and_counts_add_up(defects: Defects) -> None:
    assert defects.warehouse.exists()
    for key, report in defects.tables.items():
        assert report.rows_read == report.rows_loaded + report.rows_rejected, key
        if key in EXPECTED_COUNTS:
            assert (report.rows_read, report.rows_loaded, report.rows_rejected) == EXPECTED_COUNTS[key], key
        else:
            assert report.status == "absent", key
    landed = pd.read_parquet(defects.landing / LOAD_REPORT)
    assert (landed["rows_read"] == landed["rows_loaded"] + landed["rows_rejected"]).all()
    assert defects.tables["crm/leads"].warnings_by_rule == {"foreign_key owner_user_id": 1}
    assert "备注" in defects.tables["crm/opportunities"].extra_columns


def test_every_bad_row_is_set_aside_with_file_row_column_rule(defects: Defects) -> None:
    rejected = pd.read_parquet(defects.landing / REJECTED)
    got = sorted(zip(rejected["table_key"], rejected["file"], rejected["row"], rejected["column_name"],
                     rejected["rule"], strict=True))
    assert got == EXPECTED_REJECTED
    # The 10 MB value is reported by its first characters and its length, not stored whole.
    too_long = rejected[rejected["rule"] == "too_long"].iloc[0]
    assert len(too_long["value"]) < 300 and "10,485,760 characters" in too_long["value"]


def test_landed_counts_are_what_the_warehouse_holds(defects: Defects, con: duckdb.DuckDBPyConnection) -> None:
    for key, (_, loaded, _) in EXPECTED_COUNTS.items():
        table = contract.table(key)
        count = con.execute(f"select count(*) from staging.stg_{table.family}__{table.name}").fetchone()[0]
        assert count == loaded, key


def test_nothing_set_aside_reaches_the_marts(con: duckdb.DuckDBPyConnection) -> None:
    ids = {r[0] for r in con.execute("select opportunity_id from marts.fct_opportunities").fetchall()}
    assert ids == {"O1", "O2", "O3", "O9", "O10", "O11", "O12", "O13", "O21", "O22", "O24", "O25"}
    orphans = con.execute("""
        select count(*) from marts.fct_opportunities o
        where o.account_id not in (select account_id from marts.dim_account)
           or o.owner_user_id not in (select user_id from marts.dim_user)""").fetchone()[0]
    assert orphans == 0
    # The newer version of a duplicated key is the one loaded.
    o1 = con.execute("select amount, opportunity_name, 备注 from staging.stg_crm__opportunities "
                     "where opportunity_id = 'O1'").fetchone()
    assert (float(o1[0]), o1[1], o1[2]) == (120000.0, QUOTED_NEWLINE_NAME, "renewal")
    l1 = con.execute("select company_name from staging.stg_crm__leads where lead_id = 'L1'").fetchone()[0]
    assert l1 == "华为技术"


def test_gbk_and_utf16_text_arrives_intact(con: duckdb.DuckDBPyConnection) -> None:
    users = dict(con.execute("select user_id, user_name from marts.dim_user").fetchall())
    assert users["U1"] == "张伟" and users["U2"] == "李娜"
    assert con.execute("select priority from staging.stg_service__tickets").fetchall() == [("high",)]


def test_mixed_time_zones_land_on_one_business_instant(con: duckdb.DuckDBPyConnection) -> None:
    rows = dict(con.execute("select opportunity_id, created_at from staging.stg_crm__opportunities "
                            f"where opportunity_id in ({', '.join(repr(k) for k in SAME_INSTANT)})").fetchall())
    assert rows == dict.fromkeys(SAME_INSTANT, dt.datetime(2026, 2, 1, 10, 0))
    # A Parquet timestamp with a zone (01:00 UTC) is 09:00 in Shanghai; an Excel date cell is midnight.
    typed = dict(con.execute("select opportunity_id, created_at from staging.stg_crm__opportunities "
                             "where opportunity_id in ('O25', 'O24', 'O22')").fetchall())
    assert typed == {"O25": dt.datetime(2026, 3, 5, 9, 0), "O24": dt.datetime(2026, 3, 3, 0, 0),
                     "O22": dt.datetime(2026, 3, 1, 9, 0)}


def test_formula_text_reaches_the_marts_as_plain_text(con: duckdb.DuckDBPyConnection) -> None:
    accounts = {r[0] for r in con.execute("select account_name from marts.dim_account").fetchall()}
    users = {r[0] for r in con.execute("select user_name from marts.dim_user").fetchall()}
    channels = {r[0] for r in con.execute("select channel from marts.fct_leads").fetchall()}
    companies = {r[0] for r in con.execute("select company_name from staging.stg_crm__leads").fetchall()}
    assert {HYPERLINK_ACCOUNT, MINUS_CMD, AT_SUM} <= accounts
    assert {HYPERLINK, CMD} <= users
    assert HYPERLINK_CHANNEL in channels
    assert {CMD, HYPERLINK} <= companies


def _formula_cells(values) -> list[str]:
    return [v for v in values if isinstance(v, str) and v.startswith(("=", "+", "-", "@", "\t", "\r"))]


def test_spreadsheet_exports_neutralise_formula_text(con: duckdb.DuckDBPyConnection, tmp_path) -> None:
    accounts = con.execute("select * from marts.dim_account order by account_id").df()
    leads = con.execute("select * from marts.fct_leads order by lead_id").df()
    assert _formula_cells(accounts["account_name"]) and _formula_cells(leads["channel"])

    rows = list(csv.reader(io.StringIO(csv_bytes(accounts).decode("utf-8-sig"))))
    names = [r[rows[0].index("account_name")] for r in rows[1:]]
    assert not _formula_cells(names)
    assert {n[1:] for n in names if n.startswith("'")} == {HYPERLINK_ACCOUNT, MINUS_CMD, AT_SUM}

    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(xlsx_bytes([("accounts", accounts), ("leads", leads)])))
    cells = [c for sheet in book.worksheets for row in sheet.iter_rows() for c in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    texts = [c.value for c in cells if isinstance(c.value, str)]
    assert not _formula_cells(texts)
    assert {"'" + f for f in (HYPERLINK_ACCOUNT, MINUS_CMD, AT_SUM, HYPERLINK_CHANNEL)} <= set(texts)


def test_rows_set_aside_export_is_formula_safe(defects: Defects, tmp_path) -> None:
    from openpyxl import load_workbook

    book = load_workbook(write_rejected(defects.landing, tmp_path / "rejected.xlsx"))
    cells = [c for row in book.worksheets[0].iter_rows() for c in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    assert not _formula_cells(c.value for c in cells)
    assert "'-500" in {c.value for c in cells}  # a negative amount set aside, exported as text
    frame = pd.read_csv(write_rejected(defects.landing, tmp_path / "rejected.csv"), dtype=str, encoding="utf-8-sig")
    assert not _formula_cells(frame.to_numpy().ravel())
    assert len(frame) == len(EXPECTED_REJECTED)
