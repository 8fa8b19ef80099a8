"""Round trips of printed codes: render -> rasterise (pdftoppm) -> degrade -> decode -> verify.

Layout checks measure the real output: the quiet zone from the raster, text boxes, font sizes
and faces from the PDF as poppler reads it (pdftohtml -xml), the PNG's stored resolution.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest
import zxingcpp
from fontTools.ttLib import TTFont  # type: ignore[import-untyped]
from PIL import Image, ImageStat

from healthcode import (
    ErrorCode,
    RevocationStatus,
    StatusColour,
    TrustStore,
    decode_image,
    encode_numeric,
    verify_credential,
)
from healthcode.errors import RequestError
from healthcode.qr import qr_matrix
from offline.degrade import DEGRADATIONS, degraded_images, render
from offline.sheet import (
    CHINA_TIME,
    CJK_BOLD_FONT,
    FONT_DIR,
    MAX_ISSUER_NAME_CHARS,
    MIN_TEXT_PT,
    SCAN_DECIDES,
    FamilySheet,
    Layout,
    OfflineCodeSheet,
    PrintableCode,
    RenderError,
    rasterize,
)
from tests.conftest import NOW

if shutil.which("pdftoppm") is None:  # pragma: no cover - scripts/test installs it
    raise RuntimeError("pdftoppm (poppler-utils) is missing: run the suite through scripts/test")

VERIFY_AT = NOW + 3600  # an hour after issue: well inside the 7 days
PrintableFactory = Callable[..., PrintableCode]
MM_PER_PT = 25.4 / 72
# pdftohtml -zoom: positions and sizes in units of 1/ZOOM point (3 is its maximum).
ZOOM = 3
# Long, bilingual, and just within the limit: the worst name a sheet has to hold.
LONG_ISSUER_NAME = (
    "新疆生产建设兵团卫生健康委员会疾病预防控制中心 "
    "Health Commission of the Xinjiang Production and Construction Corps, CDC Division"
)
assert len(LONG_ISSUER_NAME) <= MAX_ISSUER_NAME_CHARS


def _decode_and_verify(
    image: Image.Image, trust: TrustStore, at: float = VERIFY_AT
) -> list[Any]:  # VerificationResult; Any: valid ones are read without narrowing
    return [verify_credential(text, trust, at) for text in decode_image(image)]


def _pdftotext(pdf: bytes, tmp_path: Path) -> str:
    source = tmp_path / "sheet.pdf"
    source.write_bytes(pdf)
    return subprocess.run(
        ["pdftotext", "-layout", str(source), "-"], check=True, capture_output=True, text=True
    ).stdout


@dataclass(frozen=True)
class Run:
    """A run of text in one font as poppler reads it from the PDF (mm, pt)."""

    page: int
    text: str
    left: float
    top: float
    right: float
    bottom: float
    size_pt: float
    font: str


@dataclass(frozen=True)
class Page:
    number: int
    width: float
    height: float


def _text_runs(pdf: bytes, tmp_path: Path) -> tuple[list[Page], list[Run]]:
    source = tmp_path / "runs.pdf"
    source.write_bytes(pdf)
    xml = subprocess.run(
        ["pdftohtml", "-xml", "-stdout", "-i", "-zoom", str(ZOOM), str(source)],
        check=True,
        capture_output=True,
    ).stdout
    root = ElementTree.fromstring(xml)
    unit = MM_PER_PT / ZOOM
    fonts = {
        spec.get("id"): (float(spec.get("size", "0")) / ZOOM, spec.get("family", ""))
        for spec in root.iter("fontspec")
    }
    pages, runs = [], []
    for page in root.iter("page"):
        number = int(page.get("number", "0"))
        pages.append(
            Page(number, float(page.get("width", 0)) * unit, float(page.get("height", 0)) * unit)
        )
        for element in page.iter("text"):
            text = "".join(element.itertext())
            if not text.strip():
                continue
            left, top = float(element.get("left", 0)), float(element.get("top", 0))
            width, height = float(element.get("width", 0)), float(element.get("height", 0))
            size, font = fonts[element.get("font")]
            runs.append(
                Run(
                    number,
                    text,
                    left * unit,
                    top * unit,
                    (left + width) * unit,
                    (top + height) * unit,
                    size,
                    font,
                )
            )
    return pages, runs


def _qr_symbols(image: Image.Image, modules: int) -> list[tuple[int, int, int, int, float]]:
    """Each QR symbol's exact extent in the raster (x0, y0, x1, y1 exclusive) and module px."""
    grey = image.convert("L")
    symbols = []
    for barcode in zxingcpp.read_barcodes(
        grey, formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
    ):
        corners = barcode.position
        xs = [corners.top_left.x, corners.top_right.x, corners.bottom_left.x]
        ys = [corners.top_left.y, corners.top_right.y, corners.bottom_left.y]
        xs.append(corners.bottom_right.x)
        ys.append(corners.bottom_right.y)
        pad = 4
        box = (min(xs) - pad, min(ys) - pad, max(xs) + pad + 1, max(ys) + pad + 1)
        dark = grey.crop(box).point(lambda v: 255 if v < 128 else 0).getbbox()
        assert dark is not None
        x0, y0 = box[0] + dark[0], box[1] + dark[1]
        x1, y1 = box[0] + dark[2], box[1] + dark[3]
        symbols.append((x0, y0, x1, y1, (x1 - x0) / modules))
    return symbols


