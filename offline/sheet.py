"""Printable offline codes: an A4 sheet or a wallet card (PDF, PNG) and the family sheet.

Everything printed is read from the signed credential itself (its claims), never from side
fields, so the paper always says what the code says. The QR is drawn as vector rectangles from
`healthcode.qr.qr_matrix` (level M or higher, best mask, 4-module quiet zone). The colour is
shown three ways so it survives a black-and-white printer: a coloured band with a pattern of its
own (green plain, yellow diagonal stripes, red cross-hatch), a bold framed word in black
(绿码 GREEN / 黄码 YELLOW / 红码 RED) and a symbol. Fonts ship in `offline/fonts/` and are
embedded, so the PDF needs no font on the printing machine. PNG is the same PDF rasterised by
pdftoppm (poppler-utils), which uses only the embedded fonts.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum
from pathlib import Path
from typing import Final

from fpdf import FPDF
from PIL import Image

from healthcode.config import DEFAULT_LIMITS
from healthcode.credential import CodeKind, Credential, StatusColour
from healthcode.errors import ErrorCode, HealthcodeError, RequestError
from healthcode.jws import parse_compact
from healthcode.qr import HC_PREFIX, encode_numeric, qr_matrix
from healthcode.verify import extract_token

__all__ = [
    "CHINA_TIME",
    "FONT_DIR",
    "FamilySheet",
    "Layout",
    "OfflineCodeSheet",
    "PrintableCode",
    "RenderError",
    "colour_word",
    "rasterize",
]

FONT_DIR: Final = Path(__file__).parent / "fonts"
CHINA_TIME: Final = timezone(timedelta(hours=8), "CST")

_LATIN_FONT: Final = "dejavu"
_CJK_FONT: Final = "droid-cjk"
_QR_EC_LEVEL: Final = "M"
_QUIET_ZONE_MODULES: Final = 4
# Wallet card: ISO/IEC 7810 ID-1.
_CARD_SIZE_MM: Final = (85.6, 54.0)
_FAMILY_PER_PAGE: Final = 6
_PDFTOPPM_TIMEOUT_S: Final = 60


class Layout(StrEnum):
    """Print layouts: an A4 sheet, or a two-sided wallet card (85.6 x 54 mm)."""

    A4 = "a4"
    CARD = "card"


class RenderError(RequestError):
    """The code cannot be printed (not an offline code, damaged token): INVALID_REQUEST."""


@dataclass(frozen=True, slots=True)
class _ColourStyle:
    word_zh: str
    word_en: str
    symbol: str
    rgb: tuple[int, int, int]
    pattern: str  # "plain" | "stripes" | "hatch": tells the colours apart in black and white


_STYLES: Final = {
    StatusColour.GREEN: _ColourStyle("绿码", "GREEN", "✔", (0, 150, 70), "plain"),
    StatusColour.YELLOW: _ColourStyle("黄码", "YELLOW", "!", (240, 185, 0), "stripes"),
    StatusColour.RED: _ColourStyle("红码", "RED", "✘", (210, 30, 40), "hatch"),
}


def colour_word(status: StatusColour) -> str:
    """The word printed for a colour, e.g. "绿码 GREEN"."""
    style = _STYLES[status]
    return f"{style.word_zh} {style.word_en}"


@dataclass(frozen=True, slots=True)
class PrintableCode:
    """What one printed code shows, all of it taken from the signed credential."""

    qr_text: str
    credential: Credential
    issuer_name: str

    @property
    def expires_at(self) -> datetime:
        """End of validity, China time (what the paper says)."""
        return datetime.fromtimestamp(self.credential.expires_at, UTC).astimezone(CHINA_TIME)

    @property
    def issued_at(self) -> datetime:
        """Issue time, China time."""
        return datetime.fromtimestamp(self.credential.issued_at, UTC).astimezone(CHINA_TIME)

    @classmethod
    def from_token(cls, token_or_qr_text: str, *, issuer_name: str | None = None) -> PrintableCode:
        """Read a credential (compact JWS or `hc:/` text) for printing.

        The signature is NOT checked here: the token comes from the issuer over an authenticated
        channel, and every checkpoint verifies the printed code anyway. Its claims are parsed and
        validated as a verifier would, and only offline codes are accepted (a phone code expires
        within the hour and must not be printed).

        Raises:
            RenderError: INVALID_REQUEST if the text is not a readable offline credential.
        """
        text = token_or_qr_text.strip()
        try:
            token = extract_token(text, DEFAULT_LIMITS)
            claims = parse_compact(token, DEFAULT_LIMITS).claims(DEFAULT_LIMITS)
            credential = Credential.from_claims(claims)
        except HealthcodeError as exc:
            raise RenderError(
                ErrorCode.INVALID_REQUEST,
                f"not a printable health code ({exc.code.value}: {exc.message}); "
                "pass the token or hc:/ text the issuer returned",
            ) from exc
        if credential.kind is not CodeKind.OFFLINE:
            raise RenderError(
                ErrorCode.INVALID_REQUEST,
                f"only offline codes are printed (this is a {credential.kind.value} code); "
                "ask the issuer for an offline code",
            )
        qr_text = text if text.startswith(HC_PREFIX) else encode_numeric(token)
        return cls(qr_text=qr_text, credential=credential, issuer_name=issuer_name or "")

    @property
    def issuer_label(self) -> str:
        """The issuer's name with its registry id, or the id alone."""
        if self.issuer_name and self.issuer_name != self.credential.issuer:
            return f"{self.issuer_name} ({self.credential.issuer})"
        return self.credential.issuer


