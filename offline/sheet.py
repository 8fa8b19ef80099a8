"""Printable offline codes: an A4 sheet or a wallet card (PDF, PNG) and the family sheet.

Everything printed is read from the signed credential itself (its claims), never from side
fields, so the paper always says what the code says; the one exception is the issuer's human
name, which the credential does not carry and which every sheet must show. The QR is drawn as
vector rectangles from `healthcode.qr.qr_matrix` (level M, best mask) on a white square that
includes the 4-module quiet zone, and every layout keeps other ink at least 0.5 mm clear of that
square. The colour is shown three ways so it survives a black-and-white printer: a coloured band
with a pattern of its own (green plain, yellow black caution stripes, red white cross-hatch), a
bold framed word in black (绿码 GREEN / 黄码 YELLOW / 红码 RED) and a symbol. Right under the
word, in large print, "以扫码结果为准 / the scan decides": a sheet of a revoked code still says
GREEN, and only the scan knows.

Fonts ship in `offline/fonts/` and are embedded, so the PDF needs no font on the printing
machine: DejaVu Sans (Latin, regular and bold), Droid Sans Fallback (CJK regular) and a GB2312
subset of Noto Sans CJK SC Bold (CJK bold: the colour word, name and validity are bold in
Chinese too). Text never leaves its box: a line that does not fit is set smaller down to the
layout's minimum size (7 pt on the card, 8 pt on A4 and the family sheet), then wrapped onto
the lines it may use, then cut with "…". PNG is the same PDF rasterised by pdftoppm
(poppler-utils), which uses only the embedded fonts; it carries its resolution, so it prints at
the layout's physical size.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tempfile
import unicodedata
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
    "CJK_BOLD_FONT",
    "FONT_DIR",
    "FONT_FILES",
    "MAX_ISSUER_NAME_CHARS",
    "MIN_TEXT_PT",
    "SCAN_DECIDES",
    "FamilySheet",
    "Layout",
    "OfflineCodeSheet",
    "PrintableCode",
    "RenderError",
    "colour_word",
    "rasterize",
    "read_offline_credential",
]

FONT_DIR: Final = Path(__file__).parent / "fonts"
CJK_BOLD_FONT: Final = "NotoSansSC-Bold-GB2312.otf"
#: Every font file the renderer loads; all of them, and `LICENSE`, ship in the package.
FONT_FILES: Final = (
    "DejaVuSans.ttf",
    "DejaVuSans-Bold.ttf",
    "DroidSansFallbackFull.ttf",
    CJK_BOLD_FONT,
)
CHINA_TIME: Final = timezone(timedelta(hours=8), "CST")
#: Under the colour word on every layout: the paper is not the verdict.
SCAN_DECIDES: Final = ("以扫码结果为准", "the scan decides")
#: The smallest text each layout prints (points); the family sheet is an A4 page.
MIN_TEXT_PT: Final = {"a4": 8.0, "card": 7.0, "family": 8.0}
#: A longer issuer name is refused rather than printed unreadably small or cut to nothing.
MAX_ISSUER_NAME_CHARS: Final = 120

_LATIN_FONT: Final = "dejavu"
_CJK_FONT: Final = "cjk"
_QR_EC_LEVEL: Final = "M"
_QUIET_ZONE_MODULES: Final = 4
_PT_TO_MM: Final = 25.4 / 72
# Wallet card: ISO/IEC 7810 ID-1.
_CARD_SIZE_MM: Final = (85.6, 54.0)
_FAMILY_PER_PAGE: Final = 6
_PDFTOPPM_TIMEOUT_S: Final = 60
_ELLIPSIS: Final = "…"
# Never at the start of a line (closing punctuation, CJK and Latin).
_NO_LINE_START: Final = frozenset("，。、；：？！）》」』”’…,.;:?!)]}")


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
    """What one printed code shows: the signed credential, and its issuer's human name.

    Raises:
        RenderError: INVALID_REQUEST if `issuer_name` is blank or longer than
            `MAX_ISSUER_NAME_CHARS`: every sheet names its issuer in words.
    """

    qr_text: str
    credential: Credential
    issuer_name: str

    def __post_init__(self) -> None:
        name = " ".join(self.issuer_name.split())
        if not name:
            raise RenderError(
                ErrorCode.INVALID_REQUEST,
                f"the issuer's name is missing for {self.credential.issuer}: every printed code "
                "names its issuer in words (the issuer's answer, HC_OFFLINE_ISSUER_NAMES or "
                "--issuer-name)",
            )
        if len(name) > MAX_ISSUER_NAME_CHARS:
            raise RenderError(
                ErrorCode.INVALID_REQUEST,
                f"the issuer's name has {len(name)} characters; at most "
                f"{MAX_ISSUER_NAME_CHARS} fit on the paper",
            )
        object.__setattr__(self, "issuer_name", name)

    @property
    def expires_at(self) -> datetime:
        """End of validity, China time (what the paper says)."""
        return datetime.fromtimestamp(self.credential.expires_at, UTC).astimezone(CHINA_TIME)

    @property
    def issued_at(self) -> datetime:
        """Issue time, China time."""
        return datetime.fromtimestamp(self.credential.issued_at, UTC).astimezone(CHINA_TIME)

    @classmethod
    def from_token(cls, token_or_qr_text: str, *, issuer_name: str) -> PrintableCode:
        """Read a credential (compact JWS or `hc:/` text) for printing under `issuer_name`.

        The signature is NOT checked here: the token comes from the issuer over an authenticated
        channel, and every checkpoint verifies the printed code anyway. Its claims are parsed and
        validated as a verifier would, and only offline codes are accepted (a phone code expires
        within the hour and must not be printed).

        Raises:
            RenderError: INVALID_REQUEST if the text is not a readable offline credential or
                the issuer name is blank.
        """
        qr_text, credential = read_offline_credential(token_or_qr_text)
        return cls(qr_text=qr_text, credential=credential, issuer_name=issuer_name)

    @property
    def issuer_label(self) -> str:
        """The issuer's name with its registry id, e.g. "四川省卫生健康委员会 (cn-sc)"."""
        return f"{self.issuer_name} ({self.credential.issuer})"


