"""healthcode.qr: QR symbols (modes, sizes, quiet zone) and rendering to PNG, SVG, terminal."""

from __future__ import annotations

import io
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable

import pytest
import qrcode
import qrcode.util
from PIL import Image

from healthcode.qr import (
    decode_image,
    encode_numeric,
    qr_code,
    qr_matrix,
    render_png,
    render_svg,
    render_terminal,
)
from tests.healthcode.qr_samples import fake_jws

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