def _quiet_zone_modules(image: Image.Image, modules: int) -> list[dict[str, float]]:
    """For each symbol, the width of white beside each side, in modules, and its corners.

    A side's white ends at the first pixel darker than mid-grey beside the symbol or at the
    image edge. "corners" is 4.0 if the four 4 x 4-module corner squares of the quiet zone are
    all white, else 0.0.
    """
    grey = image.convert("L")

    def blank(region: tuple[int, int, int, int]) -> bool:
        return grey.crop(region).point(lambda v: 255 if v < 128 else 0).getbbox() is None

    zones = []
    for x0, y0, x1, y1, module in _qr_symbols(image, modules):
        reach = int(8 * module)
        regions = {
            "left": (max(0, x0 - reach), y0, x0, y1),
            "right": (x1, y0, min(grey.width, x1 + reach), y1),
            "top": (x0, max(0, y0 - reach), x1, y0),
            "bottom": (x0, y1, x1, min(grey.height, y1 + reach)),
        }
        zone = {}
        for side, region in regions.items():
            dark = grey.crop(region).point(lambda v: 255 if v < 128 else 0).getbbox()
            length = region[2] - region[0] if side in ("left", "right") else region[3] - region[1]
            if dark is None:
                white = length
            elif side == "left":
                white = length - dark[2]
            elif side == "right":
                white = dark[0]
            elif side == "top":
                white = length - dark[3]
            else:
                white = dark[1]
            zone[side] = white / module
        quiet = int(4 * module)
        corners = [
            (max(0, x0 - quiet), max(0, y0 - quiet), x0, y0),
            (x1, max(0, y0 - quiet), min(grey.width, x1 + quiet), y0),
            (max(0, x0 - quiet), y1, x0, min(grey.height, y1 + quiet)),
            (x1, y1, min(grey.width, x1 + quiet), min(grey.height, y1 + quiet)),
        ]
        zone["corners"] = 4.0 if all(blank(corner) for corner in corners) else 0.0
        zones.append(zone)
    return zones


# -- round trips ---------------------------------------------------------------------------------


@pytest.mark.parametrize("layout", list(Layout))
@pytest.mark.parametrize("dpi", [300, 150])
@pytest.mark.parametrize("colour", list(StatusColour))
def test_printed_code_decodes_and_verifies_with_its_colour(
    printable: PrintableFactory, trust: TrustStore, layout: Layout, dpi: int, colour: StatusColour
) -> None:
    code = printable(status=colour)
    page = rasterize(OfflineCodeSheet(code, layout).pdf(), dpi)[0]

    (result,) = _decode_and_verify(page, trust)

    assert result.valid, result.message
    assert result.credential.status is colour
    assert result.credential.jti == code.credential.jti
    assert result.credential.kind.value == "offline"


