"""Build the citizen app's generated files (run by hand; the outputs are committed).

    python -m issuers.webbuild icons   # issuers/web/icons/*.png, drawn with Pillow
    python -m issuers.webbuild font    # issuers/web/fonts/hc-cjk-subset.woff2 (fontTools, brotli)

Icons: a white card with three QR finder patterns and a green tick on the app's blue,
recognisable at 48 px on a home screen; the maskable icon keeps everything inside the central
80 % circle that launchers may crop to.

Font: phones have Chinese fonts, but not all the same ones; the app ships a small face of its
own holding the characters of its Chinese texts (the page, the scripts' texts, the provinces'
reason texts in `issuers/data/rules-*.toml`, the provinces' names, the 100 commonest surnames
and the demo's names), so its screens look the same everywhere and nothing is fetched from
elsewhere. The page's `@font-face` lists it after the phone's own fonts and only for CJK code
points (`unicode-range`). The source is Droid Sans Fallback (Apache License 2.0), which the
offline printer ships in `offline/fonts/`; a name's character outside the subset falls back to
the phone's font. Re-run after changing a Chinese text; a test checks every one is covered.
"""

from __future__ import annotations

import argparse
import re
import tomllib
from pathlib import Path

from fontTools import subset  # type: ignore[import-untyped]
from fontTools.ttLib import TTFont  # type: ignore[import-untyped]
from PIL import Image, ImageDraw

ISSUERS = Path(__file__).resolve().parent
WEB = ISSUERS / "web"
ICONS = WEB / "icons"
SOURCE = ISSUERS.parent / "offline" / "fonts" / "DroidSansFallbackFull.ttf"
OUTPUT = WEB / "fonts" / "hc-cjk-subset.woff2"
#: Names a province's issuer may carry (settings.issuer_name) in the federation's demo.
PROVINCE_NAMES = "四川省广东省北京市上海市"
#: A masked name shows its first character, nearly always the surname: the 100 most common
#: ones (about 85 % of people) are kept, so most names are set in the app's own face.
COMMON_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏"
    "魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵"
    "万钱严覃武戴莫孔向汤"
)
_CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")


def app_texts() -> str:
    """Every text of the app that may show Chinese."""
    parts = [PROVINCE_NAMES, COMMON_SURNAMES]
    # The app's own files, and the issuer's and the standard's Chinese texts that its answers
    # carry (error titles, access-log kinds, advice, declaration titles, demo names).
    server = [*sorted(ISSUERS.glob("*.py")), *sorted((ISSUERS / "api").glob("*.py"))]
    server.append(ISSUERS.parent / "healthcode" / "errors.py")
    for path in [WEB / "index.html", *sorted((WEB / "js").glob("*.js")), *server]:
        parts.append(path.read_text(encoding="utf-8"))
    for rules in sorted((ISSUERS / "data").glob("rules-*.toml")):
        parts.append(str(tomllib.loads(rules.read_text(encoding="utf-8"))))
    return "".join(parts)


def needed_characters() -> set[str]:
    """The CJK characters (and full-width punctuation) the app's texts use."""
    return set(_CJK.findall(app_texts()))


def make_subset(source: Path = SOURCE, output: Path = OUTPUT) -> Path:
    font = TTFont(str(source))
    options = subset.Options()
    options.flavor = "woff2"  # needs the brotli package
    options.layout_features = []
    options.hinting = False
    options.name_IDs = ["*"]  # keeps the copyright and licence notices
    options.notdef_outline = True
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=sorted(ord(c) for c in needed_characters()))
    subsetter.subset(font)
    output.parent.mkdir(exist_ok=True)
    font.flavor = "woff2"
    font.save(str(output))
    return output


BLUE = (11, 83, 148)
GREEN = (23, 119, 58)
WHITE = (255, 255, 255)
BLACK = (20, 20, 20)


def _finder(draw: ImageDraw.ImageDraw, x: float, y: float, module: float) -> None:
    draw.rectangle((x, y, x + 7 * module, y + 7 * module), fill=BLACK)
    draw.rectangle((x + module, y + module, x + 6 * module, y + 6 * module), fill=WHITE)
    draw.rectangle((x + 2 * module, y + 2 * module, x + 5 * module, y + 5 * module), fill=BLACK)


def draw_icon(size: int, *, content_scale: float = 1.0) -> Image.Image:
    """The icon at `size` px; `content_scale` shrinks the card (for the maskable safe zone)."""
    image = Image.new("RGB", (size, size), BLUE)
    draw = ImageDraw.Draw(image)
    card = size * 0.72 * content_scale
    left = (size - card) / 2
    top = (size - card) / 2
    draw.rounded_rectangle((left, top, left + card, top + card), radius=card * 0.12, fill=WHITE)
    module = card / 25
    inset = 2.5 * module
    _finder(draw, left + inset, top + inset, module)
    _finder(draw, left + card - inset - 7 * module, top + inset, module)
    _finder(draw, left + inset, top + card - inset - 7 * module, module)
    # The tick, in the corner where a fourth finder would be.
    cx, cy = left + card - inset - 4.5 * module, top + card - inset - 4.5 * module
    radius = 5.2 * module
    draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=GREEN)
    width = max(2, round(1.6 * module))
    draw.line(
        [
            (cx - 2.6 * module, cy + 0.2 * module),
            (cx - 0.6 * module, cy + 2.2 * module),
            (cx + 2.8 * module, cy - 2.0 * module),
        ],
        fill=WHITE,
        width=width,
        joint="curve",
    )
    return image


def make_icons() -> list[Path]:
    ICONS.mkdir(exist_ok=True)
    outputs = {
        "icon-192.png": draw_icon(192),
        "icon-512.png": draw_icon(512),
        "apple-touch-icon.png": draw_icon(180),
        "icon-maskable-512.png": draw_icon(512, content_scale=0.8),
    }
    for name, image in outputs.items():
        image.save(ICONS / name, optimize=True)
    return [ICONS / name for name in outputs]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["icons", "font"])
    args = parser.parse_args()
    if args.what == "icons":
        for path in make_icons():
            print(path)
        return
    out = make_subset()
    print(f"{out} ({len(needed_characters())} characters, {out.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
