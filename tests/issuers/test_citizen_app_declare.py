"""The citizen app's declarations and printing in headless Chromium at 390×844 (issue 15): the
form is built from the province's JSON Schema, the browser's and the server's messages are
shown, a declaration the rules turn yellow shows yellow; a printed 7-day code is downloaded as
a PDF whose QR (rasterised with pdftoppm, read with zxing-cpp) verifies."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from healthcode.credential import StatusColour
from healthcode.qr import decode_image
from offline.sheet import rasterize
from tests.browser import screenshot
from tests.issuers.citizen_app import (
    Province,
    assert_accessible,
    log_in,
    phone_context,
    province_with_printer,
    screenshot_qr_text,
    wait_for_colour,
)

pytestmark = pytest.mark.browser


def _open_declarations(page: Page) -> None:
    page.click("#tabs [data-screen=declare]")
    expect(page.locator("#declare-form [data-field=temperature_c] input")).to_be_visible()


def test_a_fever_declaration_turns_the_code_yellow(browser: Browser, province: Province) -> None:
    with phone_context(browser) as context:
        page = context.new_page()
        log_in(page, province)
        wait_for_colour(page, "green")
        _open_declarations(page)
        # The labels come from the schema's Chinese titles and suggestions.
        expect(page.locator("#declare-form legend")).to_have_text("症状（无则不选）")
        temperature = page.locator("#declare-form [data-field=temperature_c] input")
        temperature.fill("50")
        page.click("#declare-form button[type=submit]")
        expect(page.locator("#declare-message")).to_contain_text("体温（°C）")
        expect(temperature).to_have_attribute("aria-invalid", "true")
        screenshot(page, "citizen-declare.png")
        assert_accessible(page)

        page.get_by_label("发热").check()
        temperature.fill("38.6")
        page.click("#declare-form button[type=submit]")
        message = page.locator("#declare-message")
        expect(message).to_contain_text("已提交。您的健康码现在是黄码。")
        expect(message).to_contain_text("您申报了发热症状")
        expect(message).to_have_attribute("data-colour", "yellow")

        page.click("#tabs [data-screen=code]")
        wait_for_colour(page, "yellow")
        expect(page.locator("#colour-word")).to_have_text("黄码")
        credential = province.checkpoint_accepts(screenshot_qr_text(page))
        assert credential.status is StatusColour.YELLOW
        screenshot(page, "citizen-code-yellow.png")
        assert_accessible(page)


def test_the_servers_refusal_of_a_travel_declaration_is_shown(
    browser: Browser, province: Province
) -> None:
    with phone_context(browser, locale="en-US") as context:
        page = context.new_page()
        log_in(page, province)
        _open_declarations(page)
        page.click("[data-kind=itinerary]")
        expect(page.locator("#declare-form [data-field=area_code] label")).to_have_text(
            "Area visited (6-digit division code)"
        )
        page.fill("#declare-form [data-field=area_code] input", "510104")
        page.fill("#declare-form [data-field=visited_on] input", "1899-12-31")
        page.click("#declare-form button[type=submit]")
        # The browser lets the date through; the server refuses it and says why.
        expect(page.locator("#declare-message")).to_contain_text("Not done: ")
        expect(page.locator("#declare-message")).to_contain_text(
            "Date of the visit: must be a YYYY-MM-DD date in the years 1900-2100"
        )
        assert_accessible(page)


def test_printing_downloads_a_pdf_whose_code_verifies(
    browser: Browser, tmp_path: Path, redis_url: str
) -> None:
    with province_with_printer(tmp_path, redis_url) as printing, phone_context(browser) as context:
        page = context.new_page()
        log_in(page, printing)
        page.click("#tabs [data-screen=print]")
        expect(page.locator(".howto")).to_contain_text("离线码 7 天有效")
        page.select_option("#print-layout", "card")
        page.click("#print-form button[type=submit]")
        link = page.locator("#print-download")
        expect(link).to_be_visible(timeout=60_000)
        expect(page.locator("#print-message")).to_have_text("PDF 已生成，其中的离线码 7 天内有效。")
        screenshot(page, "citizen-print.png")
        assert_accessible(page)
        with page.expect_download() as download_info:
            link.click()
        pdf = Path(download_info.value.path()).read_bytes()
        assert pdf.startswith(b"%PDF-")
        (text,) = decode_image(rasterize(pdf, 150)[0].convert("RGB"))
        credential = printing.checkpoint_accepts(text)
        assert credential.subject == printing.issuer.subject(printing.id_number)
        assert credential.expires_at - credential.issued_at == 7 * 86400


def test_without_a_print_service_the_app_says_where_to_print(
    browser: Browser, province: Province
) -> None:
    with phone_context(browser) as context:
        page = context.new_page()
        log_in(page, province)
        page.click("#tabs [data-screen=print]")
        expect(page.locator("#print-message")).to_have_text(
            "本省暂未开通在线打印，请到服务窗口打印离线码。"
        )
        expect(page.locator("#print-form")).to_be_hidden()
        assert_accessible(page)