# -- drawing primitives --------------------------------------------------------------------------


def _new_document(page_size: str | tuple[float, float]) -> FPDF:
    pdf = FPDF(unit="mm", format=page_size)
    pdf.set_auto_page_break(False)
    pdf.set_margins(0, 0, 0)
    pdf.add_font(_LATIN_FONT, "", FONT_DIR / "DejaVuSans.ttf")
    pdf.add_font(_LATIN_FONT, "B", FONT_DIR / "DejaVuSans-Bold.ttf")
    pdf.add_font(_CJK_FONT, "", FONT_DIR / "DroidSansFallbackFull.ttf")
    # Latin text in DejaVu, every other character from the CJK font (it has no bold: a bold
    # line falls back to the regular CJK face).
    pdf.set_fallback_fonts([_CJK_FONT], exact_match=False)
    pdf.set_creator("healthcode offline printer")
    pdf.set_title("健康码离线码 Offline health code")
    return pdf


def _printable(pdf: FPDF, text: str) -> str:
    """Replace characters no shipped font has (a rare name character) with a visible box."""
    covered = [getattr(font, "cmap", {}) for font in pdf.fonts.values()]
    return "".join(
        c if c.isspace() or any(ord(c) in cmap for cmap in covered) else "□" for c in text
    )


def _text(
    pdf: FPDF,
    x: float,
    y: float,
    w: float,
    text: str,
    *,
    size: float,
    bold: bool = False,
    align: str = "L",
) -> float:
    """Write one line of text in a box of width `w` at (x, y); returns the y below it.

    A line too long for the box is set smaller until it fits (long issuer names).
    """
    text = _printable(pdf, text)
    height = size * 0.3528 * 1.25  # points to mm, plus leading
    _fit_font(pdf, text, w, size, bold=bold)
    pdf.set_text_color(0, 0, 0)
    pdf.set_xy(x, y)
    pdf.cell(w, height, text, align=align)
    return y + height


def _fit_font(pdf: FPDF, text: str, width: float, size: float, *, bold: bool) -> None:
    """Select the font at `size`, or smaller until `text` fits `width` mm."""
    style = "B" if bold else ""
    pdf.set_font(_LATIN_FONT, style, size)
    while size > 4 and pdf.get_string_width(text) > width * 0.96:
        size *= 0.93
        pdf.set_font(_LATIN_FONT, style, size)


def _draw_qr(pdf: FPDF, qr_text: str, x: float, y: float, size: float) -> None:
    """The QR as vector rectangles, quiet zone included, within a `size` mm square.

    All dark runs go into ONE filled path, so rasterisers anti-alias the union and leave no
    hairline seams between adjacent modules.
    """
    matrix = qr_matrix(
        qr_text, error_correction=_QR_EC_LEVEL, border=_QUIET_ZONE_MODULES, best_mask=True
    )
    module = size / len(matrix)
    pdf.set_fill_color(255, 255, 255)
    pdf.rect(x, y, size, size, style="F")
    with pdf.new_path() as path:
        path.style.fill_color = "#000000"
        path.style.stroke_color = None
        for row_index, row in enumerate(matrix):
            column = 0
            while column < len(row):
                if not row[column]:
                    column += 1
                    continue
                start = column
                while column < len(row) and row[column]:
                    column += 1
                path.rectangle(
                    x + start * module, y + row_index * module, (column - start) * module, module
                )