@pytest.mark.parametrize("layout", list(Layout))
def test_every_degraded_copy_verifies_in_every_layout(
    printable: PrintableFactory, trust: TrustStore, layout: Layout
) -> None:
    code = printable(status=StatusColour.YELLOW)
    copies = degraded_images(OfflineCodeSheet(code, layout).pdf())

    assert set(copies) == {
        "300dpi",
        "150dpi",
        "quarter",
        "jpeg30",
        "rotated",
        "grey",
        "mono",
    }
    for name, image in copies.items():
        results = _decode_and_verify(image, trust)
        assert [r.valid for r in results] == [True], (layout, name)
        assert results[0].credential.status is StatusColour.YELLOW, (layout, name)
        assert results[0].credential.jti == code.credential.jti, (layout, name)


@pytest.mark.parametrize("layout", list(Layout))
@pytest.mark.parametrize("colour", list(StatusColour))
def test_black_and_white_prints_decode_and_verify(
    printable: PrintableFactory, trust: TrustStore, layout: Layout, colour: StatusColour
) -> None:
    code = printable(status=colour)
    renders = render(OfflineCodeSheet(code, layout).pdf())
    dithered = rasterize(OfflineCodeSheet(code, layout).pdf(), 150, mono=True)[0]

    for name, image in [
        ("grey", DEGRADATIONS["grey"](renders)),
        ("mono", DEGRADATIONS["mono"](renders)),
        ("pdftoppm -mono", dithered),
    ]:
        (result,) = _decode_and_verify(image, trust)
        assert result.valid, (name, result.message)
        assert result.credential.status is colour, name


def test_a_family_sheet_printed_in_black_and_white_verifies(
    printable: PrintableFactory, trust: TrustStore
) -> None:
    codes = [printable(status=colour) for colour in StatusColour]
    renders = render(FamilySheet(codes).pdf())

    results = _decode_and_verify(DEGRADATIONS["mono"](renders), trust)

    assert [r.valid for r in results] == [True, True, True]
    assert {r.credential.jti for r in results} == {c.credential.jti for c in codes}


def test_grey_and_mono_copies_are_degraded_not_just_converted(
    printable: PrintableFactory,
) -> None:
    renders = render(OfflineCodeSheet(printable(), Layout.A4).pdf())
    plain = renders.colour_150.convert("L")
    grey = DEGRADATIONS["grey"](renders)
    mono = DEGRADATIONS["mono"](renders)

    assert grey.mode == "L"
    assert grey.size == plain.size
    # A faded print: no true black or white left, 55 % of the contrast.
    low, high = cast(tuple[int, int], grey.getextrema())  # one band ("L"): (min, max)
    assert plain.getextrema() == (0, 255)
    assert low >= 60 - 24
    assert high <= 200 + 24
    # And noisy: blank paper (the margin beside the QR) is no longer one flat grey.
    paper = grey.crop((10, 600, 90, 700))
    assert ImageStat.Stat(paper).stddev[0] > 5
    assert ImageStat.Stat(plain.crop((10, 600, 90, 700))).stddev[0] == 0
    # Mono is 1 bit: every pixel black or white.
    assert mono.mode == "1"
    histogram = mono.convert("L").histogram()
    assert histogram[0] > 0
    assert histogram[255] > 0
    assert sum(histogram[1:255]) == 0


def test_a_printed_green_code_fails_as_revoked_once_its_jti_is_revoked(
    printable: PrintableFactory, trust: TrustStore
) -> None:
    code = printable(status=StatusColour.GREEN)
    (text,) = decode_image(rasterize(OfflineCodeSheet(code, Layout.CARD).pdf(), 150)[0])
    revoked: set[tuple[str, str]] = set()

    class Revocations:
        def revocation_status(self, issuer: str, jti: str) -> RevocationStatus:
            if (issuer, jti) in revoked:
                return RevocationStatus.REVOKED
            return RevocationStatus.NOT_REVOKED

    before = verify_credential(text, trust, VERIFY_AT, revocations=Revocations())
    revoked.add((code.credential.issuer, code.credential.jti))  # the citizen turned red
    after = verify_credential(text, trust, VERIFY_AT, revocations=Revocations())

    assert before.valid
    assert before.credential is not None
    assert before.credential.status is StatusColour.GREEN
    assert not after.valid
    assert after.error is ErrorCode.REVOKED


