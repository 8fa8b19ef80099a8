"""The public renderers (`OfflineCodeSheet`, `FamilySheet`) and PNG by rasterising the PDF
with pdftoppm.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from PIL import Image

from healthcode.errors import ErrorCode, RequestError
from offline.sheet.layout import draw_a4, draw_card, draw_family_page
from offline.sheet.model import (
    CARD_SIZE_MM,
    FAMILY_PER_PAGE,
    PDFTOPPM_TIMEOUT_S,
    Layout,
    PrintableCode,
    RenderError,
)
from offline.sheet.text import new_document

# -- public renderers ----------------------------------------------------------------------------


class OfflineCodeSheet:
    """One printed offline code in the A4 or wallet-card layout."""

    def __init__(self, code: PrintableCode, layout: Layout = Layout.A4) -> None:
        self.code = code
        self.layout = Layout(layout)

    def pdf(self) -> bytes:
        """The PDF (fonts embedded; the card has a front and a back page)."""
        if self.layout is Layout.CARD:
            pdf = new_document(CARD_SIZE_MM)
            draw_card(pdf, self.code)
        else:
            pdf = new_document("A4")
            draw_a4(pdf, self.code)
        return bytes(pdf.output())

    def png(self, dpi: int = 150) -> bytes:
        """The same layout as PNG at `dpi` (pages stacked top to bottom, resolution stored)."""
        return _stacked_png(rasterize(self.pdf(), dpi), dpi)


class FamilySheet:
    """A guardian's sheet: one cell per family member, six to an A4 page, as many pages as needed.

    The caller bounds how many members one request may print (`offline.printing`); this class
    prints every code it is given.
    """

    def __init__(self, codes: Sequence[PrintableCode]) -> None:
        if not codes:
            raise RenderError(
                ErrorCode.NOT_FOUND, "no family member has a code to print; bind a dependent first"
            )
        self.codes = tuple(codes)

    @property
    def pages(self) -> int:
        """How many A4 pages the sheet takes."""
        return -(-len(self.codes) // FAMILY_PER_PAGE)

    def pdf(self) -> bytes:
        """The PDF, one page per six members."""
        pdf = new_document("A4")
        batches = [
            self.codes[i : i + FAMILY_PER_PAGE] for i in range(0, len(self.codes), FAMILY_PER_PAGE)
        ]
        for number, batch in enumerate(batches, start=1):
            draw_family_page(pdf, batch, number, len(batches))
        return bytes(pdf.output())

    def png(self, dpi: int = 150) -> bytes:
        """The same pages as PNG at `dpi`, stacked (resolution stored)."""
        return _stacked_png(rasterize(self.pdf(), dpi), dpi)


# -- rasterising ---------------------------------------------------------------------------------


def rasterize(pdf: bytes, dpi: int, *, grey: bool = False, mono: bool = False) -> list[Image.Image]:
    """Render every page of `pdf` at `dpi` with pdftoppm (embedded fonts only).

    Args:
        pdf: PDF bytes.
        dpi: Resolution, 36..600.
        grey: Render in grey levels (a black-and-white laser printer).
        mono: Render 1-bit black and white, dithered (a fax or a cheap thermal printer).

    Raises:
        ValueError: `dpi` out of range.
        RequestError: UPSTREAM_UNAVAILABLE if pdftoppm (poppler-utils) is not installed.
    """
    if not 36 <= dpi <= 600:
        raise ValueError(f"dpi must be 36..600 (got {dpi})")
    binary = shutil.which("pdftoppm")
    if binary is None:
        raise RequestError(
            ErrorCode.UPSTREAM_UNAVAILABLE,
            "PNG output needs pdftoppm (Debian package poppler-utils); ask for format=pdf",
        )
    with tempfile.TemporaryDirectory(prefix="hc-offline-") as tmp:
        source = Path(tmp) / "sheet.pdf"
        source.write_bytes(pdf)
        # Netpbm output (PPM, PGM or PBM): pdftoppm ignores -gray and -mono with -png.
        mode = ["-mono"] if mono else ["-gray"] if grey else []
        subprocess.run(
            [binary, "-r", str(dpi), *mode, str(source), str(Path(tmp) / "page")],
            check=True,
            capture_output=True,
            timeout=PDFTOPPM_TIMEOUT_S,
        )
        pages = []
        for path in sorted(Path(tmp).glob("page-*")):
            with Image.open(path) as image:
                image.load()
                pages.append(image.copy())
    return pages


def _stacked_png(pages: Sequence[Image.Image], dpi: int) -> bytes:
    gap = 12 if len(pages) > 1 else 0
    width = max(page.width for page in pages)
    height = sum(page.height for page in pages) + gap * (len(pages) - 1)
    sheet = Image.new("RGB", (width, height), (200, 200, 200))
    y = 0
    for page in pages:
        sheet.paste(page.convert("RGB"), (0, y))
        y += page.height + gap
    out = io.BytesIO()
    # pHYs: a print dialog then sizes the page as laid out (85.6 mm card, A4), not by pixels.
    sheet.save(out, format="PNG", optimize=False, dpi=(dpi, dpi))
    return out.getvalue()