def read_offline_credential(token_or_qr_text: str) -> tuple[str, Credential]:
    """The `hc:/` text and claims of an offline credential (see `PrintableCode.from_token`).

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
    return qr_text, credential


# -- drawing primitives --------------------------------------------------------------------------


def _new_document(page_size: str | tuple[float, float]) -> FPDF:
    pdf = FPDF(unit="mm", format=page_size)
    pdf.set_auto_page_break(False)
    pdf.set_margins(0, 0, 0)
    pdf.add_font(_LATIN_FONT, "", FONT_DIR / "DejaVuSans.ttf")
    pdf.add_font(_LATIN_FONT, "B", FONT_DIR / "DejaVuSans-Bold.ttf")
    pdf.add_font(_CJK_FONT, "", FONT_DIR / "DroidSansFallbackFull.ttf")
    pdf.add_font(_CJK_FONT, "B", FONT_DIR / CJK_BOLD_FONT)
    # Latin text in DejaVu, every other character from the CJK faces: bold text from the bold
    # subset, and a bold character outside GB2312 (a rare name character) from the regular face.
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


def _is_wide(character: str) -> bool:
    """CJK ideographs, kana and full-width forms: a line may break before any of them."""
    return unicodedata.east_asian_width(character) in ("W", "F")


def _tokens(text: str) -> list[str]:
    """Break opportunities: Latin words and single wide characters, each with its trailing space."""
    tokens: list[str] = []
    for character in text:
        if character.isspace():
            if tokens and not tokens[-1].endswith(" "):
                tokens[-1] += " "
        elif (
            not tokens
            or _is_wide(character)
            or tokens[-1].endswith(" ")
            or _is_wide(tokens[-1][-1])
        ):
            tokens.append(character)
        else:
            tokens[-1] += character
    return tokens


def _wrap(pdf: FPDF, text: str, width: float) -> list[str]:
    """Greedy line breaks of `text` in the current font so that no line is wider than `width`."""
    lines: list[str] = []
    line = ""
    for token in _tokens(text):
        candidate = line + token
        if pdf.get_string_width(candidate.rstrip()) <= width or not line:
            line = candidate
        elif token[0] in _NO_LINE_START and len(line) > 1 and _is_wide(line[-1]):
            # Closing punctuation never starts a line: the character before it comes along.
            lines.append(line[:-1].rstrip())
            line = line[-1] + token
        else:
            lines.append(line.rstrip())
            line = token
        while pdf.get_string_width(line.rstrip()) > width and len(line.rstrip()) > 1:
            # One word longer than the box (a long id or URL): break inside it.
            cut = len(line.rstrip())
            while cut > 1 and pdf.get_string_width(line[:cut]) > width:
                cut -= 1
            lines.append(line[:cut])
            line = line[cut:]
    if line.strip():
        lines.append(line.rstrip())
    return lines or [""]


def _ellipsized(pdf: FPDF, line: str, width: float) -> str:
    """`line` cut so that it and a trailing "…" fit `width`."""
    while line and pdf.get_string_width(line.rstrip() + _ELLIPSIS) > width:
        line = line[:-1]
    return line.rstrip() + _ELLIPSIS


def _cell(pdf: FPDF, w: float, h: float, text: str, align: str) -> None:
    """`pdf.cell`, then make fpdf2 set the font again before the next text.

    fpdf2 2.8 sets the font of a line that starts with a fallback-font character inside the
    line's q/Q group, yet records it as set for the page; a following line in the same font
    then has no font operator and is drawn with whatever font the page had before (wrong glyphs:
    "(cn-sc)" came out as "WnHVinu"). Clearing the flag costs one font operator per line.
    """
    pdf.cell(w, h, text, align=align)
    pdf.current_font_is_set_on_page = False


@dataclass(frozen=True, slots=True)
class _Writer:
    """Writes text into boxes on one layout, never below that layout's minimum size."""

    pdf: FPDF
    min_size: float

    def text(
        self,
        x: float,
        y: float,
        w: float,
        text: str,
        *,
        size: float,
        bold: bool = False,
        align: str = "L",
        max_lines: int = 1,
        leading: float = 1.2,
    ) -> float:
        """Write `text` in a box of width `w` at (x, y) on at most `max_lines` lines.

        A text too long for the box is set smaller (not below the layout's minimum), then
        wrapped, then cut with "…". Returns the y below the last line.
        """
        pdf = self.pdf
        lines, size = self._fitted(_printable(pdf, text), w, size, bold, max_lines)
        height = size * _PT_TO_MM * leading
        pdf.set_text_color(0, 0, 0)
        for number, line in enumerate(lines):
            pdf.set_xy(x, y + number * height)
            _cell(pdf, w, height, line, align)
        return y + height * len(lines)

    def fit(self, text: str, w: float, size: float, *, bold: bool) -> float:
        """Select the font at the largest size <= `size` at which `text` fits one line of `w`."""
        _, size = self._fitted(_printable(self.pdf, text), w, size, bold, 1)
        return size

    def _fitted(
        self, text: str, w: float, size: float, bold: bool, max_lines: int
    ) -> tuple[list[str], float]:
        style = "B" if bold else ""
        floor = min(size, self.min_size)
        while True:
            self.pdf.set_font(_LATIN_FONT, style, size)
            lines = _wrap(self.pdf, text, w) if max_lines > 1 else [text]
            fits = len(lines) <= max_lines and all(
                self.pdf.get_string_width(line) <= w for line in lines
            )
            if fits or size <= floor:
                break
            size = max(floor, size * 0.94)
        if not fits:
            lines = _wrap(self.pdf, text, w)
            if len(lines) > max_lines:
                lines = [*lines[: max_lines - 1], _ellipsized(self.pdf, lines[max_lines - 1], w)]
        return lines, size