def _draw_band(pdf: FPDF, status: StatusColour, x: float, y: float, w: float, h: float) -> None:
    """The colour band, with a pattern of its own so it reads in black and white."""
    style = _STYLES[status]
    pdf.set_fill_color(*style.rgb)
    pdf.rect(x, y, w, h, style="F")
    if style.pattern == "plain":
        return
    pdf.set_draw_color(255, 255, 255)
    pdf.set_line_width(min(w, h) * 0.08)
    step = min(w, h) * 0.35
    with pdf.rect_clip(x, y, w, h):
        offset = -h
        while offset < w:
            pdf.line(x + offset, y + h, x + offset + h, y)
            if style.pattern == "hatch":
                pdf.line(x + offset, y, x + offset + h, y + h)
            offset += step


def _draw_colour_word(
    pdf: FPDF, status: StatusColour, x: float, y: float, w: float, h: float
) -> None:
    """The colour as a bold word in black inside a thick frame (no colour needed to read it)."""
    style = _STYLES[status]
    pdf.set_fill_color(255, 255, 255)
    pdf.set_draw_color(0, 0, 0)
    pdf.set_line_width(max(0.4, h * 0.06))
    pdf.rect(x, y, w, h, style="DF")
    word = f"{style.symbol} {style.word_zh} {style.word_en}"
    _fit_font(pdf, word, w - 2, h / 0.3528 * 0.55, bold=True)
    pdf.set_text_color(0, 0, 0)
    pdf.set_xy(x, y)
    pdf.cell(w, h, word, align="C")


def _valid_until_text(code: PrintableCode) -> str:
    return code.expires_at.strftime("%Y-%m-%d %H:%M")


def _instructions(code: PrintableCode) -> tuple[str, str]:
    zh_first, zh_second, en_first, en_second = _instruction_parts(code)
    return f"{zh_first}{zh_second}", f"{en_first} {en_second}"


def _instruction_parts(code: PrintableCode) -> tuple[str, str, str, str]:
    """The instructions in two halves per language, for narrow layouts."""
    until = _valid_until_text(code)
    return (
        "请出示此码供扫码核验，",
        f"有效期至 {until}（北京时间）。",
        "Show this code to be scanned;",
        f"valid until {until} (China time, UTC+8).",
    )


_REVOCATION_NOTE: Final = (
    "状态变化时此码将被撤销，以扫码核验结果为准。",
    "If your status changes this code is revoked: the scan result decides.",
)


# -- layouts -------------------------------------------------------------------------------------


def _draw_a4(pdf: FPDF, code: PrintableCode) -> None:
    credential = code.credential
    pdf.add_page()
    _draw_band(pdf, credential.status, 0, 0, 210, 30)
    pdf.set_fill_color(255, 255, 255)
    pdf.rect(20, 8, 170, 14, style="F")
    _text(pdf, 20, 9.5, 170, "健康码 · 离线码  Offline Health Code", size=20, bold=True, align="C")
    _text(pdf, 15, 34, 180, code.issuer_label, size=13, align="C")
    _draw_colour_word(pdf, credential.status, 45, 43, 120, 18)
    _draw_qr(pdf, code.qr_text, 52.5, 66, 105)
    y = _text(pdf, 15, 174, 180, "有效期至  Valid until", size=16, align="C")
    y = _text(pdf, 15, y, 180, _valid_until_text(code), size=34, bold=True, align="C")
    y = _text(pdf, 15, y, 180, "北京时间 China time (UTC+8)", size=12, align="C")
    y = _text(
        pdf,
        15,
        y + 4,
        180,
        f"姓名 Name: {credential.masked_name}      证件尾号 ID ends: {credential.id_tail}",
        size=16,
        bold=True,
        align="C",
    )
    zh, en = _instructions(code)
    y = _text(pdf, 15, y + 6, 180, zh, size=13, align="C")
    y = _text(pdf, 15, y, 180, en, size=11, align="C")
    y = _text(pdf, 15, y + 2, 180, _REVOCATION_NOTE[0], size=10, align="C")
    _text(pdf, 15, y, 180, _REVOCATION_NOTE[1], size=9, align="C")
    footer = (
        f"签发 Issued {code.issued_at.strftime('%Y-%m-%d %H:%M')}  ·  "
        f"编号 Ref {credential.jti[:8]}  ·  离线码 offline code"
    )
    _text(pdf, 15, 282, 180, footer, size=8, align="C")
    _draw_band(pdf, credential.status, 0, 290, 210, 7)


