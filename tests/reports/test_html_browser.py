"""The HTML report in headless Chromium (Debian's ``chromium``, driven by Playwright): what a reviewer sees.

Pages are rendered from the golden scorecards (real grades of the report fixtures) into a temporary folder and
opened by file:// URL. Every visit records script errors, console errors, dialogs and requests; each test ends by
asserting there were none, other than the page's own document. Screenshots go to build/test-artifacts/html/.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Error as PlaywrightError, Page, sync_playwright

from reports.html import render_html, render_index
from tests.reports.conftest import HOSTILE, hostile, index_set

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "build" / "test-artifacts" / "html"
CHROMIUM = Path(os.environ.get("STACKGRADE_CHROMIUM") or "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ORDERS = "Shop/Orders|<script>alert(1)</script>/Resource"
INSTALL = (f"the HTML report's browser test needs Chromium at {CHROMIUM}: install Debian's with "
           "`apt-get install chromium`, or set STACKGRADE_CHROMIUM to a Chromium binary")


@pytest.fixture(scope="module")
def context(tmp_path_factory: pytest.TempPathFactory) -> BrowserContext:
    """One browser for the module, with a fresh profile; a missing Chromium fails (never skips) the tests."""
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(INSTALL, pytrace=False)
    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch_persistent_context(
                str(tmp_path_factory.mktemp("chromium-profile")), executable_path=str(CHROMIUM), headless=True,
                args=ARGS, viewport={"width": 1440, "height": 900})
        except PlaywrightError as error:  # pragma: no cover - a broken browser install
            pytest.fail(f"{INSTALL}\n{error}", pytrace=False)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, golden_cards) -> Path:
    """The review pages of the golden scorecards, a hostile one, and an index linking two of them."""
    root = tmp_path_factory.mktemp("site")
    cards = index_set(golden_cards)
    pages = {
        "shop-ideal/scorecard.html": render_html(cards[1], golden_cards["shop-before"]),
        "shop-baseline/scorecard.html": render_html(cards[0]),
        "hostile/scorecard.html": render_html(hostile(golden_cards["shop"]), golden_cards["shop-before"]),
        "index.html": render_index(cards, ["shop-baseline/scorecard.html", "shop-ideal/scorecard.html", None, None]),
    }
    for name, text in pages.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return root


@dataclass
class Visit:
    """An open page and everything it did that a clean page does not."""

    page: Page
    url: str
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def assert_clean(self, *also: str) -> None:
        """No script or console error, no dialog, no request but the document (and ``also`` pages followed)."""
        assert self.errors == [] and self.dialogs == []
        assert self.requests == [self.url, *also]


def visit(context: BrowserContext, path: Path, *, script: bool = True) -> Visit:
    page = context.new_page()
    seen = Visit(page, path.as_uri())
    page.on("console", lambda m: seen.errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda error: seen.errors.append(f"script error: {error}"))
    page.on("dialog", lambda dialog: (seen.dialogs.append(dialog.message), dialog.dismiss()))
    page.on("request", lambda request: seen.requests.append(request.url))
    if not script:
        context.new_cdp_session(page).send("Emulation.setScriptExecutionDisabled", {"value": True})
    page.goto(seen.url)
    return seen


@pytest.fixture()
def shop(context, site):
    seen = visit(context, site / "shop-ideal" / "scorecard.html")
    yield seen
    seen.page.close()


def screenshot(page: Page, name: str) -> tuple[int, int]:
    """A full-page PNG under build/test-artifacts/html/; its width and height."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    data = page.screenshot(path=str(path), full_page=True)
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 40_000, "the screenshot is blank or tiny"
    return struct.unpack(">II", data[16:24])


def visible_rows(page: Page, table: str = "findings") -> list[tuple[str, str]]:
    """(rule id, resource) of each row the reader can see, top to bottom."""
    return [tuple(row) for row in page.eval_on_selector_all(
        f"#{table} tbody tr", "rows => rows.filter(r => r.offsetParent !== null).map(r => "
        "[r.querySelector('.rule-id').textContent, r.querySelector('.subject').textContent])")]


def bar_widths(page: Page, chart: str) -> list[tuple[str, float, float]]:
    """(tooltip, width attribute, drawn width in CSS pixels) of a chart's bars."""
    return [tuple(bar) for bar in page.eval_on_selector_all(
        f"#{chart} rect.bar", "bars => bars.map(b => [b.querySelector('title').textContent, "
        "Number(b.getAttribute('width')), Math.round(b.getBoundingClientRect().width * 10) / 10])")]


