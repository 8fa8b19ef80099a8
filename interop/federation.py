"""`healthcode federation up`: a whole demo federation on this machine, in the foreground.

It creates keys, the registry root and per-service settings under DIR (default ./.demo), then
starts as separate processes: a redis-server (when installed), the trust registry
(`python -m interop`), the provinces cn-sc (510000) and cn-gd (440000) (`python -m issuers`)
and a checkpoint (`python -m verifiers`). It onboards the provinces in the registry over its
admin API, seeds demo citizens with `healthcode issuer seed-demo`, waits until every service
answers /healthz, prints where they are, and stops its children on SIGINT/SIGTERM.

It supervises without cascading: a child that exits is reported on stderr and the others keep
running. `healthcode federation stop NAME` / `start NAME [--clock-offset S]` ask the running
`up` (through DIR/control/) to stop or start one service, e.g. to show that a checkpoint
keeps verifying from its disk cache while the registry is down. DIR/federation.json lists the
children's process ids.

Services are reached only over HTTP or their command lines: nothing here imports issuers/ or
verifiers/. Everything listens on 127.0.0.1 and runs in demo mode (one-time codes printed).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from healthcode.errors import PeerError
from healthcode.fetch import KIB, PEER_BOUNDS, PeerClient, ReadBounds
from healthcode.keys import SigningKey
from healthcode.server.redis_process import redis_server_command
from interop.registry.signing import init_root

__all__ = ["FederationError", "register", "up"]

PROVINCES = (("cn-sc", "四川省 Sichuan", "510000"), ("cn-gd", "广东省 Guangdong", "440000"))
HEALTH_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 10.0
#: The demo's calls to its own children (onboarding, logins, counter codes).
_DEMO_CALL = PEER_BOUNDS.service_call
EXIT_OK, EXIT_FAILED = 0, 1


class FederationError(Exception):
    """A service did not start or onboarding failed; the message names the log to read."""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_free(port: int) -> bool:
    # SO_REUSEADDR as the servers themselves bind: a port of a child stopped a moment ago (its
    # connections in TIME_WAIT) is free for them, so it must count as free here too.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@dataclass
class Child:
    """A service process with its log file."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    url: str | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self, *, clock_offset_s: float = 0) -> None:
        """Start the process; a clock offset runs it under `interop.shifted_clock` (tests)."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        argv, env = self.argv, {**os.environ, **self.env}
        if clock_offset_s and argv[:2] == [sys.executable, "-m"]:
            argv = [sys.executable, "-m", "interop.shifted_clock", argv[2], *argv[3:]]
            env["HC_FEDERATION_CLOCK_OFFSET_S"] = str(clock_offset_s)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after STOP_TIMEOUT_S; this process's own child only."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(STOP_TIMEOUT_S)

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def wait_healthy(self, timeout: float = HEALTH_TIMEOUT_S) -> None:
        """Poll GET /healthz until 200; fail early if the process exits."""
        assert self.url is not None
        deadline = time.monotonic() + timeout
        with PeerClient(bounds=ReadBounds(64 * KIB, 2.0)) as http:
            while time.monotonic() < deadline:
                if not self.running():
                    raise FederationError(
                        f"{self.name} exited during start-up; log {self.log_path}:\n"
                        + self.log_tail()
                    )
                try:
                    if http.get(f"{self.url}/healthz").status_code == 200:
                        return
                except PeerError:
                    pass
                time.sleep(0.2)
        raise FederationError(f"{self.name} did not answer /healthz; log {self.log_path}")


class _Ports:
    """Ports kept in DIR/ports.json: the registry lists the provinces' URLs, so a second
    `up` on the same DIR must serve them where the registry says they are."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / "ports.json"
        self.ports: dict[str, int] = json.loads(self.path.read_text()) if self.path.exists() else {}

    def port(self, name: str) -> int:
        if name not in self.ports:
            self.ports[name] = _free_port()
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(json.dumps(self.ports))
        port = self.ports[name]
        if not _port_free(port):
            raise FederationError(
                f"port {port} of {name} (kept in {self.path}) is in use; stop what uses "
                "it, or start a fresh federation with another --dir"
            )
        return port


