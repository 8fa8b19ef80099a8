"""The `hc:/` numeric codec (standard §3): a compact JWS to digits and back, strictly.

Each character `c` becomes the two decimal digits `ord(c) - 45`; decoding refuses anything
that is not a pair of an allowed character, before building the text.
"""

from __future__ import annotations

import re
from typing import Final

from healthcode.config import DEFAULT_LIMITS, QR_NUMERIC_CAPACITY_DIGITS, Limits
from healthcode.errors import ErrorCode, VerificationError

HC_PREFIX: Final = "hc:/"
SHC_PREFIX: Final = "shc:/"


_JWS_ALPHABET: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."
_JWS_TEXT = re.compile(r"[A-Za-z0-9_.-]+")
DIGITS = re.compile(r"[0-9]*")
CHUNK_HEADER = re.compile(r"shc:/([0-9]+)/([0-9]+)/")


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


def digits_to_jws(digits: str, *, limits: Limits) -> str:
    """Decode the digit string of one QR (length already bounded by the caller)."""
    if not digits:
        raise VerificationError(
            ErrorCode.MALFORMED_QR, "the QR text has no digits after the prefix"
        )
    if not DIGITS.fullmatch(digits):
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


def check_text_size(text: str, limits: Limits) -> None:
    if len(text) > limits.max_input_chars:
        raise VerificationError(
            ErrorCode.INPUT_TOO_LARGE,
            f"the QR text has {len(text)} characters (expected at most {limits.max_input_chars})",
        )


def check_digit_count(count: int) -> None:
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
    check_text_size(text, limits)
    if text.startswith(HC_PREFIX):
        digits = text[len(HC_PREFIX) :]
    elif text.startswith(SHC_PREFIX):
        header = CHUNK_HEADER.match(text)
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
    check_digit_count(len(digits))
    return digits_to_jws(digits, limits=limits)
