"""Stop signals of a running command: SIGTERM and SIGHUP raise `Stopped` in the main thread like Ctrl+C raises
KeyboardInterrupt, and every stop signal is remembered, so a step that swallows the interrupt (dbt hands it back as a
node's failure once it has closed its connections: "Connection already closed") is still reported as stopped."""

from __future__ import annotations

import signal

_received: list[int] = []


class Stopped(KeyboardInterrupt):
    """SIGTERM or SIGHUP (a supervisor, a container stop, a closed terminal), raised in the main thread like Ctrl+C,
    so that everything a command cleans up on an interrupt is cleaned up: a build removes its working file and its
    landing and records itself as failed, dbt cancels its queries. Python's default for these signals is to die on
    the spot, which left `.building/` and a landing behind and said nothing."""

    def __init__(self, signum: int):
        super().__init__(f"stopped by {signal.Signals(signum).name}")
        self.signum = signum


def install() -> None:
    """Handlers for one command (each command starts with none received: tests run several in one process)."""
    _received.clear()

    def stop(signum, _frame):
        _received.append(signum)
        # Once: a second signal while cleaning up must not cut the cleanup short (SIGKILL still ends it at once).
        for s in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(s, signal.SIG_IGN)
        raise Stopped(signum)

    def interrupt(signum, _frame):
        _received.append(signum)
        raise KeyboardInterrupt

    for s in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(s) is not signal.SIG_IGN:  # nohup'd: keep ignoring SIGHUP, as asked
            signal.signal(s, stop)
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, interrupt)


def raise_if_stopped() -> None:
    """Raise the interrupt a stop signal asked for, if one arrived (after a step that may have swallowed it)."""
    if _received:
        raise _interrupt()


def as_stop(exc: BaseException) -> BaseException:
    """`exc`, or the stop when a stop signal arrived first: a library hands a signal raised inside its callback back
    as its own error (DuckDB: "counting the rows of the object registered as … failed: stopped by SIGTERM")."""
    if _received and not isinstance(exc, KeyboardInterrupt):
        return _interrupt()
    return exc


def _interrupt() -> KeyboardInterrupt:
    signum = _received[0]
    return KeyboardInterrupt() if signum == signal.SIGINT else Stopped(signum)
