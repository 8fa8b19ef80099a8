"""`healthcode federation up|stop|start` (entry point `healthcode.commands`)."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from federation.children import FederationError
from federation.supervise import CONTROL_DIR, CONTROL_TIMEOUT_S, supervise
from federation.up import up

EXIT_OK, EXIT_FAILED = 0, 1


def _run_up(args: argparse.Namespace) -> int:
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    previous: Mapping[int, Any] = {
        sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        try:
            federation = up(
                args.dir,
                out=sys.stdout,
                as_json=args.json,
                replicas=args.replicas,
                postgres_url=args.postgres_url,
            )
        except FederationError as exc:
            print(f"healthcode federation: {exc}", file=sys.stderr)
            return EXIT_FAILED
        try:
            supervise(federation, stop)
        finally:
            federation.stop()
            federation.write_pids()
        return EXIT_OK
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _run_control(args: argparse.Namespace) -> int:
    """`federation stop|start NAME`: ask the running `up` on DIR and wait for its answer."""
    folder = args.dir.resolve() / CONTROL_DIR
    if not folder.is_dir():
        print(f"healthcode federation: no federation is running on {args.dir}", file=sys.stderr)
        return EXIT_FAILED
    name = f"{time.time_ns()}-{os.getpid()}"
    request = {
        "action": args.federation_command,
        "service": args.service,
        "clock": getattr(args, "clock_offset", 0) or 0,
    }
    temporary = folder / f"{name}.tmp"
    temporary.write_text(json.dumps(request))
    os.replace(temporary, folder / f"{name}.request.json")
    done = folder / f"{name}.done.json"
    deadline = time.monotonic() + CONTROL_TIMEOUT_S
    while time.monotonic() < deadline:
        if done.exists():
            answer = json.loads(done.read_text())
            done.unlink(missing_ok=True)
            print(answer["message"], file=sys.stdout if answer["ok"] else sys.stderr)
            return EXIT_OK if answer["ok"] else EXIT_FAILED
        time.sleep(0.2)
    print("healthcode federation: the running federation did not answer", file=sys.stderr)
    return EXIT_FAILED


def register(commands: Any) -> None:
    """Add `healthcode federation up|stop|start` (entry point `healthcode.commands`)."""
    federation = commands.add_parser("federation", help="run a demo federation locally")
    actions = federation.add_subparsers(dest="federation_command", required=True, metavar="ACTION")
    start = actions.add_parser("up", help="start registry, two provinces and a checkpoint")
    start.add_argument("--dir", type=Path, default=Path(".demo"), help="state directory")
    start.add_argument("--json", action="store_true", help="print one JSON line of URLs")
    start.add_argument(
        "--replicas",
        type=int,
        default=1,
        help="processes per province and checkpoint, behind HAProxy on PostgreSQL (default 1)",
    )
    start.add_argument(
        "--postgres-url",
        help="with --replicas: a PostgreSQL server to create the databases on "
        "(default: a cluster of the federation's own under DIR/postgres)",
    )
    start.set_defaults(handler=_run_up)
    names = "redis, registry, cn-sc, cn-gd or checkpoint"
    stop_one = actions.add_parser("stop", help="stop one service of the running federation")
    stop_one.add_argument("service", help=names)
    stop_one.add_argument("--dir", type=Path, default=Path(".demo"))
    stop_one.set_defaults(handler=_run_control)
    start_one = actions.add_parser("start", help="(re)start one service of the running federation")
    start_one.add_argument("service", help=names)
    start_one.add_argument("--dir", type=Path, default=Path(".demo"))
    start_one.add_argument(
        "--clock-offset",
        type=float,
        default=0,
        help="run it with its clock shifted by this many seconds (tests of §7.5 only)",
    )
    start_one.set_defaults(handler=_run_control)
