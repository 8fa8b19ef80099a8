"""The three layouts: the A4 sheet, the wallet card and one page of the family sheet."""

from __future__ import annotations

from collections.abc import Sequence

from fpdf import FPDF

from offline.sheet.draw import (
    FAMILY_NOTE,
    REVOCATION_NOTE,
    draw_band,
    draw_colour_word,
    draw_qr,
    instruction_parts,
    instructions,
    valid_until_text,
)
from offline.sheet.model import CARD_SIZE_MM, MIN_TEXT_PT, SCAN_DECIDES, PrintableCode, colour_word
from offline.sheet.text import Writer

# -- layouts -------------------------------------------------------------------------------------


def draw_a4(pdf: FPDF, code: PrintableCode) -> None:
    credential = code.credential
    out = Writer(pdf, MIN_TEXT_PT["a4"])
    pdf.add_page()
    draw_band(pdf, credential.status, 0, 0, 210, 30)
    pdf.set_fill_color(255, 255, 255)
    pdf.rect(20, 8, 170, 14, style="F")
    out.text(20, 9.5, 170, "健康码 · 离线码  Offline Health Code", size=20, bold=True, align="C")
    out.text(15, 32, 180, code.issuer_label, size=13, align="C", max_lines=2, leading=1.15)
    draw_colour_word(out, credential.status, 45, 45, 120, 18)
    out.text(15, 64, 180, " / ".join(SCAN_DECIDES), size=16, bold=True, align="C")
    # QR square 52.5..157.5 x 72.5..177.5: 4.5 mm clear above, 3 mm below, 37 mm at the sides.
    draw_qr(pdf, code.qr_text, 52.5, 72.5, 105)
    y = out.text(15, 180.5, 180, "有效期至  Valid until", size=16, bold=True, align="C")
    y = out.text(15, y, 180, valid_until_text(code), size=34, bold=True, align="C")
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
    zh, en = instructions(code)
    y = out.text(15, y + 5, 180, zh, size=14, align="C")
    y = out.text(15, y, 180, en, size=12, align="C", max_lines=2)
    y = out.text(15, y + 3, 180, REVOCATION_NOTE[0], size=12, align="C")
    out.text(15, y, 180, REVOCATION_NOTE[1], size=11, align="C", max_lines=2)
    footer = (
        f"签发 Issued {code.issued_at.strftime('%Y-%m-%d %H:%M')}  ·  "
        f"编号 Ref {credential.jti[:8]}  ·  离线码 offline code"
    )
    out.text(15, 282, 180, footer, size=8.5, align="C")
    draw_band(pdf, credential.status, 0, 290, 210, 7)


def draw_card(pdf: FPDF, code: PrintableCode) -> None:
    credential = code.credential
    width, height = CARD_SIZE_MM
    out = Writer(pdf, MIN_TEXT_PT["card"])
    # Front: band, QR, the colour word, the scan decides, validity, holder, issuer.
    pdf.add_page()
    draw_band(pdf, credential.status, 0, 0, width, 6.5)
    pdf.set_fill_color(255, 255, 255)
    pdf.rect(3, 1.25, 56, 4, style="F")
    out.text(3, 1.3, 56, "健康码离线码 Offline Health Code", size=7.5, bold=True, align="C")
    # QR square 1.5..46.5 x 7.5..52.5: 1 mm clear of the band above and the column on the
    # right, 0.5 mm of the thin band below, 1.5 mm from the card's left edge.
    draw_qr(pdf, code.qr_text, 1.5, 7.5, 45)
    right = 47.5
    column = width - right - 1.5
    draw_colour_word(out, credential.status, right, 7.5, column, 7.5)
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
    draw_band(pdf, credential.status, 0, 53, width, height - 53)
    # Back: what to do with it, in both languages.
    pdf.add_page()
    draw_band(pdf, credential.status, 0, 0, width, 4)
    zh_first, zh_second, en_first, en_second = instruction_parts(code)
    text_w = width - 6
    y = out.text(3, 5.5, text_w, colour_word(credential.status), size=11, bold=True)
    y = out.text(3, y, text_w, " / ".join(SCAN_DECIDES), size=8, bold=True)
    y = out.text(3, y + 1, text_w, zh_first, size=8.5)
    y = out.text(3, y, text_w, zh_second, size=8.5)
    y = out.text(3, y + 0.5, text_w, en_first, size=8)
    y = out.text(3, y, text_w, en_second, size=8, max_lines=2)
    y = out.text(3, y + 1.2, text_w, REVOCATION_NOTE[0], size=7.5, max_lines=2)
    y = out.text(3, y, text_w, REVOCATION_NOTE[1], size=7, max_lines=2)
    y = out.text(3, y + 1.2, text_w, code.issuer_label, size=7.5, max_lines=2)
    out.text(
        3,
        y,
        text_w,
        f"签发 Issued {code.issued_at.strftime('%Y-%m-%d %H:%M')} · Ref {credential.jti[:8]}",
        size=7,
    )


def draw_family_page(pdf: FPDF, codes: Sequence[PrintableCode], page: int, pages: int) -> None:
    out = Writer(pdf, MIN_TEXT_PT["family"])
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
        draw_band(pdf, credential.status, x + 1, y + 1, 5, cell_h - 2)
        wide = cell_w - 10  # x + 8 .. x + 93
        draw_colour_word(out, credential.status, x + 8, y + 2, wide, 8.5)
        out.text(x + 8, y + 10.9, wide, " / ".join(SCAN_DECIDES), size=12, bold=True, align="C")
        # QR square x+8..x+60 x y+17..y+69: 1 mm clear of the text above, right and below.
        draw_qr(pdf, code.qr_text, x + 8, y + 17, 52)
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
        out.text(x + 8, y + 70, wide, FAMILY_NOTE[0], size=9, max_lines=2)
        out.text(x + 8, y + 74.2, wide, FAMILY_NOTE[1], size=8, max_lines=2, leading=1.15)