# The shop page's unsuppressed findings in the page's own order (severity, stack, resource, rule).
PAGE_ORDER = [
    ("SG-ALM-004", "Shop/Audit/Resource"), ("SG-ALM-005", "Shop/AuditDlq/Resource"),
    ("SG-DLQ-003", "Shop/AuditDlq/Resource"), ("SG-ALM-004", ORDERS), ("SG-DLQ-001", ORDERS),
    ("SG-ALM-004", "Shop/Payments/Resource"), ("SG-DLQ-001", "Shop/Payments/Resource"), ("SG-SUP-001", "shop"),
    ("SG-OUT-003", "Shop/Audit/Resource"), ("SG-ENC-001", "Shop/AuditDlq/Resource"),
    ("SG-OUT-003", "Shop/AuditDlq/Resource"), ("SG-ENC-001", ORDERS), ("SG-OUT-003", ORDERS),
    ("SG-ENC-001", "Shop/Payments/Resource"), ("SG-OUT-003", "Shop/Payments/Resource"),
    ("SG-RMV-001", "Shop/Audit/Resource"), ("SG-RMV-001", "Shop/AuditDlq/Resource"), ("SG-RMV-001", ORDERS),
    ("SG-RMV-001", "Shop/Payments/Resource"),
]


# --- the review page ----------------------------------------------------------------------------------------------


def test_review_page_shows_verdict_findings_and_charts(shop):
    page = shop.page
    width, height = screenshot(page, "shop")
    assert width == 1440 and height > 2500
    assert page.title() == "stackgrade: shop-ideal · 2.3 F · FAIL"
    assert (page.inner_text("#score"), page.inner_text("#grade"), page.inner_text("#gate")) == ("2.3", "F",
                                                                                                  "gate FAIL")
    assert page.locator("#reasons li").all_inner_texts() == [
        "1 new unsuppressed high finding: SG-DLQ-001 on shop/Payments",
        "overall score 2.3 is under the minimum 7.0 and lower than the baseline's (which scored 2.4)"]
    assert visible_rows(page) == PAGE_ORDER
    assert page.inner_text("#filter-status") == "19 of 19 shown"
    assert page.locator("#fixed li .rule-id").all_inner_texts()[:2] == ["SG-DLQ-001", "SG-ALM-004"]
    assert page.locator("#suppressed tbody .rule-id").all_inner_texts() == ["SG-ENC-001", "CKV_AWS_27"]
    # The charts are drawn at their natural size (one SVG unit, one pixel) with the bars the numbers give.
    assert bar_widths(page, "chart-categories")[:4] == [
        ("overall, baseline: 2.4 F", 72.0, 72.0), ("overall: 2.3 F", 69.0, 69.0),
        ("reliability, baseline: 1.8 F", 54.0, 54.0), ("reliability: 1.9 F", 57.0, 57.0)]
    assert bar_widths(page, "chart-severities") == [
        ("high: 1 new", 37.5, 37.5), ("high: 6 not new", 225.0, 225.0), ("medium: 2 new", 75.0, 75.0),
        ("medium: 6 not new", 225.0, 225.0), ("low: 4 not new", 150.0, 150.0)]
    assert [t for t, _, _ in bar_widths(page, "chart-stacks")] == ["shop: 7 high", "shop: 8 medium", "shop: 4 low"]
    assert [t for t, _, _ in bar_widths(page, "chart-diff")] == ["new: 4 findings", "fixed: 9 findings",
                                                                 "unchanged: 17 findings"]
    shop.assert_clean()


def test_long_fixes_open_on_click(shop):
    page = shop.page
    cell = page.locator("#findings tbody tr").first.locator("td.fix")
    assert "clipped" in cell.locator(".clamp").get_attribute("class")
    closed = cell.bounding_box()["height"]
    cell.click()
    assert "open" in cell.get_attribute("class") and cell.bounding_box()["height"] > closed
    cell.click()
    assert cell.bounding_box()["height"] == closed
    shop.assert_clean()


