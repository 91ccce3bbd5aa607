"""The dashboards stay up and truthful while builds come and go: a real `closedloop serve`-style server and a real
Chromium keep loading pages while real `closedloop build` processes succeed, fail on bad input and get killed with
SIGKILL midway. No page may error; the served data may change only when a build succeeded.

Each build's raw folder has a different number of rows, and the Data page says how many rows the served build
read, so every page load tells which build it is showing.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from browser_helpers import CHROMIUM, LANG_QUERY, STALE_ICON, App, exception_count, launch, open_page

REPO = Path(__file__).resolve().parent.parent
MINIMAL = Path(__file__).parent / "fixtures" / "minimal_export"
ARTIFACTS = REPO / "test-artifacts"
OPP = "O{n},A1,U1,2026-03-0{d}T10:00:00,{n}000,new,赢单,true,true\n"

pytestmark = pytest.mark.browser


def _raw(root: Path, name: str, extra_opportunities: int, break_users: bool = False) -> Path:
    raw = root / name
    shutil.copytree(MINIMAL, raw)
    with (raw / "crm" / "opportunities.csv").open("a", encoding="utf-8") as f:
        for i in range(extra_opportunities):
            f.write(OPP.format(n=90 + i, d=1 + i % 9))
    if break_users:
        (raw / "crm" / "users.csv").write_text("user_id,name\nU1,x\n", encoding="utf-8")
    return raw


def _build(raw: Path, warehouse: Path, log: Path) -> subprocess.Popen:
    handle = log.open("w", encoding="utf-8")
    return subprocess.Popen([sys.executable, "-m", "closedloop.cli", "build", "--raw", str(raw), "--warehouse",
                             str(warehouse)], cwd=REPO, stdout=handle, stderr=subprocess.STDOUT,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"}, start_new_session=True)


class Observer:
    """Loads pages in a loop and records which build each load showed, and any error on it."""

    def __init__(self, page, url: str):
        self.page, self.url = page, url
        self.loads: list[dict] = []
        self.pages = ["data", "", "stages", "data", "lead-flow"]

    def load(self) -> int | None:
        path = self.pages[len(self.loads) % len(self.pages)]
        started = time.monotonic()
        open_page(self.page, self.url, path, LANG_QUERY["en"])
        main = self.page.locator('[data-testid="stMain"]').inner_text()
        errors = [e for e in self.page.locator('[data-testid="stAlertContentError"]').all_inner_texts()
                  if not e.startswith(STALE_ICON)]  # the stale-source callout (the sample is weeks old)
        shown = None
        if path == "data":
            match = re.search(r"Rows read ([\d,]+)", main)
            shown = int(match.group(1).replace(",", "")) if match else -1
        self.loads.append({"page": path or "overview", "at": started, "shown": shown,
                           "exceptions": exception_count(self.page), "errors": errors,
                           "traceback": "Traceback" in main})
        return shown

    def during(self, proc: subprocess.Popen, until=None) -> None:
        while proc.poll() is None and not (until and until()):
            self.load()

    def shown_now(self) -> int:
        while True:
            if (value := self.load()) is not None:
                return value


def test_dashboards_survive_good_failed_and_killed_builds(tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    warehouse = tmp_path / "served" / "warehouse.duckdb"
    minimal_rows = 5  # users 2 + opportunities 3 in tests/fixtures/minimal_export
    raw_a = _raw(tmp_path, "a", 0)
    raw_b = _raw(tmp_path, "b", 1)
    raw_bad = _raw(tmp_path, "bad", 5, break_users=True)
    raw_c = _raw(tmp_path, "c", 3)
    first = _build(raw_a, warehouse, tmp_path / "build-a.log")
    assert first.wait(600) == 0, (tmp_path / "build-a.log").read_text()

    app = App(warehouse, log_path=tmp_path / "streamlit.log")
    events: list[tuple[str, float, float, int]] = []  # name, started, ended, exit code
    try:
        app.wait_healthy()
        with sync_playwright() as p:
            browser = launch(p)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(90_000)
            seen = Observer(page, app.url)
            assert seen.shown_now() == minimal_rows

            good_started = time.monotonic()
            good = _build(raw_b, warehouse, tmp_path / "build-b.log")
            seen.during(good)
            events.append(("good", good_started, time.monotonic(), good.wait()))
            assert seen.shown_now() == minimal_rows + 1

            bad_started = time.monotonic()
            bad = _build(raw_bad, warehouse, tmp_path / "build-bad.log")
            seen.during(bad)
            events.append(("bad input", bad_started, time.monotonic(), bad.wait()))
            assert seen.shown_now() == minimal_rows + 1

            killed_log = tmp_path / "build-killed.log"
            killed_started = time.monotonic()
            killed = _build(raw_c, warehouse, killed_log)
            seen.during(killed, until=lambda: "Building with dbt" in killed_log.read_text(encoding="utf-8"))
            time.sleep(3)  # well inside dbt: models are being written into the working file
            os.killpg(killed.pid, signal.SIGKILL)
            events.append(("killed", killed_started, time.monotonic(), killed.wait()))
            assert seen.shown_now() == minimal_rows + 1

            again_started = time.monotonic()
            again = _build(raw_c, warehouse, tmp_path / "build-again.log")
            seen.during(again)
            events.append(("good again", again_started, time.monotonic(), again.wait()))
            assert seen.shown_now() == minimal_rows + 3
            browser.close()
    finally:
        app.stop()

    assert [(name, code) for name, _, _, code in events] == [
        ("good", 0), ("bad input", 1), ("killed", -signal.SIGKILL), ("good again", 0)]
    assert "ended without finishing" in (tmp_path / "build-again.log").read_text(encoding="utf-8")
    statuses = [json.loads(line)["status"] for line in (warehouse.parent / "runs.jsonl").read_text().splitlines()]
    assert statuses == ["published", "published", "failed", "killed", "published"]

    loads = seen.loads
    problems = [x for x in loads if x["exceptions"] or x["errors"] or x["traceback"]]
    assert problems == [], problems
    # What each load may show: the last good build, or the next one only once a successful build is under way
    # (a load that starts just before a publish may render after it). Never a failed or killed build's data.
    shown = [(x["at"], x["shown"]) for x in loads if x["shown"] is not None]
    (_, good_start, good_end, _), _, _, (_, again_start, again_end, _) = events
    for at, value in shown:
        if at < good_start:
            assert value == minimal_rows
        elif at < good_end:
            assert value in (minimal_rows, minimal_rows + 1)
        elif at < again_start:
            assert value == minimal_rows + 1  # through the failed and the killed build
        elif at < again_end:
            assert value in (minimal_rows + 1, minimal_rows + 3)
        else:
            assert value == minimal_rows + 3
    changes = [v for i, (_, v) in enumerate(shown) if i == 0 or v != shown[i - 1][1]]
    assert changes == [minimal_rows, minimal_rows + 1, minimal_rows + 3]
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "live-builds.json").write_text(json.dumps({
        "page_loads": len(loads), "page_errors": len(problems), "served_changes": changes,
        "during_failed_and_killed": sum(1 for at, _ in shown if good_end <= at < again_start),
        "builds": [(name, code) for name, _, _, code in events]}, indent=2), encoding="utf-8")
