"""Helpers for the real-browser suite: start `streamlit run` on a free port, drive Debian's Chromium with
Playwright, and wait for the app to finish running (not for a fixed sleep).

Usable outside pytest too (`python tests/browser_helpers.py WAREHOUSE OUTDIR` saves screenshots of every page).
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CLOSEDLOOP_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# The language switch is bound to the URL by its label: ?lang=English (Chinese is the default, so no parameter).
LANG_QUERY = {"zh": "", "en": "lang=English"}
# The icon that leads the Data page's stale-source callout (dashboards/views/data.py STALE_ICON): the sample's data
# ends weeks before a run of the suite, so that callout is expected; any other error callout is a failure.
STALE_ICON = "🕰️"
PAGES = ["overview", "lead-flow", "stages", "resources", "lifecycle", "campaigns", "content", "journey",
         "reps", "service", "data", "forecast",
         "followups"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class App:
    """A `streamlit run` of the dashboards over `warehouse`, as `closedloop serve` starts it."""

    def __init__(self, warehouse: Path, port: int | None = None, log_path: Path | None = None):
        from closedloop.serve import command, environment

        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self._log = open(log_path, "wb") if log_path else subprocess.DEVNULL  # noqa: SIM115
        self.proc = subprocess.Popen(
            command(warehouse, self.port, "127.0.0.1"),
            env=environment(warehouse),
            cwd=REPO,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def wait_healthy(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"streamlit exited with {self.proc.returncode}; see {self.log_path}")
            with contextlib.suppress(OSError), urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as r:
                if r.status == 200 and r.read().strip() == b"ok":
                    return
            time.sleep(0.2)
        raise TimeoutError(f"{self.url}/_stcore/health did not answer within {timeout} s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self._log is not subprocess.DEVNULL:
            self._log.close()

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path and self.log_path.exists() else ""


def launch(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)


_SIGNATURE = """() => {
    const app = document.querySelector('[data-testid="stApp"]');
    const main = document.querySelector('[data-testid="stMain"]');
    if (!app || !main) return null;
    const charts = [...document.querySelectorAll('[data-testid="stVegaLiteChart"]')];
    return {
        state: app.getAttribute('data-test-script-state'),
        running: !!document.querySelector('[data-testid="stStatusWidgetRunningIcon"]'),
        stale: document.querySelectorAll('[data-stale="true"]').length,
        skeletons: document.querySelectorAll('[data-testid="stSkeleton"]').length,
        chartsDrawn: charts.every(c => c.querySelector('canvas, svg')),
        text: main.innerText.length,
        elements: main.querySelectorAll('[data-testid]').length,
        height: main.scrollHeight,
    };
}"""


def wait_idle(page, timeout: float = 60_000, settle_ms: int = 900) -> None:
    """Wait until Streamlit has finished the script run and painted it: the app is not running, nothing is
    stale or a skeleton, every chart has drawn, and the page has stopped changing for `settle_ms` (a run that
    has not started yet also reads as "not running", so a quiet period is required, not a single look)."""
    page.wait_for_selector('[data-testid="stApp"]', timeout=timeout)
    deadline = time.monotonic() + timeout / 1000
    last, stable_since = None, None
    while time.monotonic() < deadline:
        sig = page.evaluate(_SIGNATURE)
        ready = bool(sig) and sig["state"] != "running" and not sig["running"] and not sig["stale"] \
            and not sig["skeletons"] and sig["chartsDrawn"] and sig["text"] > 0
        if ready and sig == last:
            if stable_since is None:
                stable_since = time.monotonic()
            if (time.monotonic() - stable_since) * 1000 >= settle_ms:
                return
        else:
            stable_since = None
        last = sig
        page.wait_for_timeout(150)
    raise TimeoutError(f"the app did not settle within {timeout / 1000:.0f} s (last state {last})")


def open_page(page, base_url: str, path: str = "", query: str = "") -> None:
    url = f"{base_url}/{path}" + (f"?{query}" if query else "")
    page.goto(url, wait_until="domcontentloaded")
    wait_idle(page)


def exception_count(page) -> int:
    return page.locator('[data-testid="stException"]').count()


def screenshot(page, path: Path, full_page: bool = True) -> Path:
    """Streamlit scrolls inside its main container, not the document: for a full-page shot the viewport is grown
    to the content's height first, then restored."""
    path.parent.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size
    if full_page and size:
        height = page.evaluate("""() => {
            const m = document.querySelector('[data-testid="stMain"]') || document.body;
            return Math.max(m.scrollHeight, document.body.scrollHeight);
        }""")
        page.set_viewport_size({"width": size["width"], "height": min(max(int(height) + 40, size["height"]), 12000)})
        page.wait_for_timeout(400)
        wait_idle(page)
    try:
        page.screenshot(path=str(path), full_page=full_page)
    finally:
        if full_page and size:
            page.set_viewport_size(size)
    return path


def main(argv: list[str]) -> int:
    from playwright.sync_api import sync_playwright

    warehouse, out = Path(argv[0]), Path(argv[1])
    pages = argv[2:] or PAGES
    out.mkdir(parents=True, exist_ok=True)
    app = App(warehouse, log_path=out / "streamlit.log")
    try:
        app.wait_healthy()
        with sync_playwright() as p:
            browser = launch(p)
            page = browser.new_page(viewport={"width": 1440, "height": 900}, locale="zh-CN")
            for lang in ("zh", "en"):
                for name in pages:
                    open_page(page, app.url, name if name != "overview" else "", LANG_QUERY[lang])
                    shot = screenshot(page, out / f"{name}-{lang}.png")
                    print(shot, "exceptions:", exception_count(page))
            browser.close()
    finally:
        app.stop()
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    sys.exit(main(sys.argv[1:]))
