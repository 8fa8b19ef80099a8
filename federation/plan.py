"""Where each service of the demo federation runs and with which settings (`plan`).

Keys, the registry root and random demo secrets are created under DIR on the first `up` and
kept, so a second `up` on the same DIR finds the same data, accounts and ports.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from federation.children import Child, FederationError, Ports, healthcode_command, run_command
from federation.haproxy import Frontend, haproxy_command, haproxy_config
from federation.postgres import postgres_child
from healthcode.keys import SigningKey
from healthcode.server.redis_process import redis_server_command

PROVINCES = (("cn-sc", "四川省 Sichuan", "510000"), ("cn-gd", "广东省 Guangdong", "440000"))


def demo_secrets(directory: Path) -> dict[str, str]:
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
    #: `--replicas N`: the 2nd..Nth process of each province and of the checkpoint, by name
    extra_replicas: dict[str, list[Child]] = field(default_factory=dict)
    #: `--replicas N`: HAProxy in front of the replicas, and the PostgreSQL they share
    balancer: Child | None = None
    postgres: Child | None = None
    #: the PostgreSQL server the replicas share, and the databases to create on it
    postgres_url: str | None = None
    databases: list[str] = field(default_factory=list)

    def children(self) -> list[Child]:
        head = [c for c in (self.postgres, self.redis, self.registry, self.balancer) if c]
        tail = [self.checkpoint] if self.checkpoint is not None else []
        extras = [child for group in self.extra_replicas.values() for child in group]
        return [*head, *self.printers.values(), *self.provinces.values(), *tail, *extras]

    def replicas_of(self, name: str) -> list[Child]:
        """Every process of service `name` (the first and the extra replicas)."""
        first = self.checkpoint if name == "checkpoint" else self.provinces.get(name)
        return [c for c in (first, *self.extra_replicas.get(name, [])) if c is not None]

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
            "replicas": 1 + max((len(group) for group in self.extra_replicas.values()), default=0),
        }


def python(module: str) -> list[str]:
    return [sys.executable, "-m", module]


def plan(directory: Path, *, replicas: int = 1, postgres_url: str | None = None) -> Federation:
    """The federation's children, with their settings; creates what DIR does not hold yet.

    With `replicas` > 1 each province and the checkpoint run that many processes behind
    HAProxy (at the URL the service is known by), sharing a PostgreSQL database: the one at
    `postgres_url`, or a cluster of the federation's own under DIR/postgres."""
    if not 1 <= replicas <= 8:
        raise FederationError("--replicas must be from 1 to 8")
    redis_binary = shutil.which("redis-server")
    if redis_binary is None:
        # Without our own Redis every province would share whatever answers on the default
        # URL, database 0: replay protection, rate limits and revocations mixed up.
        raise FederationError(
            "redis-server is not installed (the provinces need their own Redis for replay "
            "protection, rate limits and published revocations); install it, e.g. "
            "`apt-get install redis-server` (scripts/demo does)"
        )
    values = demo_secrets(directory)
    ports = Ports(directory)
    root_dir = directory / "registry" / "root"
    if not (root_dir / "root-1.json").exists():
        # The registry's own command: nothing here imports a service (import contract).
        root_command = ("registry", "init-root", "--root-dir", str(root_dir))
        options = ("--keys", "3", "--threshold", "2")
        run_command(healthcode_command(*root_command, *options), {}, "creating the registry root")
    pinned_root = str(root_dir / "root-1.json")
    logs = directory / "logs"

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
        python("interop"),
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
    postgres = None
    databases = _Databases(None)
    if replicas > 1:
        if postgres_url is None:
            postgres = postgres_child(directory, ports.port("postgres"), logs / "postgres.log")
            postgres_url = postgres.url
        databases = _Databases(postgres_url)
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
            "HC_ISSUER_DATABASE_URL": databases.url(issuer_id, home / "issuer.db"),
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
            issuer_id, python("issuers"), env, logs / f"{issuer_id}.log", url=url
        )
    port = ports.port("checkpoint")
    checkpoint = Child(
        "checkpoint",
        python("verifiers"),
        {
            "HC_VERIFIER_DEMO_MODE": "true",
            "HC_VERIFIER_HOST": "127.0.0.1",
            "HC_VERIFIER_PORT": str(port),
            "HC_VERIFIER_DATABASE_URL": databases.url(
                "checkpoint", directory / "checkpoint" / "checkpoint.db"
            ),
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
    federation = Federation(directory, registry, provinces, checkpoint, redis, printers)
    if replicas > 1:
        federation.postgres = postgres
        federation.postgres_url = postgres_url
        federation.databases = databases.names
        _replicate(federation, replicas, ports, logs)
    return federation


@dataclass
class _Databases:
    """SQLite files by default; with a PostgreSQL server, one database per service."""

    base_url: str | None
    names: list[str] = field(default_factory=list)

    def url(self, service: str, sqlite_file: Path) -> str:
        if self.base_url is None:
            return f"sqlite:///{sqlite_file}"
        name = "hc_" + service.replace("-", "_")
        self.names.append(name)
        return self.base_url.rsplit("/", 1)[0] + "/" + name


def _replicate(federation: Federation, count: int, ports: Ports, logs: Path) -> None:
    """Move each province and the checkpoint behind HAProxy and add their replicas."""
    frontends = []
    services = [*federation.provinces.values()]
    services += [federation.checkpoint] if federation.checkpoint is not None else []
    for first in services:
        prefix = "HC_VERIFIER_" if first is federation.checkpoint else "HC_ISSUER_"
        front = int((first.url or "").rsplit(":", 1)[1])
        replica_ports = [ports.port(f"{first.name}-{index}") for index in range(1, count + 1)]
        first.env[f"{prefix}PORT"] = str(replica_ports[0])
        first.health_url = f"http://127.0.0.1:{replica_ports[0]}"
        extras = []
        for index, port in enumerate(replica_ports[1:], start=2):
            env = {**first.env, f"{prefix}PORT": str(port)}
            if prefix == "HC_VERIFIER_":  # each checkpoint process keeps its own journal
                state = Path(first.env["HC_VERIFIER_STATE_DIR"]).with_name(f"state-{index}")
                env["HC_VERIFIER_STATE_DIR"] = str(state)
            extras.append(first.replica(index, port, logs / f"{first.name}-{index}.log", env))
        federation.extra_replicas[first.name] = extras
        # A checkpoint device's requests all carry its session token: they meet in one replica.
        sticky = "authorization" if first is federation.checkpoint else None
        frontends.append(Frontend(first.name, front, replica_ports, sticky_header=sticky))
    config = federation.directory / "haproxy.cfg"
    config.write_text(haproxy_config(frontends), encoding="utf-8")
    federation.balancer = Child("balancer", haproxy_command(config), {}, logs / "haproxy.log")


def _printer(issuer_id: str, issuer_url: str, ports: Ports, home: Path, logs: Path) -> Child:
    """The province's print service: the citizen app's PDFs, forwarded by the issuer."""
    port = ports.port(f"print-{issuer_id}")
    env = {
        "HC_OFFLINE_ISSUER_URL": issuer_url,
        "HC_OFFLINE_HOST": "127.0.0.1",
        "HC_OFFLINE_PORT": str(port),
        "HC_OFFLINE_AUDIT_DATABASE_URL": f"sqlite:///{home / 'print-audit.db'}",
    }
    name = f"print-{issuer_id}"
    return Child(name, python("offline"), env, logs / f"{name}.log", url=f"http://127.0.0.1:{port}")
