"""Make `fonts/hc-cjk-subset.woff2`, the CJK font subset of the citizen app (run by hand).

    python -m issuers.web.make_font

Phones have Chinese fonts, but not all the same ones; the app ships a small face of its own
holding exactly the characters of its Chinese texts (the page, the scripts' texts, the
provinces' reason texts in `issuers/data/rules-*.toml`, the provinces' names, common surnames
and the demo's names), so its
screens look the same everywhere and nothing is fetched from elsewhere. The page's
`@font-face` lists it after the phone's own fonts and only for CJK code points
(`unicode-range`), so an English page never downloads it.

The source is Droid Sans Fallback (Apache License 2.0), which the offline printer already ships
in `offline/fonts/`; a masked name's character outside the subset falls back to the phone's font.
Re-run after changing a Chinese text; a test checks that every character is covered.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from fontTools import subset  # type: ignore[import-untyped]
from fontTools.ttLib import TTFont  # type: ignore[import-untyped]

WEB = Path(__file__).resolve().parent
ISSUERS = WEB.parent
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
    for path in [WEB / "index.html", *sorted((WEB / "js").glob("*.js")), ISSUERS / "seed.py"]:
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


def main() -> None:
    out = make_subset()
    print(f"{out} ({len(needed_characters())} characters, {out.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
