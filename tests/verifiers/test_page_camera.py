"""The staff page's camera (headless Chromium with a fake camera filming a QR code)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, Playwright, Route, expect

from healthcode import ReasonCode, StatusColour
from tests.verifiers.conftest import Province, RunningCheckpoint
from tests.verifiers.pagekit import browser_filming, logged_in, quick_scan
from tests.verifiers.pagekit import code as _code

pytestmark = pytest.mark.browser


@pytest.fixture
def filming(
    playwright: Playwright, tmp_path: Path, checkpoint: RunningCheckpoint, sc: Province
) -> Iterator[Page]:
    """A logged-in page whose camera films a yellow (close contact) code of `sc`."""
    code = _code(sc, StatusColour.YELLOW, ReasonCode.CLOSE_CONTACT)
    browser = browser_filming(playwright, tmp_path, code)
    try:
        with logged_in(browser, checkpoint.url) as page:
            yield page
    finally:
        browser.close()


def test_camera_scan_with_vendored_jsqr(filming: Page) -> None:
    filming.click("#camera-toggle")
    expect(filming.locator("#result")).to_have_attribute("data-display", "yellow", timeout=15_000)
    expect(filming.locator("#result-reason")).to_have_text("密切接触者")


def test_camera_code_seen_while_a_scan_is_checked_is_not_lost(filming: Page, sc: Province) -> None:
    page = filming
    held: list[Route] = []
    passed: list[str] = []

    def slow_first_scan(route: Route) -> None:
        if not held:
            held.append(route)  # answered only when the test says so
        else:
            passed.append(route.request.url)
            route.continue_()

    page.route("**/v1/scan", slow_first_scan)
    quick_scan(page, _code(sc, StatusColour.GREEN))  # a scanner's code, answered slowly
    expect(page.locator("#result")).to_have_attribute("data-display", "checking")
    page.click("#camera-toggle")  # the camera sees a code while that one is checked
    expect(page.locator("#camera")).to_be_visible(timeout=15_000)
    page.wait_for_timeout(1000)
    assert (len(held), passed) == (1, [])  # nothing else was sent meanwhile
    held[0].continue_()
    # The scanner's answer, then the camera's code (still in view) is verified.
    expect(page.locator("#result")).to_have_attribute("data-display", "yellow", timeout=15_000)
    expect(page.locator("#result-reason")).to_have_text("密切接触者")
