"""One build at a time per warehouse, safe under cron.

The lock is an advisory `flock` on `<warehouse>.lock`: the kernel releases it when the holder exits, however it
exits (SIGKILL, OOM, power loss of the process), so a killed build can never wedge the schedule. The file also
records who holds it (pid, host, start time), which turns a refusal into a message a data engineer can act on,
and lets the next build say that the previous one died without finishing (a stale lock, cleared).
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class BuildLocked(Exception):
    """Another build of the same warehouse is running."""


def lock_path(warehouse: Path) -> Path:
    return warehouse.with_name(warehouse.name + ".lock")


def _read_holder(handle) -> dict:
    handle.seek(0)
    try:
        return json.loads(handle.read() or "{}")
    except json.JSONDecodeError:
        return {}


@contextmanager
def build_lock(warehouse: Path, on_stale=None, **info) -> Iterator[dict]:
    """Hold the warehouse's build lock for the duration of the block, or raise `BuildLocked` at once.

    `on_stale(holder)` is called when the lock file names a previous holder that is gone (it was killed);
    `info` (e.g. the build id) is recorded with the holder, so that call can say which build it was."""
    path = lock_path(warehouse)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held open for the lock's lifetime
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(handle)
            since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(holder.get("started", 0)))
            raise BuildLocked(
                f"another build of {warehouse} is running (pid {holder.get('pid', '?')} on "
                f"{holder.get('host', '?')}, started {since}); this one did nothing. Lock file: {path}.") from None
        previous = _read_holder(handle)
        if previous and on_stale is not None:
            on_stale(previous)
        me = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time(), **info}
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps(me))
        handle.flush()
        try:
            yield me
        finally:
            handle.seek(0)
            handle.truncate()
            handle.flush()
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    finally:
        handle.close()
