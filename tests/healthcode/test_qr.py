"""healthcode.qr: the hc:/ numeric codec, multi-part shc:/ codes, rendering and image decoding."""

from __future__ import annotations

import io
import itertools
import math
import random
import re
import struct
import xml.etree.ElementTree as ET
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
import qrcode
import qrcode.util
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image, PngImagePlugin

from healthcode.config import QR_NUMERIC_CAPACITY_DIGITS, Limits
from healthcode.errors import ErrorCode, VerificationError
from healthcode.qr import (
    HC_PREFIX,
    MAX_IMAGE_PIXELS,
    SHC_PREFIX,
    decode_image,
    decode_numeric,
    encode_numeric,
    parse_chunk,
    qr_code,
    qr_matrix,
    reassemble_chunks,
    render_png,
    render_svg,
    render_terminal,
)

SHC_VECTORS = Path(__file__).parent.parent / "vectors" / "shc"
JWS_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."
B64URL = JWS_ALPHABET[:-1]


def vector(name: str) -> str:
    return (SHC_VECTORS / name).read_text(encoding="ascii").strip()


def fake_jws(length: int, seed: int = 0) -> str:
    """A JWS-shaped string (header.payload.signature) of exactly `length` characters."""
    rng = random.Random(seed)
    body = "".join(rng.choice(B64URL) for _ in range(length - 2))
    return f"{body[:40]}.{body[40:-86]}.{body[-86:]}"


def expect_error(code: ErrorCode, call: Callable[[], object]) -> VerificationError:
    with pytest.raises(VerificationError) as info:
        call()
    assert info.value.code is code, info.value
    return info.value


def png_with_size(width: int, height: int) -> bytes:
    """A tiny PNG whose IHDR claims `width` x `height` (pixel data is not there to match)."""
    out = io.BytesIO()
    Image.new("1", (8, 8), 1).save(out, format="PNG")
    data = bytearray(out.getvalue())
    assert data[12:16] == b"IHDR"
    struct.pack_into(">II", data, 16, width, height)
    struct.pack_into(">I", data, 29, zlib.crc32(bytes(data[12:29])))
    return bytes(data)


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


SHC_EXAMPLE_02_PARTS = [vector(f"example-02-f-qr-code-numeric-value-{i}.txt") for i in range(3)]


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


# -- QR symbols ----------------------------------------------------------------------------------


def test_qr_code_puts_prefix_in_byte_mode_and_digits_in_numeric_mode() -> None:
    qr = qr_code(encode_numeric(fake_jws(300)))
    modes = [segment.mode for segment in qr.data_list]
    assert modes == [qrcode.util.MODE_8BIT_BYTE, qrcode.util.MODE_NUMBER]
    assert qr.data_list[0].data == b"hc:/"
    chunk = qr_code("shc:/2/3/5657")
    assert [s.data for s in chunk.data_list] == [b"shc:/2/3/", b"5657"]


def test_numeric_mode_keeps_the_qr_small(make_token: Callable[..., str]) -> None:
    # A real signed credential (~450 characters) fits version 15 at level M.
    typical = make_token()
    typical_version = qr_code(encode_numeric(typical)).version
    print(f"typical token: {len(typical)} chars -> version {typical_version} at M")
    assert typical_version <= 15

    # 500 characters need 1000 digits (3334 bits + headers): version 16 at M. Version 15-M holds
    # 3320 data bits, i.e. at most 487 characters. Byte mode would need far more.
    text = encode_numeric(fake_jws(500))
    numeric_version = qr_code(text).version
    print(f"500-char token -> version {numeric_version} at M")
    assert numeric_version <= 16

    byte_mode = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M)
    byte_mode.add_data(qrcode.util.QRData(text.encode(), mode=qrcode.util.MODE_8BIT_BYTE))
    byte_mode.make(fit=True)
    assert byte_mode.version >= numeric_version + 8  # 26 for the same text


@pytest.mark.parametrize(("level", "max_chars"), [("L", 3536), ("M", 2790), ("Q", 1988)])
def test_qr_code_refuses_text_over_version_40(level: str, max_chars: int) -> None:
    with pytest.raises(ValueError, match="do not fit"):
        qr_code(encode_numeric("a" * (max_chars + 1)), error_correction=level)