def _secrets(directory: Path) -> dict[str, str]:
    """Random demo secrets, kept so a second `up` finds the same data and accounts."""
    path = directory / "secrets.json"
    if path.exists():
        stored: dict[str, str] = json.loads(path.read_text())
        return stored
    values = {
        "registry_admin_token": secrets.token_urlsafe(24),
        "checkpoint_staff_password": secrets.token_urlsafe(9),
    }
    for issuer_id, _, _ in PROVINCES:
        values[f"{issuer_id}_subject_secret"] = secrets.token_urlsafe(32)
        values[f"{issuer_id}_token_secret"] = secrets.token_urlsafe(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(values, handle)
    return values


@dataclass
class Federation:
    """The children of one `up`, in start order."""

    directory: Path
    registry: Child
    provinces: dict[str, Child]
    checkpoint: Child | None
    redis: Child | None
    #: the print service (`python -m offline`) of each province, for the citizen app (ADR 0012)
    printers: dict[str, Child] = field(default_factory=dict)

    def children(self) -> list[Child]:
        head = [c for c in (self.redis, self.registry) if c is not None]
        tail = [self.checkpoint] if self.checkpoint is not None else []
        return [*head, *self.printers.values(), *self.provinces.values(), *tail]

    def stop(self) -> None:
        for child in reversed(self.children()):
            child.stop()

    def child(self, name: str) -> Child | None:
        return next((c for c in self.children() if c.name == name), None)

    def write_pids(self) -> None:
        """DIR/federation.json: the process id of each running child (for ops and tests)."""
        pids = {c.name: c.process.pid for c in self.children() if c.running() and c.process}
        path = self.directory / "federation.json"
        path.write_text(json.dumps({"pid": os.getpid(), "children": pids}))

    def summary(self) -> dict[str, Any]:
        return {
            "registry": self.registry.url,
            "provinces": {name: child.url for name, child in self.provinces.items()},
            "checkpoint": self.checkpoint.url if self.checkpoint is not None else None,
            "citizen_app": {name: f"{child.url}/" for name, child in self.provinces.items()},
            "printers": {name: child.url for name, child in self.printers.items()},
        }


def _python(module: str) -> list[str]:
    return [sys.executable, "-m", module]


def _plan(directory: Path) -> Federation:
    values = _secrets(directory)
    ports = _Ports(directory)
    root_dir = directory / "registry" / "root"
    if not (root_dir / "root-1.json").exists():
        init_root(root_dir, key_count=3, threshold=2, now=datetime.now(UTC))
    pinned_root = str(root_dir / "root-1.json")
    logs = directory / "logs"

    redis_binary = shutil.which("redis-server")
    if redis_binary is None:
        # Without our own Redis every province would share whatever answers on the default
        # URL, database 0: replay protection, rate limits and revocations mixed up.
        raise FederationError(
            "redis-server is not installed (the provinces need their own Redis for replay "
            "protection, rate limits and published revocations); install it, e.g. "
            "`apt-get install redis-server` (scripts/demo does)"
        )
    port = ports.port("redis")
    (directory / "redis").mkdir(parents=True, exist_ok=True)
    redis = Child(
        "redis",
        redis_server_command(redis_binary, port, directory / "redis"),
        {},
        logs / "redis.log",
        url=f"redis://127.0.0.1:{port}",
    )

    port = ports.port("registry")
    registry = Child(
        "registry",
        _python("interop"),
        {
            "HC_INTEROP_DEMO_MODE": "true",
            "HC_INTEROP_HOST": "127.0.0.1",
            "HC_INTEROP_PORT": str(port),
            "HC_INTEROP_DATABASE_URL": f"sqlite:///{directory / 'registry' / 'registry.db'}",
            "HC_INTEROP_ROOT_KEYS_DIR": str(root_dir),
            "HC_INTEROP_ADMIN_TOKEN": values["registry_admin_token"],
        },
        logs / "registry.log",
        url=f"http://127.0.0.1:{port}",
    )
    provinces: dict[str, Child] = {}
    printers: dict[str, Child] = {}
    for index, (issuer_id, name, region) in enumerate(PROVINCES):
        home = directory / issuer_id
        partner_key = home / "partner-key.pem"
        if not partner_key.exists():
            SigningKey.generate().save(partner_key)
        port = ports.port(issuer_id)
        url = f"http://127.0.0.1:{port}"
        env = {
            "HC_ISSUER_DEMO_MODE": "true",
            "HC_ISSUER_ISSUER_ID": issuer_id,
            "HC_ISSUER_ISSUER_NAME": name,
            "HC_ISSUER_REGION": region,
            "HC_ISSUER_HOST": "127.0.0.1",
            "HC_ISSUER_PORT": str(port),
            "HC_ISSUER_PUBLIC_URL": url,
            "HC_ISSUER_DATABASE_URL": f"sqlite:///{home / 'issuer.db'}",
            "HC_ISSUER_KEY_DIR": str(home / "keys"),
            "HC_ISSUER_REGISTRY_URL": registry.url or "",
            "HC_ISSUER_PINNED_ROOT": pinned_root,
            "HC_ISSUER_TRUST_CACHE_DIR": str(home / "trust-cache"),
            "HC_ISSUER_PARTNER_KEY_FILE": str(partner_key),
            "HC_ISSUER_SUBJECT_SECRET": values[f"{issuer_id}_subject_secret"],
            "HC_ISSUER_TOKEN_SECRET": values[f"{issuer_id}_token_secret"],
        }
        env["HC_ISSUER_REDIS_URL"] = f"{redis.url}/{index}"  # one database per province
        printers[issuer_id] = _printer(issuer_id, url, ports, home, logs)
        env["HC_ISSUER_PRINT_URL"] = printers[issuer_id].url or ""
        provinces[issuer_id] = Child(
            issuer_id, _python("issuers"), env, logs / f"{issuer_id}.log", url=url
        )
    port = ports.port("checkpoint")
    checkpoint = Child(
        "checkpoint",
        _python("verifiers"),
        {
            "HC_VERIFIER_DEMO_MODE": "true",
            "HC_VERIFIER_HOST": "127.0.0.1",
            "HC_VERIFIER_PORT": str(port),
            "HC_VERIFIER_DATABASE_URL": f"sqlite:///{directory / 'checkpoint' / 'checkpoint.db'}",
            "HC_VERIFIER_STATE_DIR": str(directory / "checkpoint" / "state"),
            "HC_VERIFIER_REGISTRY_URL": registry.url or "",
            "HC_VERIFIER_PINNED_ROOT": pinned_root,
            "HC_VERIFIER_ISSUER_URL": provinces["cn-sc"].url or "",
            # The ID-card answer cache (§10.7) in a database of its own, and the revocations
            # its province publishes (ADR 0006: they may only add revocations).
            "HC_VERIFIER_REDIS_URL": f"{redis.url}/{len(PROVINCES)}",
            "HC_VERIFIER_REVOCATION_REDIS_URL": f"{redis.url}/0",
        },
        logs / "checkpoint.log",
        url=f"http://127.0.0.1:{port}",
    )
    (directory / "checkpoint").mkdir(parents=True, exist_ok=True)
    return Federation(directory, registry, provinces, checkpoint, redis, printers)


def _printer(issuer_id: str, issuer_url: str, ports: _Ports, home: Path, logs: Path) -> Child:
    """The province's print service: the citizen app's PDFs, forwarded by the issuer."""
    port = ports.port(f"print-{issuer_id}")
    env = {
        "HC_OFFLINE_ISSUER_URL": issuer_url,
        "HC_OFFLINE_HOST": "127.0.0.1",
        "HC_OFFLINE_PORT": str(port),
        "HC_OFFLINE_AUDIT_DATABASE_URL": f"sqlite:///{home / 'print-audit.db'}",
    }
    name = f"print-{issuer_id}"
    return Child(
        name, _python("offline"), env, logs / f"{name}.log", url=f"http://127.0.0.1:{port}"
    )


def _demo_phone(directory: Path, issuer_id: str) -> str | None:
    """A seeded citizen's phone with a green code, for a newcomer to log in with."""
    path = directory / issuer_id / "demo-logins.json"
    try:
        citizens = json.loads(path.read_text())["citizens"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    phones = [
        c.get("phone") for c in citizens if isinstance(c, dict) and c.get("colour") == "green"
    ]
    return next((p for p in phones if isinstance(p, str) and p), None)


def _wait_redis(child: Child) -> None:
    assert child.url is not None
    port = int(child.url.rsplit(":", 1)[1])
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), 0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise FederationError(f"redis-server did not start; log {child.log_path}")


def _onboard(federation: Federation, admin_token: str) -> bool:
    """Register every province with its current JWKS; True if anything was added."""
    added = False
    headers = {"Authorization": f"Bearer {admin_token}"}
    with PeerClient(bounds=_DEMO_CALL) as http:
        for issuer_id, name, region in PROVINCES:
            child = federation.provinces[issuer_id]
            jwks = http.get(f"{child.url}/.well-known/jwks.json").json()
            partner = SigningKey.load(federation.directory / issuer_id / "partner-key.pem")
            body = {
                "id": issuer_id,
                "name": name,
                "region": region,
                "profile": "hc",
                "endpoints": {
                    "partner_api": f"{child.url}/partner/v1",
                    "jwks": f"{child.url}/.well-known/jwks.json",
                    # The public, unauthenticated list (jtis only) that checkpoints poll.
                    "revocations": f"{child.url}/v1/revocations",
                },
                "jwks": jwks,
                "partner_keys": [partner.verifying_key.to_jwk()],
            }
            answer = http.post(
                f"{federation.registry.url}/v1/admin/issuers", json=body, headers=headers
            )
            if answer.status_code == 201:
                added = True
            elif answer.status_code != 409:  # 409: onboarded by an earlier `up`
                raise FederationError(f"onboarding {issuer_id} failed: {answer.text}")
    return added


def _migrate(federation: Federation) -> None:
    """`python -m issuers migrate`: each province's schema before its first start."""
    for issuer_id, child in federation.provinces.items():
        done = subprocess.run(
            [*_python("issuers"), "migrate"],
            env={**os.environ, **child.env},
            capture_output=True,
            check=False,
            timeout=120,
        )
        if done.returncode != 0:
            raise FederationError(
                f"migrating {issuer_id} failed: {done.stderr.decode(errors='replace')[-800:]}"
            )


def _seed(federation: Federation) -> None:
    """`healthcode issuer seed-demo --json` once per province; logins kept in DIR/<id>/."""
    for issuer_id, child in federation.provinces.items():
        target = federation.directory / issuer_id / "demo-logins.json"
        if target.exists():
            continue
        done = subprocess.run(
            [sys.executable, "-m", "healthcode.cli", "issuer", "seed-demo", "--json"],
            env={**os.environ, **child.env},
            capture_output=True,
            check=False,
            timeout=120,
        )
        if done.returncode != 0:
            raise FederationError(
                f"seeding {issuer_id} failed: {done.stderr.decode(errors='replace')[-800:]}"
            )
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(done.stdout)


CHECKPOINT_STAFF = "staff"


def _login(http: PeerClient, url: str, username: str, password: str) -> dict[str, str]:
    answer = http.post(f"{url}/v1/auth/login", json={"username": username, "password": password})
    if answer.status_code != 200:
        raise FederationError(f"logging in as {username} at {url} failed: {answer.text}")
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def _logins(federation: Federation, issuer_id: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (federation.directory / issuer_id / "demo-logins.json").read_text()
    )
    return data


def _account(logins: Mapping[str, Any], role: str) -> Mapping[str, str]:
    for account in logins["accounts"]:
        if account["role"] == role:
            found: Mapping[str, str] = account
            return found
    raise FederationError(f"the seeded province has no {role} account")


def _demo_codes(federation: Federation) -> list[Path]:
    """A current code of every seeded citizen as PNG + hc:/ text, fetched at the counter.

    Uses the issuer's counter endpoint over HTTP (a walk-in citizen's printable code), so the
    newcomer has real codes of each colour to scan on screen within a minute.
    """
    from healthcode.qr import render_png

    target = federation.directory / "codes"
    target.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with PeerClient(bounds=_DEMO_CALL) as http:
        for issuer_id, child in federation.provinces.items():
            logins = _logins(federation, issuer_id)
            counter = _account(logins, "counter_staff")
            headers = _login(http, child.url or "", counter["username"], counter["password"])
            for index, citizen in enumerate(logins["citizens"], start=1):
                answer = http.post(
                    f"{child.url}/v1/counter/offline-code",
                    json={"id_number": citizen["id_number"], "name": citizen["name"]},
                    headers=headers,
                )
                if answer.status_code != 200:
                    raise FederationError(f"demo code for {issuer_id} failed: {answer.text}")
                code = answer.json()
                stem = target / f"{issuer_id}-{index}-{code['status']}"
                stem.with_suffix(".png").write_bytes(render_png(code["qr_text"], scale=6))
                stem.with_suffix(".txt").write_text(code["qr_text"] + "\n")
                written.append(stem.with_suffix(".png"))
    return written


def _prepare_checkpoint(federation: Federation, staff_password: str) -> None:
    """Give the checkpoint its device account at cn-sc and a staff login for the page."""
    assert federation.checkpoint is not None
    device = _account(_logins(federation, "cn-sc"), "checkpoint")
    federation.checkpoint.env["HC_VERIFIER_ISSUER_USERNAME"] = device["username"]
    federation.checkpoint.env["HC_VERIFIER_ISSUER_PASSWORD"] = device["password"]
    marker = federation.directory / "checkpoint" / "staff-created"
    if marker.exists():
        return
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "healthcode.cli",
            "checkpoint",
            "add-user",
            CHECKPOINT_STAFF,
            "--role",
            "staff",
            "--password-env",
            "HC_DEMO_STAFF_PASSWORD",
        ],
        env={**os.environ, **federation.checkpoint.env, "HC_DEMO_STAFF_PASSWORD": staff_password},
        capture_output=True,
        check=False,
        timeout=120,
    )
    if done.returncode != 0:
        raise FederationError(
            f"creating the checkpoint staff login failed: "
            f"{done.stderr.decode(errors='replace')[-800:]}"
        )
    marker.write_text("created\n")


