"""Probes of "Every failure is one sentence, and nothing wedges" with other inputs than the issue's examples (issue
13, probe lane), through the real `closedloop` command (a subprocess, CI=true, no stdin):

- SIGTERM, SIGHUP and SIGINT at validation and inside dbt: one sentence, exit 128+n, nothing left behind
  (`.building/`, the build's landing), the served warehouse unchanged, and the next build works;
- `docs` and `serve` over files that are not warehouses: one sentence before dbt or Streamlit start;
- landing/CURRENT and runs.jsonl damaged or hand-edited; `rollback --to` the build being served.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
EXE = Path(sys.executable).with_name("closedloop")


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOSEDLOOP_")}
    return {**env, "CI": "true"}


def run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([str(EXE), *args], env=_env(), capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def one_sentence(done: subprocess.CompletedProcess, command: str) -> str:
    lines = done.stderr.strip().splitlines()
    assert "Traceback" not in done.stdout + done.stderr, done.stdout[-2000:] + done.stderr
    assert len(lines) == 1 and lines[0].startswith(f"closedloop {command}: "), done.stderr
    assert "unexpected error" not in lines[0], lines[0]
    return lines[0]


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, Path]:
    """(raw folder, warehouse) of a small sample, built once by the real command."""
    root = tmp_path_factory.mktemp("probe_ops")
    raw, warehouse = root / "raw", root / "wh" / "warehouse.duckdb"
    assert run("generate", "--scale", "0.02", "--out", str(raw)).returncode == 0
    done = run("build", "--raw", str(raw), "--warehouse", str(warehouse), "--freshness-as-of", "data")
    assert done.returncode == 0, done.stderr
    return raw, warehouse


def _copy(built, tmp_path: Path) -> Path:
    shutil.copytree(built[1].parent, tmp_path / "wh", symlinks=True)
    return tmp_path / "wh" / built[1].name


# ---- signals -------------------------------------------------------------------------------------------------

# (signal, the stdout line after which it is sent): while validating, and while dbt runs its nodes.
STOPS = [(signal.SIGTERM, "Validating"), (signal.SIGTERM, "nodes done"), (signal.SIGHUP, "project parsed"),
         (signal.SIGINT, "nodes done")]


def test_a_build_stopped_by_any_signal_cleans_up_says_so_and_the_next_build_works(built, tmp_path):
    raw, _ = built
    warehouse = _copy(built, tmp_path)
    served = sha(warehouse)
    landings = sorted(p.name for p in (warehouse.parent / "landing").iterdir())
    for signum, after in STOPS:
        child = subprocess.Popen([str(EXE), "build", "--raw", str(raw), "--warehouse", str(warehouse),
                                  "--full-refresh"], env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True, stdin=subprocess.DEVNULL)
        seen = []
        deadline = time.monotonic() + 240
        for line in child.stdout:
            seen.append(line)
            if after in line or time.monotonic() > deadline:
                break
        time.sleep(0.5)
        child.send_signal(signum)
        out, err = child.communicate(timeout=120)
        done = subprocess.CompletedProcess(child.args, child.returncode, "".join(seen) + out, err)
        case = f"{signum.name} after {after!r}"
        assert done.returncode == 128 + signum, (case, done.returncode, err)
        sentence = one_sentence(done, "build")
        assert ("interrupted" if signum == signal.SIGINT else f"stopped by {signum.name}") in sentence, case
        assert not (warehouse.parent / ".building").exists(), case
        assert sorted(p.name for p in (warehouse.parent / "landing").iterdir()) == landings, case
        assert sha(warehouse) == served, case
        last = [json.loads(x) for x in (warehouse.parent / "runs.jsonl").read_text().splitlines()][-1]
        assert last["status"] == "failed", case  # recorded by itself, not found later as "killed"
        # ... in the same words, whatever library the signal interrupted (DuckDB wraps it in its own error)
        assert last["message"] in ("KeyboardInterrupt", f"stopped by {signum.name}"), (case, last["message"])
    done = run("build", "--raw", str(raw), "--warehouse", str(warehouse))
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr


# ---- docs and serve over what is not a warehouse -------------------------------------------------------------

def _not_a_warehouse(tmp_path: Path, kind: str) -> Path:
    path = tmp_path / "w" / "warehouse.duckdb"
    path.parent.mkdir()
    if kind == "empty file":
        path.touch()
    elif kind == "text file":
        path.write_text("not a database\n")
    elif kind == "random bytes":
        path.write_bytes(os.urandom(300_000))
    elif kind == "a CSV":
        path.write_text("lead_id,email\nL1,a@b.com\n")
    return path


KINDS = ["empty file", "text file", "random bytes", "a CSV"]


@pytest.mark.parametrize("kind", KINDS)
def test_docs_over_a_file_that_is_not_a_warehouse_is_one_sentence(kind, tmp_path):
    """It used to copy the file and let dbt print a traceback on stdout."""
    path = _not_a_warehouse(tmp_path, kind)
    done = run("docs", "--warehouse", str(path), timeout=120)
    assert done.returncode == 1
    assert str(path) in one_sentence(done, "docs")
    assert not list(path.parent.glob(".docs*"))  # its scratch copy is never left behind


@pytest.mark.parametrize("kind", [*KINDS, "/proc/self/status"])
def test_serve_over_a_file_that_is_not_a_warehouse_refuses_before_starting(kind, tmp_path):
    """It used to start Streamlit (and print "Serving at …") over any existing file."""
    path = Path(kind) if kind.startswith("/") else _not_a_warehouse(tmp_path, kind)
    done = run("serve", "--warehouse", str(path), "--port", "8597", timeout=60)
    assert done.returncode == 1 and "Serving" not in done.stdout
    one_sentence(done, "serve")


# ---- damaged pointers and history ----------------------------------------------------------------------------

CURRENTS = {"a path out": "../../../etc", "absolute": "/etc", "binary": "\x00\x01\xff", "empty": "",
            "not a build id": "latest", "a folder": None, "two lines": "20261207T030900-1\n20261207T030900-2"}


@pytest.mark.parametrize("case", sorted(CURRENTS))
def test_a_damaged_current_pointer_is_never_followed(case, tmp_path):
    from closedloop.paths import current_landing_dir, landing_root_for, read_current

    warehouse = tmp_path / "warehouse.duckdb"
    root = landing_root_for(warehouse)
    root.mkdir()
    if CURRENTS[case] is None:
        (root / "CURRENT").mkdir()
    else:
        (root / "CURRENT").write_bytes(CURRENTS[case].encode("latin-1"))
    assert read_current(warehouse) is None
    assert current_landing_dir(warehouse) == root


@pytest.mark.parametrize("case", sorted(set(CURRENTS) - {"a folder"}))
def test_status_and_docs_over_a_damaged_current_pointer(built, tmp_path, case):
    """`docs` gave "unexpected error (ValueError: embedded null byte)" and ran dbt over ../../../etc."""
    warehouse = _copy(built, tmp_path)
    (warehouse.parent / "landing" / "CURRENT").write_bytes(CURRENTS[case].encode("latin-1"))
    done = run("status", "--warehouse", str(warehouse))
    assert done.returncode == 0 and "Traceback" not in done.stdout + done.stderr, done.stderr
    if case in ("binary", "a path out"):
        done = run("docs", "--warehouse", str(warehouse))
        assert done.returncode == 0 and "Traceback" not in done.stdout + done.stderr, done.stderr
        assert not list(warehouse.parent.glob(".docs*"))


BAD_LINES = [
    '{"run_id": 5, "started_at": "2026-01-01T00:00:00", "status": "published"}',
    '{"run_id": "x", "started_at": null, "status": "published"}',
    '{"run_id": "x", "started_at": "2026-01-01T00:00:00", "status": 7}',
    '{"run_id": "x", "started_at": "2026-01-01T00:00:00", "status": "published", "rows_read": "many"}',
    '{"run_id": "x", "started_at": "2026-01-01T00:00:00", "status": "published", "checksum": ["a"]}',
    '{"run_id": "x", "started_at": "2026-01-01T00:00:00", "status": "published", "sources": []}',
    '[1, 2]', '"text"', "null", "{bad", "\x00\xff", '{"run_id": "x"',
]


def test_run_history_skips_lines_of_the_wrong_shape(tmp_path):
    from closedloop import runs

    warehouse = tmp_path / "warehouse.duckdb"
    good = runs.Run(run_id="20261207T030900-1", started_at="2026-12-07T03:09:00", status="published")
    runs.append(warehouse, good)
    with runs.history_path(warehouse).open("a", encoding="utf-8") as f:
        f.write("\n".join(BAD_LINES) + "\n")
    assert [r.run_id for r in runs.history(warehouse)] == [good.run_id]


def test_status_over_a_history_with_bad_lines_shows_only_real_runs(built, tmp_path):
    warehouse = _copy(built, tmp_path)
    with (warehouse.parent / "runs.jsonl").open("a", encoding="utf-8") as f:
        f.write("\n".join(BAD_LINES) + "\n")
    done = run("status", "--warehouse", str(warehouse))
    assert done.returncode == 0 and "Last run:" in done.stdout, done.stdout + done.stderr
    assert "None" not in done.stdout


def test_rollback_to_the_served_build_changes_nothing(built, tmp_path):
    from closedloop import publish

    warehouse = _copy(built, tmp_path)
    served = publish.served_build(warehouse)
    history = (warehouse.parent / "runs.jsonl").read_text()
    done = run("rollback", "--warehouse", str(warehouse), "--to", served)
    assert done.returncode == 0 and "already the one served" in done.stdout, done.stdout + done.stderr
    assert (warehouse.parent / "runs.jsonl").read_text() == history  # no "rolled_back" record of a non-event


# ---- the environment, checked before any work ------------------------------------------------------------------

@pytest.mark.parametrize("variable, value", [
    ("CLOSEDLOOP_DBT_MEMORY", "garbage"), ("CLOSEDLOOP_DBT_MEMORY", ""), ("CLOSEDLOOP_DBT_MEMORY", "-1GB"),
    ("CLOSEDLOOP_DBT_MEMORY", "1000"), ("CLOSEDLOOP_DBT_MEMORY", "1GB'; select 1; --"),
    ("CLOSEDLOOP_DBT_MEMORY", "0%"), ("TZ", ":/etc/passwd"), ("TZ", "/dev/null"), ("TZ", "/etc"),
])
@pytest.mark.parametrize("command", ["build", "docs"])
def test_an_environment_dbt_cannot_run_with_is_one_sentence_before_any_work(variable, value, command, tmp_path):
    """These failed only after the whole validation (30 s and more), as "dbt could not run: Parser Error …" or
    "Runtime Error Got magic b'root'", naming no variable."""
    (tmp_path / "raw").mkdir()
    args = [command, "--warehouse", str(tmp_path / "w.duckdb")] + (["--raw", str(tmp_path / "raw")]
                                                                  if command == "build" else [])
    done = subprocess.run([str(EXE), *args], env={**_env(), variable: value}, capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 1 and variable in one_sentence(done, command)
    assert "Validating" not in done.stdout


@pytest.mark.parametrize("variable, value", [("CLOSEDLOOP_DBT_MEMORY", "8GB"), ("CLOSEDLOOP_DBT_MEMORY", "512 MiB"),
                                             ("CLOSEDLOOP_DBT_MEMORY", "75%"), ("TZ", "Asia/Shanghai"),
                                             ("TZ", "Nowhere/Odd"), ("TZ", "CST-8"), ("TZ", "UTC")])
def test_usable_settings_pass_the_check(variable, value):
    from closedloop.arguments import dbt_environment_problem

    assert dbt_environment_problem({variable: value}) is None


@pytest.mark.parametrize("value", ["\x1b[2J\x1b[H", "\x1b]0;owned\x07", "a\x01b", "\x9b31m"])
def test_control_characters_in_a_message_never_reach_the_terminal(value, tmp_path):
    done = subprocess.run([str(EXE), "status"], env={**_env(), "CLOSEDLOOP_WAREHOUSE": str(tmp_path / value)},
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    sentence = one_sentence(done, "status")
    assert not any(not c.isprintable() for c in sentence), repr(sentence)
    done = run("rollback", "--warehouse", str(tmp_path / "w.duckdb"), "--to", value)
    assert done.returncode == 2 and all(c.isprintable() for c in one_sentence(done, "rollback"))


@pytest.mark.parametrize("where", ["missing/deep/w.duckdb", "w.duckdb"])
def test_rollback_of_a_warehouse_never_built_creates_nothing(where, tmp_path):
    """It created the missing folders and a lock file, then said there was no earlier build."""
    done = run("rollback", "--warehouse", str(tmp_path / where))
    assert done.returncode == 1 and "no warehouse there yet" in one_sentence(done, "rollback")
    assert list(tmp_path.iterdir()) == []


def test_version_is_answered():
    done = run("--version")
    assert done.returncode == 0 and done.stdout.startswith("closedloop ") and not done.stderr


def test_land_refuses_to_write_into_a_built_warehouses_landing(built, tmp_path):
    """Tables are landed one after the other: a land failing half-way inside the served landing (here: the raw
    folder lacks a required table) would leave the served views reading half new files."""
    raw, _ = built
    warehouse = _copy(built, tmp_path)
    root = warehouse.parent / "landing"
    served = next(p for p in root.iterdir() if p.is_dir())
    before = {p: sha(p) for p in served.rglob("*.parquet")}
    for target in (served, root):
        done = run("land", "--raw", str(raw), "--landing", str(target))
        assert done.returncode == 2 and "landing of a built warehouse" in one_sentence(done, "land"), done.stderr
    assert {p: sha(p) for p in served.rglob("*.parquet")} == before


@pytest.mark.parametrize("name", ["x" * 5000, "a/" * 3000 + "m.yml", "x" * 300 + ".yml"])
@pytest.mark.parametrize("command", ["validate", "build"])
def test_an_overlong_mapping_name_is_one_sentence(name, command, tmp_path):
    """A 5,000-character --mapping gave a 54-line traceback (File name too long) before any work."""
    (tmp_path / "raw").mkdir()
    args = [command, "--raw", str(tmp_path / "raw"), "--mapping", name]
    args += ["--warehouse", str(tmp_path / "w.duckdb")] if command == "build" else []
    done = run(*args, timeout=60)
    assert done.returncode == 2 and "--mapping" in one_sentence(done, command)
