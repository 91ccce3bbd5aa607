"""`closedloop serve`: run the Streamlit dashboards over a warehouse file, read-only, on localhost.

The app reads the warehouse from CLOSEDLOOP_WAREHOUSE and opens it read-only per query, so `closedloop build`
can publish a new file while the dashboards run; they pick it up on the next interaction.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from closedloop.paths import ConfigError

REPO = Path(__file__).resolve().parent.parent
APP = REPO / "dashboards" / "app.py"

# The same settings as .streamlit/config.toml, passed as flags so they hold from any working directory:
# no telemetry, no browser opened, no file watching, never a traceback in the browser.
STREAMLIT_FLAGS = [
    "--browser.gatherUsageStats",
    "false",
    "--server.headless",
    "true",
    "--server.runOnSave",
    "false",
    "--server.fileWatcherType",
    "none",
    "--client.showErrorDetails",
    "none",
    "--client.toolbarMode",
    "minimal",
    "--runner.magicEnabled",
    "false",
    "--theme.base",
    "light",
]


def command(warehouse: Path, port: int = 8501, address: str = "localhost") -> list[str]:
    """The `streamlit run` command line that serves the dashboards."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.port",
        str(port),
        "--server.address",
        address,
        *STREAMLIT_FLAGS,
    ]


def environment(warehouse: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["CLOSEDLOOP_WAREHOUSE"] = str(Path(warehouse).expanduser().resolve())
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def access_refusal(env: dict[str, str] | None = None) -> str | None:
    """Why the dashboards must not start (CLOSEDLOOP_ACCESS set but empty, blank or naming an unusable roles file),
    or None. Checked before Streamlit starts, so a broken setting is one sentence and exit 1, never an open app."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from dashboards.access import check_environment

    return check_environment(os.environ if env is None else env)


def port_problem(port: int, address: str) -> str | None:
    """Why Streamlit could not listen on address:port (taken, not this machine's, not allowed), or None. Checked
    the way Tornado binds (SO_REUSEADDR, every address the name resolves to), before anything is printed."""
    try:
        infos = socket.getaddrinfo(address, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (OSError, UnicodeError):
        return f"{address} is not a known host name or address"
    for family, kind, proto, _, sockaddr in {(i[0], i[1], i[2], None, i[4]) for i in infos}:
        try:
            with socket.socket(family, kind, proto) as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if family == socket.AF_INET6:
                    with contextlib.suppress(OSError):
                        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                s.bind(sockaddr)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return f"port {port} on {address} is already in use (another server?); pick another with --port"
            if exc.errno == errno.EADDRNOTAVAIL:
                if family == socket.AF_INET6 and len(infos) > 1:
                    continue  # no IPv6 here: Tornado skips it too
                return f"{address} is not an address of this machine"
            if exc.errno == errno.EACCES:
                return f"port {port} needs privileges this user lacks; pick one above 1023 with --port"
            return f"cannot listen on {address}:{port}: {exc.strerror or exc}"
    return None


# Signals that stop `closedloop serve`: each is passed on to Streamlit, so the server stops with its command
# (a supervisor's SIGTERM, a container stop, a closed terminal's SIGHUP) instead of serving on as an orphan.
FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
STOP_GRACE_SECONDS = 10.0


def _die_with_parent() -> None:
    """In the child, before exec: Linux sends it SIGTERM if this process dies, even by SIGKILL."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def serve(warehouse: Path, port: int = 8501, address: str = "localhost") -> int:
    """Serve the dashboards until interrupted or signalled; returns Streamlit's exit code."""
    if not APP.exists():
        raise ConfigError(f"{APP}: the dashboards are not installed here (use an editable install of the repo).")
    refusal = access_refusal()
    if refusal:
        raise ConfigError(refusal)
    warehouse = Path(warehouse).expanduser().resolve()
    if problem := port_problem(port, address):
        raise ConfigError(problem + ".")
    if warehouse.exists():
        # The same check as `status`: a damaged file, or one that is not a warehouse at all (a wrong path, a
        # device), is one sentence now rather than an open app whose every page fails.
        from closedloop.status import connect_read_only

        connect_read_only(warehouse).close()
    else:
        print(
            f"closedloop serve: {warehouse} does not exist yet; the dashboards will say so until "
            f"`closedloop build` publishes it.",
            file=sys.stderr,
        )
    print(
        f"Serving closedloop dashboards at http://{address}:{port}  (warehouse {warehouse}; Ctrl+C stops)", flush=True
    )
    preexec = _die_with_parent if sys.platform.startswith("linux") else None
    child = subprocess.Popen(command(warehouse, port, address), env=environment(warehouse), cwd=REPO,
                             preexec_fn=preexec)  # noqa: PLW1509 - only prctl, no locks taken
    return _wait_forwarding(child)


def _wait_forwarding(child: subprocess.Popen) -> int:
    """Wait for the child, passing on every stop signal; if it has not ended STOP_GRACE_SECONDS after one, kill
    it. The handlers are restored after, so an in-process caller keeps its own."""
    stopping: list[float] = []

    def forward(signum, _frame) -> None:
        stopping.append(time.monotonic())
        with contextlib.suppress(ProcessLookupError):
            child.send_signal(signum)

    in_main = threading.current_thread() is threading.main_thread()
    previous = {s: signal.signal(s, forward) for s in FORWARDED} if in_main else {}
    try:
        while True:
            try:
                code = child.wait(timeout=0.5)
                return 128 - code if code < 0 else code  # killed by a signal: the shell's convention
            except subprocess.TimeoutExpired:
                if stopping and time.monotonic() - stopping[0] > STOP_GRACE_SECONDS:
                    child.kill()
    finally:
        if child.poll() is None:
            child.terminate()
            try:
                child.wait(timeout=STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        for s, handler in previous.items():
            signal.signal(s, handler)
