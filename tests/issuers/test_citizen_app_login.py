"""The citizen app's login in headless Chromium at 390×844 (issue 15): phone and one-time code,
clear messages for a wrong or expired code and for rate limits, the session kept across
reloads, logout; Chinese and English."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser import screenshot
from tests.issuers.citizen_app import (
    Province,
    assert_accessible,
    log_in,
    phone_context,
    running_province,
    wait_for_colour,
    wait_for_otp,
)

pytestmark = pytest.mark.browser


def _ask_for_code(page: Page, province: Province) -> None:
    page.goto(province.url + "/")
    page.fill("#phone", province.phone)
    page.click("#phone-form button[type=submit]")
    expect(page.locator("#otp-form")).to_be_visible()


def _submit(page: Page, code: str) -> None:
    page.fill("#otp", code)
    page.click("#otp-form button[type=submit]")


def test_wrong_code_is_said_plainly_and_the_right_one_logs_in(
    browser: Browser, province: Province
) -> None:
    with phone_context(browser) as context:
        page = context.new_page()
        page.goto(province.url + "/")
        expect(page.locator("#screen-login")).to_be_visible()
        screenshot(page, "citizen-login.png")
        assert_accessible(page)
        page.fill("#phone", "12")
        page.click("#phone-form button[type=submit]")
        expect(page.locator("#login-message")).to_have_text(
            "请输入正确的手机号（5 到 20 位数字）。"
        )
        expect(page.locator("#phone")).to_have_attribute("aria-invalid", "true")

        _ask_for_code(page, province)
        code = wait_for_otp(page, province, province.phone)
        wrong = "000000" if code != "000000" else "111111"
        _submit(page, wrong)
        expect(page.locator("#login-message")).to_have_text("验证码不对，请核对短信后重新输入。")
        assert_accessible(page)
        _submit(page, code)
        expect(page.locator("#screen-code")).to_be_visible()

        page.click("#logout")
        expect(page.locator("#screen-login")).to_be_visible()
        expect(page.locator("#login-message")).to_have_text("您已退出。")


def test_a_code_used_up_by_wrong_tries_says_ask_for_a_new_one(
    browser: Browser, tmp_path: Path, redis_url: str
) -> None:
    with (
        running_province(tmp_path, redis_url, otp_max_attempts=1) as strict,
        phone_context(browser) as context,
    ):
        page = context.new_page()
        _ask_for_code(page, strict)
        code = wait_for_otp(page, strict, strict.phone)
        _submit(page, "000000" if code != "000000" else "111111")
        expect(page.locator("#login-message")).to_have_text("验证码不对，请核对短信后重新输入。")
        _submit(page, code)  # one try per code: this code is used up
        expect(page.locator("#login-message")).to_have_text("验证码已过期或已失效，请重新获取。")
        expect(page.locator("#screen-login")).to_be_visible()


def test_too_many_wrong_codes_say_when_to_try_again(
    browser: Browser, tmp_path: Path, redis_url: str
) -> None:
    with (
        running_province(tmp_path, redis_url, otp_failure_limit=2) as limited,
        phone_context(browser) as context,
    ):
        page = context.new_page()
        _ask_for_code(page, limited)
        code = wait_for_otp(page, limited, limited.phone)
        wrong = "000000" if code != "000000" else "111111"
        for _ in range(2):
            _submit(page, wrong)
            expect(page.locator("#login-message")).to_contain_text("验证码")
        _submit(page, code)  # over the limit even the right code is refused
        expect(page.locator("#login-message")).to_contain_text("尝试次数过多，请在")
        expect(page.locator("#login-message")).to_contain_text("分钟后再试")
        expect(page.locator("#screen-login")).to_be_visible()


def test_session_survives_a_reload_and_logout_ends_it(browser: Browser, province: Province) -> None:
    with phone_context(browser) as context:
        page = context.new_page()
        log_in(page, province)
        expect(page.locator("#code-frame")).to_have_attribute("data-colour", "green")
        token = page.evaluate("JSON.parse(localStorage.getItem('hc.session')).token")
        page.reload()
        expect(page.locator("#screen-code")).to_be_visible()
        expect(page.locator("#code-frame")).to_have_attribute("data-colour", "green")
        expect(page.locator("#screen-login")).to_be_hidden()

        page.click("#logout")
        expect(page.locator("#screen-login")).to_be_visible()
        assert page.evaluate("localStorage.getItem('hc.session')") is None
        assert page.evaluate("localStorage.getItem('hc.codes')") is None
        refused = httpx.get(
            province.url + "/v1/me/code", headers={"Authorization": f"Bearer {token}"}
        )
        assert refused.status_code == 401
        page.reload()
        expect(page.locator("#screen-login")).to_be_visible()


def test_english_by_browser_language_and_switchable(browser: Browser, province: Province) -> None:
    with phone_context(browser, locale="en-GB") as context:
        page = context.new_page()
        page.goto(province.url + "/")
        expect(page.locator("#login-title")).to_have_text("Log in")
        expect(page.locator("html")).to_have_attribute("lang", "en")
        assert_accessible(page)
        log_in(page, province)
        expect(page.locator("#colour-word")).to_have_text("Green")
        expect(page.locator("#qr")).to_have_attribute(
            "aria-label", "Green health code QR for 李*康"
        )
        screenshot(page, "citizen-code-green-en.png")
        assert_accessible(page)
        page.click("#lang-toggle")
        expect(page.locator("#colour-word")).to_have_text("绿码")
        expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
        page.reload()  # the choice is remembered
        expect(page.locator("#colour-word")).to_have_text("绿码")


def test_large_text_mode_scales_the_page(browser: Browser, province: Province) -> None:
    with phone_context(browser) as context:
        page = context.new_page()
        log_in(page, province)
        wait_for_colour(page, "green")
        size = "parseFloat(getComputedStyle(document.getElementById('reason')).fontSize)"
        normal = page.evaluate(size)
        page.click("#text-toggle")
        expect(page.locator("#text-toggle")).to_have_attribute("aria-pressed", "true")
        assert page.evaluate(size) == pytest.approx(normal * 1.25)
        assert_accessible(page)
        screenshot(page, "citizen-code-large-text.png")
        # Every button is at least 44 px high (touch targets).
        small = page.evaluate(
            """[...document.querySelectorAll('button:not([hidden])')]
                .filter(b => b.offsetParent !== null && b.getBoundingClientRect().height < 44)
                .map(b => b.id || b.textContent)"""
        )
        assert small == []