def _draw_qr(pdf: FPDF, qr_text: str, x: float, y: float, size: float) -> None:
    """The QR as vector rectangles, quiet zone included, within a `size` mm white square.

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
    """The colour band, with a pattern of its own so it reads in black and white.

    Green is plain; yellow carries black caution stripes (they stay when a 1-bit copy turns
    the yellow itself white); red carries a white cross-hatch.
    """
    style = _STYLES[status]
    pdf.set_fill_color(*style.rgb)
    pdf.rect(x, y, w, h, style="F")
    if style.pattern == "plain":
        return
    short = min(w, h)
    if style.pattern == "stripes":
        pdf.set_draw_color(0, 0, 0)
        pdf.set_line_width(short * 0.12)
    else:
        pdf.set_draw_color(255, 255, 255)
        pdf.set_line_width(short * 0.08)
    step = short * 0.35 if w >= h else short * 0.5
    with pdf.rect_clip(x, y, w, h):
        if w >= h:
            offset = -h
            while offset < w:
                pdf.line(x + offset, y + h, x + offset + h, y)
                if style.pattern == "hatch":
                    pdf.line(x + offset, y, x + offset + h, y + h)
                offset += step
        else:  # an upright band (family cells): the same diagonals, stepped down its length
            offset = -w
            while offset < h:
                pdf.line(x, y + offset + w, x + w, y + offset)
                if style.pattern == "hatch":
                    pdf.line(x, y + offset, x + w, y + offset + w)
                offset += step


def _draw_colour_word(
    writer: _Writer, status: StatusColour, x: float, y: float, w: float, h: float
) -> None:
    """The colour as a bold word in black inside a thick frame (no colour needed to read it)."""
    pdf = writer.pdf
    style = _STYLES[status]
    pdf.set_fill_color(255, 255, 255)
    pdf.set_draw_color(0, 0, 0)
    pdf.set_line_width(max(0.4, h * 0.06))
    pdf.rect(x, y, w, h, style="DF")
    word = _printable(pdf, f"{style.symbol} {style.word_zh} {style.word_en}")
    writer.fit(word, w - 2, h / _PT_TO_MM * 0.55, bold=True)
    pdf.set_text_color(0, 0, 0)
    pdf.set_xy(x, y)
    _cell(pdf, w, h, word, "C")


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
# A family cell shows the validity in its own lines; its instructions leave the date out.
_FAMILY_NOTE: Final = (
    "请出示此码供扫码核验；状态变化时此码即被撤销。",
    "Show this code to be scanned. If your status changes, this code is revoked.",
)


# -- layouts -------------------------------------------------------------------------------------


def _draw_a4(pdf: FPDF, code: PrintableCode) -> None:
    credential = code.credential
    out = _Writer(pdf, MIN_TEXT_PT["a4"])
    pdf.add_page()
    _draw_band(pdf, credential.status, 0, 0, 210, 30)
    pdf.set_fill_color(255, 255, 255)
    pdf.rect(20, 8, 170, 14, style="F")
    out.text(20, 9.5, 170, "健康码 · 离线码  Offline Health Code", size=20, bold=True, align="C")
    out.text(15, 32, 180, code.issuer_label, size=13, align="C", max_lines=2, leading=1.15)
    _draw_colour_word(out, credential.status, 45, 45, 120, 18)
    out.text(15, 64, 180, " / ".join(SCAN_DECIDES), size=16, bold=True, align="C")
    # QR square 52.5..157.5 x 72.5..177.5: 4.5 mm clear above, 3 mm below, 37 mm at the sides.
    _draw_qr(pdf, code.qr_text, 52.5, 72.5, 105)
    y = out.text(15, 180.5, 180, "有效期至  Valid until", size=16, bold=True, align="C")
    y = out.text(15, y, 180, _valid_until_text(code), size=34, bold=True, align="C")
    y = out.text(15, y, 180, "北京时间 China time (UTC+8)", size=12, align="C")
    y = out.text(
        15,
        y + 3,
        180,
        f"姓名 Name: {credential.masked_name}      证件尾号 ID ends: {credential.id_tail}",
        size=16,
        bold=True,
        align="C",
    )
    zh, en = _instructions(code)
    y = out.text(15, y + 5, 180, zh, size=14, align="C")
    y = out.text(15, y, 180, en, size=12, align="C", max_lines=2)
    y = out.text(15, y + 3, 180, _REVOCATION_NOTE[0], size=12, align="C")
    out.text(15, y, 180, _REVOCATION_NOTE[1], size=11, align="C", max_lines=2)
    footer = (
        f"签发 Issued {code.issued_at.strftime('%Y-%m-%d %H:%M')}  ·  "
        f"编号 Ref {credential.jti[:8]}  ·  离线码 offline code"
    )
    out.text(15, 282, 180, footer, size=8.5, align="C")
    _draw_band(pdf, credential.status, 0, 290, 210, 7)


def _draw_card(pdf: FPDF, code: PrintableCode) -> None:
    credential = code.credential
    width, height = _CARD_SIZE_MM
    out = _Writer(pdf, MIN_TEXT_PT["card"])
    # Front: band, QR, the colour word, the scan decides, validity, holder, issuer.
    pdf.add_page()
    _draw_band(pdf, credential.status, 0, 0, width, 6.5)
    pdf.set_fill_color(255, 255, 255)
    pdf.rect(3, 1.25, 56, 4, style="F")
    out.text(3, 1.3, 56, "健康码离线码 Offline Health Code", size=7.5, bold=True, align="C")
    # QR square 1.5..46.5 x 7.5..52.5: 1 mm clear of the band above and the column on the
    # right, 0.5 mm of the thin band below, 1.5 mm from the card's left edge.
    _draw_qr(pdf, code.qr_text, 1.5, 7.5, 45)
    right = 47.5
    column = width - right - 1.5
    _draw_colour_word(out, credential.status, right, 7.5, column, 7.5)
    y = out.text(right, 15.6, column, SCAN_DECIDES[0], size=12, bold=True, leading=1.15)
    y = out.text(right, y, column, SCAN_DECIDES[1], size=12, leading=1.15)
    y = out.text(right, y + 0.6, column, "有效期至 Valid until", size=7.5, bold=True)
    y = out.text(
        right, y, column, code.expires_at.strftime("%Y-%m-%d"), size=12, bold=True, leading=1.15
    )
    y = out.text(
        right,
        y,
        column,
        code.expires_at.strftime("%H:%M") + " 北京时间",
        size=11,
        bold=True,
        leading=1.15,
    )
    y = out.text(right, y + 0.5, column, credential.masked_name, size=11, bold=True, leading=1.15)
    y = out.text(right, y, column, f"证件尾号 ID ···{credential.id_tail}", size=7, leading=1.15)
    out.text(right, y + 0.3, column, code.issuer_label, size=7, max_lines=2, leading=1.1)
    _draw_band(pdf, credential.status, 0, 53, width, height - 53)
    # Back: what to do with it, in both languages.
    pdf.add_page()
    _draw_band(pdf, credential.status, 0, 0, width, 4)
    zh_first, zh_second, en_first, en_second = _instruction_parts(code)
    text_w = width - 6
    y = out.text(3, 5.5, text_w, colour_word(credential.status), size=11, bold=True)
    y = out.text(3, y, text_w, " / ".join(SCAN_DECIDES), size=8, bold=True)
    y = out.text(3, y + 1, text_w, zh_first, size=8.5)
    y = out.text(3, y, text_w, zh_second, size=8.5)
    y = out.text(3, y + 0.5, text_w, en_first, size=8)
    y = out.text(3, y, text_w, en_second, size=8, max_lines=2)
    y = out.text(3, y + 1.2, text_w, _REVOCATION_NOTE[0], size=7.5, max_lines=2)
    y = out.text(3, y, text_w, _REVOCATION_NOTE[1], size=7, max_lines=2)
    y = out.text(3, y + 1.2, text_w, code.issuer_label, size=7.5, max_lines=2)
    out.text(
        3,
        y,
        text_w,
        f"签发 Issued {code.issued_at.strftime('%Y-%m-%d %H:%M')} · Ref {credential.jti[:8]}",
        size=7,
    )


def _draw_family_page(pdf: FPDF, codes: Sequence[PrintableCode], page: int, pages: int) -> None:
    out = _Writer(pdf, MIN_TEXT_PT["family"])
    pdf.add_page()
    out.text(
        10, 8, 190, "家庭成员离线码  Family offline health codes", size=18, bold=True, align="C"
    )
    note = "请出示本人对应的码供扫码核验 / Show each person's own code to be scanned"
    if pages > 1:
        note += f"  ({page}/{pages})"
    out.text(10, 17, 190, note, size=10, align="C")
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
        wide = cell_w - 10  # x + 8 .. x + 93
        _draw_colour_word(out, credential.status, x + 8, y + 2, wide, 8.5)
        out.text(x + 8, y + 10.9, wide, " / ".join(SCAN_DECIDES), size=12, bold=True, align="C")
        # QR square x+8..x+60 x y+17..y+69: 1 mm clear of the text above, right and below.
        _draw_qr(pdf, code.qr_text, x + 8, y + 17, 52)
        right, column = x + 61, cell_w - 62
        line = out.text(right, y + 17.5, column, credential.masked_name, size=14, bold=True)
        line = out.text(right, line, column, f"证件尾号 ···{credential.id_tail}", size=10)
        line = out.text(right, line + 2.5, column, "有效期至 Valid until", size=8.5, bold=True)
        line = out.text(
            right, line, column, code.expires_at.strftime("%Y-%m-%d"), size=12, bold=True
        )
        line = out.text(
            right,
            line,
            column,
            code.expires_at.strftime("%H:%M") + " 北京时间",
            size=10,
            bold=True,
        )
        out.text(right, line + 2, column, code.issuer_label, size=8, max_lines=4, leading=1.15)
        out.text(x + 8, y + 70, wide, _FAMILY_NOTE[0], size=9, max_lines=2)
        out.text(x + 8, y + 74.2, wide, _FAMILY_NOTE[1], size=8, max_lines=2, leading=1.15)


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
        return -(-len(self.codes) // _FAMILY_PER_PAGE)

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
            timeout=_PDFTOPPM_TIMEOUT_S,
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
