"""latency.png: each request name's p95 against its goal line, the whole run above, from a
history file in Locust's own `--csv-full-history` format."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import cast

import pytest
from PIL import Image

from loadtest import requests as names
from loadtest.errors import LoadTestError
from loadtest.judge import DEFAULT_GOALS
from loadtest.plot import plot_history, read_history
from tests.loadtest.test_judge import HISTORY_HEADER

MISSED_RED = (0xC6, 0x28, 0x28)
MET_BLUE = (0x15, 0x65, 0xC0)


def _history(path: Path, scan_p95_ms: int, seconds: int = 30) -> Path:
    """A 30 s run: the aggregate rising, scans at `scan_p95_ms`, citizens' codes at 40 ms."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HISTORY_HEADER)
        for second in range(seconds):
            stamp, first = 1796220000 + second, second == 0
            rps = "N/A" if first else str(10 * second)
            for name, p95 in (
                ("Aggregated", "N/A" if first else "60"),
                (names.SCAN, str(scan_p95_ms)),
                (names.CITIZEN_CODE, "40"),
            ):
                writer.writerow([stamp, 50, "", name, rps, "0", "5", "", "", "", "", p95,
                                 "", "", "", "", "", 0, 0, 0, 0, 0, 0, 0])  # fmt: skip
    return path


def _colours(image: Image.Image) -> set[tuple[int, int, int]]:
    counted = image.getcolors(maxcolors=1_000_000) or []
    return {cast(tuple[int, int, int], colour) for _, colour in counted}  # an RGB image


def test_history_is_read_per_request_name_from_the_first_sample(tmp_path: Path) -> None:
    series = read_history(_history(tmp_path / "h.csv", scan_p95_ms=120))
    assert set(series) == {"Aggregated", names.SCAN, names.CITIZEN_CODE}
    assert series[names.SCAN].seconds[0] == 0
    assert series[names.SCAN].seconds[-1] == 29
    assert series[names.SCAN].p95[5] == 120


def test_a_missed_goal_is_drawn_red_above_its_goal_line(tmp_path: Path) -> None:
    history = _history(tmp_path / "h.csv", scan_p95_ms=999)  # the scan goal is p95 250 ms
    image = Image.open(plot_history(history, tmp_path / "p.png", DEFAULT_GOALS)).convert("RGB")
    assert image.width >= 1000
    assert image.height >= 600
    assert MISSED_RED in _colours(image)
    assert MET_BLUE in _colours(image)  # the citizens' codes met theirs


def test_a_run_that_met_every_goal_has_no_red(tmp_path: Path) -> None:
    history = _history(tmp_path / "h.csv", scan_p95_ms=120)
    image = Image.open(plot_history(history, tmp_path / "p.png", DEFAULT_GOALS)).convert("RGB")
    assert MISSED_RED not in _colours(image)
    assert MET_BLUE in _colours(image)


def test_a_history_without_samples_is_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text(",".join(HISTORY_HEADER) + "\n")
    with pytest.raises(LoadTestError):
        plot_history(empty, tmp_path / "none.png")
    with pytest.raises(LoadTestError):
        plot_history(tmp_path / "missing.csv", tmp_path / "none.png")
