"""How long a download link lives (docs/access-control.md, "Download links").

Every export button of the dashboards passes Streamlit a callable (`ui._deferred`): nothing is generated or stored
until the viewer clicks. The click runs the callable on the bytes of frames the query layer already scoped and
masked for that viewer, stores them in Streamlit's in-memory media store and hands the browser a `/media/<hash>`
URL, which Streamlit serves to anyone who has it, with or without a session. Streamlit drops such an unreferenced
file only on the second clean-up pass after it was made, and passes run only when some session finishes a script
run or ends; on an idle server the link would stay valid for as long as the process lives.

So the app runs the clean-up itself every `SWEEP_SECONDS` (default 30): a generated file is served for at most
two passes (≤ 60 s) after the click, whether or not the browser is still open. The export callables of a session
are dropped by the first pass after Streamlit ends the session (`server.disconnectedSessionTTL`, 120 s after the
browser went away).
"""

from __future__ import annotations

import logging
import os
import threading

log = logging.getLogger("closedloop.dashboards")

ENV_SWEEP = "CLOSEDLOOP_DOWNLOAD_SWEEP_SECONDS"
SWEEP_SECONDS = 30.0

_lock = threading.Lock()
_thread: threading.Thread | None = None


def sweep_seconds(env: dict | None = None) -> float:
    """The clean-up interval: CLOSEDLOOP_DOWNLOAD_SWEEP_SECONDS (tests), else 30 s; never below 1 s or above 300 s."""
    raw = (os.environ if env is None else env).get(ENV_SWEEP, "")
    try:
        value = float(raw) if raw.strip() else SWEEP_SECONDS
    except ValueError:
        value = SWEEP_SECONDS
    if value != value:  # NaN
        value = SWEEP_SECONDS
    return min(max(value, 1.0), 300.0)


def sweep_once(manager=None) -> None:
    """One clean-up pass over the running server's media store, or `manager` (marks, then on the next pass deletes,
    every download no session refers to; drops the export callables of ended sessions)."""
    if manager is None:
        from streamlit import runtime

        if not runtime.exists():
            return
        manager = runtime.get_instance().media_file_mgr
    manager.remove_orphaned_files()


def _loop(interval: float, stop: threading.Event) -> None:
    while not stop.wait(interval):
        try:
            sweep_once()
        except Exception:  # noqa: BLE001 - a failed pass is retried on the next tick; the app keeps serving
            log.exception("download clean-up failed")


def start_sweeper() -> threading.Thread:
    """Start the clean-up thread once per server process (every run calls this; only the first starts it)."""
    global _thread
    with _lock:
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=_loop, args=(sweep_seconds(), threading.Event()),
                                       name="closedloop-download-sweeper", daemon=True)
            _thread.start()
        return _thread