def test_sorting_by_clicking_headers(shop):
    page = shop.page
    header = page.locator("#findings th", has_text="resource")
    header.click()
    assert header.get_attribute("aria-sort") == "ascending"
    by_resource = [
        ("SG-SUP-001", "shop"),
        ("SG-ALM-004", "Shop/Audit/Resource"), ("SG-OUT-003", "Shop/Audit/Resource"),
        ("SG-RMV-001", "Shop/Audit/Resource"),
        ("SG-ALM-005", "Shop/AuditDlq/Resource"), ("SG-DLQ-003", "Shop/AuditDlq/Resource"),
        ("SG-ENC-001", "Shop/AuditDlq/Resource"), ("SG-OUT-003", "Shop/AuditDlq/Resource"),
        ("SG-RMV-001", "Shop/AuditDlq/Resource"),
        ("SG-ALM-004", ORDERS), ("SG-DLQ-001", ORDERS), ("SG-ENC-001", ORDERS), ("SG-OUT-003", ORDERS),
        ("SG-RMV-001", ORDERS),
        ("SG-ALM-004", "Shop/Payments/Resource"), ("SG-DLQ-001", "Shop/Payments/Resource"),
        ("SG-ENC-001", "Shop/Payments/Resource"), ("SG-OUT-003", "Shop/Payments/Resource"),
        ("SG-RMV-001", "Shop/Payments/Resource"),
    ]
    assert visible_rows(page) == by_resource
    header.click()  # descending; rows with the same resource keep the page's order
    assert header.get_attribute("aria-sort") == "descending"
    assert visible_rows(page) == by_resource[14:] + by_resource[9:14] + by_resource[4:9] + by_resource[1:4] + \
        by_resource[:1]
    severity = page.locator("#findings th", has_text="severity")
    severity.click()  # by rank, critical first: the page's own order again
    assert visible_rows(page) == PAGE_ORDER
    assert header.get_attribute("aria-sort") is None and severity.get_attribute("aria-sort") == "ascending"
    severity.click()  # low first, not alphabetical ("high" < "low" < "medium")
    assert visible_rows(page) == PAGE_ORDER[15:] + PAGE_ORDER[7:15] + PAGE_ORDER[:7]
    page.locator("#engines th", has_text="findings").click()
    assert page.locator("#engines tbody td:first-child").all_inner_texts() == [
        "cdk-nag", "cfn-guard", "checkov", "stackgrade"]  # "–" (no run) before 0, 4, 20
    shop.assert_clean()


def test_filtering_by_text_severity_category_engine_and_new(shop):
    page = shop.page
    page.fill("#filter-text", "paYMents dead-letter")  # every word, any case, anywhere in the row (even the fix)
    assert visible_rows(page) == [("SG-DLQ-001", "Shop/Payments/Resource"), ("SG-ENC-001", "Shop/Payments/Resource")]
    assert page.inner_text("#filter-status") == "2 of 19 shown"
    page.fill("#filter-text", "")
    page.select_option("#filter-severity", "medium")
    page.select_option("#filter-category", "security")
    assert visible_rows(page) == [("SG-ENC-001", "Shop/AuditDlq/Resource"), ("SG-ENC-001", ORDERS),
                                  ("SG-ENC-001", "Shop/Payments/Resource")]
    page.select_option("#filter-engine", "checkov")
    assert visible_rows(page) == [("SG-ENC-001", "Shop/AuditDlq/Resource"), ("SG-ENC-001", ORDERS)]
    page.select_option("#filter-severity", "")
    page.select_option("#filter-category", "")
    page.select_option("#filter-engine", "")
    page.check("#filter-new")
    assert visible_rows(page) == [("SG-DLQ-001", "Shop/Payments/Resource"), ("SG-SUP-001", "shop"),
                                  ("SG-ENC-001", "Shop/Payments/Resource")]
    page.locator("#findings th", has_text="rule").click()  # sorting keeps the filter
    assert visible_rows(page) == [("SG-DLQ-001", "Shop/Payments/Resource"), ("SG-ENC-001", "Shop/Payments/Resource"),
                                  ("SG-SUP-001", "shop")]
    page.fill("#filter-text", "no such thing")
    assert visible_rows(page) == [] and page.is_visible("#findings-empty")
    assert page.inner_text("#filter-status") == "0 of 19 shown"
    page.uncheck("#filter-new")
    page.fill("#filter-text", "")
    assert len(visible_rows(page)) == 19 and not page.is_visible("#findings-empty")
    page.press("#filter-text", "Enter")  # the form never submits (a navigation would be a request)
    shop.assert_clean()


