"""The citizen app on a tablet (800×1280) and a desktop (1366×900), in Chinese and English: the
code screen shows a QR a checkpoint accepts, the colour in words, the masked name and a live
clock; no screen scrolls sideways; every button and link is on screen, not covered and at least
44 px high; axe-core finds nothing. The phone size is covered by the other test_citizen_app_*
modules."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser import screenshot
from tests.issuers.citizen_app import (
    Province,
    assert_accessible,
    device_context,
    log_in,
    screenshot_qr_text,
    wait_for_colour,
)
from tests.issuers.conftest import citizen_number

pytestmark = pytest.mark.browser

SIZES = ["tablet", "desktop"]
#: browser locale, the <html lang> the app picks, the green code's word
LANGUAGES = {
    "zh": ("zh-CN", "zh-CN", "绿码"),
    "en": ("en-US", "en", "Green"),
}
#: The screenshots kept in docs/images: one per size, in different languages.
SCREENSHOTS = {
    ("tablet", "zh"): "citizen-code-tablet-zh.png",
    ("desktop", "en"): "citizen-code-desktop-en.png",
}
CHILD = ("李小明", citizen_number(705, born=date(2016, 6, 1)))
OTHER_SCREENS = ["family", "declare", "print", "appeals", "history"]

# What a person could not use on the page as it is now: the page wider than the window, and
# every button or link that is shown (`checkVisibility`: not on a hidden screen) but lies
# outside the window's width, is covered by something else where it is tapped (the fixed tab
# bar, say) or is under 44 px high. The skip link sits off screen until focused; it is
# checked focused (`_assert_skip_link_usable`).
LAYOUT_PROBLEMS = """() => {
  const problems = [];
  const width = document.documentElement.scrollWidth;
  if (width > innerWidth) problems.push(`page is ${width} px wide in a ${innerWidth} px window`);
  const controls = document.querySelectorAll('button, a[href], [role=button], input[type=submit]');
  for (const control of controls) {
    if (control.matches('.skip') || !control.checkVisibility()) continue;
    control.scrollIntoView({block: 'center', inline: 'nearest'});
    const box = control.getBoundingClientRect();
    const name = `${control.tagName.toLowerCase()}#${control.id} "${control.textContent.trim()}"`;
    if (box.height < 44) problems.push(`${name} is ${box.height} px high`);
    if (box.left < 0 || box.right > innerWidth) {
      problems.push(`${name} spans ${box.left}..${box.right} px of ${innerWidth}`);
      continue;
    }
    const hit = document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2);
    if (!hit || !control.contains(hit)) {
      problems.push(`${name} is covered by ${hit ? hit.outerHTML.slice(0, 80) : 'nothing'}`);
    }
  }
  window.scrollTo(0, 0);
  return problems;
}"""


def _assert_usable(page: Page) -> None:
    problems: list[Any] = page.evaluate(LAYOUT_PROBLEMS)
    assert problems == [], problems
    assert_accessible(page)


def _assert_skip_link_usable(page: Page) -> None:
    """The skip link, focused, shows inside the window and is 44 px high."""
    skip = page.locator("a.skip")
    skip.focus()
    box = skip.bounding_box()
    assert box is not None
    width = page.evaluate("innerWidth")
    assert box["x"] >= 0, box
    assert box["x"] + box["width"] <= width, box
    assert box["y"] >= 0, box
    assert box["height"] >= 44, box


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_code_screen_at_tablet_and_desktop_size(
    browser: Browser, province: Province, size: str, language: str
) -> None:
    locale, html_lang, green = LANGUAGES[language]
    with device_context(browser, size, locale) as context:
        page = context.new_page()
        page.goto(province.url + "/")
        expect(page.locator("#screen-login")).to_be_visible()
        expect(page.locator("html")).to_have_attribute("lang", html_lang)
        _assert_usable(page)
        page.keyboard.press("Tab")  # a fresh page: the first Tab reaches the skip link
        expect(page.locator("a.skip")).to_be_focused()
        _assert_skip_link_usable(page)

        log_in(page, province)
        wait_for_colour(page, "green")
        expect(page.locator("#colour-word")).to_have_text(green)
        expect(page.locator("#who")).to_contain_text("李*康")
        expect(page.locator("#who")).to_contain_text(province.id_number[-4:])
        expect(page.locator("#qr svg")).to_be_visible()
        province.checkpoint_accepts(screenshot_qr_text(page))
        # The clock runs: hh:mm:ss, and it moves on by itself.
        clock = page.locator("#clock")
        expect(clock).to_have_text(re.compile(r"^\d\d:\d\d:\d\d$"))
        shown = clock.text_content()
        page.wait_for_function(
            "(before) => document.getElementById('clock').textContent !== before", arg=shown
        )
        if (size, language) in SCREENSHOTS:
            screenshot(page, SCREENSHOTS[(size, language)])
        _assert_usable(page)
        _assert_skip_link_usable(page)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_family_and_the_other_screens_at_tablet_and_desktop_size(
    browser: Browser, province: Province, size: str, language: str
) -> None:
    province.issuer.register(CHILD[1], CHILD[0])
    locale = LANGUAGES[language][0]
    with device_context(browser, size, locale) as context:
        page = context.new_page()
        log_in(page, province)
        wait_for_colour(page, "green")
        page.click("#tabs [data-screen=family]")
        page.fill("#bind-name", CHILD[0])
        page.fill("#bind-id", CHILD[1])
        page.click("#bind-form button[type=submit]")
        member = page.locator("#family-list li").filter(has_text="李*明")
        expect(member).to_contain_text(CHILD[1][-4:])
        for screen in OTHER_SCREENS:
            page.click(f"#tabs [data-screen={screen}]")
            expect(page.locator(f"#screen-{screen}")).to_be_visible()
            expect(page.locator(f"#screen-{screen}")).not_to_have_attribute("aria-busy", "true")
            _assert_usable(page)
        # Back on the code screen the family member is a button too.
        page.click("#tabs [data-screen=code]")
        expect(page.locator("#people button")).to_have_count(2)
        _assert_usable(page)
