"""The dashboards in a real browser: `streamlit run` on a free port (as `closedloop serve` starts it), driven by
Debian's Chromium through Playwright.

Every page loads in both languages with no exception element (screenshots saved under
test-artifacts/screenshots/), a KPI tile shows the mart's value, a filter change updates the URL and the chart and
the URL reproduces the view, the language switch keeps the filters, an export downloads and reads back with the
shown rows, presentation mode hides the sidebar, and the page works at phone width.
"""

from __future__ import annotations

import io
import sys
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import parse_qs, quote, urlparse

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from browser_helpers import (  # noqa: E402,I001
    CHROMIUM, LANG_QUERY, PAGES, STALE_ICON, App, exception_count, launch, open_page, screenshot, wait_idle)

pytestmark = pytest.mark.browser
ARTIFACTS = REPO / "test-artifacts"
SHOTS = ARTIFACTS / "screenshots"


@pytest.fixture(scope="module")
def server(sample):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install -y chromium fonts-noto-cjk)")
    pytest.importorskip("playwright.sync_api")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    app = App(sample.warehouse, log_path=ARTIFACTS / "streamlit.log")
    try:
        app.wait_healthy()
        yield app
    finally:
        app.stop()


@pytest.fixture(scope="module")
def browser(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    ctx = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN", accept_downloads=True)
    pg = ctx.new_page()
    pg.set_default_timeout(60_000)
    yield pg
    ctx.close()


def alerts(pg, kind: str) -> list[str]:
    return pg.locator(f'[data-testid="stAlertContent{kind}"]').all_inner_texts()


def tile_value(pg, label: str) -> str:
    tile = pg.locator('[data-testid="stMetric"]').filter(
        has=pg.locator('[data-testid="stMetricLabel"]', has_text=label)).first
    return tile.locator('[data-testid="stMetricValue"]').inner_text().strip()


def query(pg) -> dict[str, list[str]]:
    return parse_qs(urlparse(pg.url).query)


def chart_png(pg, index: int = 0) -> bytes:
    return pg.locator('[data-testid="stVegaLiteChart"]').nth(index).screenshot()


def similar(a: bytes, b: bytes) -> bool:
    from PIL import Image, ImageChops, ImageFilter

    ia, ib = Image.open(io.BytesIO(a)).convert("RGB"), Image.open(io.BytesIO(b)).convert("RGB")
    if ia.size != ib.size:
        return False
    # A chart drawn at a sub-pixel offset anti-aliases its text and marks differently; a slight blur keeps that
    # from counting while moved marks and changed labels still do.
    ia, ib = ia.filter(ImageFilter.GaussianBlur(1)), ib.filter(ImageFilter.GaussianBlur(1))
    diff = ImageChops.difference(ia, ib).convert("L").point(lambda v: 255 if v > 40 else 0)
    return sum(diff.histogram()[255:]) / (ia.size[0] * ia.size[1]) < 0.01


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("name", PAGES)
def test_every_page_loads_without_an_exception(server, page, name, lang):
    open_page(page, server.url, "" if name == "overview" else name, LANG_QUERY[lang])
    assert exception_count(page) == 0
    # The Data page's stale-source callout is an error by design (the sample ends 2026-10-31, weeks before any
    # run of this suite); its icon leads its text. Any other error callout is a failure.
    errors = alerts(page, "Error")
    assert [e for e in errors if not e.startswith(STALE_ICON)] == []
    assert bool(errors) == (name == "data")
    main = page.locator('[data-testid="stMain"]').inner_text()
    assert ("Data as of" if lang == "en" else "数据截至") in main
    assert "Traceback" not in main
    screenshot(page, SHOTS / f"{name}-{lang}.png")


def test_a_kpi_tile_shows_the_marts_value(server, page, mart):
    open_page(page, server.url)
    as_of = pd.Timestamp(mart("int_as_of", schema="intermediate").as_of_date[0]).date()
    month = date(as_of.year, as_of.month, 1)
    leads = mart("fct_leads")
    n = ((leads.created_at >= pd.Timestamp(month)) & (leads.created_at < pd.Timestamp(as_of + timedelta(days=1)))).sum()
    assert tile_value(page, "新增线索") == f"{n:,}"
    opps = mart("fct_opportunities")
    won = (opps.is_won & (opps.closed_at >= pd.Timestamp(month))
           & (opps.closed_at < pd.Timestamp(as_of + timedelta(days=1)))).sum()
    assert tile_value(page, "赢单数") == f"{won:,}"


def test_a_filter_change_updates_url_and_chart_and_the_link_reproduces_the_view(server, page, browser):
    open_page(page, server.url, "stages")
    before = chart_png(page, 0)
    sidebar = page.locator('[data-testid="stSidebar"]')
    departments = sidebar.locator('[data-testid="stMultiSelect"]').first
    # The filters sit below the page menu, out of a 900 px view: bring the box into view and open it, or Enter
    # has no highlighted option to choose.
    departments.scroll_into_view_if_needed()
    box = departments.locator("input")
    box.click()
    box.fill("华东一部")
    box.press("Enter")
    page.keyboard.press("Escape")
    page.wait_for_function("() => location.search.includes('dept=')")
    page.mouse.move(0, 0)  # nothing hovered, the chart as a fresh load draws it
    wait_idle(page)
    assert query(page).get("dept") == ["华东一部"]
    after = chart_png(page, 0)
    assert not similar(before, after), "the funnel chart did not change with the department filter"
    caption = page.locator('[data-testid="stMain"]').inner_text()
    assert "华东一部" in caption
    screenshot(page, SHOTS / "stages-filtered-zh.png")

    # The copied link, opened in a fresh browser context, reproduces the view.
    ctx = browser.new_context(viewport={"width": 1440, "height": 900})
    other = ctx.new_page()
    try:
        other.goto(page.url, wait_until="domcontentloaded")
        wait_idle(other)
        assert exception_count(other) == 0
        assert query(other).get("dept") == ["华东一部"]
        chips = other.locator('[data-testid="stSidebar"] [data-testid="stMultiSelect"]').first.inner_text()
        assert "华东一部" in chips
        assert similar(after, chart_png(other, 0)), "the link did not reproduce the chart"
    finally:
        ctx.close()


def test_clicking_a_heat_map_cell_drills_to_its_opportunities(server, page):
    open_page(page, server.url, "stages")
    heat = page.locator('[data-testid="stVegaLiteChart"]').nth(2)  # rate, counts, then the heat map
    heat.scroll_into_view_if_needed()
    box = heat.bounding_box()
    # first column (y-axis labels take ~95 px, six step columns), first department row below the column labels
    heat.click(position={"x": 95 + (box["width"] - 100) / 12, "y": 80})
    page.wait_for_function("() => location.search.includes('drill_dept=')")
    wait_idle(page)
    params = query(page)
    assert params.get("drill_dept") and params.get("drill_step")
    main = page.locator('[data-testid="stMain"]').inner_text()
    assert f"下钻：{params['drill_dept'][0]}" in main
    assert exception_count(page) == 0


def test_the_language_switch_keeps_the_filters_in_the_url(server, page):
    open_page(page, server.url, "stages")
    page.get_by_role("radio", name="季度").click()
    page.wait_for_function("() => location.search.includes('grain=')")
    wait_idle(page)
    page.get_by_role("radio", name="English").click()
    page.wait_for_function("() => location.search.includes('lang=English')")
    wait_idle(page)
    assert query(page).get("grain") == ["Quarter"]
    assert "Funnel by stage" in page.locator('[data-testid="stMain"]').inner_text()
    assert exception_count(page) == 0


def test_an_export_downloads_and_reads_back_with_the_shown_rows(server, page, sample, monkeypatch):
    import openpyxl

    from dashboards import periods
    from dashboards import queries as q

    open_page(page, server.url, "stages", "drill_step=" + quote("赢率"))  # the drill's rows are a sheet too
    monkeypatch.setenv(q.ENV_WAREHOUSE, str(sample.warehouse))
    a = q.as_of()
    shown = q.funnel(periods.window("month", a["as_of_month"], a["as_of_date"]), q.Scope())

    button = page.locator('[data-testid="stDownloadButton"]', has_text="CSV · 各阶段转化漏斗").locator("button")
    with page.expect_download() as info:
        button.click()
    assert info.value.suggested_filename.endswith(".csv")
    df = pd.read_csv(info.value.path(), encoding="utf-8-sig")
    assert list(df.columns[:3]) == ["步骤", "到达", "推进"]
    assert df["到达"].tolist() == shown.reached.tolist()
    assert df["推进"].tolist() == shown.advanced.tolist()
    assert df["步转化率"].round(9).tolist() == shown.conversion_rate.round(9).tolist()

    with page.expect_download() as info:
        page.locator('[data-testid="stDownloadButton"]', has_text="Excel").locator("button").click()
    assert info.value.suggested_filename.endswith(".xlsx")
    wb = openpyxl.load_workbook(io.BytesIO(Path(info.value.path()).read_bytes()))
    assert "各阶段转化漏斗" in wb.sheetnames and len(wb.sheetnames) >= 3
    ws = wb["各阶段转化漏斗"]
    assert ws.max_row == len(shown) + 1
    assert [c.value for c in ws[1]][:2] == ["步骤", "到达"]


def test_a_chart_downloads_as_png(server, page):
    from dashboards import exports

    if not exports.png_available():
        pytest.skip("vl-convert-python is not installed: charts offer no PNG")
    open_page(page, server.url, "stages")
    button = page.locator('[data-testid="stDownloadButton"]', has_text="PNG").first.locator("button")
    with page.expect_download() as info:
        button.click()
    data = Path(info.value.path()).read_bytes()
    assert info.value.suggested_filename.endswith(".png") and data[:8] == b"\x89PNG\r\n\x1a\n"
    from PIL import Image

    assert Image.open(io.BytesIO(data)).size[0] >= 760


def test_presentation_mode_hides_the_sidebar_and_enlarges_the_tiles(server, page):
    open_page(page, server.url, "", "present=true")
    assert exception_count(page) == 0
    assert not page.locator('[data-testid="stSidebar"]').is_visible()
    # the element that holds the number's text, not its wrapper
    size = page.locator('[data-testid="stMetricValue"]').first.evaluate(
        "e => { let n = e; while (n.firstElementChild) n = n.firstElementChild; "
        "return parseFloat(getComputedStyle(n).fontSize); }")
    assert size >= 40
    screenshot(page, SHOTS / "overview-presentation-zh.png")
    open_page(page, server.url, "stages", "present=true&lang=English")
    assert exception_count(page) == 0
    screenshot(page, SHOTS / "stages-presentation-en.png")
    open_page(page, server.url, "forecast", "present=true&lang=English")
    assert exception_count(page) == 0
    screenshot(page, SHOTS / "forecast-presentation-en.png")


def test_phone_width(server, browser):
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    pg = ctx.new_page()
    try:
        for name in ("", "stages", "forecast"):
            open_page(pg, server.url, name)
            assert exception_count(pg) == 0
            screenshot(pg, SHOTS / f"{name or 'overview'}-phone-zh.png")
    finally:
        ctx.close()


def test_the_journey_page_opens_from_a_link_and_from_its_search(server, page, mart):
    leads, touches = mart("fct_leads"), mart("fct_touches")
    per = leads.groupby("person_id").size().rename("n").to_frame().join(touches.groupby("person_id").size().rename("t"))
    person = per.sort_values(["n", "t"], ascending=False).index[0]
    lead = leads[leads.person_id == person].sort_values("created_at").lead_id.iloc[-1]
    open_page(page, server.url, "journey", f"lead={lead}")
    assert exception_count(page) == 0 and alerts(page, "Error") == []
    main = page.locator('[data-testid="stMain"]').inner_text()
    assert f"{person} 的旅程" in main and "身份标识" in main
    assert page.locator('[data-testid="stVegaLiteChart"]').count() == 1
    screenshot(page, SHOTS / "journey-lead-zh.png")
    # the search box puts the person into the URL, so the view is a link
    open_page(page, server.url, "journey")
    screenshot(page, SHOTS / "journey-list-zh.png")
    box = page.locator('[data-testid="stTextInput"] input').first
    box.fill(lead)
    box.press("Enter")
    page.wait_for_function(f"() => location.search.includes('person={person}')")
    wait_idle(page)
    assert f"{person} 的旅程" in page.locator('[data-testid="stMain"]').inner_text()
    open_page(page, server.url, "journey", f"person={person}&lang=English")
    assert exception_count(page) == 0
    assert f"Journey of {person}" in page.locator('[data-testid="stMain"]').inner_text()
    screenshot(page, SHOTS / "journey-person-en.png")


def test_the_content_page_and_the_models_side_by_side(server, page, mart):
    as_of = pd.Timestamp(mart("int_as_of", schema="intermediate").as_of_date[0]).date()
    from dashboards import periods

    half = periods.add_months(periods.period_start(as_of, "half_year"), -6)
    period = f"grain=半年&period={half.year}年{'上' if half.month == 1 else '下'}半年"
    open_page(page, server.url, "content", period)
    assert exception_count(page) == 0 and alerts(page, "Error") == []
    main = page.locator('[data-testid="stMain"]').inner_text()
    assert "按内容类型" in main and "哪些内容触达了人" in main
    assert page.locator('[data-testid="stVegaLiteChart"]').count() == 2
    screenshot(page, SHOTS / "content-zh.png")
    open_page(page, server.url, "content", "lang=English&cmodel=Markov")
    assert exception_count(page) == 0
    assert "By content type" in page.locator('[data-testid="stMain"]').inner_text()
    screenshot(page, SHOTS / "content-markov-en.png")
    open_page(page, server.url, "campaigns", period + "&model=马尔可夫")
    assert exception_count(page) == 0 and alerts(page, "Error") == []
    main = page.locator('[data-testid="stMain"]').inner_text()
    assert "渠道投入产出（马尔可夫归因）" in main and "各归因模型并列" in main
    screenshot(page, SHOTS / "campaigns-markov-zh.png")


def test_the_server_logged_no_errors(server):
    log = server.log_text()
    assert "Traceback" not in log, log[-3000:]
    assert "ERROR closedloop.dashboards" not in log
