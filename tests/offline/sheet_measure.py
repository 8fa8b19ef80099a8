"""Measuring printed codes as a reader would: decode and verify a raster, and read the PDF back.

Layout checks measure the real output: the quiet zone from the raster, text boxes, font sizes
and faces from the PDF as poppler reads it (pdftohtml -xml).
"""

from __future__ import annotations

import shutil
import subprocess
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import zxingcpp
from PIL import Image

from healthcode import StatusColour, TrustStore, decode_image, verify_credential
from offline.sheet import (
    MAX_ISSUER_NAME_CHARS,
    FamilySheet,
    Layout,
    OfflineCodeSheet,
    PrintableCode,
)
from tests.conftest import NOW

if shutil.which("pdftoppm") is None:  # pragma: no cover - scripts/test installs it
    raise RuntimeError("pdftoppm (poppler-utils) is missing: run the suite through scripts/test")

VERIFY_AT = NOW + 3600  # an hour after issue: well inside the 7 days
PrintableFactory = Callable[..., PrintableCode]
MM_PER_PT = 25.4 / 72
# pdftohtml -zoom: positions and sizes in units of 1/ZOOM point (3 is its maximum).
ZOOM = 3
# Long, bilingual, and just within the limit: the worst name a sheet has to hold.
LONG_ISSUER_NAME = (
    "新疆生产建设兵团卫生健康委员会疾病预防控制中心 "
    "Health Commission of the Xinjiang Production and Construction Corps, CDC Division"
)
assert len(LONG_ISSUER_NAME) <= MAX_ISSUER_NAME_CHARS


def decode_and_verify(
    image: Image.Image, trust: TrustStore, at: float = VERIFY_AT
) -> list[Any]:  # VerificationResult; Any: valid ones are read without narrowing
    return [verify_credential(text, trust, at) for text in decode_image(image)]


def pdftotext(pdf: bytes, tmp_path: Path) -> str:
    source = tmp_path / "sheet.pdf"
    source.write_bytes(pdf)
    return subprocess.run(
        ["pdftotext", "-layout", str(source), "-"], check=True, capture_output=True, text=True
    ).stdout


@dataclass(frozen=True)
class Run:
    """A run of text in one font as poppler reads it from the PDF (mm, pt)."""

    page: int
    text: str
    left: float
    top: float
    right: float
    bottom: float
    size_pt: float
    font: str


@dataclass(frozen=True)
class Page:
    number: int
    width: float
    height: float


def text_runs(pdf: bytes, tmp_path: Path) -> tuple[list[Page], list[Run]]:
    source = tmp_path / "runs.pdf"
    source.write_bytes(pdf)
    xml = subprocess.run(
        ["pdftohtml", "-xml", "-stdout", "-i", "-zoom", str(ZOOM), str(source)],
        check=True,
        capture_output=True,
    ).stdout
    root = ElementTree.fromstring(xml)
    unit = MM_PER_PT / ZOOM
    fonts = {
        spec.get("id"): (float(spec.get("size", "0")) / ZOOM, spec.get("family", ""))
        for spec in root.iter("fontspec")
    }
    pages, runs = [], []
    for page in root.iter("page"):
        number = int(page.get("number", "0"))
        pages.append(
            Page(number, float(page.get("width", 0)) * unit, float(page.get("height", 0)) * unit)
        )
        for element in page.iter("text"):
            text = "".join(element.itertext())
            if not text.strip():
                continue
            left, top = float(element.get("left", 0)), float(element.get("top", 0))
            width, height = float(element.get("width", 0)), float(element.get("height", 0))
            size, font = fonts[element.get("font")]
            runs.append(
                Run(
                    number,
                    text,
                    left * unit,
                    top * unit,
                    (left + width) * unit,
                    (top + height) * unit,
                    size,
                    font,
                )
            )
    return pages, runs


def qr_symbols(image: Image.Image, modules: int) -> list[tuple[int, int, int, int, float]]:
    """Each QR symbol's exact extent in the raster (x0, y0, x1, y1 exclusive) and module px."""
    grey = image.convert("L")
    symbols = []
    for barcode in zxingcpp.read_barcodes(
        grey, formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
    ):
        corners = barcode.position
        xs = [corners.top_left.x, corners.top_right.x, corners.bottom_left.x]
        ys = [corners.top_left.y, corners.top_right.y, corners.bottom_left.y]
        xs.append(corners.bottom_right.x)
        ys.append(corners.bottom_right.y)
        pad = 4
        box = (min(xs) - pad, min(ys) - pad, max(xs) + pad + 1, max(ys) + pad + 1)
        dark = grey.crop(box).point(lambda v: 255 if v < 128 else 0).getbbox()
        assert dark is not None
        x0, y0 = box[0] + dark[0], box[1] + dark[1]
        x1, y1 = box[0] + dark[2], box[1] + dark[3]
        symbols.append((x0, y0, x1, y1, (x1 - x0) / modules))
    return symbols


def quiet_zone_modules(image: Image.Image, modules: int) -> list[dict[str, float]]:
    """For each symbol, the width of white beside each side, in modules, and its corners.

    A side's white ends at the first pixel darker than mid-grey beside the symbol or at the
    image edge. "corners" is 4.0 if the four 4 x 4-module corner squares of the quiet zone are
    all white, else 0.0.
    """
    grey = image.convert("L")

    def blank(region: tuple[int, int, int, int]) -> bool:
        return grey.crop(region).point(lambda v: 255 if v < 128 else 0).getbbox() is None

    zones = []
    for x0, y0, x1, y1, module in qr_symbols(image, modules):
        reach = int(8 * module)
        regions = {
            "left": (max(0, x0 - reach), y0, x0, y1),
            "right": (x1, y0, min(grey.width, x1 + reach), y1),
            "top": (x0, max(0, y0 - reach), x1, y0),
            "bottom": (x0, y1, x1, min(grey.height, y1 + reach)),
        }
        zone = {}
        for side, region in regions.items():
            dark = grey.crop(region).point(lambda v: 255 if v < 128 else 0).getbbox()
            length = region[2] - region[0] if side in ("left", "right") else region[3] - region[1]
            if dark is None:
                white = length
            elif side == "left":
                white = length - dark[2]
            elif side == "right":
                white = dark[0]
            elif side == "top":
                white = length - dark[3]
            else:
                white = dark[1]
            zone[side] = white / module
        quiet = int(4 * module)
        corners = [
            (max(0, x0 - quiet), max(0, y0 - quiet), x0, y0),
            (x1, max(0, y0 - quiet), min(grey.width, x1 + quiet), y0),
            (max(0, x0 - quiet), y1, x0, min(grey.height, y1 + quiet)),
            (x1, y1, min(grey.width, x1 + quiet), min(grey.height, y1 + quiet)),
        ]
        zone["corners"] = 4.0 if all(blank(corner) for corner in corners) else 0.0
        zones.append(zone)
    return zones


# -- layout, measured ----------------------------------------------------------------------------


def sheet_pdf(
    printable: PrintableFactory, layout: str, issuer_name: str = "四川省 Sichuan"
) -> bytes:
    """One layout as PDF: "a4", "card" (front and back) or "family" (a full page of six)."""
    colours = [*StatusColour, *StatusColour]
    if layout == "family":
        codes = [printable(status=colour, issuer_name=issuer_name) for colour in colours]
        return FamilySheet(codes).pdf()
    code = printable(status=colours[layout == "card"], issuer_name=issuer_name)
    return OfflineCodeSheet(code, Layout(layout)).pdf()


def overlap(a: Run, b: Run) -> bool:
    return a.left < b.right and b.left < a.right
