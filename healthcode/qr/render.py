"""QR symbols for a code's text (byte-mode prefix, numeric-mode digits) and their renderings:
PNG, SVG and the terminal.
"""

from __future__ import annotations

import io
import re
from typing import Final

import qrcode
import qrcode.constants
import qrcode.exceptions
import qrcode.util
import zxingcpp
from PIL import Image

_EC_LEVELS: Final = {
    "L": qrcode.constants.ERROR_CORRECT_L,
    "M": qrcode.constants.ERROR_CORRECT_M,
    "Q": qrcode.constants.ERROR_CORRECT_Q,
    "H": qrcode.constants.ERROR_CORRECT_H,
}
_QR_TEXT = re.compile(r"(hc:/|shc:/(?:[0-9]+/[0-9]+/)?)([0-9]+)")


# -- QR symbols and rendering --------------------------------------------------------------------


def _smallest_version(prefix: str, digit_count: int, level: int) -> int:
    """The smallest QR version holding the two segments, from the standard's bit budget."""
    numeric_bits = 10 * (digit_count // 3) + (0, 4, 7)[digit_count % 3]
    for version in range(1, 41):
        needed = (
            4
            + qrcode.util.length_in_bits(qrcode.util.MODE_8BIT_BYTE, version)
            + 8 * len(prefix)
            + 4
            + qrcode.util.length_in_bits(qrcode.util.MODE_NUMBER, version)
            + numeric_bits
        )
        if needed <= qrcode.util.BIT_LIMIT_TABLE[level][version]:
            return version
    raise qrcode.exceptions.DataOverflowError(f"{digit_count} digits exceed version 40")


def _symbol_plan(text: str, error_correction: str, border: int) -> tuple[int, str, str, int]:
    """Check the arguments and size the symbol: (qrcode level, prefix, digits, version)."""
    level = _EC_LEVELS.get(error_correction)
    if level is None:
        raise ValueError(f"error_correction must be one of L, M, Q, H (got {error_correction!r})")
    if border < 0:
        raise ValueError(f"border must be >= 0 (got {border})")
    match = _QR_TEXT.fullmatch(text)
    if match is None:
        raise ValueError("QR text must be 'hc:/' or 'shc:/' (optionally 'i/n/') then digits")
    prefix, digits = match.group(1), match.group(2)
    try:
        return level, prefix, digits, _smallest_version(prefix, len(digits), level)
    except qrcode.exceptions.DataOverflowError as exc:
        raise ValueError(
            f"{len(digits)} digits do not fit one QR code at level {error_correction}"
        ) from exc


def qr_code(
    text: str, *, error_correction: str = "M", border: int = 4, best_mask: bool = True
) -> qrcode.QRCode:
    """Build the QR symbol for QR text with the `qrcode` package: prefix in a byte segment,
    digits in a numeric segment, at the smallest version the standard's bit budget allows.

    `qr_matrix` (and every renderer) builds the same symbol with zxing-cpp's encoder instead,
    and falls back to this construction should the two ever disagree on the size.

    Args:
        text: QR text from `encode_numeric` (`hc:/<digits>`, `shc:/<digits>`) or one part
            `shc:/<i>/<n>/<digits>` (the chunk header joins the byte segment).
        error_correction: `"L"`, `"M"` (default), `"Q"` or `"H"`.
        border: Quiet zone in modules (4 is what the QR standard asks for).
        best_mask: Score all eight mask patterns and keep the most readable (ISO/IEC 18004
            §7.8.3); False uses mask 0 and is ~5x faster (any mask is valid; decoders read it
            from the symbol).

    Returns:
        A made `qrcode.QRCode`; `.version` is its size (1..40).

    Raises:
        ValueError: `text` is not prefix-plus-digits, the level or border is invalid, or the
            text does not fit a version-40 QR code at this level.
    """
    level, prefix, digits, version = _symbol_plan(text, error_correction, border)
    try:
        # Sizing the symbol ourselves spares qrcode's trial encoding of the data.
        qr = qrcode.QRCode(
            version=version,
            error_correction=level,
            border=border,
            mask_pattern=None if best_mask else 0,
        )
        qr.add_data(qrcode.util.QRData(prefix.encode("ascii"), mode=qrcode.util.MODE_8BIT_BYTE))
        qr.add_data(qrcode.util.QRData(digits.encode("ascii"), mode=qrcode.util.MODE_NUMBER))
        qr.make(fit=False)
    # qrcode 8.2 raises ValueError("Invalid version (was 41 ...)") before its DataOverflowError.
    except (qrcode.exceptions.DataOverflowError, ValueError) as exc:
        raise ValueError(
            f"{len(digits)} digits do not fit one QR code at level {error_correction}"
        ) from exc
    return qr


def qr_matrix(
    text: str, *, error_correction: str = "M", border: int = 4, best_mask: bool = True
) -> list[list[bool]]:
    """The modules of the QR code for `text`, quiet zone included; `True` is dark.

    The symbol comes from zxing-cpp's encoder (C++: about four times the `qrcode` package's
    speed with a fixed mask, while scoring all eight masks, ADR 0010). It segments the text as
    `qr_code` does (byte prefix, numeric digits); its size is checked against the version the
    standard's bit budget gives, and on any difference the `qrcode` construction is used.

    Args:
        best_mask: for the `qrcode` fallback only (see `qr_code`); the zxing-cpp encoder always
            keeps the most readable of the eight masks.

    Raises:
        ValueError: as `qr_code`.
    """
    _, _, _, version = _symbol_plan(text, error_correction, border)
    side_modules = 4 * version + 17
    symbol = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode, ec_level=error_correction)
    # zxingcpp.Image implements the buffer protocol; its stubs do not say so.
    image = memoryview(symbol.to_image(scale=1, add_quiet_zones=False))  # type: ignore[arg-type]
    if image.shape != (side_modules, side_modules) or symbol.ec_level != error_correction:
        qr = qr_code(text, error_correction=error_correction, border=0, best_mask=best_mask)
        modules = [[bool(m) for m in row] for row in qr.modules]
    else:
        # One byte per module, 0 for dark: dark -> 1, light -> 0, then one bool per module.
        dark = image.tobytes().translate(_DARK_PIXELS)
        modules = [
            list(map(bool, dark[start : start + side_modules]))
            for start in range(0, len(dark), side_modules)
        ]
    size = side_modules + 2 * border
    blank = [False] * size
    side = [False] * border
    rows = [blank[:] for _ in range(border)]
    rows.extend(side + row + side for row in modules)
    rows.extend(blank[:] for _ in range(border))
    return rows


