"""The staff page in headless Chromium (Playwright): scanner typing, colours, ID-card mode."""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from healthcode import (
    CodeKind,
    ReasonCode,
    StatusColour,
    TrustStore,
    encode_numeric,
    new_credential,
)
from healthcode.errors import ErrorCode
from healthcode.jws import sign_credential
from healthcode.qr import render_png
from issuers.auth import Role
from tests.verifiers.conftest import (
    BJ_YELLOW,
    SC_GREEN,
    STAFF_PASSWORD,
    MakeSettings,
    Province,
    RunningCheckpoint,
    start_checkpoint,
)
from tests.verifiers.federation import federation, issuers_conftest

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
# Screenshots land in docs/images only when asked (HC_UPDATE_SCREENSHOTS=1), so a test run never
# changes tracked files; otherwise they go to a temp folder and are still taken and written.
IMAGES = (
    Path(__file__).resolve().parents[2] / "docs" / "images"
    if os.environ.get("HC_UPDATE_SCREENSHOTS")
    else Path(tempfile.mkdtemp(prefix="hc-screenshots-"))
)

if shutil.which(CHROMIUM) is None:  # pragma: no cover - scripts/test installs it
    raise RuntimeError("chromium is not installed: run the suite through scripts/test")

from playwright.sync_api import (  # noqa: E402
    Browser,
    Page,
    Playwright,
    Route,
    expect,
    sync_playwright,
)

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as instance:
        yield instance


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
    yield browser
    browser.close()


@contextlib.contextmanager
def logged_in(browser: Browser, url: str) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1024, "height": 700}, locale="zh-CN")
    page = context.new_page()
    page.goto(url + "/")
    page.fill("#username", "staff1")
    page.fill("#password", STAFF_PASSWORD)
    page.click("#login-form button[type=submit]")
    expect(page.locator("#scan-input")).to_be_focused()
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def page(browser: Browser, checkpoint: RunningCheckpoint) -> Iterator[Page]:
    with logged_in(browser, checkpoint.url) as page:
        yield page


def _code(
    province: Province,
    status: StatusColour,
    reason: ReasonCode = ReasonCode.NONE,
    kind: CodeKind = CodeKind.PHONE,
) -> str:
    credential = new_credential(
        issuer=province.issuer.issuer_id,
        subject="c3ViamVjdC1wc2V1ZG9ueW0tMDE",
        status=status,
        reason=reason,
        masked_name="张*丰",
        id_tail=SC_GREEN[-4:],
        kind=kind,
    )
    return encode_numeric(sign_credential(credential, province.issuer.key))


def _scan(page: Page, text: str) -> None:
    # A hardware scanner is a keyboard: it types into whatever has focus and presses Enter.
    page.keyboard.type(text)
    page.keyboard.press("Enter")


def _quick_scan(page: Page, text: str) -> None:
    """Like `_scan`, the text goes wherever the focus is, but at once (typing 800 characters
    key by key takes seconds); used where the way the characters arrive does not matter."""
    page.keyboard.insert_text(text)
    page.keyboard.press("Enter")


