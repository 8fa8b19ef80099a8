"""The printed layouts, measured: quiet zone, words, text sizes, boxes, black-and-white colours."""

from __future__ import annotations

from pathlib import Path

import pytest

from healthcode import StatusColour
from healthcode.qr import qr_matrix
from offline.sheet import (
    CHINA_TIME,
    MAX_ISSUER_NAME_CHARS,
    MIN_TEXT_PT,
    SCAN_DECIDES,
    FamilySheet,
    Layout,
    OfflineCodeSheet,
    rasterize,
)
from tests.offline.sheet_measure import (
    LONG_ISSUER_NAME,
    PrintableFactory,
    overlap,
    pdftotext,
    qr_symbols,
    quiet_zone_modules,
    sheet_pdf,
    text_runs,
)


@pytest.mark.parametrize("layout", ["a4", "card", "family"])
def test_every_layout_keeps_four_modules_of_quiet_zone_on_all_sides(
    printable: PrintableFactory, layout: str
) -> None:
    sheet = sheet_pdf(printable, layout)
    code = printable()
    modules = len(qr_matrix(code.qr_text, error_correction="M", border=0, best_mask=True))
    page = rasterize(sheet, 300)[0]

    zones = quiet_zone_modules(page, modules)

    assert len(zones) == (6 if layout == "family" else 1)
    for zone in zones:
        for side, width in zone.items():
            assert width >= 4.0, (layout, side, round(width, 2))


@pytest.mark.parametrize(
    ("colour", "word"),
    [
        (StatusColour.GREEN, "绿码 GREEN"),
        (StatusColour.YELLOW, "黄码 YELLOW"),
        (StatusColour.RED, "红码 RED"),
    ],
)
@pytest.mark.parametrize("layout", list(Layout))
def test_sheet_says_the_colour_validity_holder_and_issuer_in_words(
    printable: PrintableFactory, tmp_path: Path, colour: StatusColour, word: str, layout: Layout
) -> None:
    code = printable(status=colour, issuer_name="四川省卫生健康委员会")
    text = pdftotext(OfflineCodeSheet(code, layout).pdf(), tmp_path)

    until = code.expires_at
    assert until.tzinfo is CHINA_TIME
    assert word in text
    assert "有效期至" in text
    assert until.strftime("%Y-%m-%d") in text
    assert until.strftime("%H:%M") in text
    assert code.credential.masked_name in text
    assert code.credential.id_tail in text
    assert "四川省卫生健康委员会" in text
    assert "(cn-sc)" in text
    assert "请出示此码供扫码核验" in text
    assert "Show this code to be scanned" in text
    assert "以扫码结果为准" in text
    assert "the scan decides" in text


@pytest.mark.parametrize("layout", ["a4", "card", "family"])
def test_no_text_is_smaller_than_the_layouts_minimum(
    printable: PrintableFactory, tmp_path: Path, layout: str
) -> None:
    _, runs = text_runs(sheet_pdf(printable, layout, LONG_ISSUER_NAME), tmp_path)

    smallest = min(runs, key=lambda run: run.size_pt)
    assert smallest.size_pt >= MIN_TEXT_PT[layout], smallest
    assert MIN_TEXT_PT[layout] >= (7 if layout == "card" else 8)


@pytest.mark.parametrize("layout", ["a4", "card", "family"])
def test_the_scan_decides_in_large_print_right_under_the_colour_word(
    printable: PrintableFactory, tmp_path: Path, layout: str
) -> None:
    _, runs = text_runs(sheet_pdf(printable, layout), tmp_path)
    words = [r for r in runs if r.page == 1 and any(w in r.text for w in ("绿码", "黄码", "红码"))]
    notes = [r for r in runs if r.page == 1 and SCAN_DECIDES[0] in r.text]

    assert len(words) == len(notes) == (6 if layout == "family" else 1)
    for word in words:
        below = [r for r in runs if r.page == 1 and r.top >= word.bottom and overlap(r, word)]
        (first, *_) = sorted(below, key=lambda r: r.top)
        assert SCAN_DECIDES[0] in first.text, (layout, first)
        assert first.top - word.bottom < 8, (layout, first, word)
        assert first.size_pt >= 12, first
        english = [r for r in below if SCAN_DECIDES[1] in r.text and r.top - first.top < 8]
        assert english, layout
        assert english[0].size_pt >= 12, english


