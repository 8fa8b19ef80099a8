"""Multi-part SMART Health Card codes (`shc:/<i>/<n>/<digits>`, deprecated): parse, reassemble."""

from __future__ import annotations

from collections.abc import Sequence

from healthcode.config import DEFAULT_LIMITS, Limits
from healthcode.errors import ErrorCode, VerificationError
from healthcode.qr.codec import (
    CHUNK_HEADER,
    DIGITS,
    check_digit_count,
    check_text_size,
    decode_numeric,
    digits_to_jws,
)

# A chunk number longer than this is out of range for any sane limit; refusing it early also
# keeps int() away from arbitrarily long digit strings.
_MAX_CHUNK_NUMBER_DIGITS = 4


# -- multi-part shc:/ codes ----------------------------------------------------------------------


def is_chunk(text: str) -> bool:
    """Whether `text` is shaped like one part of a multi-part code (`shc:/<i>/<n>/...`).

    Only the shape: whether the part is well formed is for `reassemble_chunks` to say.
    """
    return CHUNK_HEADER.match(text) is not None


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
    header = CHUNK_HEADER.match(text)
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
    check_digit_count(len(digits))
    if not digits or not DIGITS.fullmatch(digits):
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
        check_text_size(text, limits)
    if len(texts) == 1 and CHUNK_HEADER.match(texts[0]) is None:
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
    return "".join(digits_to_jws(by_index[i], limits=limits) for i in range(1, total + 1))