def test_green_then_red_then_invalid(page: Page, sc: Province) -> None:
    result = page.locator("#result")
    _scan(page, _code(sc, StatusColour.GREEN))
    expect(result).to_have_attribute("data-display", "green")
    expect(page.locator("#result-title")).to_have_text("绿码 通行")
    expect(page.locator("#scan-input")).to_be_focused()
    expect(page.locator("#scan-input")).to_have_value("")
    page.screenshot(path=str(IMAGES / "checkpoint-green.png"))

    _scan(page, _code(sc, StatusColour.RED, ReasonCode.POSITIVE_TEST, CodeKind.OFFLINE))
    expect(result).to_have_attribute("data-display", "red")
    expect(page.locator("#result-reason")).to_have_text("核酸/抗原阳性")
    expect(page.locator("#scan-input")).to_be_focused()
    page.screenshot(path=str(IMAGES / "checkpoint-red.png"))

    _scan(page, "hc:/5676")
    expect(result).to_have_attribute("data-display", "error")
    expect(page.locator("#result-reason")).to_have_text("码结构损坏")
    expect(page.locator("#result-details .hint")).to_have_text(
        "签名令牌不是三段严格的 base64url；码被修改或截断。"
    )
    page.screenshot(path=str(IMAGES / "checkpoint-error.png"))

    page.click("#lang-toggle")
    expect(page.locator("#result-reason")).to_have_text("Damaged code")
    expect(page.locator("#result-title")).to_have_text("Cannot verify")
    expect(page.locator("#result-details .hint")).to_contain_text("three strict base64url parts")
    expect(page.locator("#scan-input")).to_be_focused()


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
                page.screenshot(path=str(IMAGES / "checkpoint-idcard-traveller.png"))
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
    _scan(page, _code(sc, StatusColour.GREEN))
    expect(page.locator("#result")).to_have_attribute("data-display", "green")
    # Offline within the staleness bound: green, with a quiet note of what could not be updated.
    note = page.locator("#result-details .unchecked.note[data-check=revocation_sync]")
    expect(note).to_contain_text("离线：使用上次同步的作废数据")
    expect(note).to_contain_text("自")
    page.screenshot(path=str(IMAGES / "checkpoint-offline-green.png"))
    page.click("[data-mode=idcard]")
    page.fill("#id-number", SC_GREEN)
    page.press("#id-number", "Enter")
    expect(page.locator("#result")).to_have_attribute("data-display", "error")
    expect(page.locator("#result-reason")).to_have_text("离线时不可用")
    page.screenshot(path=str(IMAGES / "checkpoint-offline-idcard.png"))


