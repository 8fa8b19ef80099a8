"""Decode-and-verify success rate of printed offline codes, per degradation level.

    .venv/bin/python benchmarks/bench_offline_decode.py --codes 200 --layout a4

For each of N freshly issued offline codes (random colour, random holder, real ES256 key):
render the sheet to PDF, rasterise it with pdftoppm at 300 and 150 dpi in colour and at 150 dpi
in grey (`-gray`), make the degraded copies of `offline.degrade` (quarter size, JPEG quality 30,
rotated 4 degrees, a faded noisy grey print, a 1-bit black-and-white copy), decode each with
`healthcode.qr.decode_image` and verify it with `healthcode.verify_credential`. A copy counts as
a success only if exactly one code is found, it verifies, and its colour and jti are the printed
ones. Prints a table, writes a bar chart PNG (Pillow, shipped font).
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections import Counter
from datetime import date
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from healthcode import (
    CodeKind,
    IssuerEntry,
    SigningKey,
    StatusColour,
    TrustedKey,
    TrustStore,
    decode_image,
    mask_name,
    new_credential,
    sign_credential,
    verify_credential,
)
from healthcode.errors import VerificationError
from healthcode.idnumber import make_id_number, pseudonymous_subject
from offline.degrade import DEGRADATIONS, degraded_images
from offline.sheet import FONT_DIR, Layout, OfflineCodeSheet, PrintableCode

SECRET = b"bench-only-subject-secret-0123456789"
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂"


def _random_code(rng: random.Random, key: SigningKey, now: float) -> PrintableCode:
    number = make_id_number(
        rng.choice(["510104", "510107", "110105", "440106", "310115"]),
        date(rng.randint(1930, 2020), rng.randint(1, 12), rng.randint(1, 28)),
        rng.randint(1, 999),
    )
    name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2)))
    credential = new_credential(
        issuer="cn-sc",
        subject=pseudonymous_subject(number, SECRET),
        status=rng.choice(list(StatusColour)),
        masked_name=mask_name(name),
        id_tail=number[-4:],
        kind=CodeKind.OFFLINE,
        now=now,
    )
    return PrintableCode.from_token(sign_credential(credential, key), issuer_name="四川省 Sichuan")


def _succeeds(image: Image.Image, code: PrintableCode, trust: TrustStore, at: float) -> bool:
    try:
        texts = decode_image(image)
    except VerificationError:
        return False
    if len(texts) != 1:
        return False
    result = verify_credential(texts[0], trust, at)
    return (
        result.valid
        and result.credential is not None
        and result.credential.status is code.credential.status
        and result.credential.jti == code.credential.jti
    )


def run(codes: int, layout: Layout, seed: int) -> dict[str, object]:
    """Measure; returns the per-level counts and timing."""
    rng = random.Random(seed)
    key = SigningKey.generate()
    trust = TrustStore(
        [IssuerEntry(id="cn-sc", name="四川省", keys=(TrustedKey(key.verifying_key),))]
    )
    now = time.time()
    successes: Counter[str] = Counter()
    started = time.perf_counter()
    with Progress(transient=True) as progress:
        task = progress.add_task(f"{layout.value}: render, degrade, decode", total=codes)
        for _ in range(codes):
            code = _random_code(rng, key, now)
            for name, image in degraded_images(OfflineCodeSheet(code, layout).pdf()).items():
                successes[name] += _succeeds(image, code, trust, now + 60)
            progress.advance(task)
    return {
        "layout": layout.value,
        "codes": codes,
        "success": {name: successes[name] for name in DEGRADATIONS},
        "rate": {name: successes[name] / codes for name in DEGRADATIONS},
        "seconds": round(time.perf_counter() - started, 1),
    }


def bar_chart(results: list[dict[str, object]], out: Path) -> None:
    """Grouped bars: success rate per degradation level, one bar per layout."""
    width, height, left, bottom, top = 900, 460, 70, 70, 75
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(str(FONT_DIR / "DejaVuSans.ttf"), 14)
    bold = ImageFont.truetype(str(FONT_DIR / "DejaVuSans-Bold.ttf"), 16)
    draw.text((left, 14), "Printed offline codes: decode + verify success rate", "black", bold)
    plot_h = height - bottom - top
    for percent in range(0, 101, 25):
        y = height - bottom - plot_h * percent / 100
        draw.line((left, y, width - 20, y), fill=(220, 220, 220))
        draw.text((left - 45, y - 8), f"{percent}%", "black", font)
    levels = list(DEGRADATIONS)
    group = (width - left - 20) / len(levels)
    colours = [(40, 110, 190), (230, 140, 30)]
    bar = group * 0.8 / max(1, len(results))
    for index, level in enumerate(levels):
        x0 = left + index * group + group * 0.1
        for series, result in enumerate(results):
            rate = result["rate"][level]  # type: ignore[index]
            x = x0 + series * bar
            y = height - bottom - plot_h * rate
            draw.rectangle((x, y, x + bar - 4, height - bottom), fill=colours[series % 2])
            draw.text((x, y - 17), f"{rate * 100:.0f}", "black", font)
        draw.text((x0, height - bottom + 8), level, "black", font)
    legend_x = left
    for series, result in enumerate(results):
        draw.rectangle(
            (legend_x, height - 30, legend_x + 14, height - 16), fill=colours[series % 2]
        )
        label = f"{result['layout']} (n={result['codes']})"
        draw.text((legend_x + 20, height - 32), label, "black", font)
        legend_x += 200
    image.save(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--codes", type=int, default=200, help="codes per layout")
    parser.add_argument("--layout", action="append", choices=[layout.value for layout in Layout])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--plot", type=Path, default=Path("docs/images/offline-decode-rates.png"))
    parser.add_argument("--json", type=Path, help="also write the results as JSON")
    parser.add_argument("--replot", type=Path, help="only redraw the chart from a JSON file")
    args = parser.parse_args()
    if args.replot:
        bar_chart(json.loads(args.replot.read_text()), args.plot)
        return
    layouts = [Layout(value) for value in args.layout or ["a4", "card"]]
    console = Console()
    results = [run(args.codes, layout, args.seed) for layout in layouts]

    table = Table(title="Decode + verify success rate per degradation level")
    table.add_column("level")
    for result in results:
        table.add_column(f"{result['layout']} (n={result['codes']})", justify="right")
    for level in DEGRADATIONS:
        cells = [
            f"{r['success'][level]}/{r['codes']}  {r['rate'][level] * 100:.1f}%"  # type: ignore[index]
            for r in results
        ]
        table.add_row(level, *cells)
    console.print(table)
    for result in results:
        console.print(f"{result['layout']}: {result['seconds']} s")
    bar_chart(results, args.plot)
    console.print(f"chart: {args.plot}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