def test_a_printed_code_expires_after_seven_days(
    printable: PrintableFactory, trust: TrustStore
) -> None:
    code = printable()
    image = rasterize(OfflineCodeSheet(code, Layout.A4).pdf(), 150)[0]

    (result,) = _decode_and_verify(image, trust, at=NOW + 8 * 86400)

    assert code.credential.expires_at - code.credential.issued_at == 7 * 86400
    assert result.error is ErrorCode.EXPIRED


# -- layout, measured ----------------------------------------------------------------------------


def _sheet(printable: PrintableFactory, layout: str, issuer_name: str = "四川省 Sichuan") -> bytes:
    """One layout as PDF: "a4", "card" (front and back) or "family" (a full page of six)."""
    colours = [*StatusColour, *StatusColour]
    if layout == "family":
        codes = [printable(status=colour, issuer_name=issuer_name) for colour in colours]
        return FamilySheet(codes).pdf()
    code = printable(status=colours[layout == "card"], issuer_name=issuer_name)
    return OfflineCodeSheet(code, Layout(layout)).pdf()


@pytest.mark.parametrize("layout", ["a4", "card", "family"])
def test_every_layout_keeps_four_modules_of_quiet_zone_on_all_sides(
    printable: PrintableFactory, layout: str
) -> None:
    sheet = _sheet(printable, layout)
    code = printable()
    modules = len(qr_matrix(code.qr_text, error_correction="M", border=0, best_mask=True))
    page = rasterize(sheet, 300)[0]

    zones = _quiet_zone_modules(page, modules)

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
    text = _pdftotext(OfflineCodeSheet(code, layout).pdf(), tmp_path)

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
    _, runs = _text_runs(_sheet(printable, layout, LONG_ISSUER_NAME), tmp_path)

    smallest = min(runs, key=lambda run: run.size_pt)
    assert smallest.size_pt >= MIN_TEXT_PT[layout], smallest
    assert MIN_TEXT_PT[layout] >= (7 if layout == "card" else 8)


@pytest.mark.parametrize("layout", ["a4", "card", "family"])
def test_the_scan_decides_in_large_print_right_under_the_colour_word(
    printable: PrintableFactory, tmp_path: Path, layout: str
) -> None:
    _, runs = _text_runs(_sheet(printable, layout), tmp_path)
    words = [r for r in runs if r.page == 1 and any(w in r.text for w in ("绿码", "黄码", "红码"))]
    notes = [r for r in runs if r.page == 1 and SCAN_DECIDES[0] in r.text]

    assert len(words) == len(notes) == (6 if layout == "family" else 1)
    for word in words:
        below = [r for r in runs if r.page == 1 and r.top >= word.bottom and _overlap(r, word)]
        (first, *_) = sorted(below, key=lambda r: r.top)
        assert SCAN_DECIDES[0] in first.text, (layout, first)
        assert first.top - word.bottom < 8, (layout, first, word)
        assert first.size_pt >= 12, first
        english = [r for r in below if SCAN_DECIDES[1] in r.text and r.top - first.top < 8]
        assert english, layout
        assert english[0].size_pt >= 12, english


def _overlap(a: Run, b: Run) -> bool:
    return a.left < b.right and b.left < a.right


@pytest.mark.parametrize("layout", ["a4", "card", "family"])
def test_colour_word_name_and_validity_are_bold_in_chinese_too(
    printable: PrintableFactory, tmp_path: Path, layout: str
) -> None:
    code = printable(status=StatusColour.GREEN)
    pdf = {
        "a4": OfflineCodeSheet(code, Layout.A4).pdf(),
        "card": OfflineCodeSheet(code, Layout.CARD).pdf(),
        "family": FamilySheet([code]).pdf(),
    }[layout]
    _, runs = _text_runs(pdf, tmp_path)

    def faces(text: str) -> set[str]:
        return {r.font for r in runs if r.page == 1 and text in r.text}

    name_characters = [c for c in code.credential.masked_name if c != "*"]
    for text in ["绿码", *name_characters]:
        found = faces(text)
        assert found, (layout, text)
        assert all("NotoSansCJKSCBold" in font for font in found), (layout, text, found)
    # The validity label is bold (the instructions repeat the words in regular type).
    assert "MPDFAA+NotoSansCJKSCBold" in faces("有效期至"), layout
    # The regular Chinese text stays regular (the instructions).
    assert all("Bold" not in font for font in faces("请出示")), layout


