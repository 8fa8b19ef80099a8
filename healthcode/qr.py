"""QR transport of a credential: the `hc:/` numeric codec, rendering, image decoding (standard §3).

A credential is a compact JWS (characters `A-Z a-z 0-9 - _ .`). It travels in ONE QR code as
`hc:/` followed by the SMART Health Cards numeric encoding: each character `c` becomes the two
decimal digits `ord(c) - 45` (`'-'` → `00`, `'.'` → `01`, `'z'` → `77`). SMART Health Cards use the
same encoding after `shc:/`, plus a deprecated multi-part form `shc:/<i>/<n>/<digits>` (1-based
part `i` of `n`; the JWS is the concatenation of the decoded parts in order).

The QR holds two segments: the prefix (and chunk header) in byte mode and the digits in numeric
mode, which packs 10 bits per 3 digits instead of 8 bits per character. Error correction defaults
to level M and the quiet zone to 4 modules.

Untrusted input (`decode_numeric`, `reassemble_chunks`, `decode_image`) fails with a
`VerificationError` carrying its `ErrorCode`; misuse of the encoding side (`encode_numeric`,
`qr_code` and the renderers) raises `ValueError`.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from typing import Final

import qrcode
import qrcode.constants
import qrcode.exceptions
import qrcode.util
import zxingcpp
from PIL import Image

from healthcode.config import DEFAULT_LIMITS, QR_NUMERIC_CAPACITY_DIGITS, Limits
from healthcode.errors import ErrorCode, VerificationError

__all__ = [
    "HC_PREFIX",
    "MAX_IMAGE_PIXELS",
    "SHC_PREFIX",
    "decode_image",
    "decode_numeric",
    "encode_numeric",
    "is_chunk",
    "parse_chunk",
    "qr_code",
    "qr_matrix",
    "reassemble_chunks",
    "render_png",
    "render_svg",
    "render_terminal",
]

HC_PREFIX: Final = "hc:/"
SHC_PREFIX: Final = "shc:/"

#: Largest decoded image accepted by `decode_image` (pixels). A 12-megapixel phone photo is far
#: below it; a PNG that claims more is refused before its pixels are allocated.
MAX_IMAGE_PIXELS: Final = 40_000_000

#: Image formats `decode_image` opens. Pillow's other plugins (EPS runs Ghostscript, for one)
#: are not needed for photos and screenshots and are not exposed to untrusted bytes.
_IMAGE_FORMATS: Final = ("PNG", "JPEG", "WEBP", "BMP", "GIF")

_QR_FORMAT: Final = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)

_JWS_ALPHABET: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."
_JWS_TEXT = re.compile(r"[A-Za-z0-9_.-]+")
_DIGITS = re.compile(r"[0-9]*")
_CHUNK_HEADER = re.compile(r"shc:/([0-9]+)/([0-9]+)/")
# A chunk number longer than this is out of range for any sane limit; refusing it early also
# keeps int() away from arbitrarily long digit strings.
_MAX_CHUNK_NUMBER_DIGITS = 4

# Encoding: one character -> its two digits.
_ENCODE_TABLE: Final = {ord(c): f"{ord(c) - 45:02d}" for c in _JWS_ALPHABET}


def _build_decode_table() -> tuple[bytes, bytes]:
    """Tables for `bytes.translate` over the bytes that `bytes.fromhex` makes of digit pairs.

    Read as hex, the decimal pair "ab" becomes the byte 0xab, i.e. its two digits as nibbles.
    `table` maps each such byte to the JWS character it encodes; `invalid` lists every byte
    that is not a pair of an allowed character (pairs 78..99 and pairs of characters outside
    the JWS alphabet, such as "02" for '/'), so `translate` deletes them and a short result
    reveals bad input.
    """
    table = bytearray(256)
    allowed = {ord(c) for c in _JWS_ALPHABET}
    invalid = bytearray()
    for byte in range(256):
        tens, ones = divmod(byte, 16)
        code = tens * 10 + ones + 45
        if tens <= 9 and ones <= 9 and code in allowed:
            table[byte] = code
        else:
            invalid.append(byte)
    return bytes(table), bytes(invalid)


_DECODE_TABLE, _DECODE_INVALID = _build_decode_table()

_EC_LEVELS: Final = {
    "L": qrcode.constants.ERROR_CORRECT_L,
    "M": qrcode.constants.ERROR_CORRECT_M,
    "Q": qrcode.constants.ERROR_CORRECT_Q,
    "H": qrcode.constants.ERROR_CORRECT_H,
}
_QR_TEXT = re.compile(r"(hc:/|shc:/(?:[0-9]+/[0-9]+/)?)([0-9]+)")


# -- numeric codec -------------------------------------------------------------------------------


def encode_numeric(jws: str, prefix: str = HC_PREFIX) -> str:
    """Encode a compact JWS as QR text: `prefix` followed by two digits per character.

    Args:
        jws: The compact JWS; only characters `A-Z a-z 0-9 - _ .` are allowed.
        prefix: `HC_PREFIX` (our codes) or `SHC_PREFIX` (SMART Health Cards).

    Returns:
        The text to put in the QR code, e.g. `hc:/5676...`.

    Raises:
        ValueError: `prefix` is neither prefix, or `jws` is empty or has a character outside
            the JWS alphabet (a character `decode_numeric` would refuse is never encoded).
    """
    if prefix not in (HC_PREFIX, SHC_PREFIX):
        raise ValueError(f"prefix must be {HC_PREFIX!r} or {SHC_PREFIX!r}, got {prefix!r}")
    if not _JWS_TEXT.fullmatch(jws):
        bad = next((c for c in jws if c not in _JWS_ALPHABET), None)
        detail = "it is empty" if bad is None else f"got {bad!r}"
        raise ValueError(f"a JWS must be characters A-Z a-z 0-9 - _ . only ({detail})")
    return prefix + jws.translate(_ENCODE_TABLE)


def _digits_to_jws(digits: str, *, limits: Limits) -> str:
    """Decode the digit string of one QR (length already bounded by the caller)."""
    if not digits:
        raise VerificationError(
            ErrorCode.MALFORMED_QR, "the QR text has no digits after the prefix"
        )
    if not _DIGITS.fullmatch(digits):
        bad = next(c for c in digits if not "0" <= c <= "9")
        raise VerificationError(
            ErrorCode.MALFORMED_QR, f"the QR text has a non-digit character ({bad!r})"
        )
    if len(digits) % 2:
        raise VerificationError(
            ErrorCode.MALFORMED_QR, f"the QR text has an odd number of digits ({len(digits)})"
        )
    if len(digits) // 2 > limits.max_jws_chars:
        raise VerificationError(
            ErrorCode.INPUT_TOO_LARGE,
            f"the QR text encodes {len(digits) // 2} characters "
            f"(expected at most {limits.max_jws_chars})",
        )
    # Digits only, so fromhex reads each pair as one byte; translate maps it to its character
    # and deletes every byte that is not an allowed pair (see _build_decode_table).
    decoded = bytes.fromhex(digits).translate(_DECODE_TABLE, _DECODE_INVALID)
    if len(decoded) * 2 != len(digits):
        raise VerificationError(ErrorCode.MALFORMED_QR, _explain_bad_pair(digits))
    return decoded.decode("ascii")


def _explain_bad_pair(digits: str) -> str:
    """Name the first digit pair that does not encode a JWS character (error path only)."""
    for pos in range(0, len(digits), 2):
        value = int(digits[pos : pos + 2])
        if value > 77:
            return f"digit pair {value:02d} at position {pos} is out of range (max 77)"
        if chr(value + 45) not in _JWS_ALPHABET:
            return (
                f"digit pair {value:02d} at position {pos} encodes {chr(value + 45)!r}, "
                "which is not a JWS character"
            )
    raise AssertionError("unreachable: no bad pair found")  # pragma: no cover


def _check_text_size(text: str, limits: Limits) -> None:
    if len(text) > limits.max_input_chars:
        raise VerificationError(
            ErrorCode.INPUT_TOO_LARGE,
            f"the QR text has {len(text)} characters (expected at most {limits.max_input_chars})",
        )


def _check_digit_count(count: int) -> None:
    if count > QR_NUMERIC_CAPACITY_DIGITS:
        raise VerificationError(
            ErrorCode.INPUT_TOO_LARGE,
            f"the QR text has {count} digits, more than one QR code can hold "
            f"({QR_NUMERIC_CAPACITY_DIGITS})",
        )


def decode_numeric(text: str, *, limits: Limits = DEFAULT_LIMITS) -> str:
    """Decode single-part QR text (`hc:/...` or `shc:/...`) to the compact JWS it carries.

    The text is taken exactly as scanned: surrounding whitespace (a scanner's Enter key) is the
    caller's to strip.

    Args:
        text: The QR text.
        limits: Size bounds; the text length and the digit count are checked before decoding.

    Returns:
        The compact JWS (characters `A-Z a-z 0-9 - _ .` only). It is not verified.

    Raises:
        VerificationError: `INPUT_TOO_LARGE` if the text or its digits exceed the bounds;
            `MALFORMED_INPUT` if the prefix is neither `hc:/` nor `shc:/`; `CHUNKED_CODE` if it
            is one part of a multi-part `shc:/i/n/` code (use `reassemble_chunks`);
            `MALFORMED_QR` if the digits are missing, not digits, odd in number, or a pair
            does not encode a JWS character.
    """
    _check_text_size(text, limits)
    if text.startswith(HC_PREFIX):
        digits = text[len(HC_PREFIX) :]
    elif text.startswith(SHC_PREFIX):
        header = _CHUNK_HEADER.match(text)
        if header is not None:
            index, total = header.group(1), header.group(2)
            raise VerificationError(
                ErrorCode.CHUNKED_CODE,
                f"this QR is part {index} of {total} of a multi-part shc:/ code; "
                "give all parts together",
            )
        digits = text[len(SHC_PREFIX) :]
    else:
        raise VerificationError(
            ErrorCode.MALFORMED_INPUT,
            # The text itself is not echoed: it may be anything, e.g. an ID number.
            f"QR text must start with {HC_PREFIX!r} or {SHC_PREFIX!r}",
        )
    _check_digit_count(len(digits))
    return _digits_to_jws(digits, limits=limits)


# -- multi-part shc:/ codes ----------------------------------------------------------------------


def is_chunk(text: str) -> bool:
    """Whether `text` is shaped like one part of a multi-part code (`shc:/<i>/<n>/...`).

    Only the shape: whether the part is well formed is for `reassemble_chunks` to say.
    """
    return _CHUNK_HEADER.match(text) is not None


def parse_chunk(text: str) -> tuple[int, int, str]:
    """Split one part of a multi-part code, `shc:/<i>/<n>/<digits>`.

    Args:
        text: The QR text of one part.

    Returns:
        `(index, total, digits)` with the 1-based part number, the declared number of parts and
        the part's digits (checked to be ASCII digits; their pairs are checked when decoded).
        Ranges are not checked here; `reassemble_chunks` does that.

    Raises:
        VerificationError: `MALFORMED_INPUT` if the text is not a `shc:/i/n/` part;
            `CHUNK_OUT_OF_RANGE` if a part number has more than 4 digits; `INPUT_TOO_LARGE` if
            the digits exceed one QR code's capacity; `MALFORMED_QR` if the digits are missing
            or not all digits.
    """
    header = _CHUNK_HEADER.match(text)
    if header is None:
        raise VerificationError(
            ErrorCode.MALFORMED_INPUT,
            "not a part of a multi-part code (expected 'shc:/<i>/<n>/<digits>')",
        )
    index_text, total_text = header.group(1), header.group(2)
    if max(len(index_text), len(total_text)) > _MAX_CHUNK_NUMBER_DIGITS:
        raise VerificationError(
            ErrorCode.CHUNK_OUT_OF_RANGE,
            f"part number with more than {_MAX_CHUNK_NUMBER_DIGITS} digits",
        )
    digits = text[header.end() :]
    _check_digit_count(len(digits))
    if not digits or not _DIGITS.fullmatch(digits):
        raise VerificationError(
            ErrorCode.MALFORMED_QR,
            f"part {int(index_text)} of {int(total_text)} has no digits or a non-digit character",
        )
    return int(index_text), int(total_text), digits


def reassemble_chunks(texts: Sequence[str], *, limits: Limits = DEFAULT_LIMITS) -> str:
    """Decode the parts of a multi-part `shc:/i/n/` code, given in any order, to the JWS.

    A single text that is not a part (`hc:/...` or single-part `shc:/...`) is decoded as
    `decode_numeric` does, so a scanner can pass whatever it collected.

    Args:
        texts: The QR texts of all parts, in any order.
        limits: Size bounds (`max_chunks`, `max_input_chars`, `max_jws_chars`).

    Returns:
        The compact JWS, not verified.

    Raises:
        VerificationError: `MALFORMED_INPUT` if nothing is given or a text among several is not
            a part; `CHUNK_OUT_OF_RANGE` for more texts than `limits.max_chunks`, a total below
            1 or above `limits.max_chunks`, parts that disagree on the total, or a part number
            of 0 or above the total; `CHUNK_DUPLICATE` if a part number repeats;
            `CHUNK_MISSING` if a part is absent; `INPUT_TOO_LARGE` and `MALFORMED_QR` as for
            `decode_numeric`.
    """
    if not texts:
        raise VerificationError(ErrorCode.MALFORMED_INPUT, "no QR text given")
    if len(texts) > limits.max_chunks:
        raise VerificationError(
            ErrorCode.CHUNK_OUT_OF_RANGE,
            f"{len(texts)} parts given (expected at most {limits.max_chunks})",
        )
    for text in texts:
        _check_text_size(text, limits)
    if len(texts) == 1 and _CHUNK_HEADER.match(texts[0]) is None:
        return decode_numeric(texts[0], limits=limits)
    parts = [parse_chunk(text) for text in texts]

    total = parts[0][1]
    if not 1 <= total <= limits.max_chunks:
        raise VerificationError(
            ErrorCode.CHUNK_OUT_OF_RANGE,
            f"a multi-part code declares {total} parts (expected 1..{limits.max_chunks})",
        )
    by_index: dict[int, str] = {}
    for index, part_total, digits in parts:
        if part_total != total:
            raise VerificationError(
                ErrorCode.CHUNK_OUT_OF_RANGE,
                f"the parts disagree on the total (got {part_total}, expected {total})",
            )
        if not 1 <= index <= total:
            raise VerificationError(
                ErrorCode.CHUNK_OUT_OF_RANGE,
                f"part number {index} is outside 1..{total}",
            )
        if index in by_index:
            raise VerificationError(
                ErrorCode.CHUNK_DUPLICATE, f"part {index} of {total} is repeated"
            )
        by_index[index] = digits
    missing = [i for i in range(1, total + 1) if i not in by_index]
    if missing:
        raise VerificationError(
            ErrorCode.CHUNK_MISSING,
            f"missing part(s) {', '.join(map(str, missing))} of {total}",
        )
    encoded_chars = sum(len(d) for d in by_index.values()) // 2
    if encoded_chars > limits.max_jws_chars:
        raise VerificationError(
            ErrorCode.INPUT_TOO_LARGE,
            f"the parts encode {encoded_chars} characters "
            f"(expected at most {limits.max_jws_chars})",
        )
    return "".join(_digits_to_jws(by_index[i], limits=limits) for i in range(1, total + 1))


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
