"""Make `NotoSansSC-Bold-GB2312.otf`, the bold CJK face of the printed codes (run by hand).

    apt-get download fonts-noto-cjk && dpkg-deb -x fonts-noto-cjk_*.deb noto
    python -m offline.fonts.subset_cjk_bold \
        noto/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc offline/fonts/

Noto Sans CJK SC Bold (SIL OFL 1.1, Debian package fonts-noto-cjk) holds ~44,800 glyphs in a
20 MB collection; the printer needs the characters of a Chinese name and of its own layouts.
The subset keeps every character of GB2312 (6,763 hanzi, both levels, and its 682 symbols,
including full-width punctuation): 1.5 MB. A name character outside it is set in the regular
CJK face (Droid Sans Fallback, ~28,600 characters) instead, so it still prints.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from fontTools import subset  # type: ignore[import-untyped]
from fontTools.ttLib import TTCollection, TTFont  # type: ignore[import-untyped]

OUTPUT_NAME = "NotoSansSC-Bold-GB2312.otf"
#: Index of "Noto Sans CJK SC Bold" in Debian's NotoSansCJK-Bold.ttc (JP, KR, SC, TC, HK, ...).
_SC_INDEX = 2


def gb2312_characters() -> set[str]:
    """Every character GB2312 encodes: symbol rows 1-9 and hanzi rows 16-87."""
    characters = set()
    for row in [*range(0xA1, 0xAA), *range(0xB0, 0xF8)]:
        for cell in range(0xA1, 0xFF):
            try:
                characters.add(bytes([row, cell]).decode("gb2312"))
            except UnicodeDecodeError:
                continue  # an unassigned cell
    return characters


def make_subset(collection: Path, out_dir: Path) -> Path:
    """Write the GB2312 subset of the SC bold face into `out_dir`; returns its path."""
    font: TTFont = TTCollection(str(collection)).fonts[_SC_INDEX]
    family = font["name"].getDebugName(4)
    if family != "Noto Sans CJK SC Bold":
        raise ValueError(f"face {_SC_INDEX} of {collection} is {family!r}, not the SC bold face")
    options = subset.Options()
    options.layout_features = []  # fpdf2 sets CJK without shaping: no GSUB/GPOS needed
    options.hinting = False  # printed at 300 dpi and up; hints only matter on screens
    options.name_IDs = ["*"]  # keeps the copyright and the OFL notice (name IDs 0, 13, 14)
    options.name_languages = ["*"]
    options.notdef_outline = True
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=sorted(ord(c) for c in gb2312_characters()))
    subsetter.subset(font)
    out = out_dir / OUTPUT_NAME
    font.save(str(out))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("collection", type=Path, help="NotoSansCJK-Bold.ttc (fonts-noto-cjk)")
    parser.add_argument("out_dir", type=Path, help="where to write " + OUTPUT_NAME)
    args = parser.parse_args()
    out = make_subset(args.collection, args.out_dir)
    print(f"{out} ({out.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
