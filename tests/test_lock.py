"""The build lock: a second build is refused while one runs; a killed build's lock is detected and cleared."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from closedloop.lock import BuildLocked, build_lock, lock_path

_HOLD = """
import sys, time
from pathlib import Path
from closedloop.lock import build_lock
with build_lock(Path(sys.argv[1])):
    print("locked", flush=True)
    time.sleep(60)
"""


def _holder(warehouse: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", _HOLD, str(warehouse)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    return proc


def test_second_build_is_refused_with_the_holder_named(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    proc = _holder(warehouse)
    try:
        with pytest.raises(BuildLocked, match=rf"another build of .* is running \(pid {proc.pid} on "), \
                build_lock(warehouse):
            pass
    finally:
        proc.terminate()
        proc.wait()


def test_a_killed_builds_lock_is_stale_and_cleared(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    proc = _holder(warehouse)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert json.loads(lock_path(warehouse).read_text())["pid"] == proc.pid  # the killed build left its record
    stale: list[dict] = []
    with build_lock(warehouse, on_stale=stale.append) as me:
        assert me["pid"] == os.getpid()
    assert [s["pid"] for s in stale] == [proc.pid]
    assert lock_path(warehouse).read_text() == ""  # a clean exit leaves no holder behind


def test_lock_is_released_after_the_block_even_on_error(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    with pytest.raises(RuntimeError), build_lock(warehouse):
        raise RuntimeError("build failed")
    started = time.monotonic()
    with build_lock(warehouse):
        pass
    assert time.monotonic() - started < 5