def _draw_card(pdf: FPDF, code: PrintableCode) -> None:
    credential = code.credential
    width, height = _CARD_SIZE_MM
    # Front: band, QR, the colour word, validity, holder.
    pdf.add_page()
    _draw_band(pdf, credential.status, 0, 0, width, 7)
    pdf.set_fill_color(255, 255, 255)
    pdf.rect(3, 1.5, 56, 4, style="F")
    _text(pdf, 3, 1.6, 56, "健康码离线码 Offline Health Code", size=7.5, bold=True, align="C")
    _draw_qr(pdf, code.qr_text, 1.5, 8.5, 44)
    right = 46.5
    column = width - right - 1.5
    _draw_colour_word(pdf, credential.status, right, 9, column, 8)
    y = _text(pdf, right, 18.5, column, "有效期至 Valid until", size=6.5)
    y = _text(pdf, right, y, column, code.expires_at.strftime("%Y-%m-%d"), size=12, bold=True)
    y = _text(
        pdf, right, y, column, code.expires_at.strftime("%H:%M") + " 北京时间", size=10, bold=True
    )
    y = _text(pdf, right, y + 1.5, column, credential.masked_name, size=10, bold=True)
    y = _text(pdf, right, y, column, f"证件尾号 ID ···{credential.id_tail}", size=7)
    _text(pdf, right, y + 1, column, code.issuer_label, size=5.5)
    _draw_band(pdf, credential.status, 0, height - 2, width, 2)
    # Back: what to do with it, in both languages.
    pdf.add_page()
    _draw_band(pdf, credential.status, 0, 0, width, 4)
    zh_first, zh_second, en_first, en_second = _instruction_parts(code)
    y = _text(pdf, 3, 6, width - 6, colour_word(credential.status), size=11, bold=True)
    y = _text(pdf, 3, y + 1, width - 6, zh_first, size=7)
    y = _text(pdf, 3, y, width - 6, zh_second, size=7)
    y = _text(pdf, 3, y + 1, width - 6, en_first, size=6.5)
    y = _text(pdf, 3, y, width - 6, en_second, size=6.5)
    y = _text(pdf, 3, y + 1.5, width - 6, _REVOCATION_NOTE[0], size=6)
    y = _text(pdf, 3, y, width - 6, _REVOCATION_NOTE[1], size=5.5)
    y = _text(pdf, 3, y + 1.5, width - 6, code.issuer_label, size=6)
    _text(
        pdf,
        3,
        y,
        width - 6,
        f"签发 Issued {code.issued_at.strftime('%Y-%m-%d %H:%M')} · Ref {credential.jti[:8]}",
        size=5.5,
    )