def up(directory: Path, *, out: TextIO, as_json: bool) -> Federation:
    """Start everything and return the running federation (caller stops it)."""
    directory = directory.resolve()
    federation = _plan(directory)
    admin_token = _secrets(directory)["registry_admin_token"]
    steps = 7

    def step(number: int, what: str) -> None:
        # Start-up takes tens of seconds on a small machine: say what is happening (stderr,
        # so `--json` keeps stdout to one line).
        print(f"[{number}/{steps}] {what}", file=sys.stderr, flush=True)

    try:
        step(1, "starting redis-server and the trust registry")
        if federation.redis is not None:
            federation.redis.start()
            _wait_redis(federation.redis)
        federation.registry.start()
        federation.registry.wait_healthy()
        step(2, "migrating the provinces' databases")
        _migrate(federation)
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
        if _onboard(federation, admin_token):
            # The provinces fetched the trust list at start-up, before they were listed;
            # a restart makes them pick up the list now instead of at the next refresh.
            for child in federation.provinces.values():
                child.stop()
                child.start()
            for child in federation.provinces.values():
                child.wait_healthy()
        step(5, "seeding demo citizens and accounts")
        _seed(federation)
        step(6, "issuing demo codes")
        codes = _demo_codes(federation)
        step(7, "starting the checkpoint")
        if federation.checkpoint is not None:
            _prepare_checkpoint(federation, _secrets(directory)["checkpoint_staff_password"])
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
                f"password {_secrets(directory)['checkpoint_staff_password']})",
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
        phone = _demo_phone(directory, "cn-sc")
        print(
            f"citizen app {summary['citizen_app']['cn-sc']}  (log in with demo phone {phone}; "
            "in demo mode the one-time code is shown on the login screen)",
            file=out,
        )
        print(f"checkpoint  {summary['checkpoint'] or '(not started)'}", file=out)
        print(f"logs        {directory / 'logs'}; Ctrl-C stops everything", file=out, flush=True)
    return federation