@pytest.mark.parametrize("layout", ["a4", "card", "family"])
def test_a_long_bilingual_issuer_name_stays_inside_its_box(
    printable: PrintableFactory, tmp_path: Path, layout: str
) -> None:
    pdf = _sheet(printable, layout, LONG_ISSUER_NAME)
    pages, runs = _text_runs(pdf, tmp_path)
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
        for x0, y0, x1, y1, module in _qr_symbols(image, modules)
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
    pages, runs = _text_runs(OfflineCodeSheet(code, Layout.CARD).pdf(), tmp_path)

    front = [r for r in runs if r.page == 1 and "卫卫卫" in r.text]
    assert 1 <= len(front) <= 2
    assert all(r.right <= pages[0].width - 0.9 for r in front)
    assert "…" in _pdftotext(OfflineCodeSheet(code, Layout.CARD).pdf(), tmp_path)


@pytest.mark.parametrize("name", ["", "   ", "卫" * (MAX_ISSUER_NAME_CHARS + 1)])
def test_a_code_without_a_printable_issuer_name_is_refused(
    offline_token: Callable[..., str], name: str
) -> None:
    with pytest.raises(RenderError) as caught:
        PrintableCode.from_token(offline_token(), issuer_name=name)
    assert caught.value.code is ErrorCode.INVALID_REQUEST
    assert "issuer's name" in caught.value.message


def test_the_family_cell_labels_the_id_tail(printable: PrintableFactory, tmp_path: Path) -> None:
    code = printable()
    text = _pdftotext(FamilySheet([code]).pdf(), tmp_path)

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


def test_fonts_are_embedded_so_no_system_font_is_needed(
    printable: PrintableFactory, tmp_path: Path
) -> None:
    source = tmp_path / "sheet.pdf"
    source.write_bytes(OfflineCodeSheet(printable(), Layout.A4).pdf())
    listing = subprocess.run(
        ["pdffonts", str(source)], check=True, capture_output=True, text=True
    ).stdout.splitlines()[2:]

    names = [line.split()[0] for line in listing]
    assert any("DejaVuSans" in name for name in names)
    assert any("DroidSansFallback" in name for name in names)
    assert any("NotoSansCJKSCBold" in name for name in names)
    for line in listing:
        name, *_, emb, sub, _uni, _obj, _gen = line.split()
        assert (emb, sub) == ("yes", "yes"), name


def test_the_bold_chinese_face_is_a_small_gb2312_subset() -> None:
    font = TTFont(FONT_DIR / CJK_BOLD_FONT)
    cmap = font.getBestCmap()

    assert (FONT_DIR / CJK_BOLD_FONT).stat().st_size < 2_000_000
    assert "SIL Open Font License" in font["name"].getDebugName(13)
    # Every GB2312 hanzi, level 1 and 2: 6,763 characters.
    hanzi = [
        bytes([row, cell]).decode("gb2312")
        for row in range(0xB0, 0xF8)
        for cell in range(0xA1, 0xFF)
        if (row, cell) not in {(0xD7, c) for c in range(0xFA, 0xFF)}
    ]
    assert len(hanzi) == 6763
    assert all(ord(c) in cmap for c in hanzi)
    for text in ("绿码黄码红码", "有效期至北京时间", "以扫码结果为准", "健康码离线码", "证件尾号"):
        assert all(ord(c) in cmap for c in text), text


def test_family_sheet_holds_one_verifiable_code_per_member(
    printable: PrintableFactory, trust: TrustStore
) -> None:
    colours = [StatusColour.GREEN, StatusColour.RED, StatusColour.YELLOW]
    codes = [printable(status=colour) for colour in colours]
    pages = rasterize(FamilySheet(codes).pdf(), 150)

    results = _decode_and_verify(pages[0], trust)

    assert len(pages) == 1
    assert [r.valid for r in results] == [True, True, True]
    assert {r.credential.jti for r in results} == {c.credential.jti for c in codes}
    assert sorted(r.credential.status for r in results) == sorted(colours)


