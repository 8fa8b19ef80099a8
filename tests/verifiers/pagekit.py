"""Shared pieces of the staff-page tests: a logged-in page, codes to scan, a scanner's typing.

The browser sees no CJK system font (tests/browser.py `latin_only_fontconfig`), so every
Chinese character on screen comes from the page's shipped web font.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from pathlib import Path

from PIL import Image
from playwright.sync_api import Browser, Page, Playwright, ViewportSize, expect

from healthcode import CodeKind, ReasonCode, StatusColour, encode_numeric, new_credential
from healthcode.jws import sign_credential
from healthcode.qr import render_png
from tests.browser import VIEWPORTS, latin_only_fontconfig, launch_chromium
from tests.verifiers.conftest import SC_GREEN, STAFF_PASSWORD, Province

#: The subject of the codes `code` makes when not told otherwise (no one's in particular).
ANY_SUBJECT = "c3ViamVjdC1wc2V1ZG9ueW0tMDE"


def launch_without_cjk(playwright: Playwright, directory: Path, *extra_args: str) -> Browser:
    return launch_chromium(playwright, *extra_args, env=latin_only_fontconfig(directory))


@contextlib.contextmanager
def logged_in(
    browser: Browser, url: str, *, viewport: str = "desktop", lang: str = "zh"
) -> Iterator[Page]:
    """A staff member logged in on a fresh page of the given size and language."""
    size = ViewportSize(**VIEWPORTS[viewport])
    context = browser.new_context(viewport=size, locale="zh-CN", has_touch=True)
    page = context.new_page()
    page.add_init_script(f"localStorage.setItem('hc-checkpoint-lang', '{lang}')")
    page.goto(url + "/")
    page.fill("#username", "staff1")
    page.fill("#password", STAFF_PASSWORD)
    page.click("#login-form button[type=submit]")
    expect(page.locator("#scan-input")).to_be_focused()
    try:
        yield page
    finally:
        context.close()


def code(
    province: Province,
    status: StatusColour,
    reason: ReasonCode = ReasonCode.NONE,
    kind: CodeKind = CodeKind.PHONE,
    *,
    subject: str = ANY_SUBJECT,
    lifetime_s: int | None = None,
    now: float | None = None,
) -> str:
    """A signed code of `province`'s issuer, as a QR's text (hc:/...)."""
    credential = new_credential(
        issuer=province.issuer.issuer_id,
        subject=subject,
        status=status,
        reason=reason,
        masked_name="张*丰",
        id_tail=SC_GREEN[-4:],
        kind=kind,
        lifetime_s=lifetime_s,
        now=now,
    )
    return encode_numeric(sign_credential(credential, province.issuer.key))


def scan(page: Page, text: str) -> None:
    """A hardware scanner is a keyboard: it types into whatever has focus and presses Enter."""
    page.keyboard.type(text)
    page.keyboard.press("Enter")


def quick_scan(page: Page, text: str) -> None:
    """Like `scan`, into the focus, but at once (typing 800 characters key by key is slow)."""
    page.keyboard.insert_text(text)
    page.keyboard.press("Enter")


def y4m(png: bytes, path: Path, width: int = 800, height: int = 600, frames: int = 10) -> None:
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


def browser_filming(playwright: Playwright, tmp_path: Path, qr_text: str) -> Browser:
    """Chromium whose fake camera films the QR code of `qr_text` (granted without a prompt)."""
    video = tmp_path / "qr.y4m"
    y4m(render_png(qr_text, scale=4), video)
    return launch_without_cjk(
        playwright,
        tmp_path / "fontconfig",
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={video}",
    )