CONTROL_DIR = "control"
CONTROL_TIMEOUT_S = 150.0


def _start_child(federation: Federation, child: Child, *, clock_offset_s: float = 0) -> None:
    child.start(clock_offset_s=clock_offset_s)
    if child is federation.redis:
        _wait_redis(child)
    else:
        child.wait_healthy()


def _serve_control(federation: Federation, stopped: set[str]) -> None:
    """Carry out stop/start requests left in DIR/control/ by `federation stop|start`."""
    folder = federation.directory / CONTROL_DIR
    for request_path in sorted(folder.glob("*.request.json")):
        done_path = request_path.with_name(request_path.name.replace(".request", ".done"))
        try:
            request = json.loads(request_path.read_text())
            child = federation.child(str(request["service"]))
            if child is None:
                raise FederationError(f"no service {request['service']!r} in this federation")
            if request["action"] == "stop":
                child.stop()
                stopped.add(child.name)
                message = f"{child.name} stopped"
            elif request["action"] == "start":
                if child.running():
                    child.stop()
                _start_child(federation, child, clock_offset_s=float(request.get("clock", 0)))
                stopped.discard(child.name)
                message = f"{child.name} started at {child.url or '-'}"
            else:
                raise FederationError(f"unknown action {request['action']!r}")
            answer = {"ok": True, "message": message}
        except (FederationError, KeyError, ValueError, TypeError) as exc:
            answer = {"ok": False, "message": str(exc)}
        request_path.unlink(missing_ok=True)
        done_path.write_text(json.dumps(answer))
        print(f"healthcode federation: {answer['message']}", file=sys.stderr, flush=True)
        federation.write_pids()


