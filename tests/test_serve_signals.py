"""`closedloop serve` stops with its command: SIGTERM, SIGINT or SIGHUP to it stops the Streamlit server it started
(a supervisor's stop, a container stop, a closed terminal), so a restart finds the port free."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1) as r:
            return r.status == 200
    except OSError:
        return False


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(x) for x in text.split()]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0]
    except (OSError, IndexError):
        return False
    return state != "Z"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_serve_stops_its_server_when_it_is_stopped(tmp_path: Path, signum: int) -> None:
    port = _free_port()
    exe = Path(sys.executable).with_name("closedloop")
    proc = subprocess.Popen([str(exe), "serve", "--warehouse", str(tmp_path / "w.duckdb"), "--port", str(port),
                             "--address", "127.0.0.1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)  # its own group: only the signal we send reaches it
    try:
        deadline = time.monotonic() + 90
        while not _healthy(port):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the server did not come up"
            time.sleep(0.5)
        children = _children(proc.pid)
        assert children, "serve runs Streamlit as its child"
        started = time.monotonic()
        proc.send_signal(signum)  # to serve only, not to its child
        proc.wait(timeout=20)
        while (any(_alive(c) for c in children) or not _port_free(port)) and time.monotonic() - started < 15:
            time.sleep(0.2)
        assert not any(_alive(c) for c in children), "Streamlit outlived `closedloop serve`"
        assert _port_free(port), "the port is still taken after serve stopped"
        assert time.monotonic() - started < 15
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_serve_killed_outright_takes_its_server_along(tmp_path: Path) -> None:
    """SIGKILL cannot be forwarded; the child asked Linux to be stopped when its parent dies (PR_SET_PDEATHSIG)."""
    if not sys.platform.startswith("linux"):
        pytest.skip("Linux only")
    port = _free_port()
    exe = Path(sys.executable).with_name("closedloop")
    proc = subprocess.Popen([str(exe), "serve", "--warehouse", str(tmp_path / "w.duckdb"), "--port", str(port),
                             "--address", "127.0.0.1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while not _healthy(port):
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.5)
        children = _children(proc.pid)
        proc.kill()
        proc.wait(timeout=10)
        deadline = time.monotonic() + 15
        while (any(_alive(c) for c in children) or not _port_free(port)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(_alive(c) for c in children) and _port_free(port)
    finally:
        if proc.poll() is None:
            proc.kill()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