def _draw_family_page(pdf: FPDF, codes: Sequence[PrintableCode], page: int, pages: int) -> None:
    pdf.add_page()
    _text(
        pdf,
        10,
        8,
        190,
        "家庭成员离线码  Family offline health codes",
        size=18,
        bold=True,
        align="C",
    )
    note = "请出示本人对应的码供扫码核验 / Show each person's own code to be scanned"
    if pages > 1:
        note += f"  ({page}/{pages})"
    _text(pdf, 10, 17, 190, note, size=10, align="C")
    cell_w, cell_h, top = 95.0, 86.0, 25.0
    for index, code in enumerate(codes):
        credential = code.credential
        x = 10 + (index % 2) * cell_w
        y = top + (index // 2) * cell_h
        pdf.set_draw_color(120, 120, 120)
        pdf.set_line_width(0.2)
        pdf.set_dash_pattern(dash=1.5, gap=1.5)  # cut lines
        pdf.rect(x, y, cell_w, cell_h)
        pdf.set_dash_pattern()
        _draw_band(pdf, credential.status, x + 1, y + 1, 5, cell_h - 2)
        _draw_qr(pdf, code.qr_text, x + 7, y + 3, 52)
        right, column = x + 60, cell_w - 61
        _draw_colour_word(pdf, credential.status, right, y + 5, column, 9)
        line = _text(pdf, right, y + 17, column, credential.masked_name, size=14, bold=True)
        line = _text(pdf, right, line, column, f"ID ···{credential.id_tail}", size=10)
        line = _text(pdf, right, line + 3, column, "有效期至 Valid until", size=8)
        line = _text(
            pdf, right, line, column, code.expires_at.strftime("%Y-%m-%d"), size=12, bold=True
        )
        line = _text(
            pdf,
            right,
            line,
            column,
            code.expires_at.strftime("%H:%M") + " 北京时间",
            size=10,
            bold=True,
        )
        _text(pdf, right, line + 2, column, code.issuer_label, size=6)
        zh, en = _instructions(code)
        _text(pdf, x + 7, y + 57, cell_w - 9, zh, size=7.5)
        _text(pdf, x + 7, y + 61.5, cell_w - 9, en, size=5.8)
        _text(pdf, x + 7, y + 66, cell_w - 9, _REVOCATION_NOTE[0], size=6.5)
        _text(pdf, x + 7, y + 70, cell_w - 9, _REVOCATION_NOTE[1], size=5.8)


# -- public renderers ----------------------------------------------------------------------------


class OfflineCodeSheet:
    """One printed offline code in the A4 or wallet-card layout."""

    def __init__(self, code: PrintableCode, layout: Layout = Layout.A4) -> None:
        self.code = code
        self.layout = Layout(layout)

    def pdf(self) -> bytes:
        """The PDF (fonts embedded; the card has a front and a back page)."""
        if self.layout is Layout.CARD:
            pdf = _new_document(_CARD_SIZE_MM)
            _draw_card(pdf, self.code)
        else:
            pdf = _new_document("A4")
            _draw_a4(pdf, self.code)
        return bytes(pdf.output())

    def png(self, dpi: int = 150) -> bytes:
        """The same layout as PNG at `dpi` (pages stacked top to bottom)."""
        return _stacked_png(rasterize(self.pdf(), dpi))


class FamilySheet:
    """A guardian's sheet: one cell per family member, six to an A4 page."""

    def __init__(self, codes: Sequence[PrintableCode]) -> None:
        if not codes:
            raise RenderError(
                ErrorCode.NOT_FOUND, "no family member has a code to print; bind a dependent first"
            )
        self.codes = tuple(codes)

    def pdf(self) -> bytes:
        """The PDF, one page per six members."""
        pdf = _new_document("A4")
        batches = [
            self.codes[i : i + _FAMILY_PER_PAGE]
            for i in range(0, len(self.codes), _FAMILY_PER_PAGE)
        ]
        for number, batch in enumerate(batches, start=1):
            _draw_family_page(pdf, batch, number, len(batches))
        return bytes(pdf.output())

    def png(self, dpi: int = 150) -> bytes:
        """The same pages as PNG at `dpi`, stacked."""
        return _stacked_png(rasterize(self.pdf(), dpi))


# -- rasterising ---------------------------------------------------------------------------------


def rasterize(pdf: bytes, dpi: int, *, grey: bool = False, mono: bool = False) -> list[Image.Image]:
    """Render every page of `pdf` at `dpi` with pdftoppm (embedded fonts only).

    Args:
        pdf: PDF bytes.
        dpi: Resolution, 36..600.
        grey: Render in grey levels (a black-and-white laser printer).
        mono: Render 1-bit black and white (a fax or a cheap thermal printer).

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
            timeout=_PDFTOPPM_TIMEOUT_S,
        )
        pages = []
        for path in sorted(Path(tmp).glob("page-*")):
            with Image.open(path) as image:
                image.load()
                pages.append(image.copy())
    return pages


def _stacked_png(pages: Sequence[Image.Image]) -> bytes:
    gap = 12 if len(pages) > 1 else 0
    width = max(page.width for page in pages)
    height = sum(page.height for page in pages) + gap * (len(pages) - 1)
    sheet = Image.new("RGB", (width, height), (200, 200, 200))
    y = 0
    for page in pages:
        sheet.paste(page.convert("RGB"), (0, y))
        y += page.height + gap
    out = io.BytesIO()
    sheet.save(out, format="PNG", optimize=False)
    return out.getvalue()
