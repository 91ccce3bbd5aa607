"""Progress lines for the steps that take more than a few seconds (validating, landing, dbt, docs, generating).

On a terminal, `update` rewrites one status line in place (a carriage return and spaces, no colour, no other
escape codes) so a person sees the build move without a screen of lines. Anywhere else (cron, a pipe, a log file,
an orchestrator capturing output), nothing is ever rewritten: only the updates marked as a step are printed, each
as one plain line, so a log shows where a slow or stuck build was without filling up with per-node noise.
Permanent lines (`line`) are printed the same way in both cases. Thread-safe: dbt reports nodes from its threads.
"""

from __future__ import annotations

import shutil
import threading
from typing import TextIO


def _width(text: str) -> int:
    return len(text) + sum(1 for ch in text if ord(ch) > 0x2E80)  # CJK takes two columns


def _fit(text: str, columns: int) -> str:
    while _width(text) > max(columns, 20):
        text = text[:-2] + "…"
    return text


def is_terminal(out: TextIO | None) -> bool:
    try:
        return out is not None and out.isatty()
    except (AttributeError, ValueError):  # a closed or unusual stream is not a terminal
        return False


class Progress:
    def __init__(self, out: TextIO | None, tty: bool | None = None):
        self.out = out
        self.tty = is_terminal(out) if tty is None else tty
        self._lock = threading.Lock()
        self._shown = 0  # width of the status line on screen (terminal only)

    def _clear(self) -> None:
        if self._shown:
            self.out.write("\r" + " " * self._shown + "\r")
            self._shown = 0

    def update(self, text: str, step: bool = False) -> None:
        """Show the current state. On a terminal it replaces the status line; elsewhere it is printed only when
        `step` is true (a milestone worth a line in a log)."""
        if self.out is None:
            return
        with self._lock:
            if self.tty:
                self._clear()
                text = _fit(text, shutil.get_terminal_size().columns - 1)  # a wrapped line could not be rewritten
                self.out.write(text)
                self._shown = _width(text)
            elif step:
                self.out.write(text + "\n")
            self.out.flush()

    def line(self, text: str) -> None:
        """A permanent line (the status line, if any, is cleared first)."""
        if self.out is None:
            return
        with self._lock:
            if self.tty:
                self._clear()
            self.out.write(text + "\n")
            self.out.flush()

    def done(self) -> None:
        """Remove the status line (terminal only)."""
        if self.out is None or not self.tty:
            return
        with self._lock:
            self._clear()
            self.out.flush()
