"""What a download link grants, and for how long (docs/access-control.md, "Download links"); and that the
dashboards fetch nothing from the internet (no `:material/` icon font, no emoji CDN).

The clean-up is tested on Streamlit's own media store (no server); the browser tests run `streamlit run` over the
session's sample warehouse with a 1 s clean-up interval, click a real export, and watch every request the page
makes.
"""

from __future__ import annotations

import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import pytest

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from dashboards import downloads  # noqa: E402


def test_a_generated_download_is_gone_after_two_clean_up_passes():
    from streamlit.runtime.media_file_manager import MediaFileManager
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

    mgr = MediaFileManager(MemoryMediaFileStorage("/media"))
    made = []
    placeholder = mgr.add_deferred(lambda: made.append(1) or b"a,b\n1,2\n", "text/csv", "coords", file_name="t.csv")
    assert not made  # nothing exists before the click
    url = mgr.execute_deferred(placeholder)
    file_id = url.rsplit("/", 1)[-1].split(".")[0]
    assert made and mgr.read_file(file_id) is not None
    downloads.sweep_once(mgr)
    downloads.sweep_once(mgr)
    assert mgr.read_file(file_id) is None  # the link serves nothing any more
    mgr.clear_session_refs("dontcare")  # the session ended: its export callables go with the next pass
    downloads.sweep_once(mgr)
    with pytest.raises(Exception, match="not found"):
        mgr.execute_deferred(placeholder)


def test_the_clean_up_interval():
    assert downloads.sweep_seconds({}) == 30
    assert downloads.sweep_seconds({downloads.ENV_SWEEP: "2"}) == 2
    for bad in ("nan", "x", "", "-5"):
        assert 1 <= downloads.sweep_seconds({downloads.ENV_SWEEP: bad}) <= 300, bad
    assert downloads.sweep_seconds({downloads.ENV_SWEEP: "1e9"}) == 300


# ---- in a real browser ------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def app(sample):
    from browser_helpers import CHROMIUM, App

    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}")
    pytest.importorskip("playwright.sync_api")
    old = os.environ.get(downloads.ENV_SWEEP)
    os.environ[downloads.ENV_SWEEP] = "1"
    try:
        server = App(sample.warehouse)
    finally:
        if old is None:
            os.environ.pop(downloads.ENV_SWEEP, None)
        else:
            os.environ[downloads.ENV_SWEEP] = old
    try:
        server.wait_healthy()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser(app):
    from browser_helpers import launch
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()


LOCAL = {"127.0.0.1", "localhost"}


@pytest.mark.browser
def test_no_request_leaves_localhost(app, browser):
    """The page icon, the navigation icons, alerts and buttons: every request stays on this server."""
    from browser_helpers import open_page

    ctx = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
    requests: list[str] = []
    ctx.on("request", lambda r: requests.append(r.url))
    page = ctx.new_page()
    page.set_default_timeout(60_000)
    try:
        for path in ("overview", "data", "journey", "content"):
            open_page(page, app.url, path)
        page.wait_for_timeout(1500)  # late fetches (favicon, fonts)
    finally:
        ctx.close()
    outside = [u for u in requests if urlparse(u).scheme not in ("data", "blob", "about")
               and urlparse(u).hostname not in LOCAL]
    assert requests and not outside, outside


@pytest.mark.browser
def test_a_download_link_expires_without_a_session(app, browser):
    from browser_helpers import open_page

    ctx = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN", accept_downloads=True)
    page = ctx.new_page()
    page.set_default_timeout(60_000)
    try:
        open_page(page, app.url, "stages")
        with page.expect_download() as info:
            page.locator('[data-testid="stDownloadButton"]', has_text="CSV").first.locator("button").click()
        url = info.value.url
        assert urlparse(url).path.startswith("/media/")
        assert Path(info.value.path()).read_bytes()
    finally:
        ctx.close()  # the browser is gone: no session refers to the file
    deadline = time.monotonic() + 20
    status = 200
    while time.monotonic() < deadline and status == 200:
        time.sleep(0.5)
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                status = r.status
        except urllib.error.HTTPError as exc:
            status = exc.code
    assert status == 404, f"{url} still served {deadline - time.monotonic():.0f} s before the deadline"
