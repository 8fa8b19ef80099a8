"""Peak-load tests with Locust: citizens, checkpoints, ID-card reads and partner regions.

    python -m loadtest prepare --federation .demo --out peak/plan.json
    python -m loadtest run --plan peak/plan.json --users 50 --run-time 60 --out peak/

`prepare` writes a plan from a running demo federation; `run` runs Locust headless for a fixed
time against the plan's targets (loopback only unless a host is named), shows progress, and
judges the result against the goals, writing report.md, latency.png and Locust's own HTML
report. The exit status says whether the goals were met. loadtest/README.md has the details.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["locustfile_path"]


def locustfile_path() -> Path:
    """The Locust file of the peak test (given to `locust -f`)."""
    return Path(__file__).with_name("locustfile.py")
