"""The parts every layout draws: the QR as vector modules, the colour band with its pattern,
the framed colour word and the instructions.
"""

from __future__ import annotations

from typing import Final

from fpdf import FPDF

from healthcode.credential import StatusColour
from healthcode.qr import qr_matrix
from offline.sheet.model import PT_TO_MM, QR_EC_LEVEL, QUIET_ZONE_MODULES, STYLES, PrintableCode
from offline.sheet.text import Writer, cell, printable


def draw_qr(pdf: FPDF, qr_text: str, x: float, y: float, size: float) -> None:
    """The QR as vector rectangles, quiet zone included, within a `size` mm white square.

    All dark runs go into ONE filled path, so rasterisers anti-alias the union and leave no
    hairline seams between adjacent modules.
    """
    matrix = qr_matrix(
        qr_text, error_correction=QR_EC_LEVEL, border=QUIET_ZONE_MODULES, best_mask=True
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


def draw_band(pdf: FPDF, status: StatusColour, x: float, y: float, w: float, h: float) -> None:
    """The colour band, with a pattern of its own so it reads in black and white.

    Green is plain; yellow carries black caution stripes (they stay when a 1-bit copy turns
    the yellow itself white); red carries a white cross-hatch.
    """
    style = STYLES[status]
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


def draw_colour_word(
    writer: Writer, status: StatusColour, x: float, y: float, w: float, h: float
) -> None:
    """The colour as a bold word in black inside a thick frame (no colour needed to read it)."""
    pdf = writer.pdf
    style = STYLES[status]
    pdf.set_fill_color(255, 255, 255)
    pdf.set_draw_color(0, 0, 0)
    pdf.set_line_width(max(0.4, h * 0.06))
    pdf.rect(x, y, w, h, style="DF")
    word = printable(pdf, f"{style.symbol} {style.word_zh} {style.word_en}")
    writer.fit(word, w - 2, h / PT_TO_MM * 0.55, bold=True)
    pdf.set_text_color(0, 0, 0)
    pdf.set_xy(x, y)
    cell(pdf, w, h, word, "C")


def valid_until_text(code: PrintableCode) -> str:
    return code.expires_at.strftime("%Y-%m-%d %H:%M")


def instructions(code: PrintableCode) -> tuple[str, str]:
    zh_first, zh_second, en_first, en_second = instruction_parts(code)
    return f"{zh_first}{zh_second}", f"{en_first} {en_second}"


def instruction_parts(code: PrintableCode) -> tuple[str, str, str, str]:
    """The instructions in two halves per language, for narrow layouts."""
    until = valid_until_text(code)
    return (
        "请出示此码供扫码核验，",
        f"有效期至 {until}（北京时间）。",
        "Show this code to be scanned;",
        f"valid until {until} (China time, UTC+8).",
    )


REVOCATION_NOTE: Final = (
    "状态变化时此码将被撤销，以扫码核验结果为准。",
    "If your status changes this code is revoked: the scan result decides.",
)
# A family cell shows the validity in its own lines; its instructions leave the date out.
FAMILY_NOTE: Final = (
    "请出示此码供扫码核验；状态变化时此码即被撤销。",
    "Show this code to be scanned. If your status changes, this code is revoked.",
)
