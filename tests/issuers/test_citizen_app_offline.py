"""The citizen app offline, honestly (issue 15): with no network the last code is shown, marked
"offline, valid until HH:MM", while it is valid (and it verifies), and refused after it expires.
Time is moved with Playwright's clock, not waited for."""

from __future__ import annotations

from datetime import datetime

import pytest
from playwright.sync_api import Browser, expect

from healthcode.config import DEFAULT_LIMITS
from healthcode.errors import ErrorCode
from tests.browser import screenshot
from tests.issuers.citizen_app import (
    Province,
    assert_accessible,
    log_in,
    phone_context,
    screenshot_qr_text,
    wait_for_colour,
)

pytestmark = pytest.mark.browser


def test_offline_shows_the_cached_code_until_it_expires_then_refuses(
    browser: Browser, province: Province
) -> None:
    with phone_context(browser) as context:
        page = context.new_page()
        page.clock.install()
        log_in(page, province)
        wait_for_colour(page, "green")
        page.evaluate("navigator.serviceWorker.ready.then(() => true)")
        code = page.evaluate("JSON.parse(localStorage.getItem('hc.codes')).me")
        expires_at = datetime.fromisoformat(code["expires_at"])
        until = expires_at.astimezone().strftime("%H:%M")

        context.set_offline(True)
        page.reload()  # the service worker opens the app with no network
        wait_for_colour(page, "green")
        expect(page.locator("#code-frame")).to_have_attribute("data-state", "offline")
        expect(page.locator("#validity")).to_have_text(f"离线，有效至 {until}")
        offline_text = screenshot_qr_text(page)
        assert offline_text == code["qr_text"]
        province.checkpoint_accepts(offline_text)
        screenshot(page, "citizen-code-offline.png")
        assert_accessible(page)

        # One minute past the code's expiry (the page's clock only; the code is untouched).
        now_ms = page.evaluate("Date.now()")
        page.clock.fast_forward(int(expires_at.timestamp() * 1000 - now_ms) + 60_000)
        expect(page.locator("#code-frame")).to_have_attribute("data-state", "refused")
        expect(page.locator("#qr")).to_be_hidden()
        expect(page.locator("#reason")).to_have_text("离线且健康码已过期，无法出示。请联网刷新。")
        expect(page.locator("#live")).to_have_text("离线且健康码已过期，无法出示。请联网刷新。")
        # A checkpoint refuses the cached code once past its expiry and the allowed clock skew.
        late_s = expires_at.timestamp() + DEFAULT_LIMITS.clock_skew_s + 60
        late = province.checkpoint_verdict_at(code["qr_text"], late_s)
        assert late.error is ErrorCode.EXPIRED
        screenshot(page, "citizen-code-offline-expired.png")
        assert_accessible(page)

        # Back online an hour later the login (an hour long) has ended too: log in again.
        context.set_offline(False)
        page.evaluate("window.dispatchEvent(new Event('online'))")
        expect(page.locator("#screen-login")).to_be_visible()
        expect(page.locator("#login-message")).to_have_text("登录已过期，请重新登录。")
