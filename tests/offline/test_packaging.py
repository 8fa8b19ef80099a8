"""What an installed `offline` package holds: the fonts it renders with and their licences.

The package is built from a copy of the project's `pyproject.toml` and `offline/` with
setuptools' own `build_py` (the step that decides which files a wheel gets), then imported from
there in a fresh interpreter without site-packages, so the editable install of the checkout
cannot stand in for it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import offline
from offline.sheet import FONT_FILES

ROOT = Path(offline.__file__).resolve().parent.parent

_PROBE = """
import importlib.resources, json, sys
sys.path.insert(0, sys.argv[1])
import offline
fonts = importlib.resources.files("offline.fonts")
print(json.dumps({
    "package": offline.__file__,
    "files": sorted(entry.name for entry in fonts.iterdir() if entry.is_file()),
    "licence": (
        fonts.joinpath("LICENSE").read_text(encoding="utf-8")
        if fonts.joinpath("LICENSE").is_file() else None
    ),
}))
"""


def test_the_font_licences_are_installed_next_to_the_fonts(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    shutil.copy(ROOT / "pyproject.toml", source)
    shutil.copy(ROOT / "README.md", source)
    shutil.copytree(
        ROOT / "offline", source / "offline", ignore=shutil.ignore_patterns("__pycache__")
    )
    built = tmp_path / "lib"
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import setuptools; setuptools.setup()",
            "-q",
            "build_py",
            "--build-lib",
            str(built),
        ],
        cwd=source,
        check=True,
        capture_output=True,
    )

    probe = subprocess.run(
        [sys.executable, "-S", "-c", _PROBE, str(built)],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        text=True,
    )
    installed = json.loads(probe.stdout)

    assert Path(installed["package"]).is_relative_to(built)
    assert {*FONT_FILES, "LICENSE"} <= set(installed["files"])
    licence = installed["licence"]
    assert licence is not None
    assert "Apache License, Version 2.0" in licence  # Droid Sans Fallback
    assert "bitstream-vera" in licence  # DejaVu
    assert "SIL OPEN FONT LICENSE Version 1.1" in licence  # Noto Sans CJK SC Bold subset
    for font in FONT_FILES:
        assert font in licence, font
