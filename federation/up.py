"""`up`: start every service of the demo federation in order and say where they are."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TextIO

from federation.children import FederationError, wait_redis
from federation.plan import Federation, demo_secrets, plan
from federation.setup import (
    CHECKPOINT_STAFF,
    demo_codes,
    demo_phone,
    migrate,
    onboard,
    prepare_checkpoint,
    seed,
)


def up(directory: Path, *, out: TextIO, as_json: bool) -> Federation:
    """Start everything and return the running federation (caller stops it)."""
    directory = directory.resolve()
    federation = plan(directory)
    admin_token = demo_secrets(directory)["registry_admin_token"]
    steps = 7

    def step(number: int, what: str) -> None:
        # Start-up takes tens of seconds on a small machine: say what is happening (stderr,
        # so `--json` keeps stdout to one line).
        print(f"[{number}/{steps}] {what}", file=sys.stderr, flush=True)

    try:
        step(1, "starting redis-server and the trust registry")
        if federation.redis is not None:
            federation.redis.start()
            wait_redis(federation.redis)
        federation.registry.start()
        federation.registry.wait_healthy()
        step(2, "migrating the provinces' databases")
        migrate(federation)
        step(3, "starting the provinces " + ", ".join(federation.provinces))
        for child in [*federation.printers.values(), *federation.provinces.values()]:
            child.start()
        for child in federation.provinces.values():
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
            for child in federation.provinces.values():
                child.stop()
                child.start()
            for child in federation.provinces.values():
                child.wait_healthy()
        step(5, "seeding demo citizens and accounts")
        seed(federation)
        step(6, "issuing demo codes")
        codes = demo_codes(federation)
        step(7, "starting the checkpoint")
        if federation.checkpoint is not None:
            prepare_checkpoint(federation, demo_secrets(directory)["checkpoint_staff_password"])
            federation.checkpoint.start()
            try:
                federation.checkpoint.wait_healthy()
            except FederationError as exc:
                print(f"checkpoint not started: {exc}", file=sys.stderr)
                federation.checkpoint.stop()
                federation.checkpoint = None
    except BaseException:
        federation.stop()
        raise
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
