"""What the staff page says, in plain words, in Chinese and English: refused scans, logins
that fail, and the shift view of this device's last verdicts."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Browser, Page, expect

from healthcode import CodeKind, ReasonCode, StatusColour, encode_numeric, new_credential
from healthcode.jws import sign_credential
from tests.browser import axe_violations
from tests.verifiers.conftest import SC_GREEN, Province, RunningCheckpoint
from tests.verifiers.pagekit import ANY_SUBJECT, code, logged_in, quick_scan

pytestmark = pytest.mark.browser

NOT_A_CODE = (
    "不是健康码 — 请出示身份证或离线码",
    "not a health code — ask for the ID card or printed code",
)
SENTENCES = {
    "garbage": NOT_A_CODE,
    "url": NOT_A_CODE,
    "expired": ("码已过期 — 请刷新健康码", "expired — ask them to refresh the code"),
    "revoked": ("码已作废 — 请出示最新的健康码", "revoked — ask for their current code"),
}
CODES = {
    "garbage": "malformed_input",
    "url": "malformed_input",
    "expired": "expired",
    "revoked": "revoked",
}


def _revoked_code(sc: Province, checkpoint: RunningCheckpoint) -> str:
    credential = new_credential(
        issuer=sc.issuer.issuer_id,
        subject=ANY_SUBJECT,
        status=StatusColour.GREEN,
        masked_name="张*丰",
        id_tail=SC_GREEN[-4:],
    )
    sc.issuer.revoked.append((credential.jti, credential.expires_at))
    checkpoint.service.sync_revocations()
    return encode_numeric(sign_credential(credential, sc.issuer.key))


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_refused_scans_say_what_happened_and_what_to_do(
    browser: Browser, checkpoint: RunningCheckpoint, sc: Province, lang: str
) -> None:
    scans = {
        "garbage": "ذ garbage §§ 12345",
        "url": "https://weixin.qq.com/r/abcDEF123",
        "expired": code(sc, StatusColour.GREEN, lifetime_s=60, now=time.time() - 3600),
        "revoked": _revoked_code(sc, checkpoint),
    }
    with logged_in(browser, checkpoint.url, viewport="phone", lang=lang) as page:
        for name, text in scans.items():
            quick_scan(page, text)
            expect(page.locator("#result")).to_have_attribute("data-display", "error")
            zh, en = SENTENCES[name]
            expect(page.locator("#result-reason")).to_have_text(zh if lang == "zh" else en)
            # The code only in the small details line; the live region says the sentence.
            label = "错误代码" if lang == "zh" else "error code"
            expect(page.locator("#result-details .code")).to_have_text(f"{label}: {CODES[name]}")
            expect(page.locator("#announce")).to_contain_text(zh if lang == "zh" else en)
            page.click("#result-next")


def _log_in(page: Page, username: str, password: str) -> None:
    page.fill("#username", username)
    page.fill("#password", password)
    with page.expect_response("**/v1/auth/login"):
        page.click("#login-form button[type=submit]")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_login_errors_say_what_is_wrong(
    browser: Browser, checkpoint: RunningCheckpoint, lang: str
) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.add_init_script(f"localStorage.setItem('hc-checkpoint-lang', '{lang}')")
    page.goto(checkpoint.url + "/")
    error = page.locator("#login-error")
    try:
        assert axe_violations(page) == []
        _log_in(page, "staff1", "not-the-password")
        expect(error).to_have_text(
            "用户名或密码错误 — 请重新输入"
            if lang == "zh"
            else "wrong username or password — type them again"
        )
        for _ in range(checkpoint.service.settings.login_max_failures):
            _log_in(page, "staff1", "still-not-the-password")
        # Locked, and until when (the page's local time, HH:MM).
        locked = (
            r"^账号已锁定 — 请于 \d\d:\d\d 后再试或联系管理员$"
            if lang == "zh"
            else r"^account locked — try again after \d\d:\d\d or ask the administrator$"
        )
        expect(error).to_have_text(re.compile(locked))
        page.fill("#username", "")
        page.fill("#password", "")
        page.fill("#device-token", "hcd_not-a-registered-device")
        page.click("#login-form button[type=submit]")
        expect(error).to_have_text(
            "此设备未登记或已停用 — 请联系管理员登记"
            if lang == "zh"
            else "this device is not registered — ask the administrator to register it"
        )
        expect(page.locator("#main")).to_be_hidden()
        # A registered device's token is kept and opens the page.
        page.fill("#device-token", checkpoint.device_token)
        page.click("#login-form button[type=submit]")
        expect(page.locator("#scan-input")).to_be_focused()
    finally:
        context.close()


def test_the_shift_view_lists_this_devices_last_verdicts(
    browser: Browser, checkpoint: RunningCheckpoint, sc: Province
) -> None:
    with logged_in(browser, checkpoint.url, viewport="tablet") as page:
        rows = page.locator("#shift-list li")
        expect(page.locator("#shift-empty")).to_be_visible()
        quick_scan(page, code(sc, StatusColour.GREEN))
        expect(rows).to_have_count(1)
        quick_scan(page, code(sc, StatusColour.RED, ReasonCode.POSITIVE_TEST, CodeKind.OFFLINE))
        expect(rows).to_have_count(2)
        quick_scan(page, "https://weixin.qq.com/r/abc")
        expect(rows).to_have_count(3)
        page.click("#result-next")
        page.click("[data-mode=idcard]")
        page.fill("#id-number", SC_GREEN)
        page.press("#id-number", "Enter")
        expect(rows).to_have_count(4)
        # Newest first: time, verdict word and masked name, kind.
        expect(rows.nth(0)).to_have_attribute("data-display", "green")
        expect(rows.nth(0)).to_contain_text("身份证")
        expect(rows.nth(1)).to_have_attribute("data-display", "error")
        expect(rows.nth(1)).to_contain_text("无法核验 (malformed_input)")
        expect(rows.nth(2)).to_contain_text("红码 禁止通行 · 张*丰")
        expect(rows.nth(2)).to_contain_text("打印码")
        expect(rows.nth(3)).to_contain_text("绿码 通行 · 张*丰")
        expect(rows.nth(3)).to_contain_text("二维码")
        assert re.fullmatch(r"\d\d:\d\d:\d\d", rows.nth(3).locator("span").first.inner_text())
        page.click("#result-next")
        # Only the last 20 are kept, in this page alone.
        for _ in range(18):
            quick_scan(page, code(sc, StatusColour.YELLOW, ReasonCode.CLOSE_CONTACT))
            expect(page.locator("#result")).to_have_attribute("data-display", "yellow")
            page.click("#result-next")
        expect(rows).to_have_count(20)
        expect(rows.nth(19)).to_contain_text("(malformed_input)")  # the two oldest went
        stored = page.evaluate("() => JSON.stringify({...localStorage, ...sessionStorage})")
        assert "张*丰" not in stored
        page.reload()
        expect(page.locator("#shift-empty")).to_be_visible()
