"""Publishing keeps the last N builds and rolls back atomically; every build leaves a line in the run history."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import duckdb
import pytest

from closedloop import publish, runs
from closedloop.build import build
from closedloop.paths import ConfigError, landing_root_for


def _fake_build(warehouse: Path, build_id: str, value: int) -> None:
    """A working file and a landing folder as a real build leaves them, holding one number."""
    working = warehouse.parent / ".building" / warehouse.name
    working.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(working))
    con.execute(f"create table marker as select {value} as v")
    con.close()
    (landing_root_for(warehouse) / build_id).mkdir(parents=True)
    publish.publish(working, warehouse, build_id, keep=2)


def _served_value(warehouse: Path) -> int:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute("select v from marker").fetchall()[0][0]
    finally:
        con.close()


def test_publish_keeps_the_newest_builds_and_rollback_walks_back(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    for i, build_id in enumerate(["20260101T000000-1", "20260102T000000-1", "20260103T000000-1"], start=1):
        _fake_build(warehouse, build_id, i)
        assert _served_value(warehouse) == i
    assert publish.kept_builds(warehouse) == ["20260102T000000-1", "20260103T000000-1"]
    assert sorted(p.name for p in landing_root_for(warehouse).iterdir() if p.is_dir()) == publish.kept_builds(
        warehouse)
    assert publish.rollback(warehouse) == ("20260103T000000-1", "20260102T000000-1")
    assert _served_value(warehouse) == 2 and publish.served_build(warehouse) == "20260102T000000-1"
    with pytest.raises(ConfigError, match="no earlier build to roll back to"):
        publish.rollback(warehouse)
    assert publish.rollback(warehouse, to="20260103T000000-1")[1] == "20260103T000000-1"
    assert _served_value(warehouse) == 3
    with pytest.raises(ConfigError, match="is not kept"):
        publish.rollback(warehouse, to="20250101T000000-1")


def test_a_reader_holding_the_old_file_keeps_its_data_through_a_publish(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    _fake_build(warehouse, "20260101T000000-1", 1)
    reader = duckdb.connect(str(warehouse), read_only=True)
    _fake_build(warehouse, "20260102T000000-1", 2)
    assert reader.execute("select v from marker").fetchall() == [(1,)]  # the open connection still sees build 1
    reader.close()
    assert _served_value(warehouse) == 2  # the next query sees build 2


def test_the_defects_build_recorded_its_run(defects) -> None:
    history = runs.history(defects.warehouse)
    assert history[-1].status == "published"
    last = history[-1]
    assert last.rows_read == last.rows_loaded + last.rows_set_aside and last.rows_set_aside > 0
    assert last.tests_failed == 0 and last.tests_passed > 300
    con = duckdb.connect(str(defects.warehouse), read_only=True)
    try:
        rows = con.execute("select run_id, status, rows_set_aside, data_as_of from ops.closedloop_runs").fetchall()
    finally:
        con.close()
    assert rows[-1][:3] == (last.run_id, "published", last.rows_set_aside) and rows[-1][3] is not None
    assert json.loads(json.dumps(last.sources))["crm/opportunities"][0] >= 1


def test_a_failed_build_is_recorded_and_changes_nothing(defects, tmp_path: Path) -> None:
    folder = tmp_path / "served"
    shutil.copytree(defects.warehouse.parent, folder, ignore=shutil.ignore_patterns(".building", "*.lock"))
    warehouse = folder / defects.warehouse.name
    before = warehouse.read_bytes()
    raw = tmp_path / "raw"
    shutil.copytree(defects.raw, raw)
    (raw / "crm" / "users.csv").write_text("user_id,name\nU1,x\n", encoding="utf-8")
    for extra in (raw / "crm").glob("users_*"):
        extra.unlink()
    with pytest.raises(Exception, match="required column"):
        build(raw, warehouse, out=io.StringIO())
    assert warehouse.read_bytes() == before
    last = runs.history(warehouse)[-1]
    assert last.status == "failed" and "required column" in last.message
    assert not (landing_root_for(warehouse) / last.run_id).exists()  # its landing was removed

