"""The staff page on a phone, a tablet and a desktop, in Chinese and English (no CJK system
font: Chinese must come from the shipped web font), with axe-core."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Browser, Locator, Page, ViewportSize, expect

from tests.browser import VIEWPORTS, axe_violations, screenshot
from tests.verifiers.conftest import BJ_YELLOW, Province, RunningCheckpoint
from tests.verifiers.pagekit import logged_in

pytestmark = pytest.mark.browser

#: Apple's and WCAG 2.5.5's comfortable target: 44 x 44 CSS pixels.
MIN_TARGET = 44
CONTROLS = "#topbar button:visible, #modes button, #image-label, #scan-input"
ID_FORM = ("#id-number", "#id-name", "#assisted-label", "#lookup")


def _box(locator: Locator) -> dict[str, float]:
    box = locator.bounding_box()
    assert box is not None, locator
    return {"x": box["x"], "y": box["y"], "width": box["width"], "height": box["height"]}


def _inside(box: dict[str, float], size: ViewportSize) -> bool:
    return (
        box["x"] >= 0
        and box["y"] >= 0
        and box["x"] + box["width"] <= size["width"] + 0.5
        and box["y"] + box["height"] <= size["height"] + 0.5
    )


def _font_px(page: Page, selector: str) -> float:
    return float(page.eval_on_selector(selector, "el => parseFloat(getComputedStyle(el).fontSize)"))


def _draws_distinct_glyphs(page: Page, family: str) -> bool:
    """Whether two different Chinese words look different in `family` (boxes all look alike)."""
    probe = page.evaluate_handle(
        """(family) => {
            const el = document.createElement('span');
            el.id = 'glyph-probe';
            el.style.cssText = 'position:fixed;left:0;top:0;z-index:99;font-size:40px;' +
                'background:#fff;color:#000;padding:4px;font-family:' + family;
            el.textContent = '健康';
            document.body.append(el);
            return el;
        }""",
        family,
    )
    first = page.locator("#glyph-probe").screenshot()
    page.evaluate("() => { document.getElementById('glyph-probe').textContent = '核验'; }")
    second = page.locator("#glyph-probe").screenshot()
    probe.evaluate("el => el.remove()")
    return first != second


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_every_control_fits_and_the_verdict_covers_the_screen(
    browser: Browser,
    checkpoint: RunningCheckpoint,
    bj: Province,
    viewport: str,
    lang: str,
) -> None:
    size = VIEWPORTS[viewport]
    with logged_in(browser, checkpoint.url, viewport=viewport, lang=lang) as page:
        expect(page.locator("#status-bar")).to_contain_text("cd-east-gate")
        assert axe_violations(page) == []
        # A compact header: one row of controls and the status line.
        assert _box(page.locator("#topbar"))["height"] <= 110
        controls = page.locator(CONTROLS)
        assert controls.count() >= 7
        for index in range(controls.count()):
            box = _box(controls.nth(index))
            assert box["width"] >= MIN_TARGET, (index, box)
            assert box["height"] >= MIN_TARGET, (index, box)
            assert _inside(box, size), (index, box)

        # The ID-card form wraps inside the screen, and is used by tapping.
        page.tap("[data-mode=idcard]")
        for selector in ID_FORM:
            box = _box(page.locator(selector))
            assert _inside(box, size), (selector, box)
            assert box["height"] >= MIN_TARGET, (selector, box)
        page.tap("#id-number")
        page.keyboard.insert_text(BJ_YELLOW)
        page.tap("#id-name")
        page.keyboard.insert_text("李小龙")
        page.tap("#assisted-label")
        expect(page.locator("#assisted")).to_be_checked()
        screenshot(page, f"checkpoint-{viewport}-{lang}-idcard.png")
        page.tap("#lookup")

        result = page.locator("#result")
        expect(result).to_have_attribute("data-display", "yellow")
        assert _box(result) == {"x": 0, "y": 0, "width": size["width"], "height": size["height"]}
        # Never colour alone: an icon, a word and a pattern go with it.
        expect(page.locator("#result-icon .icon-check")).to_be_visible()
        expect(page.locator("#result-title")).to_have_text(
            "黄码 请核查" if lang == "zh" else "YELLOW – check"
        )
        pattern = result.evaluate("el => getComputedStyle(el).backgroundImage")
        assert "gradient" in pattern
        assert _font_px(page, "#result-reason") >= 22
        assert _font_px(page, "#result-details") >= 16
        assert _inside(_box(page.locator("#result-next")), size)
        expect(page.locator("#announce")).to_contain_text(
            "到访风险地区" if lang == "zh" else "Visited a risk area"
        )
        assert axe_violations(page) == []
        screenshot(page, f"checkpoint-{viewport}-{lang}.png")


def test_chinese_is_drawn_by_the_shipped_font(
    browser: Browser, checkpoint: RunningCheckpoint
) -> None:
    with logged_in(browser, checkpoint.url, viewport="phone") as page:
        page.evaluate("document.fonts.ready")
        faces: list[dict[str, Any]] = page.evaluate(
            "() => [...document.fonts].map(f => ({family: f.family, status: f.status}))"
        )
        assert {"family": "HC CJK", "status": "loaded"} in faces
        # This browser has no CJK font of its own: every character is the same box ...
        assert not _draws_distinct_glyphs(page, '"DejaVu Sans"')
        # ... and the page's text font draws real, different characters.
        assert _draws_distinct_glyphs(page, "inherit")
        # The monospace details line falls back to the shipped font for its Chinese label.
        assert _draws_distinct_glyphs(page, '"DejaVu Sans Mono", monospace, "HC CJK"')
        width = page.eval_on_selector("#idle", "el => el.getBoundingClientRect().width")
        assert width > 0


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_the_login_form_fits_every_screen(
    browser: Browser, checkpoint: RunningCheckpoint, viewport: str
) -> None:
    size = VIEWPORTS[viewport]
    context = browser.new_context(viewport=ViewportSize(**size))
    page = context.new_page()
    try:
        page.goto(checkpoint.url + "/")
        controls = page.locator("#login-form input, #login-form button, #topbar button:visible")
        assert controls.count() == 6
        for index in range(controls.count()):
            box = _box(controls.nth(index))
            assert box["height"] >= MIN_TARGET, (index, box)
            assert _inside(box, size), (index, box)
        assert axe_violations(page) == []
    finally:
        context.close()
