"""Scan + tap on the staff page (headless Chromium): matches, someone else's, could not
confirm, and the mandatory setting."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, Route, expect

from healthcode import CodeKind, TrustStore
from tests.browser import axe_violations, screenshot
from tests.verifiers.conftest import (
    BJ_YELLOW,
    SC_GREEN,
    SC_RED,
    MakeSettings,
    Province,
    RunningCheckpoint,
    start_checkpoint,
)
from tests.verifiers.pagekit import logged_in, quick_scan, scan
from tests.verifiers.test_scan_tap import owners_code

pytestmark = pytest.mark.browser


def _read_card(page: Page, number: str, name: str = "") -> None:
    if page.locator("#id-form").is_hidden():
        page.click("[data-mode=idcard]")
    page.fill("#id-number", number)
    page.fill("#id-name", name)
    page.press("#id-number", "Enter")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_code_and_card_match_or_belong_to_someone_else(
    browser: Browser, checkpoint: RunningCheckpoint, sc: Province, lang: str
) -> None:
    zh = lang == "zh"
    with logged_in(browser, checkpoint.url, viewport="phone", lang=lang) as page:
        result, binding = page.locator("#result"), page.locator("#result-binding")
        quick_scan(page, owners_code(sc, SC_GREEN, CodeKind.OFFLINE))  # a printed code
        expect(result).to_have_attribute("data-display", "green")
        expect(page.locator("#pairing-text")).to_contain_text("已扫码" if zh else "code scanned")
        _read_card(page, SC_GREEN)
        expect(binding).to_have_text("✓ 码与身份证相符" if zh else "✓ code matches the ID card")
        expect(result).to_have_attribute("data-display", "green")
        expect(page.locator("#announce")).to_contain_text("码与身份证相符" if zh else "matches")
        expect(page.locator("#pairing")).to_be_hidden()
        screenshot(page, f"checkpoint-scan-tap-match-{lang}.png")
        page.click("#result-next")

        # Another citizen's card, in the other order: the code is refused, in plain words.
        _read_card(page, SC_RED)
        expect(result).to_have_attribute("data-display", "red")
        scan(page, owners_code(sc, SC_GREEN))  # typed into the ID-card form: handed over
        expect(result).to_have_attribute("data-display", "error")
        expect(page.locator("#result-reason")).to_have_text(
            "码不属于此身份证持有人 — 不能凭此码通行，请核实身份"
            if zh
            else "the code belongs to someone else — no entry on it, check who they are"
        )
        expect(binding).to_have_text(
            "✗ 码不属于此身份证持有人" if zh else "✗ code belongs to someone else"
        )
        expect(page.locator("#result-title")).to_have_text(
            "码与证件不符" if zh else "Code belongs to someone else"
        )
        expect(page.locator("#result-details .code")).to_contain_text("holder_mismatch")
        assert axe_violations(page) == []
        screenshot(page, f"checkpoint-scan-tap-mismatch-{lang}.png")
    rows = checkpoint.service.scan_log.scans()
    assert rows[-1].error == "holder_mismatch"


def test_home_province_unreachable_could_not_confirm(
    browser: Browser, checkpoint: RunningCheckpoint, bj: Province
) -> None:
    with logged_in(browser, checkpoint.url, viewport="tablet") as page:
        quick_scan(page, owners_code(bj, BJ_YELLOW))  # a traveller from Beijing
        expect(page.locator("#result")).to_have_attribute("data-display", "green")
        bj.server.stop()
        _read_card(page, BJ_YELLOW, "李小龙")
        expect(page.locator("#result-binding")).to_have_text(
            "? 无法核对码与身份证 — 请核对证件照片"
        )
        expect(page.locator("#result-details .code")).to_contain_text("upstream_unavailable")
        screenshot(page, "checkpoint-scan-tap-unconfirmed.png")


def test_mandatory_scan_and_tap_asks_for_the_card_first(
    browser: Browser, make_settings: MakeSettings, trust_store: TrustStore, sc: Province
) -> None:
    running = start_checkpoint(make_settings(scan_tap_required=True), trust_store)
    running.service.sync_revocations()
    try:
        with logged_in(browser, running.url, viewport="phone") as page:
            expect(page.locator("#status-bar")).to_contain_text("cd-east-gate")
            quick_scan(page, owners_code(sc, SC_GREEN))
            result = page.locator("#result")
            expect(result).to_have_attribute("data-display", "tap")  # no colour yet
            expect(page.locator("#result-title")).to_have_text("请刷身份证")
            expect(page.locator("#result-reason")).to_contain_text("20 秒内刷此人身份证")
            expect(page.locator(".mode[data-mode=idcard]")).to_have_class("mode active")
            page.click("#result-next")
            expect(page.locator("#pairing")).to_be_hidden()  # next person: nothing waits
            quick_scan(page, owners_code(sc, SC_GREEN))
            expect(result).to_have_attribute("data-display", "tap")
            page.fill("#id-number", SC_GREEN)
            page.press("#id-number", "Enter")
            expect(result).to_have_attribute("data-display", "green")
            expect(page.locator("#result-binding")).to_have_text("✓ 码与身份证相符")
    finally:
        running.server.stop()


def test_next_person_is_never_compared_with_the_last_persons_card(
    browser: Browser, checkpoint: RunningCheckpoint, sc: Province
) -> None:
    """ "Next person" ends the waiting pair on the server; a scan right after it must not
    overtake that request (the browser sends them on separate connections) and be compared
    with the previous person's card. Here the end request is held back until the page has
    had every chance to send the scan ahead of it."""
    sent: list[str] = []
    held: list[Route] = []

    def hold_end(route: Route) -> None:
        sent.append("end")
        held.append(route)

    def pass_scan(route: Route) -> None:
        sent.append("scan")
        route.continue_()

    with logged_in(browser, checkpoint.url, viewport="phone") as page:
        result = page.locator("#result")
        _read_card(page, SC_RED)
        expect(result).to_have_attribute("data-display", "red")
        expect(page.locator("#pairing")).to_be_visible()  # the card waits for its code
        page.route("**/v1/scan-tap/end", hold_end)
        page.route("**/v1/scan", pass_scan)
        page.click("#result-next")
        quick_scan(page, owners_code(sc, SC_GREEN))  # the next person's own code
        page.wait_for_timeout(500)  # not a bound: a slower page only sends later
        assert sent == ["end"]  # the scan waits for the end to be answered
        held[0].continue_()
        expect(result).to_have_attribute("data-display", "green")
        expect(page.locator("#result-binding")).not_to_contain_text("✗")
    assert sent == ["end", "scan"]
    assert checkpoint.service.scan_log.scans()[-1].error is None
