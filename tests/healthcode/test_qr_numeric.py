"""healthcode.qr: the hc:/ numeric codec and multi-part shc:/ codes."""

from __future__ import annotations

import itertools
import math
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from healthcode.config import QR_NUMERIC_CAPACITY_DIGITS, Limits
from healthcode.errors import ErrorCode, VerificationError
from healthcode.qr import (
    HC_PREFIX,
    SHC_PREFIX,
    decode_numeric,
    encode_numeric,
    parse_chunk,
    reassemble_chunks,
)
from tests.healthcode.qr_samples import JWS_ALPHABET, SHC_EXAMPLE_02_PARTS, expect_error, vector

# -- numeric codec -------------------------------------------------------------------------------


def test_encode_numeric_uses_two_digits_per_character() -> None:
    assert encode_numeric("-.z") == "hc:/000177"
    assert encode_numeric("A_9", SHC_PREFIX) == "shc:/205012"


@given(
    jws=st.text(alphabet=JWS_ALPHABET, min_size=1, max_size=3000),
    prefix=st.sampled_from([HC_PREFIX, SHC_PREFIX]),
)
def test_numeric_round_trip(jws: str, prefix: str) -> None:
    text = encode_numeric(jws, prefix)
    assert text.startswith(prefix)
    assert len(text) == len(prefix) + 2 * len(jws)
    assert decode_numeric(text) == jws


@given(digits=st.text(alphabet="0123456789", max_size=400))
def test_decode_numeric_digits_either_decode_exactly_or_are_malformed(digits: str) -> None:
    try:
        jws = decode_numeric(HC_PREFIX + digits)
    except VerificationError as exc:
        code = exc.code
    else:
        assert encode_numeric(jws) == HC_PREFIX + digits
        return
    assert code is ErrorCode.MALFORMED_QR


@given(text=st.text(max_size=200))
def test_decode_numeric_arbitrary_text_only_raises_verification_errors(text: str) -> None:
    try:
        jws = decode_numeric(text)
    except VerificationError:
        return
    assert set(jws) <= set(JWS_ALPHABET)


@pytest.mark.parametrize("bad", ["", "a/b", "a b", "a+b", "a~b", "a=b", "中文", "abc\n"])
def test_encode_numeric_refuses_non_jws_text(bad: str) -> None:
    with pytest.raises(ValueError, match="JWS"):
        encode_numeric(bad)


@pytest.mark.parametrize("prefix", ["", "HC:/", "hc:", "shc:/1/2/", "https://"])
def test_encode_numeric_refuses_unknown_prefix(prefix: str) -> None:
    with pytest.raises(ValueError, match="prefix"):
        encode_numeric("abc", prefix)


# -- SMART Health Cards published vectors --------------------------------------------------------


@pytest.mark.parametrize("example", ["00", "01", "03"])
def test_shc_example_numeric_decodes_to_its_jws(example: str) -> None:
    numeric = vector(f"example-{example}-f-qr-code-numeric-value-0.txt")
    jws = vector(f"example-{example}-d-jws.txt")
    assert decode_numeric(numeric) == jws
    assert encode_numeric(jws, SHC_PREFIX) == numeric


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
def test_shc_example_02_parts_reassemble_in_any_order(order: tuple[int, ...]) -> None:
    texts = [SHC_EXAMPLE_02_PARTS[i] for i in order]
    assert reassemble_chunks(texts) == vector("example-02-d-jws.txt")


def test_parse_chunk_splits_header_and_digits() -> None:
    index, total, digits = parse_chunk(SHC_EXAMPLE_02_PARTS[1])
    assert (index, total) == (2, 3)
    assert SHC_EXAMPLE_02_PARTS[1] == f"shc:/2/3/{digits}"


def test_decode_numeric_refuses_one_part_of_a_multi_part_code() -> None:
    error = expect_error(ErrorCode.CHUNKED_CODE, lambda: decode_numeric(SHC_EXAMPLE_02_PARTS[1]))
    assert "part 2 of 3" in error.message


# -- decode_numeric errors -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("hc:/", "no digits"),
        ("shc:/", "no digits"),
        ("hc:/123", "odd number"),
        ("hc:/7778", "pair 78"),
        ("hc:/99", "pair 99"),
        ("hc:/02", "encodes '/'"),
        ("hc:/13", "encodes ':'"),
        ("hc:/12a4", "non-digit"),
        ("hc:/12 34", "space (bytes.fromhex would skip it)"),
        ("hc:/1234\n", "trailing newline"),
        ("hc:/\u0661\u0662", "Arabic-Indic digits"),
        ("hc:/-1", "sign"),
    ],
)
def test_decode_numeric_malformed_digits(text: str, why: str) -> None:
    expect_error(ErrorCode.MALFORMED_QR, lambda: decode_numeric(text))


def test_decode_numeric_names_the_bad_pair() -> None:
    error = expect_error(ErrorCode.MALFORMED_QR, lambda: decode_numeric("hc:/565678"))
    assert "78" in error.message
    assert "position 4" in error.message


@pytest.mark.parametrize(
    "text", ["", "HC:/12", "SHC:/12", "hc/12", "xx:/12", "eyJhbGciOi.e.s", "12"]
)
def test_decode_numeric_unknown_prefix(text: str) -> None:
    expect_error(ErrorCode.MALFORMED_INPUT, lambda: decode_numeric(text))


