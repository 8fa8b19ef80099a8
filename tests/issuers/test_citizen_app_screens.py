"""Every screen of the citizen app passes axe-core (WCAG 2.1 A and AA) in Chinese and English,
at the phone viewport and in large-text mode, and every screen's Chinese text is covered by the
app's own font subset."""

from __future__ import annotations

import pytest
from fontTools.ttLib import TTFont  # type: ignore[import-untyped]
from playwright.sync_api import Browser, expect

from issuers.webbuild import OUTPUT, needed_characters
from tests.issuers.citizen_app import (
    Province,
    assert_accessible,
    log_in,
    phone_context,
    wait_for_colour,
)

pytestmark = pytest.mark.browser

SCREENS = ["code", "family", "declare", "print", "appeals", "history"]


@pytest.mark.parametrize("locale", ["zh-CN", "en-US"])
def test_every_screen_passes_axe(browser: Browser, province: Province, locale: str) -> None:
    with phone_context(browser, locale=locale) as context:
        page = context.new_page()
        log_in(page, province)
        wait_for_colour(page, "green")
        for large in (False, True):
            if large:
                page.click("#text-toggle")
            for screen in SCREENS:
                page.click(f"#tabs [data-screen={screen}]")
                expect(page.locator(f"#screen-{screen}")).to_be_visible()
                expect(page.locator(f"#tabs [data-screen={screen}]")).to_have_attribute(
                    "aria-current", "page"
                )
                expect(page.locator(f"#screen-{screen}")).not_to_have_attribute("aria-busy", "true")
                assert_accessible(page)


def test_the_font_subset_covers_every_chinese_text_of_the_app() -> None:
    covered = set(TTFont(str(OUTPUT)).getBestCmap())
    missing = sorted(c for c in needed_characters() if ord(c) not in covered)
    assert missing == [], "run: python -m issuers.webbuild font"
    assert {"健", "康", "码"} <= needed_characters()  # the texts were found at all
