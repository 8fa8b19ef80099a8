"""Fonts on printed codes: embedded, bold Chinese where it matters, fallbacks for rare ones."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from fontTools.ttLib import TTFont  # type: ignore[import-untyped]

from healthcode import StatusColour
from offline.sheet import CJK_BOLD_FONT, FONT_DIR, FamilySheet, Layout, OfflineCodeSheet
from tests.offline.sheet_measure import PrintableFactory, pdftotext, text_runs


@pytest.mark.parametrize("layout", ["a4", "card", "family"])
def test_colour_word_name_and_validity_are_bold_in_chinese_too(
    printable: PrintableFactory, tmp_path: Path, layout: str
) -> None:
    code = printable(status=StatusColour.GREEN)
    pdf = {
        "a4": OfflineCodeSheet(code, Layout.A4).pdf(),
        "card": OfflineCodeSheet(code, Layout.CARD).pdf(),
        "family": FamilySheet([code]).pdf(),
    }[layout]
    _, runs = text_runs(pdf, tmp_path)

    def faces(text: str) -> set[str]:
        return {r.font for r in runs if r.page == 1 and text in r.text}

    name_characters = [c for c in code.credential.masked_name if c != "*"]
    for text in ["绿码", *name_characters]:
        found = faces(text)
        assert found, (layout, text)
        assert all("NotoSansCJKSCBold" in font for font in found), (layout, text, found)
    # The validity label is bold (the instructions repeat the words in regular type).
    assert "MPDFAA+NotoSansCJKSCBold" in faces("有效期至"), layout
    # The regular Chinese text stays regular (the instructions).
    assert all("Bold" not in font for font in faces("请出示")), layout


def test_fonts_are_embedded_so_no_system_font_is_needed(
    printable: PrintableFactory, tmp_path: Path
) -> None:
    source = tmp_path / "sheet.pdf"
    source.write_bytes(OfflineCodeSheet(printable(), Layout.A4).pdf())
    listing = subprocess.run(
        ["pdffonts", str(source)], check=True, capture_output=True, text=True
    ).stdout.splitlines()[2:]

    names = [line.split()[0] for line in listing]
    assert any("DejaVuSans" in name for name in names)
    assert any("DroidSansFallback" in name for name in names)
    assert any("NotoSansCJKSCBold" in name for name in names)
    for line in listing:
        name, *_, emb, sub, _uni, _obj, _gen = line.split()
        assert (emb, sub) == ("yes", "yes"), name


def test_the_bold_chinese_face_is_a_small_gb2312_subset() -> None:
    font = TTFont(FONT_DIR / CJK_BOLD_FONT)
    cmap = font.getBestCmap()

    assert (FONT_DIR / CJK_BOLD_FONT).stat().st_size < 2_000_000
    assert "SIL Open Font License" in font["name"].getDebugName(13)
    # Every GB2312 hanzi, level 1 and 2: 6,763 characters.
    hanzi = [
        bytes([row, cell]).decode("gb2312")
        for row in range(0xB0, 0xF8)
        for cell in range(0xA1, 0xFF)
        if (row, cell) not in {(0xD7, c) for c in range(0xFA, 0xFF)}
    ]
    assert len(hanzi) == 6763
    assert all(ord(c) in cmap for c in hanzi)
    for text in ("绿码黄码红码", "有效期至北京时间", "以扫码结果为准", "健康码离线码", "证件尾号"):
        assert all(ord(c) in cmap for c in text), text


def test_a_name_character_missing_from_every_font_prints_as_a_box(
    printable: PrintableFactory, tmp_path: Path
) -> None:
    # U+2A6D6 (CJK Extension B) is in no shipped font.
    code = printable(masked_name="\U0002a6d6*三")
    text = pdftotext(OfflineCodeSheet(code, Layout.A4).pdf(), tmp_path)

    assert "□*三" in text


def test_a_bold_name_character_outside_gb2312_falls_back_to_the_regular_face(
    printable: PrintableFactory, tmp_path: Path
) -> None:
    # 喆 is not in GB2312 (so not in the bold subset) but Droid Sans Fallback has it.
    code = printable(masked_name="王*喆")
    _, runs = text_runs(OfflineCodeSheet(code, Layout.A4).pdf(), tmp_path)

    (run,) = [r for r in runs if "喆" in r.text]
    assert "DroidSansFallback" in run.font
