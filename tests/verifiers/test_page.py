"""The staff page in headless Chromium (Playwright): scanner typing, verdicts, ID-card mode.

Layout, texts, camera and scan + tap have their own files (test_page_*.py, test_scan_tap.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Browser, Page, expect

from healthcode import CodeKind, ReasonCode, StatusColour, TrustStore
from healthcode.qr import render_png
from issuers.auth import Role
from tests.browser import screenshot
from tests.verifiers.conftest import (
    BJ_YELLOW,
    SC_GREEN,
    MakeSettings,
    Province,
    RunningCheckpoint,
    start_checkpoint,
)
from tests.verifiers.federation import federation, issuers_conftest
from tests.verifiers.pagekit import code as _code
from tests.verifiers.pagekit import logged_in, quick_scan, scan

pytestmark = pytest.mark.browser


@pytest.fixture
def page(browser: Browser, checkpoint: RunningCheckpoint) -> Iterator[Page]:
    with logged_in(browser, checkpoint.url) as page:
        yield page


def test_green_then_red_then_invalid(page: Page, sc: Province) -> None:
    result = page.locator("#result")
    scan(page, _code(sc, StatusColour.GREEN))
    expect(result).to_have_attribute("data-display", "green")
    expect(page.locator("#result-title")).to_have_text("绿码 通行")
    expect(page.locator("#scan-input")).to_be_focused()
    expect(page.locator("#scan-input")).to_have_value("")
    screenshot(page, "checkpoint-green.png")

    scan(page, _code(sc, StatusColour.RED, ReasonCode.POSITIVE_TEST, CodeKind.OFFLINE))
    expect(result).to_have_attribute("data-display", "red")
    expect(page.locator("#result-reason")).to_have_text("核酸/抗原阳性")
    expect(page.locator("#scan-input")).to_be_focused()
    screenshot(page, "checkpoint-red.png")

    scan(page, "hc:/5676")
    expect(result).to_have_attribute("data-display", "error")
    expect(page.locator("#result-reason")).to_have_text(
        "码已损坏或不完整 — 请重新扫码，仍不行请查验身份证"
    )
    # The code itself only in the small details line.
    expect(page.locator("#result-details .code")).to_have_text("错误代码: malformed_jws")
    screenshot(page, "checkpoint-error.png")


def test_id_card_read_of_traveller_shows_home_colour(page: Page, bj: Province) -> None:
    page.click("[data-mode=idcard]")
    page.fill("#id-number", BJ_YELLOW)
    page.fill("#id-name", "李小龙")
    page.press("#id-name", "Enter")
    expect(page.locator("#result")).to_have_attribute("data-display", "yellow")
    expect(page.locator("#result-reason")).to_have_text("到访风险地区")
    expect(page.locator("#result-details")).to_contain_text("归属地: 北京市 Beijing")


def test_id_card_read_of_traveller_through_real_issuers(
    browser: Browser, tmp_path: Path, redis_url: str, make_settings: MakeSettings
) -> None:
    with federation(tmp_path, redis_url) as (sichuan, guangdong, trust):
        traveller = issuers_conftest.citizen_number(102, division="440106")
        guangdong.register(traveller, "陈十三")
        device = sichuan.staff_headers(Role.CHECKPOINT)["Authorization"]
        settings = make_settings(
            issuer_url=sichuan.url, issuer_token=device.removeprefix("Bearer ")
        )
        checkpoint = start_checkpoint(settings, trust)
        checkpoint.service.sync_revocations()
        try:
            with logged_in(browser, checkpoint.url) as page:
                page.click("[data-mode=idcard]")
                page.fill("#id-number", traveller)
                page.fill("#id-name", "陈十三")
                page.press("#id-name", "Enter")
                expect(page.locator("#result")).to_have_attribute("data-display", "green")
                expect(page.locator("#result-details")).to_contain_text("签发方: 广东省 Guangdong")
                expect(page.locator("#result-details")).to_contain_text("归属地: 广东省 Guangdong")
                screenshot(page, "checkpoint-idcard-traveller.png")
        finally:
            checkpoint.server.stop()


def test_offline_state_is_shown(
    page: Page, sc: Province, bj: Province, checkpoint: RunningCheckpoint
) -> None:
    sc.server.stop()
    bj.server.stop()
    checkpoint.service.sync_revocations()
    page.reload()
    expect(page.locator("#status-bar")).to_have_attribute("data-offline", "true")
    expect(page.locator("#status-bar")).to_contain_text("离线")
    # The header names each failing source (its own sync state, healthcode/peersync.py).
    expect(page.locator("#source-alert")).to_be_visible()
    expect(page.locator("#source-alert")).to_contain_text("数据源异常")
    expect(page.locator("#source-alert")).to_contain_text("cn-sc")
    expect(page.locator("#source-alert")).to_contain_text("cn-bj")
    scan(page, _code(sc, StatusColour.GREEN))
    expect(page.locator("#result")).to_have_attribute("data-display", "green")
    # Offline within the staleness bound: green, with a quiet note of what could not be updated.
    note = page.locator("#result-details .unchecked.note[data-check=revocation_sync]")
    expect(note).to_contain_text("离线：使用上次同步的作废数据")
    expect(note).to_contain_text("自")
    screenshot(page, "checkpoint-offline-green.png")
    page.click("#result-next")  # the verdict covers the screen until it clears or is dismissed
    page.click("[data-mode=idcard]")
    page.fill("#id-number", SC_GREEN)
    page.press("#id-number", "Enter")
    expect(page.locator("#result")).to_have_attribute("data-display", "error")
    expect(page.locator("#result-reason")).to_have_text("离线，无法查询身份证 — 请扫健康码或离线码")
    screenshot(page, "checkpoint-offline-idcard.png")


def test_photo_upload(page: Page, sc: Province, tmp_path: Path) -> None:
    photo = tmp_path / "screenshot.png"
    photo.write_bytes(render_png(_code(sc, StatusColour.RED, ReasonCode.SYMPTOMS)))
    page.set_input_files("#image-input", str(photo))
    expect(page.locator("#result")).to_have_attribute("data-display", "red")
    expect(page.locator("#result-reason")).to_have_text("申报有症状")
    expect(page.locator("#scan-input")).to_be_focused()
    not_a_code = tmp_path / "blank.png"
    Image.new("L", (200, 200), 255).save(not_a_code)
    page.set_input_files("#image-input", str(not_a_code))
    expect(page.locator("#result")).to_have_attribute("data-display", "error")
    expect(page.locator("#result-reason")).to_have_text("不是健康码 — 请出示身份证或离线码")


def _wait_for_status(page: Page) -> None:
    """The page has read /v1/status (its result time and hotline)."""
    expect(page.locator("#status-bar")).to_contain_text("cd-east-gate")


def test_result_clears_itself_after_a_countdown(
    browser: Browser, make_settings: MakeSettings, trust_store: TrustStore, sc: Province
) -> None:
    running = start_checkpoint(make_settings(result_display_s=1.5), trust_store)
    running.service.sync_revocations()
    try:
        with logged_in(browser, running.url) as page:
            _wait_for_status(page)
            result = page.locator("#result")
            quick_scan(page, _code(sc, StatusColour.GREEN))
            expect(result).to_have_attribute("data-display", "green")
            expect(page.locator("#result-timer")).to_be_visible()
            expect(page.locator("#result-countdown")).to_contain_text("秒后清除")
            expect(page.locator("#result-countdown")).to_contain_text("已显示")
            # Back to idle well before the 5 s default: the next person starts from neutral.
            expect(result).to_have_attribute("data-display", "idle", timeout=4000)
            expect(page.locator("#result-title")).to_have_text("请扫码")
            expect(page.locator("#result-person")).to_have_text("")
            expect(page.locator("#result-timer")).to_be_hidden()
            expect(page.locator("#scan-input")).to_be_focused()
            # An ID-card result clears too, and the page goes back to scanning. (Not the
            # same person: the card is not compared with the code just scanned.)
            page.click("#pairing-skip")
            page.click("[data-mode=idcard]")
            page.fill("#id-number", SC_GREEN)
            page.press("#id-number", "Enter")
            expect(result).to_have_attribute("data-display", "green")
            expect(result).to_have_attribute("data-display", "idle", timeout=4000)
            expect(page.locator(".mode[data-mode=scan]")).to_have_class("mode active")
            expect(page.locator("#scan-input")).to_be_focused()
    finally:
        running.server.stop()


def test_buttons_and_background_never_take_the_scanner_focus(page: Page, sc: Province) -> None:
    result = page.locator("#result")
    page.click("#camera-toggle")  # no camera in this browser: the answer says so
    expect(result).to_have_attribute("data-display", "error")
    expect(page.locator("#result-reason")).to_have_text("无法打开摄像头 — 请检查权限或用扫码枪")
    expect(page.locator("#scan-input")).to_be_focused()
    quick_scan(page, _code(sc, StatusColour.GREEN))
    expect(result).to_have_attribute("data-display", "green")

    page.click("#result")  # the background
    expect(page.locator("#scan-input")).to_be_focused()
    quick_scan(page, _code(sc, StatusColour.RED, ReasonCode.POSITIVE_TEST))
    expect(result).to_have_attribute("data-display", "red")
    page.click("#result-next")  # dismissed by tap: the header's buttons are in reach again
    expect(result).to_be_hidden()

    for button in ("#lang-toggle", "#sound-toggle", "[data-mode=scan]", "#lang-toggle"):
        page.click(button)
        expect(page.locator("#scan-input")).to_be_focused()
    quick_scan(page, _code(sc, StatusColour.YELLOW, ReasonCode.CLOSE_CONTACT))
    expect(result).to_have_attribute("data-display", "yellow")
    expect(page.locator("#scan-input")).to_have_value("")


def test_pass_and_refuse_sound_differently_and_can_be_muted(page: Page, sc: Province) -> None:
    body = page.locator("body")
    quick_scan(page, _code(sc, StatusColour.GREEN))
    expect(body).to_have_attribute("data-sound", "pass")
    expect(body).to_have_attribute("data-vibrate", "80")  # one short buzz
    quick_scan(page, _code(sc, StatusColour.RED, ReasonCode.POSITIVE_TEST))
    expect(body).to_have_attribute("data-sound", "refuse")
    expect(body).to_have_attribute("data-vibrate", "400,120,400,120,400")  # three long ones
    quick_scan(page, "hc:/5676")
    expect(body).to_have_attribute("data-sound-count", "3")
    expect(body).to_have_attribute("data-sound", "refuse")
    quick_scan(page, _code(sc, StatusColour.YELLOW, ReasonCode.CLOSE_CONTACT))
    expect(body).to_have_attribute("data-sound", "check")
    assert page.evaluate("typeof AudioContext") == "function"  # WebAudio, no sound files

    page.click("#result-next")
    page.click("#sound-toggle")
    expect(page.locator("#sound-toggle")).to_have_text("静音")
    quick_scan(page, _code(sc, StatusColour.GREEN))
    expect(body).to_have_attribute("data-sound-count", "5")
    expect(body).to_have_attribute("data-sound", "muted")
    page.reload()  # the choice is remembered on this device
    expect(page.locator("#sound-toggle")).to_have_attribute("data-muted", "true")


def test_status_unconfirmed_has_its_own_screen(
    browser: Browser, make_settings: MakeSettings, trust_store: TrustStore, sc: Province
) -> None:
    # Never synced: no revocation data for the issuer, so no colour may be shown.
    running = start_checkpoint(make_settings(hotline="12320"), trust_store)
    try:
        with logged_in(browser, running.url) as page:
            _wait_for_status(page)
            result = page.locator("#result")
            quick_scan(page, _code(sc, StatusColour.GREEN))
            expect(result).to_have_attribute("data-display", "unconfirmed")
            expect(page.locator("#result-title")).to_have_text("状态无法确认")
            expect(page.locator("#result-reason")).to_have_text("请查验身份证或致电热线")
            expect(page.locator("#result-person")).to_have_text("热线 12320")
            warning = page.locator("#result-details .unchecked.warning[data-check=revocation]")
            expect(warning).to_contain_text("无法确认是否已作废")
            expect(page.locator("body")).to_have_attribute("data-sound", "check")
            screenshot(page, "checkpoint-unconfirmed.png")
            unconfirmed = result.evaluate("el => getComputedStyle(el).backgroundColor")
            quick_scan(page, "hc:/5676")
            expect(result).to_have_attribute("data-display", "error")
            forged = result.evaluate("el => getComputedStyle(el).backgroundColor")
            assert unconfirmed != forged
            page.click("#result-next")
            page.click("#lang-toggle")
            quick_scan(page, _code(sc, StatusColour.GREEN))
            expect(page.locator("#result-title")).to_have_text("Status not confirmed")
            expect(page.locator("#result-reason")).to_have_text(
                "Check the ID card or call the hotline"
            )
    finally:
        running.server.stop()


def test_id_card_mode_hands_a_scanned_code_back_and_resets_assisted(
    page: Page, sc: Province, bj: Province
) -> None:
    result = page.locator("#result")
    page.click("[data-mode=idcard]")
    page.fill("#id-number", BJ_YELLOW)
    page.fill("#id-name", "李小龙")
    page.check("#assisted")
    page.press("#id-name", "Enter")
    expect(result).to_have_attribute("data-display", "yellow")
    expect(page.locator("#result-details")).to_contain_text("归属地: 北京市 Beijing · 代查")
    expect(page.locator("#assisted")).not_to_be_checked()  # the next look-up is not assisted
    expect(page.locator("#id-number")).to_be_focused()

    # A hardware scanner fires into the ID field: the code is verified, not an ID number.
    scan(page, _code(sc, StatusColour.GREEN))
    expect(result).to_have_attribute("data-display", "green")
    expect(page.locator(".mode[data-mode=scan]")).to_have_class("mode active")
    expect(page.locator("#scan-input")).to_be_focused()
    expect(page.locator("#id-number")).to_have_value("")
