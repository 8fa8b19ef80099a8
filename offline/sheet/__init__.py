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

from offline.sheet.model import (
    CHINA_TIME,
    CJK_BOLD_FONT,
    FONT_DIR,
    FONT_FILES,
    MAX_ISSUER_NAME_CHARS,
    MIN_TEXT_PT,
    SCAN_DECIDES,
    Layout,
    PrintableCode,
    RenderError,
    colour_word,
    read_offline_credential,
)
from offline.sheet.render import FamilySheet, OfflineCodeSheet, rasterize

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
