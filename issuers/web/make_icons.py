"""Draw the citizen app's icons with Pillow (run by hand after a change; the PNGs are committed).

    python -m issuers.web.make_icons

A white card with three QR finder patterns and a green tick on the app's blue: recognisable at
48 px on a home screen. The maskable icon keeps everything inside the central 80 % circle that
launchers may crop to.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

ICONS = Path(__file__).resolve().parent / "icons"
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


def main() -> None:
    ICONS.mkdir(exist_ok=True)
    outputs = {
        "icon-192.png": draw_icon(192),
        "icon-512.png": draw_icon(512),
        "apple-touch-icon.png": draw_icon(180),
        "icon-maskable-512.png": draw_icon(512, content_scale=0.8),
    }
    for name, image in outputs.items():
        image.save(ICONS / name, optimize=True)
        print(ICONS / name)


if __name__ == "__main__":
    main()
