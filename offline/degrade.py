"""Degraded copies of a printed code, as checkpoints meet them (tests and the benchmark).

Each degradation turns the rendered first page of a sheet into the image a scanner would get:
a low-resolution print, a photo shrunk by a messaging app, heavy JPEG compression, a sheet held
crooked, a faded grey laser print, a 1-bit black-and-white copy.
"""

from __future__ import annotations

import hashlib
import io
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from PIL import Image, ImageChops

from offline.sheet import rasterize

__all__ = ["DEGRADATIONS", "Degradation", "Renders", "degraded_images", "render"]

#: A faded grey print: black comes out as this grey, white as this one (55 % of the contrast).
GREY_DARKEST: Final = 60
GREY_LIGHTEST: Final = 200
#: Uniform noise added to every pixel of the grey copy, +- this many levels (toner, paper).
GREY_NOISE: Final = 24
#: A 1-bit copy turns every pixel below this grey level black, the rest white.
MONO_THRESHOLD: Final = 128


@dataclass(frozen=True, slots=True)
class Renders:
    """The first page of a sheet as pdftoppm renders it, which every degradation starts from."""

    colour_300: Image.Image
    colour_150: Image.Image
    grey_150: Image.Image  # pdftoppm -gray: what a black-and-white laser printer is sent
    seed: int  # from the PDF bytes: the same PDF always gives the same noisy copy


Degradation = Callable[[Renders], Image.Image]


def _jpeg(image: Image.Image, quality: int) -> Image.Image:
    out = io.BytesIO()
    image.convert("RGB").save(out, format="JPEG", quality=quality)
    out.seek(0)
    with Image.open(out) as compressed:
        compressed.load()
        return compressed.copy()


def _quarter(renders: Renders) -> Image.Image:
    page = renders.colour_300
    return page.resize((page.width // 4, page.height // 4), Image.Resampling.LANCZOS)


def _rotated(renders: Renders) -> Image.Image:
    return renders.colour_150.convert("RGB").rotate(
        4, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=(255, 255, 255)
    )


def _faded_grey(renders: Renders) -> Image.Image:
    """A worn grey laser print: contrast squeezed to 60..200, then noisy."""
    span = GREY_LIGHTEST - GREY_DARKEST
    faded = renders.grey_150.convert("L").point(lambda v: GREY_DARKEST + v * span // 255)
    size = faded.width * faded.height
    rng = random.Random(renders.seed)  # noqa: S311 - print noise, not a secret
    # Two uniform noise images: one brightens, one darkens, each by 0..GREY_NOISE levels.
    up, down = (
        Image.frombytes("L", faded.size, rng.randbytes(size)).point(lambda v: v * GREY_NOISE // 255)
        for _ in range(2)
    )
    return ImageChops.subtract(ImageChops.add(faded, up), down)


def _mono(renders: Renders) -> Image.Image:
    """A cheap printer or photocopier: 150 dpi, every pixel black or white, no dithering."""
    return renders.grey_150.convert("L").point(
        lambda v: 255 if v >= MONO_THRESHOLD else 0, mode="1"
    )


#: Name -> how to make that copy from the renders of the first page.
DEGRADATIONS: Final[dict[str, Degradation]] = {
    "300dpi": lambda renders: renders.colour_300,
    "150dpi": lambda renders: renders.colour_150,
    "quarter": _quarter,  # 300 dpi shrunk to 1/4 width and height (75 dpi)
    "jpeg30": lambda renders: _jpeg(renders.colour_150, 30),
    "rotated": _rotated,  # 4 degrees
    "grey": _faded_grey,  # pdftoppm -gray at 150 dpi, contrast 60..200, noise +-24
    "mono": _mono,  # pdftoppm -gray at 150 dpi, threshold 128, 1 bit
}


def render(pdf: bytes) -> Renders:
    """The renders of the first page of `pdf` that the degradations start from."""
    return Renders(
        colour_300=rasterize(pdf, 300)[0],
        colour_150=rasterize(pdf, 150)[0],
        grey_150=rasterize(pdf, 150, grey=True)[0],
        seed=int.from_bytes(hashlib.sha256(pdf).digest()[:8], "big"),
    )


def degraded_images(pdf: bytes) -> dict[str, Image.Image]:
    """Every degraded copy of the first page of `pdf`."""
    renders = render(pdf)
    return {name: degrade(renders) for name, degrade in DEGRADATIONS.items()}
