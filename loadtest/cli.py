"""`healthcode loadtest ...` (also `python -m loadtest ...`): prepare a plan, run, judge.

    healthcode loadtest prepare --federation DIR --out PLAN    a plan from a demo federation
    healthcode loadtest run --plan PLAN --out DIR [...]        Locust headless, then judged
    healthcode loadtest judge --out DIR [--goals FILE]         judge an earlier run again

Exit status: 0 the goals were met (or the plan was written), 1 a goal was missed, 2 the
command could not do its job (its message says why and what to do).
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from loadtest.errors import LoadTestError
from loadtest.judge import DEFAULT_GOALS, Goals, Verdict

EXIT_PASSED, EXIT_FAILED, EXIT_ERROR = 0, 1, 2


def register(commands: Any) -> None:
    """Add the `loadtest` subcommand to the `healthcode` command line."""
    loadtest = commands.add_parser("loadtest", help="Locust peak-load tests (run and judge)")
    _add_actions(loadtest)


def _at_least_one(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def _add_actions(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="loadtest_command", required=True, metavar="ACTION")

    prepare = actions.add_parser("prepare", help="write a plan from a running demo federation")
    prepare.add_argument("--federation", type=Path, default=Path(".demo"), help="its --dir")
    prepare.add_argument("--out", type=Path, required=True, help="the plan file to write")
    prepare.add_argument(
        "--login-citizens",
        type=int,
        default=60,
        help="load-test citizens registered per province for the login peak (default 60)",
    )
    prepare.add_argument(
        "--gates",
        type=_at_least_one,
        default=8,
        help="checkpoint gate devices, each a staff session of its own (default 8)",
    )
    prepare.set_defaults(handler=_guarded(_prepare))

    run = actions.add_parser("run", help="run Locust headless against a plan, then judge")
    run.add_argument("--plan", type=Path, required=True)
    run.add_argument("--out", type=Path, required=True, help="folder for the report and CSVs")
    run.add_argument("--users", type=int, default=50, help="simulated users (default 50)")
    run.add_argument("--spawn-rate", type=float, default=10.0, help="users started per second")
    run.add_argument("--run-time", type=int, default=60, help="seconds of load (default 60)")
    run.add_argument(
        "--think", type=float, default=1.0, help="mean seconds between a user's actions"
    )
    run.add_argument("--partner-rate", type=float, default=2.0, help="partner API calls per second")
    run.add_argument(
        "--login-rate", type=float, default=2.0, help="citizen logins per second (login peak)"
    )
    run.add_argument(
        "--workers",
        type=int,
        default=0,
        help="Locust worker processes in distributed mode (default 0: one process)",
    )
    run.add_argument("--goals", type=Path, help="a goals JSON file (loadtest/README.md)")
    run.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="HOST",
        help="a non-loopback host the plan may load (repeat for several)",
    )
    run.set_defaults(handler=_guarded(_run))

    again = actions.add_parser("judge", help="judge the run in a folder again")
    again.add_argument("--out", type=Path, required=True, help="the folder of `run --out`")
    again.add_argument("--goals", type=Path)
    again.add_argument("--plan", type=Path, help="the run's plan: its request names must appear")
    again.set_defaults(handler=_guarded(_judge))


def _guarded(handler: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """`handler` with a refused input printed as `code: message` and exit status 2."""

    @functools.wraps(handler)
    def guarded(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except LoadTestError as error:
            print(f"loadtest: {error.code.value}: {error.message}", file=sys.stderr)
            return EXIT_ERROR

    return guarded


def _goals(path: Path | None) -> Goals:
    return Goals.load(path) if path is not None else DEFAULT_GOALS


def _print_verdict(verdict: Verdict, out: Path) -> int:
    for item in verdict.stats:
        print(
            f"{item.name:28} {item.requests:7} requests  {item.failures:5} failed  "
            f"p95 {item.p95_ms:6g} ms  p99 {item.p99_ms:6g} ms"
        )
    for check in verdict.failed():
        print(f"MISSED  {check.name}: {check.what} {check.measured} (goal {check.limit})")
    print(
        f"{'PASSED' if verdict.passed else 'FAILED'}: report {out / 'report.md'}, "
        f"plot {out / 'latency.png'}, Locust's report {out / 'locust.html'}"
    )
    return EXIT_PASSED if verdict.passed else EXIT_FAILED


def _prepare(args: argparse.Namespace) -> int:
    from loadtest.prepare import prepare_plan

    plan = prepare_plan(args.federation, login_citizens=args.login_citizens, gates=args.gates)
    plan.save(args.out)
    print(
        f"plan {args.out}: {len(plan.checkpoint.scans)} codes, {len(plan.checkpoint.id_cards)} "
        f"ID cards, {sum(len(p.citizen_tokens) for p in plan.provinces)} citizens, partner "
        f"{plan.partner.partner_id if plan.partner else '-'} (readable by you only: it holds "
        "tokens and test ID numbers)"
    )
    return EXIT_PASSED


def _run(args: argparse.Namespace) -> int:
    from loadtest.runner import LoadRun, run_load

    run = LoadRun(
        users=args.users,
        spawn_rate=args.spawn_rate,
        run_time_s=args.run_time,
        think_s=args.think,
        partner_rate=args.partner_rate,
        login_rate=args.login_rate,
        workers=args.workers,
    )
    verdict = run_load(
        args.plan, args.out, run, _goals(args.goals), allowed_hosts=tuple(args.allow_host)
    )
    return _print_verdict(verdict, args.out)


def _judge(args: argparse.Namespace) -> int:
    from loadtest.judge import judge, write_report
    from loadtest.plan import LoadPlan
    from loadtest.plot import plot_history
    from loadtest.runner import expected_requests

    expected = expected_requests(LoadPlan.load(args.plan)) if args.plan else []
    verdict = judge(args.out / "locust_stats.csv", _goals(args.goals), expected)
    goals = _goals(args.goals)
    plot_history(args.out / "locust_stats_history.csv", args.out / "latency.png", goals)
    write_report(verdict, args.out / "report.md", run={"judged again": "from the CSVs"})
    return _print_verdict(verdict, args.out)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m loadtest ACTION ...`."""
    parser = argparse.ArgumentParser(prog="python -m loadtest", description=__doc__)
    _add_actions(parser)
    args = parser.parse_args(argv)
    status: int = args.handler(args)
    return status
