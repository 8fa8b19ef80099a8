"""Make the staff page's CJK web font, `static/fonts/hc-cjk.woff2` (run by hand, then commit).

    python -m verifiers.page_font offline/fonts/DroidSansFallbackFull.ttf verifiers/static/fonts/

A checkpoint kiosk or tablet may have no Chinese fonts at all: every character would be a box.
The page therefore ships its own face, a subset of Droid Sans Fallback (Apache 2.0, the regular
CJK face the offline printer already ships) holding:

- every CJK character of the page itself (index.html, its scripts), of the error catalogue
  (titles and staff sentences), of the reason labels and of the province names; and
- the 3,755 level-1 hanzi of GB2312 (the common characters), so masked names such as 张*丰 and
  issuer names render too. A rarer name character falls back to a system font, if any.

That is ~230 KB as WOFF2, against 4 MB for the whole face. tests/verifiers/test_page_font.py
fails when the page or the catalogue gains a character the shipped font lacks: run this again.
fontTools (with brotli for WOFF2) is needed only here, never at run time.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from healthcode.credential import REASON_LABELS
from healthcode.errors import ERROR_INFO
from healthcode.idnumber import PROVINCES

OUTPUT_NAME = "hc-cjk.woff2"
HERE = Path(__file__).resolve().parent
PAGE_SOURCES = (
    HERE / "pages" / "index.html",
    HERE / "static" / "checkpoint-texts.js",
    HERE / "static" / "checkpoint.js",
)


def is_cjk(character: str) -> bool:
    """A character a Latin font cannot draw: CJK punctuation, kana, hanzi, full-width forms."""
    return 0x2E80 <= ord(character) <= 0xFFEF


def page_characters() -> set[str]:
    """Every CJK character the page can show from its own texts and the server's answers."""
    texts = [path.read_text(encoding="utf-8") for path in PAGE_SOURCES]
    for info in ERROR_INFO.values():
        texts += [info.zh, info.staff_zh]
    texts += [zh for zh, _ in REASON_LABELS.values()]
    texts += [zh for zh, _ in PROVINCES.values()]
    return {character for text in texts for character in text if is_cjk(character)}


def common_hanzi() -> set[str]:
    """The level-1 hanzi of GB2312 (rows 16-55): the 3,755 most common characters."""
    characters = set()
    for row in range(0xB0, 0xD8):
        for cell in range(0xA1, 0xFF):
            try:
                characters.add(bytes([row, cell]).decode("gb2312"))
            except UnicodeDecodeError:
                continue  # the unassigned cells at the end of row 55
    return characters


def make_subset(source: Path, out_dir: Path) -> Path:
    """Write the page's subset of `source` as WOFF2 into `out_dir`; returns its path."""
    from fontTools import subset  # type: ignore[import-untyped]  # a build tool, not run time
    from fontTools.ttLib import TTFont  # type: ignore[import-untyped]

    font = TTFont(str(source))
    options = subset.Options()
    options.flavor = "woff2"
    options.hinting = False  # CJK glyphs at screen sizes render well unhinted; saves ~20 %
    options.name_IDs = ["*"]  # keeps the copyright and licence records
    options.name_languages = ["*"]
    options.notdef_outline = True
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=sorted(ord(c) for c in page_characters() | common_hanzi()))
    subsetter.subset(font)
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / OUTPUT_NAME
    font.flavor = "woff2"
    font.save(str(out))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("source", type=Path, help="DroidSansFallbackFull.ttf (offline/fonts)")
    parser.add_argument("out_dir", type=Path, help="where to write " + OUTPUT_NAME)
    args = parser.parse_args()
    out = make_subset(args.source, args.out_dir)
    print(f"{out} ({out.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
