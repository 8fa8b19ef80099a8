"""Printed offline codes round-trip: PDF -> raster -> decode -> verify, also when degraded."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from healthcode import (
    ErrorCode,
    RevocationStatus,
    StatusColour,
    TrustStore,
    decode_image,
    verify_credential,
)
from healthcode.errors import RequestError
from offline.degrade import degraded_images
from offline.sheet import (
    CHINA_TIME,
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


def _decode_and_verify(image: Image.Image, trust: TrustStore, at: float = VERIFY_AT) -> list:
    return [verify_credential(text, trust, at) for text in decode_image(image)]


def _pdftotext(pdf: bytes, tmp_path: Path) -> str:
    source = tmp_path / "sheet.pdf"
    source.write_bytes(pdf)
    return subprocess.run(
        ["pdftotext", "-layout", str(source), "-"], check=True, capture_output=True, text=True
    ).stdout


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


def test_degraded_copies_of_an_a4_sheet_still_verify(
    printable: PrintableFactory, trust: TrustStore
) -> None:
    code = printable(status=StatusColour.YELLOW)
    copies = degraded_images(OfflineCodeSheet(code, Layout.A4).pdf())

    assert set(copies) == {"300dpi", "150dpi", "quarter", "jpeg30", "rotated", "grey"}
    for name, image in copies.items():
        results = _decode_and_verify(image, trust)
        assert [r.valid for r in results] == [True], name
        assert results[0].credential.status is StatusColour.YELLOW, name


def test_degraded_copies_of_a_card_verify_at_150_dpi_based_copies(
    printable: PrintableFactory, trust: TrustStore
) -> None:
    copies = degraded_images(OfflineCodeSheet(printable(), Layout.CARD).pdf())

    for name in ("300dpi", "150dpi", "jpeg30", "rotated", "grey"):
        (result,) = _decode_and_verify(copies[name], trust)
        assert result.valid, name


def test_a_printed_green_code_fails_as_revoked_once_its_jti_is_revoked(
    printable: PrintableFactory, trust: TrustStore
) -> None:
    code = printable(status=StatusColour.GREEN)
    (text,) = decode_image(rasterize(OfflineCodeSheet(code, Layout.CARD).pdf(), 150)[0])
    revoked: set[str] = set()

    class Revocations:
        def revocation_status(self, issuer: str, jti: str) -> RevocationStatus:
            if (issuer, jti) in revoked:
                return RevocationStatus.REVOKED
            return RevocationStatus.NOT_REVOKED

    before = verify_credential(text, trust, VERIFY_AT, revocations=Revocations())
    revoked.add((code.credential.issuer, code.credential.jti))  # the citizen turned red
    after = verify_credential(text, trust, VERIFY_AT, revocations=Revocations())

    assert before.valid
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


@pytest.mark.parametrize(
    ("colour", "word"),
    [
        (StatusColour.GREEN, "绿码 GREEN"),
        (StatusColour.YELLOW, "黄码 YELLOW"),
        (StatusColour.RED, "红码 RED"),
    ],
)
@pytest.mark.parametrize("layout", list(Layout))
def test_sheet_says_the_colour_validity_and_holder_in_words(
    printable: PrintableFactory, tmp_path: Path, colour: StatusColour, word: str, layout: Layout
) -> None:
    code = printable(status=colour)
    text = _pdftotext(OfflineCodeSheet(code, layout).pdf(), tmp_path)

    until = code.expires_at
    assert until.tzinfo is CHINA_TIME
    assert word in text
    assert "有效期至" in text
    assert until.strftime("%Y-%m-%d") in text
    assert until.strftime("%H:%M") in text
    assert code.credential.masked_name in text
    assert code.credential.id_tail in text
    assert "请出示此码供扫码核验" in text
    assert "Show this code to be scanned" in text


def test_colours_stay_distinguishable_in_black_and_white(printable: PrintableFactory) -> None:
    bands = {}
    for colour in StatusColour:
        page = rasterize(
            OfflineCodeSheet(printable(status=colour), Layout.A4).pdf(), 75, mono=True
        )[0]
        assert page.mode == "1"
        # The framed word's box (45..165 x 43..61 mm) has black ink: the word itself.
        word_box = page.crop(
            (int(47 / 25.4 * 75), int(45 / 25.4 * 75), int(163 / 25.4 * 75), int(59 / 25.4 * 75))
        ).convert("L")
        pixels = word_box.tobytes()
        ink = sum(1 for value in pixels if value < 128) / len(pixels)
        assert 0.05 < ink < 0.6, colour
        # The bottom band (290..297 mm) carries the colour's pattern.
        band = page.crop((0, int(291 / 25.4 * 75), page.width, int(296 / 25.4 * 75)))
        bands[colour] = band.convert("L").tobytes()
    green, yellow, red = bands.values()
    assert len({green, yellow, red}) == 3

    def difference(a: bytes, b: bytes) -> float:
        return sum(x != y for x, y in zip(a, b, strict=True)) / len(a)

    assert difference(green, yellow) > 0.1
    assert difference(green, red) > 0.1
    assert difference(yellow, red) > 0.1


def test_fonts_are_embedded_so_no_system_font_is_needed(
    printable: PrintableFactory, tmp_path: Path
) -> None:
    source = tmp_path / "sheet.pdf"
    source.write_bytes(OfflineCodeSheet(printable(), Layout.A4).pdf())
    listing = subprocess.run(
        ["pdffonts", str(source)], check=True, capture_output=True, text=True
    ).stdout.splitlines()[2:]

    assert len(listing) >= 2  # Latin and CJK
    for line in listing:
        name, *_, emb, sub, _uni, _obj, _gen = line.split()
        assert (emb, sub) == ("yes", "yes"), name


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


def test_family_sheet_of_seven_members_has_two_pages(printable: PrintableFactory) -> None:
    codes = [printable() for _ in range(7)]

    assert len(rasterize(FamilySheet(codes).pdf(), 36)) == 2


def test_empty_family_sheet_is_refused() -> None:
    with pytest.raises(RequestError) as caught:
        FamilySheet([])
    assert caught.value.code is ErrorCode.NOT_FOUND


def test_png_output_is_the_rendered_layout(printable: PrintableFactory, trust: TrustStore) -> None:
    png = OfflineCodeSheet(printable(), Layout.CARD).png(150)

    with Image.open(__import__("io").BytesIO(png)) as image:
        assert image.format == "PNG"
        # Front and back of an 85.6 mm card at 150 dpi, stacked.
        assert image.width == pytest.approx(85.6 / 25.4 * 150, abs=2)
        assert image.height > 2 * 54 / 25.4 * 150
        (result,) = _decode_and_verify(image.copy(), trust)
    assert result.valid


def test_a_phone_code_is_not_printed(make_token: Callable[..., str]) -> None:
    with pytest.raises(RenderError) as caught:
        PrintableCode.from_token(make_token())
    assert caught.value.code is ErrorCode.INVALID_REQUEST
    assert "only offline codes" in caught.value.message


@pytest.mark.parametrize("text", ["", "hc:/123", "not a code", "a.b.c"])
def test_unreadable_input_is_refused_with_a_code(text: str) -> None:
    with pytest.raises(RenderError) as caught:
        PrintableCode.from_token(text)
    assert caught.value.code is ErrorCode.INVALID_REQUEST


def test_hc_text_and_jws_give_the_same_printed_code(offline_token: Callable[..., str]) -> None:
    token = offline_token()
    from healthcode import encode_numeric

    from_jws = PrintableCode.from_token(token)
    from_qr = PrintableCode.from_token(encode_numeric(token) + "\n")

    assert from_jws.qr_text == from_qr.qr_text == encode_numeric(token)
    assert from_jws.credential == from_qr.credential


def test_a_name_character_missing_from_every_font_prints_as_a_box(
    printable: PrintableFactory, tmp_path: Path
) -> None:
    # U+2A6D6 (CJK Extension B) is in neither shipped font.
    code = printable(masked_name="\U0002a6d6*三")
    text = _pdftotext(OfflineCodeSheet(code, Layout.A4).pdf(), tmp_path)

    assert "□*三" in text


def test_rasterize_refuses_absurd_resolutions(printable: PrintableFactory) -> None:
    with pytest.raises(ValueError, match="dpi"):
        rasterize(b"%PDF", 5000)
