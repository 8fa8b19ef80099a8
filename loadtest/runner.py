"""Running Locust headless with a time limit, showing progress, then judging the run.

Locust runs as a child process (it patches the standard library with gevent; nothing else in
the calling process should be). It stops itself after `run_time_s`; if it has not exited
`STOP_GRACE_S` after that, it is killed, so a peak test always ends.
"""

from __future__ import annotations

import csv
import importlib.util
import os
import subprocess
import sys
import time
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from loadtest import locustfile_path
from loadtest import requests as names
from loadtest.errors import LoadTestError, LoadTestErrorCode
from loadtest.judge import Goals, Verdict, judge, plot_history, write_report
from loadtest.plan import LoadPlan

__all__ = ["LoadRun", "expected_requests", "run_load"]

#: Seconds Locust gets past its run time (to stop its users and write its files).
STOP_GRACE_S = 30.0
PROGRESS_EVERY_S = 2.0


@dataclass(frozen=True)
class LoadRun:
    """What to run: the user count, how fast they start, for how long, how often they act."""

    users: int = 50
    spawn_rate: float = 10.0
    run_time_s: int = 60
    think_s: float = 1.0
    partner_rate: float = 2.0

    def __post_init__(self) -> None:
        if self.users < 1 or self.spawn_rate <= 0 or self.run_time_s < 1:
            raise LoadTestError(
                LoadTestErrorCode.PLAN_INVALID,
                "users and run time must be at least 1 and the spawn rate above 0",
            )
        if self.think_s <= 0 or self.partner_rate <= 0:
            raise LoadTestError(
                LoadTestErrorCode.PLAN_INVALID, "think time and partner rate must be above 0"
            )


def expected_requests(plan: LoadPlan) -> list[str]:
    """The request names the plan's users send, each of which the run must show."""
    found = [names.SCAN]
    if plan.checkpoint.id_cards:
        found.append(names.ID_CARD)
    if any(province.citizen_tokens for province in plan.provinces):
        found += [names.CITIZEN_CODE, names.CITIZEN_CODE_PNG, names.CITIZEN_PROFILE]
    if plan.partner is not None and plan.partner.people:
        found += [names.PARTNER_STATUS, names.PARTNER_REVOCATIONS]
    return found


def run_load(
    plan_path: Path,
    out: Path,
    run: LoadRun,
    goals: Goals,
    *,
    allowed_hosts: Collection[str] = (),
    progress: TextIO = sys.stderr,
) -> Verdict:
    """Run the plan's users against its targets and judge the result.

    Writes into `out`: Locust's CSVs (`locust_*.csv`), its HTML report (`locust.html`), its
    log (`locust.log`), our report.md and latency.png. Returns the verdict.
    """
    plan = LoadPlan.load(plan_path)
    plan.check_targets(allowed_hosts)
    if importlib.util.find_spec("locust") is None:
        raise LoadTestError(
            LoadTestErrorCode.LOCUST_FAILED,
            "Locust is not installed here: pip install -e '.[load]' (or '.[dev]')",
        )
    out.mkdir(parents=True, exist_ok=True)
    prefix = out / "locust"
    for stale in out.glob("locust_*.csv"):
        stale.unlink()  # a file of an earlier run must not be judged as this one's
    command = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(locustfile_path()),
        "--headless",
        "--users",
        str(run.users),
        "--spawn-rate",
        str(run.spawn_rate),
        "--run-time",
        f"{run.run_time_s}s",
        "--stop-timeout",
        "5",
        "--csv",
        str(prefix),
        "--html",
        str(out / "locust.html"),
        "--only-summary",
        "--exit-code-on-error",
        "0",  # failed requests are the verdict's business, not an error of the run
        "--logfile",
        str(out / "locust.log"),
        "--loglevel",
        "WARNING",
    ]
    env = {
        **os.environ,
        "HC_LOADTEST_PLAN": str(plan_path.resolve()),
        "HC_LOADTEST_THINK_S": str(run.think_s),
        "HC_LOADTEST_PARTNER_RATE": str(run.partner_rate),
    }
    started = time.monotonic()
    deadline = started + run.run_time_s + STOP_GRACE_S
    with (out / "locust.out").open("wb") as output:
        process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
        try:
            while process.poll() is None:
                if time.monotonic() > deadline:
                    process.kill()
                    process.wait()
                    raise LoadTestError(
                        LoadTestErrorCode.LOCUST_FAILED,
                        f"Locust did not stop {STOP_GRACE_S:.0f} s after its run time and was "
                        f"killed; see {out / 'locust.log'}",
                    )
                _show_progress(prefix, started, run, progress)
                time.sleep(PROGRESS_EVERY_S)
        except BaseException:
            if process.poll() is None:
                process.kill()
                process.wait()
            raise
    if process.returncode != 0:
        tail = (out / "locust.out").read_text(errors="replace")[-1500:]
        raise LoadTestError(
            LoadTestErrorCode.LOCUST_FAILED,
            f"Locust exited with status {process.returncode}:\n{tail}",
        )
    verdict = judge(Path(f"{prefix}_stats.csv"), goals, expected_requests(plan))
    plot_history(Path(f"{prefix}_stats_history.csv"), out / "latency.png")
    notes = []
    log = out / "locust.log"
    if log.exists() and "CPU usage above" in log.read_text(errors="replace"):
        # Locust's own warning: past 90 % of its core it sends less than asked, and late.
        notes.append(
            "The load generator ran out of CPU (locust.log): the targets may take more than "
            "this run sent; run Locust on another machine or with fewer users per process."
        )
    write_report(
        verdict,
        out / "report.md",
        run={
            "users": run.users,
            "spawn rate": f"{run.spawn_rate:g}/s",
            "run time": f"{run.run_time_s} s",
            "think time": f"{run.think_s:g} s",
            "partner rate": f"{run.partner_rate:g}/s",
        },
        notes=notes,
    )
    return verdict


def _show_progress(prefix: Path, started: float, run: LoadRun, progress: TextIO) -> None:
    """One line from the newest aggregate sample Locust wrote (it writes one a second)."""
    elapsed = time.monotonic() - started
    last: dict[str, str] | None = None
    try:
        with open(f"{prefix}_stats_history.csv", newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                if row.get("Name") == "Aggregated":
                    last = row
    except OSError:
        pass
    if last is None:
        print(f"[{elapsed:4.0f}/{run.run_time_s} s] starting", file=progress, flush=True)
        return
    print(
        f"[{min(elapsed, run.run_time_s):4.0f}/{run.run_time_s} s] users {last['User Count']:>4}"
        f"  {float(last['Requests/s']):7.1f} req/s  failed {last['Total Failure Count']:>5}"
        f" of {last['Total Request Count']:>6}  p95 {last['95%']} ms",
        file=progress,
        flush=True,
    )