_DARK_PIXELS: Final = bytes([1] + [0] * 255)


def _check_scale(scale: int) -> None:
    if scale < 1:
        raise ValueError(f"scale must be >= 1 (got {scale})")


def render_png(
    text: str,
    *,
    scale: int = 8,
    border: int = 4,
    error_correction: str = "M",
    best_mask: bool = True,
) -> bytes:
    """Render the QR code for `text` as a 1-bit PNG, `scale` pixels per module.

    Raises:
        ValueError: as `qr_code`, or `scale` < 1.
    """
    _check_scale(scale)
    matrix = qr_matrix(text, error_correction=error_correction, border=border, best_mask=best_mask)
    size = len(matrix)
    # One byte per module (0 dark, 255 light), scaled up without interpolation.
    pixels = bytes(0 if dark else 255 for row in matrix for dark in row)
    image = Image.frombytes("L", (size, size), pixels)
    if scale > 1:
        image = image.resize((size * scale, size * scale), Image.Resampling.NEAREST)
    out = io.BytesIO()
    image.convert("1", dither=Image.Dither.NONE).save(out, format="PNG")
    return out.getvalue()


def render_svg(
    text: str,
    *,
    scale: int = 8,
    border: int = 4,
    error_correction: str = "M",
    best_mask: bool = True,
) -> str:
    """Render the QR code for `text` as a self-contained SVG document.

    The SVG is in module units (`viewBox`), sized `scale` px per module, with a white background
    (so it scans on a dark page) and one `<path>` drawing each horizontal run of dark modules.

    Raises:
        ValueError: as `qr_code`, or `scale` < 1.
    """
    _check_scale(scale)
    matrix = qr_matrix(text, error_correction=error_correction, border=border, best_mask=best_mask)
    size = len(matrix)
    runs: list[str] = []
    for y, row in enumerate(matrix):
        x = 0
        while x < size:
            if not row[x]:
                x += 1
                continue
            start = x
            while x < size and row[x]:
                x += 1
            runs.append(f"M{start} {y}h{x - start}v1h-{x - start}z")
    px = size * scale
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{px}" height="{px}" '
        f'viewBox="0 0 {size} {size}" shape-rendering="crispEdges">'
        f'<rect width="{size}" height="{size}" fill="#fff"/>'
        f'<path fill="#000" d="{"".join(runs)}"/></svg>\n'
    )


_HALF_BLOCKS: Final = {
    (False, False): " ",
    (True, False): "\u2580",  # upper half block
    (False, True): "\u2584",  # lower half block
    (True, True): "\u2588",  # full block
}


def render_terminal(
    text: str, *, error_correction: str = "M", border: int = 4, invert: bool = False
) -> str:
    """Draw the QR code for `text` with Unicode half blocks, two module rows per line.

    Convention: by default the LIGHT modules (quiet zone included) are drawn as blocks and the
    dark modules are left blank. In the usual light-text-on-dark-background terminal the blocks
    show light and the blanks show the dark background, so the code appears dark on light with
    its quiet zone and scans with any phone. This is the convention of `qrencode -t UTF8`. For a
    dark-text-on-light terminal pass `invert=True` (dark modules drawn as blocks); without it
    such a terminal shows a colour-inverted code, which only some scanners read.

    Args:
        text: QR text, as for `qr_code`.
        error_correction: `"L"`, `"M"`, `"Q"` or `"H"`.
        border: Quiet zone in modules.
        invert: Draw dark modules as blocks (for dark-on-light terminals).

    Returns:
        The lines joined by newlines, no trailing newline; each line is as many characters wide
        as the code has modules (quiet zone included).

    Raises:
        ValueError: as `qr_code`.
    """
    matrix = qr_matrix(text, error_correction=error_correction, border=border)
    size = len(matrix)
    # Ink is what the terminal draws in its text colour; the row below an odd last row is none.
    ink = [[dark == invert for dark in row] for row in matrix]
    ink.append([False] * size)
    lines = [
        "".join(_HALF_BLOCKS[top, bottom] for top, bottom in zip(ink[r], ink[r + 1], strict=True))
        for r in range(0, size, 2)
    ]
    return "\n".join(lines)
