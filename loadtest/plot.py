"""latency.png: what ops look at first after a peak test.

One panel of the whole run (requests/s, failures/s and users over time), then one panel per
request name with its p95 over time against its goal line, so a missed goal is the red line
above the dashed one, named in the panel's title. Locust writes a row per request name each
second only with `--csv-full-history` (the runner asks for it); a history without those rows
still plots the aggregate.

matplotlib with its non-interactive Agg backend: the plot is a file, never a window.
"""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from loadtest.errors import LoadTestError, LoadTestErrorCode
from loadtest.judge import Goals

__all__ = ["plot_history"]

AGGREGATED = "Aggregated"
#: Panels per row below the aggregate; the figure grows downwards with the request names.
COLUMNS = 2
MISSED, MET, GOAL, FAILURES = "#c62828", "#1565c0", "#424242", "#ef6c00"


@dataclass
class _Series:
    """One request name's (or the aggregate's) samples, seconds since the run's first one."""

    seconds: list[float] = field(default_factory=list)
    rps: list[float] = field(default_factory=list)
    fails: list[float] = field(default_factory=list)
    p95: list[float] = field(default_factory=list)
    users: list[float] = field(default_factory=list)


def _number(text: str | None) -> float:
    try:
        return float(text) if text not in (None, "", "N/A") else math.nan
    except ValueError:
        return math.nan


def read_history(history_csv: Path) -> dict[str, _Series]:
    """Locust's `_stats_history.csv`, by request name (the aggregate under "Aggregated")."""
    rows: list[dict[str, str]] = []
    try:
        with history_csv.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as exc:
        raise LoadTestError(
            LoadTestErrorCode.STATS_MISSING, f"cannot read {history_csv}: {exc}"
        ) from exc
    samples = [row for row in rows if row.get("Name") and row.get("Timestamp")]
    if not any(row["Name"] == AGGREGATED for row in samples):
        raise LoadTestError(LoadTestErrorCode.STATS_MISSING, f"{history_csv} holds no samples")
    start = min(_number(row["Timestamp"]) for row in samples)
    series: dict[str, _Series] = defaultdict(_Series)
    for row in samples:
        one = series[row["Name"]]
        one.seconds.append(_number(row["Timestamp"]) - start)
        one.rps.append(_number(row.get("Requests/s")))
        one.fails.append(_number(row.get("Failures/s")))
        one.p95.append(_number(row.get("95%")))
        one.users.append(_number(row.get("User Count")))
    return dict(series)


def plot_history(
    history_csv: Path, path: Path, goals: Goals | None = None, *, title: str = "peak test"
) -> Path:
    """Draw latency.png from Locust's history; each request name's p95 against its goal."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = read_history(history_csv)
    total = series.pop(AGGREGATED)
    names = [name for name in (goals.requests if goals else {}) if name in series]
    names += sorted(name for name in series if name not in names)
    rows = math.ceil(len(names) / COLUMNS)
    plt.rcParams.update({"font.size": 12, "axes.titlesize": 13, "axes.labelsize": 12})
    figure = plt.figure(figsize=(13, 4.2 + 3.2 * rows), layout="constrained")
    grid = figure.add_gridspec(1 + rows, COLUMNS, height_ratios=[1.25] + [1] * rows)

    overview = figure.add_subplot(grid[0, :])
    overview.plot(total.seconds, total.rps, color=MET, linewidth=2, label="requests/s")
    overview.plot(total.seconds, total.fails, color=FAILURES, linewidth=2, label="failures/s")
    overview.set_ylabel("per second")
    overview.set_xlabel("seconds since the first sample")
    overview.set_title(f"{title}: all requests")
    overview.grid(alpha=0.3)
    users = overview.twinx()
    users.plot(total.seconds, total.users, color="#6a1b9a", linestyle=":", label="users")
    users.set_ylabel("users")
    lines = overview.get_legend_handles_labels()
    extra = users.get_legend_handles_labels()
    overview.legend(lines[0] + extra[0], lines[1] + extra[1], loc="upper left")

    for index, name in enumerate(names):
        axes = figure.add_subplot(grid[1 + index // COLUMNS, index % COLUMNS])
        one = series[name]
        goal = goals.requests.get(name) if goals else None
        measured = [value for value in one.p95 if not math.isnan(value)]
        worst = max(measured, default=math.nan)
        missed = goal is not None and not worst <= goal.p95_ms
        axes.plot(one.seconds, one.p95, color=MISSED if missed else MET, linewidth=2, label="p95")
        heading = f"{name}: p95 up to {worst:.0f} ms" if measured else f"{name}: no samples"
        if goal is not None:
            axes.axhline(goal.p95_ms, color=GOAL, linestyle="--", linewidth=1.5, label="goal")
            heading += f" (goal {goal.p95_ms:g} ms{', MISSED' if missed else ''})"
            axes.set_ylim(0, max(goal.p95_ms, worst if measured else 0) * 1.15)
        axes.set_title(heading, color=MISSED if missed else "black")
        axes.set_ylabel("ms")
        axes.set_xlabel("seconds")
        axes.grid(alpha=0.3)
        axes.legend(loc="upper right")
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path