def test_family_sheet_of_thirteen_members_has_three_pages_with_every_member(
    printable: PrintableFactory, trust: TrustStore
) -> None:
    codes = [printable() for _ in range(13)]
    sheet = FamilySheet(codes)

    pages = rasterize(sheet.pdf(), 100)

    assert sheet.pages == len(pages) == 3
    found = [r.credential.jti for page in pages for r in _decode_and_verify(page, trust)]
    assert sorted(found) == sorted(c.credential.jti for c in codes)


def test_empty_family_sheet_is_refused() -> None:
    with pytest.raises(RequestError) as caught:
        FamilySheet([])
    assert caught.value.code is ErrorCode.NOT_FOUND


@pytest.mark.parametrize(("layout", "width_mm"), [(Layout.CARD, 85.6), (Layout.A4, 210.0)])
@pytest.mark.parametrize("dpi", [150, 300])
def test_png_prints_at_the_layouts_physical_size(
    printable: PrintableFactory, trust: TrustStore, layout: Layout, width_mm: float, dpi: int
) -> None:
    png = OfflineCodeSheet(printable(), layout).png(dpi)

    with Image.open(io.BytesIO(png)) as image:
        assert image.format == "PNG"
        # PNG stores pixels per metre, a whole number: 150 dpi is 5906 px/m (150.01 dpi).
        assert image.info["dpi"] == pytest.approx((dpi, dpi), abs=0.05)
        assert image.width / image.info["dpi"][0] * 25.4 == pytest.approx(width_mm, abs=0.3)
        if layout is Layout.CARD:
            # Front and back stacked.
            assert image.height > 2 * 54 / 25.4 * dpi
        (result,) = _decode_and_verify(image.copy(), trust)
    assert result.valid


def test_a_family_png_carries_its_dpi_too(printable: PrintableFactory) -> None:
    with Image.open(io.BytesIO(FamilySheet([printable()]).png(120))) as image:
        assert image.info["dpi"] == pytest.approx((120, 120), abs=0.05)


def test_a_phone_code_is_not_printed(make_token: Callable[..., str]) -> None:
    with pytest.raises(RenderError) as caught:
        PrintableCode.from_token(make_token(), issuer_name="四川省")
    assert caught.value.code is ErrorCode.INVALID_REQUEST
    assert "only offline codes" in caught.value.message


@pytest.mark.parametrize("text", ["", "hc:/123", "not a code", "a.b.c"])
def test_unreadable_input_is_refused_with_a_code(text: str) -> None:
    with pytest.raises(RenderError) as caught:
        PrintableCode.from_token(text, issuer_name="四川省")
    assert caught.value.code is ErrorCode.INVALID_REQUEST


def test_hc_text_and_jws_give_the_same_printed_code(offline_token: Callable[..., str]) -> None:
    token = offline_token()

    from_jws = PrintableCode.from_token(token, issuer_name="四川省")
    from_qr = PrintableCode.from_token(encode_numeric(token) + "\n", issuer_name="四川省")

    assert from_jws.qr_text == from_qr.qr_text == encode_numeric(token)
    assert from_jws.credential == from_qr.credential


def test_a_name_character_missing_from_every_font_prints_as_a_box(
    printable: PrintableFactory, tmp_path: Path
) -> None:
    # U+2A6D6 (CJK Extension B) is in no shipped font.
    code = printable(masked_name="\U0002a6d6*三")
    text = _pdftotext(OfflineCodeSheet(code, Layout.A4).pdf(), tmp_path)

    assert "□*三" in text


def test_a_bold_name_character_outside_gb2312_falls_back_to_the_regular_face(
    printable: PrintableFactory, tmp_path: Path
) -> None:
    # 喆 is not in GB2312 (so not in the bold subset) but Droid Sans Fallback has it.
    code = printable(masked_name="王*喆")
    _, runs = _text_runs(OfflineCodeSheet(code, Layout.A4).pdf(), tmp_path)

    (run,) = [r for r in runs if "喆" in r.text]
    assert "DroidSansFallback" in run.font


def test_rasterize_refuses_absurd_resolutions() -> None:
    with pytest.raises(ValueError, match="dpi"):
        rasterize(b"%PDF", 5000)