def test_without_script_everything_is_shown_and_charts_still_read(context, site):
    seen = visit(context, site / "shop-ideal" / "scorecard.html", script=False)
    page = seen.page
    assert not page.is_visible("#filters")
    assert visible_rows(page) == PAGE_ORDER
    assert [t for t, _, width in bar_widths(page, "chart-categories") if width > 0][:2] == [
        "overall, baseline: 2.4 F", "overall: 2.3 F"]
    fix = page.locator("#findings td.fix").first
    assert fix.inner_text().endswith("Keep scaling alarms, but add these for people.") and fix.is_visible()
    seen.assert_clean()
    page.close()


def test_narrow_screens_and_print(context, site):
    seen = visit(context, site / "shop-ideal" / "scorecard.html")
    page = seen.page
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # the wide table scrolls in its own box
    screenshot(page, "shop-narrow")
    page.emulate_media(media="print")
    assert not page.is_visible("#filters")
    clamp = page.locator("#findings td.fix .clamp").first
    assert clamp.evaluate("c => c.scrollHeight <= c.clientHeight")  # the whole fix prints
    seen.assert_clean()
    page.close()


# --- escaping -----------------------------------------------------------------------------------------------------


def test_hostile_strings_show_as_text_and_run_nothing(context, site):
    seen = visit(context, site / "hostile" / "scorecard.html")
    page = seen.page
    screenshot(page, "hostile")
    assert page.inner_text("#target") == HOSTILE
    assert page.locator("#reasons li").all_inner_texts() == [HOSTILE]
    assert page.locator("#findings tbody tr").first.locator(".rule-id").inner_text() == HOSTILE
    assert page.locator("#findings .msg").all_inner_texts() == [HOSTILE] * 19
    assert page.locator("#chart-stacks .group > title").all_text_contents() == [HOSTILE]
    assert page.evaluate("document.querySelectorAll('img, iframe, object, embed').length") == 0
    assert page.evaluate("document.scripts.length") == 1
    # The script reads the values from attributes and filters on them as plain strings.
    page.select_option("#filter-severity", HOSTILE)
    assert [rule for rule, _ in visible_rows(page)] == [HOSTILE]
    page.fill("#filter-text", "{{ 7*7 }}")
    assert page.inner_text("#filter-status") == "1 of 19 shown"
    seen.assert_clean()
    page.close()


# --- the index ----------------------------------------------------------------------------------------------------


def test_index_compares_targets_sorts_and_links_to_their_pages(context, site):
    seen = visit(context, site / "index.html")
    page = seen.page
    width, height = screenshot(page, "index")
    assert width == 1440 and height > 900
    names = "#targets tbody td:first-child"
    assert page.locator(names).all_inner_texts() == ["shop-baseline", "shop-ideal", "queues-ideal", "my-app"]
    assert page.locator("#targets tbody .gate").all_inner_texts() == ["FAIL", "FAIL", "pass", "FAIL"]
    assert [t for t, _, _ in bar_widths(page, "chart-overall")] == [
        "shop-baseline: 2.4 F, gate FAIL", "shop-ideal: 2.3 F, gate FAIL", "queues-ideal: 2.5 F, gate pass",
        "my-app: 2.5 F, gate FAIL"]
    assert bar_widths(page, "chart-system-0")[:2] == [("overall, baseline: 2.4 F", 72.0, 72.0),
                                                       ("overall, ideal: 2.3 F", 69.0, 69.0)]
    assert page.locator("figure[id^=chart-system] figcaption").all_inner_texts() == ["shop", "queues"]
    page.locator("#targets th", has_text="score").click()
    assert page.locator(names).all_inner_texts() == ["shop-ideal", "shop-baseline", "queues-ideal", "my-app"]
    page.locator("#targets th", has_text="high").click()
    page.locator("#targets th", has_text="high").click()  # most high findings first; ties keep their order
    assert page.locator(names).all_inner_texts() == ["shop-baseline", "shop-ideal", "queues-ideal", "my-app"]
    page.locator("#targets a", has_text="shop-ideal").click()
    page.wait_for_load_state()
    assert page.title() == "stackgrade: shop-ideal · 2.3 F · FAIL"
    seen.assert_clean((site / "shop-ideal" / "scorecard.html").as_uri())
    page.close()
