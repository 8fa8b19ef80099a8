"""Text that never leaves its box: fonts for Latin and CJK, wrapping, shrinking to the layout's
minimum size, then cutting with "…" (`Writer`).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from fpdf import FPDF

from offline.sheet.model import (
    CJK_BOLD_FONT,
    CJK_FONT,
    ELLIPSIS,
    FONT_DIR,
    LATIN_FONT,
    NO_LINE_START,
    PT_TO_MM,
)

# -- drawing primitives --------------------------------------------------------------------------


def new_document(page_size: str | tuple[float, float]) -> FPDF:
    pdf = FPDF(unit="mm", format=page_size)
    pdf.set_auto_page_break(False)
    pdf.set_margins(0, 0, 0)
    pdf.add_font(LATIN_FONT, "", FONT_DIR / "DejaVuSans.ttf")
    pdf.add_font(LATIN_FONT, "B", FONT_DIR / "DejaVuSans-Bold.ttf")
    pdf.add_font(CJK_FONT, "", FONT_DIR / "DroidSansFallbackFull.ttf")
    pdf.add_font(CJK_FONT, "B", FONT_DIR / CJK_BOLD_FONT)
    # Latin text in DejaVu, every other character from the CJK faces: bold text from the bold
    # subset, and a bold character outside GB2312 (a rare name character) from the regular face.
    pdf.set_fallback_fonts([CJK_FONT], exact_match=False)
    pdf.set_creator("healthcode offline printer")
    pdf.set_title("健康码离线码 Offline health code")
    return pdf


def printable(pdf: FPDF, text: str) -> str:
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
        elif token[0] in NO_LINE_START and len(line) > 1 and _is_wide(line[-1]):
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
    while line and pdf.get_string_width(line.rstrip() + ELLIPSIS) > width:
        line = line[:-1]
    return line.rstrip() + ELLIPSIS


def cell(pdf: FPDF, w: float, h: float, text: str, align: str) -> None:
    """`pdf.cell`, then make fpdf2 set the font again before the next text.

    fpdf2 2.8 sets the font of a line that starts with a fallback-font character inside the
    line's q/Q group, yet records it as set for the page; a following line in the same font
    then has no font operator and is drawn with whatever font the page had before (wrong glyphs:
    "(cn-sc)" came out as "WnHVinu"). Clearing the flag costs one font operator per line.
    """
    pdf.cell(w, h, text, align=align)
    pdf.current_font_is_set_on_page = False


@dataclass(frozen=True, slots=True)
class Writer:
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
        lines, size = self._fitted(printable(pdf, text), w, size, bold, max_lines)
        height = size * PT_TO_MM * leading
        pdf.set_text_color(0, 0, 0)
        for number, line in enumerate(lines):
            pdf.set_xy(x, y + number * height)
            cell(pdf, w, height, line, align)
        return y + height * len(lines)

    def fit(self, text: str, w: float, size: float, *, bold: bool) -> float:
        """Select the font at the largest size <= `size` at which `text` fits one line of `w`."""
        _, size = self._fitted(printable(self.pdf, text), w, size, bold, 1)
        return size

    def _fitted(
        self, text: str, w: float, size: float, bold: bool, max_lines: int
    ) -> tuple[list[str], float]:
        style = "B" if bold else ""
        floor = min(size, self.min_size)
        while True:
            self.pdf.set_font(LATIN_FONT, style, size)
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
