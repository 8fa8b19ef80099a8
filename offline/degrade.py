"""Degraded copies of a printed code, as checkpoints meet them (tests and the benchmark).

Each degradation turns the rendered pages of a sheet into the image a scanner would get:
a low-resolution print, a photo shrunk by a messaging app, heavy JPEG compression, a sheet held
crooked, a black-and-white copy.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Final

from PIL import Image

from offline.sheet import rasterize

__all__ = ["DEGRADATIONS", "Degradation", "degraded_images"]

Degradation = Callable[[dict[int, Image.Image]], Image.Image]


def _jpeg(image: Image.Image, quality: int) -> Image.Image:
    out = io.BytesIO()
    image.convert("RGB").save(out, format="JPEG", quality=quality)
    out.seek(0)
    with Image.open(out) as compressed:
        compressed.load()
        return compressed.copy()


def _quarter(pages: dict[int, Image.Image]) -> Image.Image:
    page = pages[300]
    return page.resize((page.width // 4, page.height // 4), Image.Resampling.LANCZOS)


def _rotated(pages: dict[int, Image.Image]) -> Image.Image:
    return (
        pages[150]
        .convert("RGB")
        .rotate(4, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=(255, 255, 255))
    )


#: Name -> how to make that copy from the first page rendered at 300 and 150 dpi.
DEGRADATIONS: Final[dict[str, Degradation]] = {
    "300dpi": lambda pages: pages[300],
    "150dpi": lambda pages: pages[150],
    "quarter": _quarter,  # 300 dpi shrunk to 1/4 width and height (75 dpi)
    "jpeg30": lambda pages: _jpeg(pages[150], 30),
    "rotated": _rotated,  # 4 degrees
    "grey": lambda pages: pages[150].convert("L"),
}


def degraded_images(pdf: bytes) -> dict[str, Image.Image]:
    """Every degraded copy of the first page of `pdf`."""
    pages = {dpi: rasterize(pdf, dpi)[0] for dpi in (300, 150)}
    return {name: degrade(pages) for name, degrade in DEGRADATIONS.items()}