def _supervise(federation: Federation, stop: threading.Event) -> None:
    """Until `stop`: report children that exit (once each) and keep the others running."""
    stopped: set[str] = set()  # stopped on request: not reported as crashed
    reported: set[str] = set()
    (federation.directory / CONTROL_DIR).mkdir(parents=True, exist_ok=True)
    federation.write_pids()
    while not stop.wait(0.5):
        _serve_control(federation, stopped)
        for child in federation.children():
            if child.name in stopped or child.running():
                reported.discard(child.name)
                continue
            if child.name not in reported:
                reported.add(child.name)
                code = child.process.returncode if child.process else None
                print(
                    f"healthcode federation: {child.name} exited (status {code}); the others "
                    f"keep running. Log: {child.log_path}; restart it with `healthcode "
                    f"federation start {child.name} --dir {federation.directory}`",
                    file=sys.stderr,
                    flush=True,
                )
                federation.write_pids()


def _run_up(args: argparse.Namespace) -> int:
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    previous: Mapping[int, Any] = {
        sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        try:
            federation = up(args.dir, out=sys.stdout, as_json=args.json)
        except FederationError as exc:
            print(f"healthcode federation: {exc}", file=sys.stderr)
            return EXIT_FAILED
        try:
            _supervise(federation, stop)
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
