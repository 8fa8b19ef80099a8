"""`up`: start every service of the demo federation in order and say where they are."""

from __future__ import annotations

import contextlib
import json
import sys
import time
from pathlib import Path
from typing import TextIO

from federation.children import FederationError, wait_balancer, wait_redis
from federation.plan import Federation, demo_secrets, plan
from federation.postgres import create_databases, wait_postgres
from federation.setup import (
    CHECKPOINT_STAFF,
    demo_codes,
    demo_phone,
    migrate,
    onboard,
    prepare_checkpoint,
    seed,
)
from healthcode.errors import PeerError
from healthcode.fetch import KIB, PeerClient, ReadBounds


def up(
    directory: Path,
    *,
    out: TextIO,
    as_json: bool,
    replicas: int = 1,
    postgres_url: str | None = None,
) -> Federation:
    """Start everything and return the running federation (caller stops it). With
    `replicas` > 1, each province and the checkpoint run that many processes behind HAProxy
    on a shared PostgreSQL (ADR 0025)."""
    directory = directory.resolve()
    federation = plan(directory, replicas=replicas, postgres_url=postgres_url)
    admin_token = demo_secrets(directory)["registry_admin_token"]
    steps = 7

    def step(number: int, what: str) -> None:
        # Start-up takes tens of seconds on a small machine: say what is happening (stderr,
        # so `--json` keeps stdout to one line).
        print(f"[{number}/{steps}] {what}", file=sys.stderr, flush=True)

    try:
        step(1, "starting redis-server and the trust registry")
        if federation.postgres is not None:
            federation.postgres.start()
            wait_postgres(federation.postgres_url or "")
        if federation.postgres_url is not None:
            create_databases(federation.postgres_url, federation.databases)
        if federation.balancer is not None:
            federation.balancer.start()
            wait_balancer(federation.balancer)
        if federation.redis is not None:
            federation.redis.start()
            wait_redis(federation.redis)
        federation.registry.start()
        federation.registry.wait_healthy()
        step(2, "migrating the provinces' databases")
        migrate(federation)
        step(3, "starting the provinces " + ", ".join(federation.provinces))
        replicas_of = [c for name in federation.provinces for c in federation.replicas_of(name)]
        for child in [*federation.printers.values(), *replicas_of]:
            child.start()
        for child in replicas_of:
            child.wait_healthy()
        for child in federation.printers.values():
            try:  # without it only printing is missing: the demo goes on
                child.wait_healthy()
            except FederationError as exc:
                print(f"print service not started: {exc}", file=sys.stderr)
        step(4, "onboarding the provinces in the registry")
        if onboard(federation, admin_token):
            # The provinces fetched the trust list at start-up, before they were listed;
            # a restart makes them pick up the list now instead of at the next refresh.
            for child in replicas_of:
                child.stop()
                child.start()
            for child in replicas_of:
                child.wait_healthy()
        if federation.balancer is not None:
            for child in federation.provinces.values():
                wait_ready(child.url or "")
        step(5, "seeding demo citizens and accounts")
        seed(federation)
        step(6, "issuing demo codes")
        codes = demo_codes(federation)
        step(7, "starting the checkpoint")
        if federation.checkpoint is not None:
            prepare_checkpoint(federation, demo_secrets(directory)["checkpoint_staff_password"])
            # One after the other: the first creates the scan log's tables.
            for child in federation.replicas_of("checkpoint"):
                child.env.update(
                    {k: v for k, v in federation.checkpoint.env.items() if "ISSUER_" in k}
                )
            try:
                for child in federation.replicas_of("checkpoint"):
                    child.start()
                    child.wait_healthy()
                if federation.balancer is not None:
                    wait_ready(federation.checkpoint.url or "")
            except FederationError as exc:
                print(f"checkpoint not started: {exc}", file=sys.stderr)
                for child in federation.replicas_of("checkpoint"):
                    child.stop()
                federation.checkpoint = None
                federation.extra_replicas.pop("checkpoint", None)
    except BaseException:
        federation.stop()
        raise
    # DIR/federation.json lists every child before anyone is told the federation is up.
    federation.write_pids()
    summary = federation.summary()
    if as_json:
        print(json.dumps(summary), file=out, flush=True)
    else:
        if federation.checkpoint is not None:
            print(
                f"staff page  {federation.checkpoint.url}/  (log in as {CHECKPOINT_STAFF} with "
                f"password {demo_secrets(directory)['checkpoint_staff_password']})",
                file=out,
            )
        for path in codes:
            print(
                f"code        {path}  (open it on screen and scan it, or paste the .txt)", file=out
            )
        print(
            f"registry    {summary['registry']}  (admin token in {directory}/secrets.json)",
            file=out,
        )
        for name, url in summary["provinces"].items():
            print(
                f"province    {name}  {url}  (demo logins: {directory / name}/demo-logins.json)",
                file=out,
            )
        phone = demo_phone(directory, "cn-sc")
        print(
            f"citizen app {summary['citizen_app']['cn-sc']}  (log in with demo phone {phone}; "
            "in demo mode the one-time code is shown on the login screen)",
            file=out,
        )
        print(f"checkpoint  {summary['checkpoint'] or '(not started)'}", file=out)
        print(f"logs        {directory / 'logs'}; Ctrl-C stops everything", file=out, flush=True)
    return federation


def wait_ready(front_url: str, timeout_s: float = 90.0) -> None:
    """Until the balancer passes `/readyz` on to a ready replica (it checks every second)."""
    deadline = time.monotonic() + timeout_s
    with PeerClient(bounds=ReadBounds(64 * KIB, 2.0)) as http:
        while time.monotonic() < deadline:
            with contextlib.suppress(PeerError):
                if http.get(f"{front_url}/readyz").status_code == 200:
                    return
            time.sleep(0.2)
    raise FederationError(f"no replica behind {front_url} became ready; see DIR/logs/")
