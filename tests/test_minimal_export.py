"""A company with only users and opportunities (no marketing tool) still gets a warehouse (docs/input-contract.md)."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import duckdb
import pytest

from closedloop.build import build
from closedloop.cli import main
from closedloop.landing import LandingError, land

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def thin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    warehouse = tmp_path_factory.mktemp("thin") / "warehouse.duckdb"
    build(FIXTURES / "minimal_export", warehouse, out=io.StringIO())
    return warehouse


def test_absent_tables_land_empty_and_are_reported(tmp_path: Path) -> None:
    reports = {r.table: r for r in land(FIXTURES / "minimal_export", tmp_path)}
    assert reports["crm/opportunities"].rows_loaded == 3
    assert reports["crm/leads"].status == "absent"
    assert reports["campaign/touches"].status == "absent"
    assert "stage" not in reports["crm/opportunities"].missing_optional_columns
    assert "loss_reason" in reports["crm/opportunities"].missing_optional_columns


def test_thin_export_builds_with_typed_staging(thin: Path) -> None:
    con = duckdb.connect(str(thin), read_only=True)
    rows = con.execute(
        "select opportunity_id, created_at, amount, is_won, close_date "
        "from staging.stg_crm__opportunities order by 1").fetchall()
    # Offset-less time is business time; an explicit +08:00 is the same instant; absent column is a typed null.
    assert rows[0][1] == dt.datetime(2026, 1, 5, 10, 0)
    assert rows[2][1] == dt.datetime(2026, 3, 1, 8, 0)
    assert float(rows[2][2]) == 80000.5
    assert [r[3] for r in rows] == [True, False, False]
    assert rows[0][4] is None
    assert con.execute("select count(*) from staging.stg_crm__leads").fetchall()[0][0] == 0


def test_missing_required_table_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "crm").mkdir()
    (tmp_path / "crm" / "users.csv").write_text("user_id,user_name,department_id,role\nU1,a,D1,sales\n")
    with pytest.raises(LandingError, match=r"required table `crm/opportunities`"):
        land(tmp_path, tmp_path / "landing")


def test_missing_required_column_names_file_and_column(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    raw = tmp_path / "raw"
    (raw / "crm").mkdir(parents=True)
    (raw / "crm" / "users.csv").write_text("user_id,user_name,department_id,role\nU1,a,D1,sales\n")
    (raw / "crm" / "opportunities.csv").write_text("opportunity_id,account_id\nO1,A1\n")
    code = main(["build", "--raw", str(raw), "--warehouse", str(tmp_path / "w.duckdb")])
    err = capsys.readouterr().err
    assert code == 1
    assert "crm/opportunities.csv" in err and "owner_user_id" in err
    assert not (tmp_path / "w.duckdb").exists()
