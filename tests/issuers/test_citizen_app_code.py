"""The citizen app's code screen in headless Chromium at 390×844 (issue 15): the QR drawn on
the phone verifies at a checkpoint, a colour change reaches the open page, the old code is
refused, and the screen says everything in words as well as colour."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from healthcode.credential import StatusColour
from healthcode.errors import ErrorCode
from issuers.auth import Role
from tests.browser import screenshot
from tests.issuers.citizen_app import (
    Province,
    assert_accessible,
    log_in,
    phone_context,
    screenshot_qr_text,
    wait_for_colour,
)
from tests.issuers.helpers import lab_csv, recent

pytestmark = pytest.mark.browser


def test_code_on_the_phone_verifies_green_then_turns_red_and_the_old_code_is_refused(
    browser: Browser, province: Province
) -> None:
    with phone_context(browser) as context:
        page = context.new_page()
        log_in(page, province)
        wait_for_colour(page, "green")
        expect(page.locator("#colour-word")).to_have_text("绿码")
        expect(page.locator("#who")).to_contain_text("李*康")
        expect(page.locator("#who")).to_contain_text(province.id_number[-4:])
        expect(page.locator("#qr")).to_have_attribute("aria-label", "绿码健康码二维码，李*康")
        expect(page.locator("#live")).to_contain_text("绿码")
        expect(page.locator("#validity")).to_contain_text("有效至")
        green_text = screenshot_qr_text(page)
        credential = province.checkpoint_accepts(green_text)
        assert credential.status is StatusColour.GREEN
        screenshot(page, "citizen-code-green.png")
        assert_accessible(page)

        official = province.issuer.staff_headers(Role.HEALTH_OFFICIAL)
        answer = province.issuer.http.post(
            "/v1/feeds/lab_results",
            content=lab_csv((province.id_number, "positive", "pcr", recent())),
            headers={**official, "Content-Type": "text/csv"},
        )
        assert answer.status_code == 200, answer.text

        # The open page polls: it turns red by itself (generous timeout, no time asserted).
        wait_for_colour(page, "red")
        expect(page.locator("#colour-word")).to_have_text("红码")
        expect(page.locator("#live")).to_contain_text("红码")
        red_text = screenshot_qr_text(page)
        assert red_text != green_text
        assert province.checkpoint_accepts(red_text).status is StatusColour.RED
        refused = province.checkpoint_verdict(green_text)
        assert not refused.valid
        assert refused.error is ErrorCode.REVOKED
        screenshot(page, "citizen-code-red.png")
        assert_accessible(page)


# Headless Chromium has no screen to keep on, so the Screen Wake Lock API is replaced by a
# recorder of what the page asks for (the app's own code runs unchanged).
WAKE_LOCK_RECORDER = """
window.wakeLockCalls = [];
Object.defineProperty(navigator, 'wakeLock', {configurable: true, value: {
  request: async (type) => {
    window.wakeLockCalls.push('request:' + type);
    return {addEventListener() {}, release: async () => { window.wakeLockCalls.push('release'); }};
  },
}});
"""


def test_the_code_screen_keeps_the_screen_on_only_while_shown(
    browser: Browser, province: Province
) -> None:
    with phone_context(browser) as context:
        context.add_init_script(WAKE_LOCK_RECORDER)
        page = context.new_page()
        log_in(page, province)
        wait_for_colour(page, "green")
        calls = "() => window.wakeLockCalls.join(',')"
        page.wait_for_function(f"() => ({calls})() === 'request:screen'")
        page.click("#tabs [data-screen=family]")
        page.wait_for_function(f"() => ({calls})() === 'request:screen,release'")
        page.click("#tabs [data-screen=code]")
        page.wait_for_function(f"() => ({calls})().endsWith('release,request:screen')")
