"""Reading QR codes from untrusted image bytes (photos, screenshots) with zxing-cpp, bounded."""

from __future__ import annotations

import io
from typing import Final

import zxingcpp
from PIL import Image

from healthcode.errors import ErrorCode, VerificationError

#: Largest decoded image accepted by `decode_image` (pixels). A 12-megapixel phone photo is far
#: below it; a PNG that claims more is refused before its pixels are allocated.
MAX_IMAGE_PIXELS: Final = 40_000_000

#: Image formats `decode_image` opens. Pillow's other plugins (EPS runs Ghostscript, for one)
#: are not needed for photos and screenshots and are not exposed to untrusted bytes.
_IMAGE_FORMATS: Final = ("PNG", "JPEG", "WEBP", "BMP", "GIF")

_QR_FORMAT: Final = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)


# -- decoding images -----------------------------------------------------------------------------


def _open_image(data: bytes) -> Image.Image:
    """Open untrusted image bytes, refusing oversized images before their pixels are decoded."""
    try:
        image = Image.open(io.BytesIO(data), formats=_IMAGE_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # Pillow refuses beyond 2x its own bound; between 1x and 2x it only warns, and the
        # warning is raised only where warnings are errors. Our own bound is lower anyway.
        raise VerificationError(
            ErrorCode.INPUT_TOO_LARGE, f"the image is too large to decode ({exc})"
        ) from exc
    except Exception as exc:  # Pillow raises many types (OSError, SyntaxError, ...) on junk.
        raise VerificationError(
            ErrorCode.MALFORMED_INPUT,
            f"not a readable image (expected one of {', '.join(_IMAGE_FORMATS)})",
        ) from exc
    _check_pixels(image)
    try:
        image.load()
    except Exception as exc:  # truncated or corrupt pixel data
        raise VerificationError(
            ErrorCode.MALFORMED_INPUT, f"the {image.format} image is damaged ({exc})"
        ) from exc
    return image


def _check_pixels(image: Image.Image) -> None:
    width, height = image.size
    if width * height > MAX_IMAGE_PIXELS:
        raise VerificationError(
            ErrorCode.INPUT_TOO_LARGE,
            f"the image is {width}x{height} pixels (expected at most {MAX_IMAGE_PIXELS} pixels)",
        )


def _to_grey(image: Image.Image) -> Image.Image:
    """Greyscale for the decoder; transparency becomes white, as a screen or paper shows it."""
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    return image.convert("L")


def decode_image(image: bytes | Image.Image) -> list[str]:
    """Decode every QR code in a photo or screenshot, in reading order.

    Args:
        image: PNG, JPEG, WebP, BMP or GIF bytes, or an already opened Pillow image.

    Returns:
        The text of each QR code found, top to bottom, then left to right within a row of
        codes. The texts are not checked; pass them to `decode_numeric` or `reassemble_chunks`.

    Raises:
        VerificationError: `INPUT_TOO_LARGE` if the image has more than `MAX_IMAGE_PIXELS`
            pixels; `MALFORMED_INPUT` if the bytes are not a readable image or no QR code is
            found in it.
    """
    if isinstance(image, Image.Image):
        _check_pixels(image)
        opened = image
    else:
        opened = _open_image(image)
    barcodes = zxingcpp.read_barcodes(
        _to_grey(opened), formats=_QR_FORMAT, text_mode=zxingcpp.TextMode.Plain
    )
    if not barcodes:
        raise VerificationError(
            ErrorCode.MALFORMED_INPUT,
            "no QR code found in the image (is it sharp, whole and well lit?)",
        )
    return [barcode.text for barcode in _reading_order(barcodes)]


def _reading_order(barcodes: list[zxingcpp.Barcode]) -> list[zxingcpp.Barcode]:
    """Group codes into rows (a code whose centre is above the row's first code's bottom edge
    joins that row), rows top to bottom, codes left to right within a row."""
    boxes: list[tuple[float, int, float, zxingcpp.Barcode]] = []
    for barcode in barcodes:
        p = barcode.position
        corners = (p.top_left, p.top_right, p.bottom_left, p.bottom_right)
        xs, ys = [c.x for c in corners], [c.y for c in corners]
        boxes.append(((min(ys) + max(ys)) / 2, max(ys), (min(xs) + max(xs)) / 2, barcode))
    boxes.sort(key=lambda box: box[0])
    ordered: list[zxingcpp.Barcode] = []
    row: list[tuple[float, zxingcpp.Barcode]] = []
    row_bottom = 0
    for centre_y, bottom, centre_x, barcode in boxes:
        if row and centre_y > row_bottom:
            ordered.extend(b for _, b in sorted(row, key=lambda item: item[0]))
            row = []
        if not row:
            row_bottom = bottom
        row.append((centre_x, barcode))
    ordered.extend(b for _, b in sorted(row, key=lambda item: item[0]))
    return ordered