def test_decode_numeric_digit_capacity_at_and_over_the_limit() -> None:
    at_limit = "12" * (QR_NUMERIC_CAPACITY_DIGITS // 2)
    assert decode_numeric(HC_PREFIX + at_limit) == "9" * (QR_NUMERIC_CAPACITY_DIGITS // 2)
    expect_error(ErrorCode.INPUT_TOO_LARGE, lambda: decode_numeric(HC_PREFIX + at_limit + "12"))


def test_decode_numeric_checks_size_before_content() -> None:
    """An oversized text is refused for its size even though its content is also bad."""
    junk = HC_PREFIX + "x" * (QR_NUMERIC_CAPACITY_DIGITS + 1)
    expect_error(ErrorCode.INPUT_TOO_LARGE, lambda: decode_numeric(junk))


def test_decode_numeric_respects_limits() -> None:
    limits = Limits(max_input_chars=24, max_jws_chars=8)
    assert decode_numeric(encode_numeric("a" * 8), limits=limits) == "a" * 8
    expect_error(
        ErrorCode.INPUT_TOO_LARGE, lambda: decode_numeric(encode_numeric("a" * 9), limits=limits)
    )
    expect_error(
        ErrorCode.INPUT_TOO_LARGE, lambda: decode_numeric("zz:/" + "1" * 21, limits=limits)
    )


# -- reassemble_chunks ---------------------------------------------------------------------------


def split_into_parts(jws: str, total: int) -> list[str]:
    size = math.ceil(len(jws) / total)
    pieces = [jws[i : i + size] for i in range(0, len(jws), size)]
    assert len(pieces) == total
    return [
        f"shc:/{i}/{total}/{encode_numeric(p)[len(HC_PREFIX) :]}" for i, p in enumerate(pieces, 1)
    ]


@given(
    jws=st.text(alphabet=JWS_ALPHABET, min_size=16, max_size=400),
    total=st.integers(1, 4),
    rng=st.randoms(use_true_random=False),
)
def test_reassemble_chunks_round_trip_any_order(jws: str, total: int, rng: random.Random) -> None:
    parts = split_into_parts(jws, total)
    rng.shuffle(parts)
    assert reassemble_chunks(parts) == jws


def test_reassemble_chunks_single_text_is_decoded() -> None:
    assert reassemble_chunks([encode_numeric("abc")]) == "abc"
    assert reassemble_chunks([encode_numeric("abc", SHC_PREFIX)]) == "abc"
    assert reassemble_chunks(["shc:/1/1/525354"]) == "abc"


def test_reassemble_chunks_duplicate_part() -> None:
    a, b, c = SHC_EXAMPLE_02_PARTS
    error = expect_error(ErrorCode.CHUNK_DUPLICATE, lambda: reassemble_chunks([a, b, b, c]))
    assert "part 2 of 3" in error.message


def test_reassemble_chunks_missing_part() -> None:
    a, _, c = SHC_EXAMPLE_02_PARTS
    error = expect_error(ErrorCode.CHUNK_MISSING, lambda: reassemble_chunks([c, a]))
    assert "2 of 3" in error.message


@pytest.mark.parametrize(
    "texts",
    [
        ["shc:/0/2/5657", "shc:/1/2/5657"],  # index 0
        ["shc:/1/2/5657", "shc:/3/2/5657"],  # index above total
        ["shc:/1/2/5657", "shc:/2/3/5657"],  # totals disagree
        ["shc:/1/0/5657"],  # total 0
        ["shc:/1/17/5657"],  # total above max_chunks (16)
        ["shc:/1/2/5657", "shc:/99999/2/5657"],  # absurd part number
        [f"shc:/{i}/17/5657" for i in range(1, 18)],  # more texts than max_chunks
    ],
)
def test_reassemble_chunks_out_of_range(texts: list[str]) -> None:
    expect_error(ErrorCode.CHUNK_OUT_OF_RANGE, lambda: reassemble_chunks(texts))


def test_reassemble_chunks_respects_max_chunks_limit() -> None:
    limits = Limits(max_chunks=2)
    expect_error(
        ErrorCode.CHUNK_OUT_OF_RANGE,
        lambda: reassemble_chunks(SHC_EXAMPLE_02_PARTS, limits=limits),
    )
    assert reassemble_chunks(split_into_parts("abcdef", 2), limits=limits) == "abcdef"


@pytest.mark.parametrize(
    "bad_part",
    ["shc:/2/2/565", "shc:/2/2/5678", "shc:/2/2/56a7", "shc:/2/2/"],
)
def test_reassemble_chunks_malformed_digits(bad_part: str) -> None:
    expect_error(ErrorCode.MALFORMED_QR, lambda: reassemble_chunks(["shc:/1/2/5657", bad_part]))


@pytest.mark.parametrize(
    "texts",
    [
        [],
        ["shc:/1/2/5657", "hc:/5657"],  # a single-part code among parts
        ["shc:/1/2/5657", "nonsense"],
    ],
)
def test_reassemble_chunks_malformed_input(texts: list[str]) -> None:
    expect_error(ErrorCode.MALFORMED_INPUT, lambda: reassemble_chunks(texts))


def test_reassemble_chunks_bounds_the_joined_token() -> None:
    parts = split_into_parts("a" * 12, 2)
    assert reassemble_chunks(parts, limits=Limits(max_jws_chars=12)) == "a" * 12
    expect_error(
        ErrorCode.INPUT_TOO_LARGE, lambda: reassemble_chunks(parts, limits=Limits(max_jws_chars=11))
    )


def test_parse_chunk_refuses_single_part_text() -> None:
    expect_error(ErrorCode.MALFORMED_INPUT, lambda: parse_chunk(encode_numeric("abc")))