@pytest.mark.parametrize(
    ("text", "kwargs"),
    [
        ("hello", {}),
        ("hc:/", {}),
        ("hc:/12a", {}),
        ("https://example.org/", {}),
        ("hc:/1234", {"error_correction": "X"}),
        ("hc:/1234", {"error_correction": "m"}),
        ("hc:/1234", {"border": -1}),
    ],
)
def test_qr_code_refuses_misuse(text: str, kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        qr_code(text, **kwargs)  # type: ignore[arg-type]


def test_qr_matrix_includes_quiet_zone() -> None:
    text = encode_numeric(fake_jws(200))
    version = qr_code(text).version
    matrix = qr_matrix(text)
    size = 4 * version + 17 + 8
    assert len(matrix) == size
    assert all(len(row) == size for row in matrix)
    for i in range(4):
        assert not any(matrix[i])
        assert not any(matrix[-1 - i])
        assert not any(row[i] or row[-1 - i] for row in matrix)
    # The top-left finder pattern starts right inside the quiet zone.
    assert matrix[4][4:11] == [True] * 7
    matrix[0][0] = True  # rows are independent lists
    assert sum(row[0] for row in matrix) == 1


@pytest.mark.parametrize("level", ["L", "M", "Q", "H"])
def test_qr_matrix_from_zxing_is_the_standard_size_and_reads_back(level: str) -> None:
    # The C++ encoder must segment as qr_code does (byte prefix, numeric digits): the same,
    # smallest version at every length, the asked level, and the same text read back.
    import zxingcpp

    for length in (1, 2, 3, 17, 80, 211, 450, 600, 997):
        text = encode_numeric(fake_jws(length, seed=length))
        try:
            version = qr_code(text, error_correction=level).version
        except ValueError:
            continue  # too long for this level
        symbol = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode, ec_level=level)
        modules = symbol.to_image(scale=1, add_quiet_zones=False)
        assert memoryview(modules).shape == (4 * version + 17,) * 2, (level, length)  # type: ignore[arg-type]
        png = render_png(text, error_correction=level, scale=3)
        image = Image.open(io.BytesIO(png)).convert("L")
        (read,) = zxingcpp.read_barcodes(
            image, formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
        )
        assert (read.text, read.ec_level) == (text, level)
    chunk = "shc:/2/3/" + "56" * 300
    assert len(qr_matrix(chunk)) == 4 * qr_code(chunk).version + 17 + 8
    assert decode_image(render_png(chunk)) == [chunk]


def test_qr_matrix_falls_back_to_qrcode_when_the_sizes_disagree(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import healthcode.qr.render as qr_module

    text = encode_numeric(fake_jws(300))
    version = qr_code(text).version
    # Ask for one version more than zxing-cpp's encoder picks: the fallback must build it.
    planned = qr_module._smallest_version
    monkeypatch.setattr(qr_module, "_smallest_version", lambda *a: planned(*a) + 1)
    matrix = qr_matrix(text, border=0)
    assert len(matrix) == 4 * (version + 1) + 17
    assert decode_image(render_png(text)) == [text]


# -- rendering -----------------------------------------------------------------------------------


@pytest.mark.parametrize("level", ["M", "Q"])
def test_render_png_round_trips_through_decode_image(level: str) -> None:
    text = encode_numeric(fake_jws(600, seed=7))
    png = render_png(text, error_correction=level)
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    assert image.mode == "1"
    assert image.size == ((4 * qr_code(text, error_correction=level).version + 25) * 8,) * 2
    assert decode_image(png) == [text]


def test_render_png_is_module_exact() -> None:
    text = encode_numeric("abc")
    matrix = qr_matrix(text, border=2)
    image = Image.open(io.BytesIO(render_png(text, scale=3, border=2))).convert("L")
    pixels = image.load()
    assert pixels is not None
    for y, row in enumerate(matrix):
        for x, dark in enumerate(row):
            assert pixels[3 * x + 1, 3 * y + 1] == (0 if dark else 255)


def test_render_png_refuses_bad_scale() -> None:
    with pytest.raises(ValueError, match="scale"):
        render_png("hc:/1234", scale=0)


def svg_dark_cells(svg: str) -> set[tuple[int, int]]:
    root = ET.fromstring(svg)  # our own output
    ns = "{http://www.w3.org/2000/svg}"
    assert root.tag == f"{ns}svg"
    paths = root.findall(f"{ns}path")
    assert len(paths) == 1
    cells = set()
    for x, y, run in re.findall(r"M(\d+) (\d+)h(\d+)v1h-\3z", paths[0].attrib["d"]):
        cells |= {(int(x) + i, int(y)) for i in range(int(run))}
    return cells


def test_render_svg_is_well_formed_and_draws_the_dark_modules() -> None:
    text = encode_numeric(fake_jws(300))
    svg = render_svg(text, scale=5)
    matrix = qr_matrix(text)
    size = len(matrix)
    root = ET.fromstring(svg)  # our own output
    assert root.attrib["viewBox"] == f"0 0 {size} {size}"
    assert root.attrib["width"] == str(5 * size)
    assert root.attrib["shape-rendering"] == "crispEdges"
    expected = {(x, y) for y, row in enumerate(matrix) for x, dark in enumerate(row) if dark}
    assert svg_dark_cells(svg) == expected


def terminal_ink(drawing: str) -> list[list[bool]]:
    """Expand half-block text back into rows of 'drawn' cells."""
    top = {" ": False, "\u2580": True, "\u2584": False, "\u2588": True}
    bottom = {" ": False, "\u2580": False, "\u2584": True, "\u2588": True}
    rows = []
    for line in drawing.split("\n"):
        rows.append([top[c] for c in line])
        rows.append([bottom[c] for c in line])
    return rows


@pytest.mark.parametrize("invert", [False, True])
def test_render_terminal_draws_two_module_rows_per_line(invert: bool) -> None:
    text = encode_numeric(fake_jws(250))
    matrix = qr_matrix(text)
    size = len(matrix)
    drawing = render_terminal(text, invert=invert)
    lines = drawing.split("\n")
    assert len(lines) == math.ceil(size / 2)
    assert all(len(line) == size for line in lines)
    ink = terminal_ink(drawing)
    # Default: light modules are drawn (light-on-dark terminals); invert: dark modules are.
    expected = [[dark == invert for dark in row] for row in matrix]
    assert ink[:size] == expected
    assert not any(ink[size])  # the half row below an odd-sized code is left blank


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
