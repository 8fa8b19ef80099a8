"""The staff page's shipped CJK font covers every Chinese character the page can show."""

from __future__ import annotations

from fontTools.ttLib import TTFont  # type: ignore[import-untyped]

from verifiers.page_font import HERE, OUTPUT_NAME, common_hanzi, page_characters

FONT = HERE / "static" / "fonts" / OUTPUT_NAME


def test_the_font_has_every_character_of_the_page_and_its_texts() -> None:
    cmap = TTFont(str(FONT)).getBestCmap()
    missing = sorted(c for c in page_characters() if ord(c) not in cmap)
    # Regenerate with `python -m verifiers.page_font` (see its docstring) when this fails.
    assert missing == []
    assert all(ord(c) in cmap for c in "张三丰李小龙王五陈十三")  # names, from the common set
    assert len(common_hanzi()) == 3755


def test_the_font_is_small_and_licensed() -> None:
    assert FONT.stat().st_size < 300_000  # the whole face is 4 MB
    licence = (FONT.parent / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License, Version 2.0" in licence
    assert OUTPUT_NAME in licence
