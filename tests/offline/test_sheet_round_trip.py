"""Round trips of printed codes: render -> rasterise (pdftoppm) -> degrade -> decode -> verify.

Also the PNG's stored resolution and family sheets of many members.
"""

from __future__ import annotations

import io
from typing import cast

import pytest
from PIL import Image, ImageStat

from healthcode import (
    ErrorCode,
    RevocationStatus,
    StatusColour,
    TrustStore,
    decode_image,
    verify_credential,
)
from offline.degrade import DEGRADATIONS, degraded_images, render
from offline.sheet import FamilySheet, Layout, OfflineCodeSheet, rasterize
from tests.conftest import NOW
from tests.offline.sheet_measure import VERIFY_AT, PrintableFactory, decode_and_verify

# -- round trips ---------------------------------------------------------------------------------


@pytest.mark.parametrize("layout", list(Layout))
@pytest.mark.parametrize("dpi", [300, 150])
@pytest.mark.parametrize("colour", list(StatusColour))
def test_printed_code_decodes_and_verifies_with_its_colour(
    printable: PrintableFactory, trust: TrustStore, layout: Layout, dpi: int, colour: StatusColour
) -> None:
    code = printable(status=colour)
    page = rasterize(OfflineCodeSheet(code, layout).pdf(), dpi)[0]

    (result,) = decode_and_verify(page, trust)

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
        results = decode_and_verify(image, trust)
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
        (result,) = decode_and_verify(image, trust)
        assert result.valid, (name, result.message)
        assert result.credential.status is colour, name


def test_a_family_sheet_printed_in_black_and_white_verifies(
    printable: PrintableFactory, trust: TrustStore
) -> None:
    codes = [printable(status=colour) for colour in StatusColour]
    renders = render(FamilySheet(codes).pdf())

    results = decode_and_verify(DEGRADATIONS["mono"](renders), trust)

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

    (result,) = decode_and_verify(image, trust, at=NOW + 8 * 86400)

    assert code.credential.expires_at - code.credential.issued_at == 7 * 86400
    assert result.error is ErrorCode.EXPIRED


def test_family_sheet_holds_one_verifiable_code_per_member(
    printable: PrintableFactory, trust: TrustStore
) -> None:
    colours = [StatusColour.GREEN, StatusColour.RED, StatusColour.YELLOW]
    codes = [printable(status=colour) for colour in colours]
    pages = rasterize(FamilySheet(codes).pdf(), 150)

    results = decode_and_verify(pages[0], trust)

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
    found = [r.credential.jti for page in pages for r in decode_and_verify(page, trust)]
    assert sorted(found) == sorted(c.credential.jti for c in codes)


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
        (result,) = decode_and_verify(image.copy(), trust)
    assert result.valid


def test_a_family_png_carries_its_dpi_too(printable: PrintableFactory) -> None:
    with Image.open(io.BytesIO(FamilySheet([printable()]).png(120))) as image:
        assert image.info["dpi"] == pytest.approx((120, 120), abs=0.05)
