"""Shared headless-Chromium plumbing for the page tests: one launch recipe, the three viewports
the product promises, screenshots and an axe-core accessibility check.

axe-core comes from npm (package.json) and is vendored in `tests/vendor/`, so the suite needs
no network; it is a test tool and is never served by a service.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page, Playwright, ViewportSize

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
AXE_JS = Path(__file__).resolve().parent / "vendor" / "axe.min.js"

# The sizes people use: a 390 px phone, a tablet held upright, a desktop.
VIEWPORTS: dict[str, ViewportSize] = {
    "phone": {"width": 390, "height": 844},
    "tablet": {"width": 800, "height": 1280},
    "desktop": {"width": 1366, "height": 900},
}

# Screenshots land in docs/images only when asked (HC_UPDATE_SCREENSHOTS=1), so a test run never
# changes tracked files; otherwise they go to a temp folder and are still taken and written.
IMAGES = (
    Path(__file__).resolve().parents[1] / "docs" / "images"
    if os.environ.get("HC_UPDATE_SCREENSHOTS")
    else Path(tempfile.mkdtemp(prefix="hc-screenshots-"))
)


def launch_chromium(playwright: Playwright, *extra_args: str, **options: Any) -> Browser:
    """Debian's chromium, headless, with the flags the project's tests always use."""
    if shutil.which(CHROMIUM) is None:  # pragma: no cover - scripts/test installs it
        raise RuntimeError("chromium is not installed: run the suite through scripts/test")
    return playwright.chromium.launch(
        executable_path=CHROMIUM, args=[*ARGS, *extra_args], **options
    )


# Latin only: pages that must draw Chinese without system fonts are tested with this alone.
LATIN_FONT = Path(__file__).resolve().parents[1] / "offline" / "fonts" / "DejaVuSans.ttf"


def latin_only_fontconfig(directory: Path) -> dict[str, str]:
    """Environment for a Chromium that sees one font, DejaVu Sans, and no CJK font at all.

    A private fontconfig (FONTCONFIG_FILE) lists only `directory`/fonts: whatever Chinese the
    page shows must come from a web font it ships, as on a kiosk without CJK fonts.
    """
    fonts = directory / "fonts"
    fonts.mkdir(parents=True, exist_ok=True)
    shutil.copy(LATIN_FONT, fonts / LATIN_FONT.name)
    config = directory / "fonts.conf"
    config.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig>\n'
        f"  <dir>{fonts}</dir>\n  <cachedir>{directory / 'cache'}</cachedir>\n"
        "</fontconfig>\n",
        encoding="utf-8",
    )
    return {**os.environ, "FONTCONFIG_FILE": str(config)}


def axe_violations(page: Page, *, exclude: list[str] | None = None) -> list[dict[str, Any]]:
    """Run axe-core (WCAG 2.0/2.1 A and AA rules) on the page as it is now; return violations.

    Each violation is reduced to its id, impact, help text and the first few failing targets,
    so an assertion failure reads as a list of what to fix.
    """
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=AXE_JS.read_text(encoding="utf-8"))
    context: dict[str, Any] = {"exclude": [[selector] for selector in exclude or []]}
    result = page.evaluate(
        """async (context) => {
            const r = await axe.run(context.exclude.length ? context : document, {
                runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']},
            });
            return r.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                targets: v.nodes.slice(0, 5).map(n => n.target.join(' ')),
            }));
        }""",
        context,
    )
    return list(result)


def screenshot(page: Page, name: str) -> Path:
    """Save a PNG of the page under IMAGES (docs/images when HC_UPDATE_SCREENSHOTS=1)."""
    IMAGES.mkdir(parents=True, exist_ok=True)
    path = IMAGES / name
    page.screenshot(path=str(path))
    return path
