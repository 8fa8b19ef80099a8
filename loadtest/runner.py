"""Running Locust headless with a time limit, showing progress, then judging the run.

Locust runs as a child process (it patches the standard library with gevent; nothing else in
the calling process should be). It stops itself after `run_time_s`; if it has not exited
`STOP_GRACE_S` after that, it is killed, so a peak test always ends.

One Locust process uses one core at most. With `workers` > 0 the run uses Locust's own
distributed mode: one master (which counts, writes the CSVs and stops the run) and that many
worker processes (which send), talking over a loopback port; the master waits up to
`WORKERS_WAIT_S` for them to connect before it starts.
"""

from __future__ import annotations

import contextlib
import csv
import importlib.util
import os
import socket
import subprocess
import sys
import time
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from healthcode.benchmark import es256_verify_rate
from loadtest import locustfile_path
from loadtest import requests as names
from loadtest.errors import LoadTestError, LoadTestErrorCode
from loadtest.judge import Goals, Verdict, judge, write_report
from loadtest.plan import LoadPlan
from loadtest.plot import plot_history

__all__ = ["LoadRun", "expected_requests", "run_load"]

#: Seconds Locust gets past its run time (to stop its users and write its files).
STOP_GRACE_S = 30.0
PROGRESS_EVERY_S = 2.0
#: Seconds the master waits for its workers to connect before it gives up.
WORKERS_WAIT_S = 60


@dataclass(frozen=True)
class LoadRun:
    """What to run: the user count, how fast they start, for how long, how often they act."""

    users: int = 50
    spawn_rate: float = 10.0
    run_time_s: int = 60
    think_s: float = 1.0
    partner_rate: float = 2.0
    #: Citizen logins (one-time code requested, then verified) per second, all provinces.
    login_rate: float = 2.0
    #: Locust worker processes (0: one process does everything).
    workers: int = 0

    def __post_init__(self) -> None:
        if self.workers < 0 or self.workers > 64:
            raise LoadTestError(
                LoadTestErrorCode.PLAN_INVALID, "workers must be from 0 (one process) to 64"
            )
        if self.users < 1 or self.spawn_rate <= 0 or self.run_time_s < 1:
            raise LoadTestError(
                LoadTestErrorCode.PLAN_INVALID,
                "users and run time must be at least 1 and the spawn rate above 0",
            )
        if self.think_s <= 0 or self.partner_rate <= 0 or self.login_rate <= 0:
            raise LoadTestError(
                LoadTestErrorCode.PLAN_INVALID,
                "think time, partner rate and login rate must be above 0",
            )


def expected_requests(plan: LoadPlan) -> list[str]:
    """The request names the plan's users send, each of which the run must show."""
    found = [names.SCAN]
    if plan.checkpoint.id_cards:
        found.append(names.ID_CARD)
    if any(province.citizen_tokens for province in plan.provinces):
        found += [names.CITIZEN_CODE, names.CITIZEN_CODE_PNG, names.CITIZEN_PROFILE]
    if any(province.login_phones for province in plan.provinces):
        found += [names.LOGIN_CODE, names.LOGIN]
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
    locust = [sys.executable, "-m", "locust", "-f", str(locustfile_path())]
    command = [
        *locust,
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
        "--csv-full-history",  # a row per request name each second: the plot's p95 lines
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
    worker_commands: list[list[str]] = []
    if run.workers:
        port = _free_port()
        command += [
            "--master",
            "--master-bind-host",
            "127.0.0.1",
            "--master-bind-port",
            str(port),
            "--expect-workers",
            str(run.workers),
            "--expect-workers-max-wait",
            str(WORKERS_WAIT_S),
        ]
        worker_commands = [
            [
                *locust,
                "--worker",
                "--master-host",
                "127.0.0.1",
                "--master-port",
                str(port),
                "--logfile",
                str(out / f"locust-worker-{index}.log"),
                "--loglevel",
                "WARNING",
            ]
            for index in range(1, run.workers + 1)
        ]
    env = {
        **os.environ,
        "HC_LOADTEST_PLAN": str(plan_path.resolve()),
        "HC_LOADTEST_THINK_S": str(run.think_s),
        "HC_LOADTEST_PARTNER_RATE": str(run.partner_rate),
        "HC_LOADTEST_LOGIN_RATE": str(run.login_rate),
    }
    # The machine's speed just before and after: a VM can be a fifth slower one hour than the
    # next, and the same federation then does a fifth less (loadtest/README.md).
    speed_before = es256_verify_rate()
    started = time.monotonic()
    deadline = started + run.run_time_s + STOP_GRACE_S + (WORKERS_WAIT_S if run.workers else 0)
    processes: list[subprocess.Popen[bytes]] = []
    with contextlib.ExitStack() as outputs:
        try:
            output = outputs.enter_context((out / "locust.out").open("wb"))
            process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
            processes.append(process)
            for index, worker in enumerate(worker_commands, start=1):
                worker_output = outputs.enter_context(
                    (out / f"locust-worker-{index}.out").open("wb")
                )
                processes.append(
                    subprocess.Popen(
                        worker, env=env, stdout=worker_output, stderr=subprocess.STDOUT
                    )
                )
            while process.poll() is None:
                if time.monotonic() > deadline:
                    raise LoadTestError(
                        LoadTestErrorCode.LOCUST_FAILED,
                        f"Locust did not stop {STOP_GRACE_S:.0f} s after its run time and was "
                        f"killed; see {out / 'locust.log'}",
                    )
                _show_progress(prefix, started, run, progress)
                time.sleep(PROGRESS_EVERY_S)
            # The master tells its workers to quit when it stops; give them a moment.
            for worker_process in processes[1:]:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    worker_process.wait(STOP_GRACE_S)
        finally:
            for leftover in processes:
                if leftover.poll() is None:
                    leftover.kill()
                    leftover.wait()
    if process.returncode != 0:
        tail = (out / "locust.out").read_text(errors="replace")[-1500:]
        raise LoadTestError(
            LoadTestErrorCode.LOCUST_FAILED,
            f"Locust exited with status {process.returncode}:\n{tail}",
        )
    speed_after = es256_verify_rate()
    verdict = judge(Path(f"{prefix}_stats.csv"), goals, expected_requests(plan))
    plot_history(Path(f"{prefix}_stats_history.csv"), out / "latency.png", goals)
    notes = []
    logs = [out / "locust.log", *sorted(out.glob("locust-worker-*.log"))]
    if any(log.exists() and "CPU usage above" in log.read_text(errors="replace") for log in logs):
        # Locust's own warning: past 90 % of its core it sends less than asked, and late.
        notes.append(
            "The load generator ran out of CPU (locust*.log): the targets may take more than "
            "this run sent; add --workers, run Locust on another machine, or use fewer users."
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
            "login rate": f"{run.login_rate:g}/s",
            "Locust processes": f"1 master + {run.workers} workers" if run.workers else "1",
        },
        machine=f"one core verified {speed_before:,.0f} ES256 signatures a second just before "
        f"the run and {speed_after:,.0f} just after",
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


def _free_port() -> int:
    """A loopback port free now, for the master's worker connections."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
