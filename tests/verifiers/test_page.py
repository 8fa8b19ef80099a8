"""The staff page in headless Chromium (Playwright): scanner typing, colours, ID-card mode."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from healthcode import CodeKind, ReasonCode, StatusColour, encode_numeric, new_credential
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

from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright  # noqa: E402

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
    page.screenshot(path=str(IMAGES / "checkpoint-error.png"))

    page.click("#lang-toggle")
    expect(page.locator("#result-reason")).to_have_text("Damaged code")
    expect(page.locator("#result-title")).to_have_text("Cannot verify")
    expect(page.locator("#scan-input")).to_be_focused()


def test_id_card_read_of_traveller_shows_home_colour(page: Page, bj: Province) -> None:
    page.click("[data-mode=idcard]")
    page.fill("#id-number", BJ_YELLOW)
    page.fill("#id-name", "李小龙")
    page.press("#id-name", "Enter")
    expect(page.locator("#result")).to_have_attribute("data-display", "yellow")
    expect(page.locator("#result-reason")).to_have_text("到访风险地区")
    expect(page.locator("#result-details")).to_contain_text("cn-bj")


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
                expect(page.locator("#result-details")).to_contain_text("广东省 Guangdong")
                expect(page.locator("#result-details")).to_contain_text("cn-gd")
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


def test_camera_scan_with_vendored_jsqr(
    playwright: Playwright, tmp_path: Path, checkpoint: RunningCheckpoint, sc: Province
) -> None:
    video = tmp_path / "qr.y4m"
    _y4m(render_png(_code(sc, StatusColour.YELLOW, ReasonCode.CLOSE_CONTACT), scale=4), video)
    browser = playwright.chromium.launch(
        executable_path=CHROMIUM,
        args=[
            *ARGS,
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={video}",
        ],
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