def _y4m(png: bytes, path: Path, width: int = 800, height: int = 600, frames: int = 10) -> None:
    """A short grey video of the QR image (Chromium's fake camera plays Y4M files)."""
    image = Image.open(io.BytesIO(png)).convert("L")
    side = min(width, height) - 20
    image = image.resize((side, side), Image.Resampling.NEAREST)
    canvas = Image.new("L", (width, height), 255)
    canvas.paste(image, ((width - side) // 2, (height - side) // 2))
    luma = canvas.tobytes()
    chroma = bytes([128]) * ((width // 2) * (height // 2) * 2)
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            out.write(b"FRAME\n" + luma + chroma)


def _browser_filming(playwright: Playwright, tmp_path: Path, qr_text: str) -> Browser:
    """Chromium whose fake camera films the QR code of `qr_text` (granted without a prompt)."""
    video = tmp_path / "qr.y4m"
    _y4m(render_png(qr_text, scale=4), video)
    return playwright.chromium.launch(
        executable_path=CHROMIUM,
        args=[
            *ARGS,
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={video}",
        ],
    )


def test_camera_scan_with_vendored_jsqr(
    playwright: Playwright, tmp_path: Path, checkpoint: RunningCheckpoint, sc: Province
) -> None:
    browser = _browser_filming(
        playwright, tmp_path, _code(sc, StatusColour.YELLOW, ReasonCode.CLOSE_CONTACT)
    )
    try:
        with logged_in(browser, checkpoint.url) as page:
            page.click("#camera-toggle")
            expect(page.locator("#result")).to_have_attribute(
                "data-display", "yellow", timeout=15_000
            )
            expect(page.locator("#result-reason")).to_have_text("密切接触者")
    finally:
        browser.close()


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
    expect(page.locator("#result-reason")).to_have_text("无法识别的码")


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
            _quick_scan(page, _code(sc, StatusColour.GREEN))
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
            # An ID-card result clears too, and the page goes back to scanning.
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
    expect(page.locator("#result-reason")).to_have_text("无法打开摄像头")
    expect(page.locator("#scan-input")).to_be_focused()
    _quick_scan(page, _code(sc, StatusColour.GREEN))
    expect(result).to_have_attribute("data-display", "green")

    page.click("#result")  # the background
    expect(page.locator("#scan-input")).to_be_focused()
    _quick_scan(page, _code(sc, StatusColour.RED, ReasonCode.POSITIVE_TEST))
    expect(result).to_have_attribute("data-display", "red")

    for button in ("#lang-toggle", "#sound-toggle", "[data-mode=scan]", "#lang-toggle"):
        page.click(button)
        expect(page.locator("#scan-input")).to_be_focused()
    _quick_scan(page, _code(sc, StatusColour.YELLOW, ReasonCode.CLOSE_CONTACT))
    expect(result).to_have_attribute("data-display", "yellow")
    expect(page.locator("#scan-input")).to_have_value("")


def test_pass_and_refuse_sound_differently_and_can_be_muted(page: Page, sc: Province) -> None:
    body = page.locator("body")
    _quick_scan(page, _code(sc, StatusColour.GREEN))
    expect(body).to_have_attribute("data-sound", "pass")
    _quick_scan(page, _code(sc, StatusColour.RED, ReasonCode.POSITIVE_TEST))
    expect(body).to_have_attribute("data-sound", "refuse")
    _quick_scan(page, "hc:/5676")
    expect(body).to_have_attribute("data-sound-count", "3")
    expect(body).to_have_attribute("data-sound", "refuse")
    _quick_scan(page, _code(sc, StatusColour.YELLOW, ReasonCode.CLOSE_CONTACT))
    expect(body).to_have_attribute("data-sound", "check")
    assert page.evaluate("typeof AudioContext") == "function"  # WebAudio, no sound files

    page.click("#sound-toggle")
    expect(page.locator("#sound-toggle")).to_have_text("静音")
    _quick_scan(page, _code(sc, StatusColour.GREEN))
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
            _quick_scan(page, _code(sc, StatusColour.GREEN))
            expect(result).to_have_attribute("data-display", "unconfirmed")
            expect(page.locator("#result-title")).to_have_text("状态无法确认")
            expect(page.locator("#result-reason")).to_have_text("请查验身份证或致电热线")
            expect(page.locator("#result-person")).to_have_text("热线 12320")
            warning = page.locator("#result-details .unchecked.warning[data-check=revocation]")
            expect(warning).to_contain_text("无法确认是否已作废")
            expect(page.locator("body")).to_have_attribute("data-sound", "check")
            page.screenshot(path=str(IMAGES / "checkpoint-unconfirmed.png"))
            unconfirmed = result.evaluate("el => getComputedStyle(el).backgroundColor")
            _quick_scan(page, "hc:/5676")
            expect(result).to_have_attribute("data-display", "error")
            forged = result.evaluate("el => getComputedStyle(el).backgroundColor")
            assert unconfirmed != forged
            page.click("#lang-toggle")
            _quick_scan(page, _code(sc, StatusColour.GREEN))
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
    _scan(page, _code(sc, StatusColour.GREEN))
    expect(result).to_have_attribute("data-display", "green")
    expect(page.locator(".mode[data-mode=scan]")).to_have_class("mode active")
    expect(page.locator("#scan-input")).to_be_focused()
    expect(page.locator("#id-number")).to_have_value("")


def test_every_error_code_has_a_chinese_hint() -> None:
    script = (Path(__file__).resolve().parents[2] / "verifiers/static/checkpoint.js").read_text()
    table = script[
        script.index("const HINTS_ZH = {") : script.index("};", script.index("HINTS_ZH"))
    ]
    hinted = set(re.findall(r"^\s+(\w+): \"", table, re.MULTILINE))
    assert {code.value for code in ErrorCode} <= hinted


def test_camera_code_seen_while_a_scan_is_checked_is_not_lost(
    playwright: Playwright, tmp_path: Path, checkpoint: RunningCheckpoint, sc: Province
) -> None:
    browser = _browser_filming(
        playwright, tmp_path, _code(sc, StatusColour.YELLOW, ReasonCode.CLOSE_CONTACT)
    )
    try:
        with logged_in(browser, checkpoint.url) as page:
            held: list[Route] = []
            passed: list[str] = []

            def slow_first_scan(route: Route) -> None:
                if not held:
                    held.append(route)  # answered only when the test says so
                else:
                    passed.append(route.request.url)
                    route.continue_()

            page.route("**/v1/scan", slow_first_scan)
            _quick_scan(page, _code(sc, StatusColour.GREEN))  # a scanner's code, answered slowly
            expect(page.locator("#result")).to_have_attribute("data-display", "checking")
            page.click("#camera-toggle")  # the camera sees a code while that one is checked
            expect(page.locator("#camera")).to_be_visible(timeout=15_000)
            page.wait_for_timeout(1000)
            assert (len(held), passed) == (1, [])  # nothing else was sent meanwhile
            held[0].continue_()
            # The scanner's answer, then the camera's code (still in view) is verified.
            expect(page.locator("#result")).to_have_attribute(
                "data-display", "yellow", timeout=15_000
            )
            expect(page.locator("#result-reason")).to_have_text("密切接触者")
    finally:
        browser.close()
