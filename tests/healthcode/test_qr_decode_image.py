"""healthcode.qr: reading codes from images, and the images it refuses."""

from __future__ import annotations

import io
import math
import random

import pytest
from PIL import Image, PngImagePlugin

from healthcode.errors import ErrorCode
from healthcode.qr import MAX_IMAGE_PIXELS, decode_image, encode_numeric, render_png
from tests.healthcode.qr_samples import (
    SHC_EXAMPLE_02_PARTS,
    SHC_VECTORS,
    expect_error,
    fake_jws,
    png_with_size,
    vector,
)


@pytest.mark.parametrize(
    "png",
    sorted(p.name for p in (SHC_VECTORS / "derived-png").glob("*.png")),
)
def test_shc_example_png_decodes_to_its_numeric_text(png: str) -> None:
    numeric_name = png.replace("-g-qr-code-", "-f-qr-code-numeric-value-").replace(".png", ".txt")
    data = (SHC_VECTORS / "derived-png" / png).read_bytes()
    assert decode_image(data) == [vector(numeric_name)]


def test_decode_image_returns_several_codes_in_reading_order() -> None:
    """A photo of the three example-02 parts laid out as 2 + 1 in a grid, read row by row."""
    images = [
        Image.open(SHC_VECTORS / "derived-png" / f"example-02-g-qr-code-{i}.png").convert("L")
        for i in range(3)
    ]
    side = max(max(im.size) for im in images)
    sheet = Image.new("L", (2 * side + 40, 2 * side + 40), 255)
    sheet.paste(images[0], (0, 12))  # slightly lower than its right neighbour: same row
    sheet.paste(images[1], (side + 40, 0))
    sheet.paste(images[2], (side // 2, side + 40))
    assert decode_image(sheet) == SHC_EXAMPLE_02_PARTS


# -- decode_image errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [b"", b"not an image", random.Random(3).randbytes(4096), b"\x89PNG\r\n\x1a\n" + b"\0" * 64],
)
def test_decode_image_refuses_non_images(data: bytes) -> None:
    expect_error(ErrorCode.MALFORMED_INPUT, lambda: decode_image(data))


def test_decode_image_refuses_truncated_png() -> None:
    png = render_png(encode_numeric("abc"))
    expect_error(ErrorCode.MALFORMED_INPUT, lambda: decode_image(png[: len(png) // 2]))


def test_decode_image_without_qr_code() -> None:
    out = io.BytesIO()
    Image.new("L", (400, 300), 255).save(out, format="PNG")
    error = expect_error(ErrorCode.MALFORMED_INPUT, lambda: decode_image(out.getvalue()))
    assert error.message.startswith("no QR code found in the image")


@pytest.mark.parametrize(
    ("width", "height"),
    [
        (7000, 7000),  # 49 Mpx: over our bound, under Pillow's own
        (100_000, 100_000),  # Pillow's DecompressionBombError
        (12_000, 10_000),  # between Pillow's warning and error bounds
    ],
)
def test_decode_image_refuses_decompression_bomb_before_loading(
    width: int, height: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse_load(self: Image.Image) -> None:
        raise AssertionError("pixels of an oversized image were decoded")

    monkeypatch.setattr(PngImagePlugin.PngImageFile, "load", refuse_load)
    expect_error(ErrorCode.INPUT_TOO_LARGE, lambda: decode_image(png_with_size(width, height)))


def test_decode_image_accepts_image_at_pixel_bound_shape() -> None:
    """The bound is on pixels, not bytes: a header just under it is not refused for size."""
    side = math.isqrt(MAX_IMAGE_PIXELS)
    error = expect_error(ErrorCode.MALFORMED_INPUT, lambda: decode_image(png_with_size(side, side)))
    assert "damaged" in error.message  # got past the size check to the (missing) pixel data


def test_decode_image_bounds_pillow_images_too() -> None:
    image = Image.new("1", (8000, 5001))
    expect_error(ErrorCode.INPUT_TOO_LARGE, lambda: decode_image(image))


def test_decode_image_reads_dark_code_on_transparent_background() -> None:
    text = encode_numeric(fake_jws(120))
    grey = Image.open(io.BytesIO(render_png(text, scale=4))).convert("L")
    rgba = Image.new("RGBA", grey.size, (0, 0, 0, 0))  # transparent *black* background
    rgba.putalpha(grey.point(lambda v: 255 - v))  # dark modules opaque, light transparent
    out = io.BytesIO()
    rgba.save(out, format="PNG")
    assert decode_image(out.getvalue()) == [text]