@pytest.mark.parametrize("layout", ["a4", "card", "family"])
def test_a_long_bilingual_issuer_name_stays_inside_its_box(
    printable: PrintableFactory, tmp_path: Path, layout: str
) -> None:
    pdf = sheet_pdf(printable, layout, LONG_ISSUER_NAME)
    pages, runs = text_runs(pdf, tmp_path)
    image = rasterize(pdf, 150)[0]
    modules = len(qr_matrix(printable().qr_text, error_correction="M", border=0, best_mask=True))
    mm = 25.4 / 150
    # No text on a QR symbol or its 4-module quiet zone (page 1, measured from the raster).
    zones = [
        (
            (x0 - 4 * module) * mm,
            (y0 - 4 * module) * mm,
            (x1 + 4 * module) * mm,
            (y1 + 4 * module) * mm,
        )
        for x0, y0, x1, y1, module in qr_symbols(image, modules)
    ]

    assert any("新疆生产建设兵团" in r.text for r in runs)
    for run in runs:
        page = pages[run.page - 1]
        assert run.left >= 0.9, (layout, run)
        assert run.right <= page.width - 0.9, (layout, run)
        assert run.top >= 0, (layout, run)
        assert run.bottom <= page.height, (layout, run)
        if layout == "family" and run.top > 25:
            # Inside one cell (10..105 or 105..200 mm), never across the cut line.
            assert run.right <= 105.2 or run.left >= 104.8, run
        if run.page == 1:
            for left, top, right, bottom in zones:
                clear = (
                    run.right <= left or run.left >= right or run.bottom <= top or run.top >= bottom
                )
                assert clear, (layout, run)


def test_an_issuer_name_too_long_even_for_two_lines_is_cut_with_an_ellipsis(
    printable: PrintableFactory, tmp_path: Path
) -> None:
    code = printable(issuer_name="卫" * MAX_ISSUER_NAME_CHARS)
    pages, runs = text_runs(OfflineCodeSheet(code, Layout.CARD).pdf(), tmp_path)

    front = [r for r in runs if r.page == 1 and "卫卫卫" in r.text]
    assert 1 <= len(front) <= 2
    assert all(r.right <= pages[0].width - 0.9 for r in front)
    assert "…" in pdftotext(OfflineCodeSheet(code, Layout.CARD).pdf(), tmp_path)


def test_the_family_cell_labels_the_id_tail(printable: PrintableFactory, tmp_path: Path) -> None:
    code = printable()
    text = pdftotext(FamilySheet([code]).pdf(), tmp_path)

    assert f"证件尾号 ···{code.credential.id_tail}" in text


def test_colours_stay_distinguishable_in_black_and_white(printable: PrintableFactory) -> None:
    dithered, thresholded = {}, {}
    for colour in StatusColour:
        pdf = OfflineCodeSheet(printable(status=colour), Layout.A4).pdf()
        page = rasterize(pdf, 75, mono=True)[0]
        assert page.mode == "1"
        # The framed word's box (45..165 x 45..63 mm) has black ink: the word itself.
        word_box = page.crop(
            (int(47 / 25.4 * 75), int(47 / 25.4 * 75), int(163 / 25.4 * 75), int(61 / 25.4 * 75))
        ).convert("L")
        pixels = word_box.tobytes()
        ink = sum(1 for value in pixels if value < 128) / len(pixels)
        assert 0.05 < ink < 0.6, colour
        # The bottom band (290..297 mm) carries the colour's pattern, dithered or thresholded.
        band = (0, int(291 / 25.4 * 75), page.width, int(296 / 25.4 * 75))
        dithered[colour] = page.crop(band).convert("L").tobytes()
        grey = rasterize(pdf, 75, grey=True)[0]
        thresholded[colour] = grey.crop(band).point(lambda v: 255 if v >= 128 else 0).tobytes()

    def difference(a: bytes, b: bytes) -> float:
        return sum(x != y for x, y in zip(a, b, strict=True)) / len(a)

    for bands in (dithered, thresholded):
        green, yellow, red = bands.values()
        assert difference(green, yellow) > 0.1
        assert difference(green, red) > 0.1
        assert difference(yellow, red) > 0.1
    # A 1-bit copy turns the yellow itself white: its black stripes still show.
    ink = sum(v == 0 for v in thresholded[StatusColour.YELLOW]) / len(
        thresholded[StatusColour.YELLOW]
    )
    assert 0.2 < ink < 0.8
