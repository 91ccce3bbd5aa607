"""Issue 13, "every failure is one sentence, and nothing wedges": hostile paths, full disks, damaged warehouses.

One small company (scale 0.05) is built for real (dbt, DuckDB) into folders whose names are SQL: a quote, a double
quote, `; drop table x; --`, braces and a newline. The same warehouse then meets a disk that fills at every step of
a build (fault-injected, and for real on a small tmpfs) and a 64 KB overwrite in the middle of the served file.
"""

from __future__ import annotations

import errno
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import duckdb
import pytest

from closedloop import build as build_module
from closedloop import publish, runs
from closedloop.build import BuildError, build
from closedloop.cli import main
from closedloop.generate import generate
from closedloop.paths import landing_root_for, working_file_for

pytestmark = pytest.mark.slow  # builds warehouses of its own (hostile paths, full disks): not in make test-fast

SCALE = 0.05
HOSTILE = "it's \"x\"; drop table x; --"


def _served_answers(warehouse: Path) -> int:
    """The served warehouse answers a mart query and a staging view (which reads the landing it was built over)."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        leads = con.execute("select count(*) from marts.fct_leads").fetchone()[0]
        staged = con.execute("select count(*) from staging.stg_crm__leads").fetchone()[0]
    finally:
        con.close()
    assert leads > 0 and staged > 0
    return leads


def _cli(*argv: str, capsys) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """Raw, landing and warehouse under folder names that would end a SQL string literal or a format string."""
    root = tmp_path_factory.mktemp("ops") / HOSTILE
    raw = root / "raw 'a'; select 1; --"
    generate(raw, scale=SCALE, seed=7)
    warehouse = root / "wh {name}\n'; drop table marts.fct_leads; --" / "warehouse.duckdb"
    build(raw, warehouse, out=io.StringIO())
    first = publish.served_build(warehouse)
    build(raw, warehouse, out=io.StringIO())  # incremental, from the first
    return SimpleNamespace(root=root, raw=raw, warehouse=warehouse, first=first)


# ---- class 1: SQL with quoted values and names --------------------------------------------------------------------
def test_a_build_status_and_summary_under_hostile_folder_names(hostile, capsys) -> None:
    warehouse = hostile.warehouse
    history = runs.history(warehouse)
    assert [r.status for r in history] == ["published", "published"]
    assert [r.mode for r in history] == ["full", "incremental"]
    assert _served_answers(warehouse) > 0
    # The landing the staging views read is the served build's, under its hostile parent folder.
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        sql = con.execute("select sql from duckdb_views() where view_name = 'stg_crm__leads'").fetchone()[0]
    finally:
        con.close()
    assert str(landing_root_for(warehouse) / publish.served_build(warehouse)).replace("'", "''") in sql
    code, out, err = _cli("status", "--warehouse", str(warehouse), capsys=capsys)
    assert code == 0 and "marts.fct_leads" in out and not err
    code, out, err = _cli("summary", "--warehouse", str(warehouse), capsys=capsys)
    assert code == 0 and "New leads this month" in out and not err


def test_landing_quotes_every_path(tmp_path: Path, hostile) -> None:
    """`closedloop land` alone, into a landing folder whose name is an injection: every table lands."""
    from closedloop.landing import land

    target = tmp_path / "landing'); copy (select 1) to '/tmp/pwned.csv'; --"
    reports = land(hostile.raw, target)
    assert all((target / r.table.split("/")[0] / (r.table.split("/")[1] + ".parquet")).is_file() for r in reports)
    assert sum(r.rows_loaded for r in reports) > 0
    assert not Path("/tmp/pwned.csv").exists()


def test_sql_helpers_quote_exactly() -> None:
    from closedloop.sql import ident, literal, literal_list

    con = duckdb.connect()
    for text in ["it's", 'say "hi"', "a; drop table x; --", "line\nbreak", "{name}", "\\'", "'"]:
        assert con.execute(f"select {literal(text)}").fetchone()[0] == text
        assert con.execute(f"select 1 as {ident(text)}").description[0][0] == text
    values = ["a", "b'c"]
    assert con.execute(f"select {literal_list(values)}").fetchone()[0] == values
    with pytest.raises(ValueError):
        literal("nul\x00")


# ---- class 2: a full disk at any step changes nothing served, leaves nothing behind -----------------------------
def _enospc(path: object = None) -> OSError:
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path) if path is not None else None)


def _fault_points(warehouse: Path):
    """(step, install) pairs: each install makes that step of a build fail as a full disk does."""
    real_append, real_replace = runs.append, os.replace

    def at_landing(mp):
        def fail(landing_dir, *a, **k):
            raise _enospc(landing_dir / "_rejected.parquet")
        mp.setattr("closedloop.landing._write_reports", fail)

    def in_dbt(mp):
        mp.setattr(build_module, "run_dbt", lambda *a, **k: SimpleNamespace(
            success=False, result=None,
            exception=RuntimeError('IO Error: Could not write file "x.duckdb.tmp": No space left on device')))

    def at_run_table(mp):
        mp.setattr(runs, "write_table", lambda database, *_: (_ for _ in ()).throw(_enospc(database)))

    def at_sync(mp):
        mp.setattr(publish, "_fsync_file", lambda path: (_ for _ in ()).throw(_enospc(path)))

    def at_kept_link(mp):
        mp.setattr(publish, "link_or_copy", lambda source, target: (_ for _ in ()).throw(_enospc(target)))

    def at_history(mp):
        def append(wh, run):
            if run.status == "published":
                raise _enospc(runs.history_path(wh))
            real_append(wh, run)
        mp.setattr(runs, "append", append)

    def at_switch(mp):
        def replace(src, dst, *a, **k):
            if Path(dst) == warehouse:
                raise _enospc(dst)
            return real_replace(src, dst, *a, **k)
        mp.setattr(publish.os, "replace", replace)

    return [("landing", at_landing), ("dbt", in_dbt), ("run table", at_run_table), ("sync", at_sync),
            ("kept link", at_kept_link), ("run history", at_history), ("switch", at_switch)]


def _fake_dbt(template: Path):
    """dbt's part of a build, replayed: the working file becomes a copy of a real build (so a fault-injected build
    takes seconds); everything else (landing, checksums, history, publish) runs for real."""
    def run_dbt(args, landing_dir, working, out=None, target_path=None):
        if args[0] == "build":
            shutil.copyfile(template, working)
        return SimpleNamespace(success=True, result=SimpleNamespace(results=[]), exception=None)
    return run_dbt


def test_a_full_disk_at_every_step_leaves_the_served_warehouse_answering(hostile, monkeypatch) -> None:
    warehouse = hostile.warehouse
    served = publish.served_build(warehouse)
    template = hostile.root / "template.duckdb"
    shutil.copyfile(publish.builds_dir(warehouse) / served / warehouse.name, template)
    served_sum = publish.checksum(warehouse)
    before = _served_answers(warehouse)
    for step, install in _fault_points(warehouse):
        with monkeypatch.context() as mp:
            mp.setattr(build_module, "run_dbt", _fake_dbt(template))
            mp.setattr("closedloop.freshness.check_freshness", lambda *a, **k: [])
            install(mp)
            with pytest.raises(BuildError) as failed:
                build(hostile.raw, warehouse, out=io.StringIO(), full_refresh=True)
        message = str(failed.value)
        assert message.startswith("no space left on "), (step, message)
        assert "\n" not in message.replace(str(warehouse.parent), "") and "Traceback" not in message, step
        assert publish.served_build(warehouse) == served, step
        assert publish.checksum(warehouse) == served_sum, step
        assert _served_answers(warehouse) == before, step
        assert not working_file_for(warehouse).parent.exists(), step
        landings = sorted(p.name for p in landing_root_for(warehouse).iterdir()
                          if p.is_dir() and p.name != ".door-cache")
        assert landings == publish.kept_builds(warehouse), step  # the failed build's landing is gone, no other
        # ... and the door cache (closedloop.door_cache) holds whole entries only: a full disk leaves no half of one.
        cache = landing_root_for(warehouse) / ".door-cache"
        assert not [p.name for p in cache.glob("*.partial-*")], step
        last = runs.history(warehouse)[-1]
        assert last.status == "failed" and last.message.startswith("no space left on"), step
    # Nothing wedged: the next build (dbt replayed) publishes, and prunes only after it did.
    with monkeypatch.context() as mp:
        mp.setattr(build_module, "run_dbt", _fake_dbt(template))
        mp.setattr("closedloop.freshness.check_freshness", lambda *a, **k: [])
        build(hostile.raw, warehouse, out=io.StringIO(), full_refresh=True)
    assert publish.served_build(warehouse) != served
    assert runs.history(warehouse)[-1].status == "published"
    # Back to what the other tests of this module build on: the real build served again.
    assert publish.rollback(warehouse, to=served)[1] == served


def _mount_tmpfs(path: Path, size: str) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        return False
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True).returncode == 0


def test_a_real_full_disk_on_a_small_tmpfs(hostile, tmp_path: Path, capsys) -> None:
    """For real: a 160 MB filesystem (room for the served warehouse and one build in progress) filled up to a few
    MB; the build fails in one sentence, the served warehouse answers, and once space is freed the next build
    succeeds."""
    mount = tmp_path / "small disk"
    if not _mount_tmpfs(mount, "160m"):
        pytest.skip("cannot mount a tmpfs here (needs root); the fault-injected test covers every step")
    try:
        warehouse = mount / "warehouse.duckdb"
        build(hostile.raw, warehouse, out=io.StringIO())
        served, before = publish.served_build(warehouse), _served_answers(warehouse)
        failed = 0
        for free_mb in (1, 6, 14):
            ballast = mount / "ballast"
            stat = os.statvfs(mount)
            ballast_bytes = max(0, stat.f_bavail * stat.f_frsize - free_mb * 2**20)
            with ballast.open("wb") as f:
                f.truncate(0)
                for _ in range(ballast_bytes // 2**20):
                    f.write(b"\0" * 2**20)
            code = main(["build", "--raw", str(hostile.raw), "--warehouse", str(warehouse), "--full-refresh"])
            err = capsys.readouterr().err
            ballast.unlink()
            if code == 0:  # enough room after all: the build published, which is fine too
                served, before = publish.served_build(warehouse), _served_answers(warehouse)
                continue
            failed += 1
            assert err.count("\n") == 1 and "Traceback" not in err, err
            assert f"no space left on {mount}" in err, err
            assert publish.served_build(warehouse) == served and _served_answers(warehouse) == before
            assert not working_file_for(warehouse).parent.exists()
        assert failed >= 1  # 1 MB free cannot hold a landing
        assert main(["build", "--raw", str(hostile.raw), "--warehouse", str(warehouse), "--full-refresh"]) == 0
        assert _served_answers(warehouse) > 0
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


# ---- class 4: a damaged served warehouse is named, not read -------------------------------------------------------
def _overwrite_middle(path: Path, size: int = 64 * 1024) -> None:
    with path.open("r+b") as f:
        f.seek(path.stat().st_size // 2)
        f.write(os.urandom(size))


def test_a_64kb_overwrite_is_caught_by_status_summary_and_incremental_builds(hostile, capsys) -> None:
    warehouse = hostile.warehouse
    served = publish.served_build(warehouse)
    assert runs.checksum_of(warehouse, served) == publish.checksum(warehouse)
    _overwrite_middle(warehouse)
    for command in ("status", "summary"):
        code, out, err = _cli(command, "--warehouse", str(warehouse), capsys=capsys)
        assert code == 1 and err.count("\n") == 1 and "Traceback" not in err, err
        assert "is damaged" in err and "closedloop rollback" in err and "--full-refresh" in err, err
    code, out, err = _cli("build", "--raw", str(hostile.raw), "--warehouse", str(warehouse), capsys=capsys)
    assert code == 1 and "is damaged" in err and "--full-refresh" in err and err.count("\n") == 1, err
    assert not working_file_for(warehouse).parent.exists()
    assert publish.served_build(warehouse) == served  # refused before any work
    # rollback serves the previous build (its own file, untouched), which status accepts.
    code, out, err = _cli("rollback", "--warehouse", str(warehouse), capsys=capsys)
    assert code == 0 and publish.served_build(warehouse) == hostile.first
    code, out, err = _cli("status", "--warehouse", str(warehouse), capsys=capsys)
    assert code == 0 and not err
    # A full refresh builds a sound warehouse whatever is served.
    _overwrite_middle(warehouse)
    code, out, err = _cli("build", "--raw", str(hostile.raw), "--warehouse", str(warehouse), "--full-refresh",
                          capsys=capsys)
    assert code == 0, err
    assert _served_answers(warehouse) > 0
    code, out, err = _cli("status", "--warehouse", str(warehouse), capsys=capsys)
    assert code == 0 and not err


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_a_warehouse_duckdb_cannot_open_is_one_sentence(hostile, tmp_path: Path, damage: str) -> None:
    """No checksum to compare with (a file from elsewhere): DuckDB's own refusal becomes the sentence."""
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copyfile(hostile.warehouse, warehouse)
    if damage == "truncate":
        with warehouse.open("r+b") as f:
            f.truncate(warehouse.stat().st_size // 3)
    elif damage == "garbage":
        warehouse.write_bytes(os.urandom(200_000))
    else:
        warehouse.write_bytes(b"")
    for command in ("status", "summary"):
        proc = subprocess.run([sys.executable, "-m", "closedloop.cli", command, "--warehouse", str(warehouse)],
                              capture_output=True, text=True, env={**os.environ, "CLOSEDLOOP_DEBUG": ""})
        assert proc.returncode == 1, proc.stderr
        assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr + proc.stdout, proc.stderr
        assert "damaged" in proc.stderr and "rollback" in proc.stderr, proc.stderr


def test_the_checksum_is_in_the_served_history_table(hostile) -> None:
    records = [json.loads(line) for line in runs.history_path(hostile.warehouse).read_text().splitlines()]
    assert all(len(r["checksum"]) == 64 for r in records if r["status"] == "published")
