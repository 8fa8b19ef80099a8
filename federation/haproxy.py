"""HAProxy in front of a federation's replicas (`healthcode federation up --replicas N`).

One frontend per service on the port the service is known by (the trust list's endpoints,
the demo's printed URLs), one backend of its replicas. HAProxy checks each replica's
`/readyz` and takes a replica that fails it out of rotation; a request that could not
connect (a replica killed with `kill -9`) is sent again to another replica (`retries`,
`option redispatch`), so clients see no error when one replica dies.

HAProxy is Debian's package (`apt-get install haproxy`); it runs in the foreground (`-db`) as
one more child of the supervisor.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Frontend", "haproxy_command", "haproxy_config"]

#: Milliseconds between two health checks of one replica; two failures take it out of rotation.
CHECK_INTERVAL_MS = 1000
#: How long a replica's /readyz may take before the check counts as failed. A dead replica
#: refuses the connection at once, whatever this is; a busy one answers late, and taking every
#: busy replica out of rotation at a peak would turn slow answers into 503s for everyone.
CHECK_TIMEOUT_MS = 5000


@dataclass(frozen=True)
class Frontend:
    """A service as clients see it (`port`) and the replicas that serve it."""

    name: str
    port: int
    replica_ports: Sequence[int]
    check_path: str = "/readyz"
    #: A request header whose value picks the replica (hashed, consistent), so one client's
    #: requests meet in one process: the checkpoint pairs a device's code scan and ID-card
    #: read in memory (scan + tap, ADR 0014). None: the least busy replica.
    sticky_header: str | None = None


def haproxy_config(frontends: Sequence[Frontend], *, stats_port: int | None = None) -> str:
    """The haproxy.cfg text: loopback only, health-checked replicas, retries elsewhere."""
    lines = [
        "global",
        "    maxconn 4096",  # two file descriptors each: within a default ulimit
        "",
        "defaults",
        "    mode http",
        "    timeout connect 1s",
        "    timeout client 30s",
        "    timeout server 30s",
        "    timeout http-request 10s",
        "    timeout http-keep-alive 5s",
        f"    timeout check {CHECK_TIMEOUT_MS}ms",
        # A connection refused by a dead replica is tried on another one.
        "    retries 2",
        "    option redispatch",
        # Connections to the replicas are kept alive and shared between clients: a new TCP
        # connection (and a new protocol object in the replica) per request cost more CPU than
        # a cached citizen answer (docs/performance.md). "safe": a client's first request never
        # goes out on a reused connection. A kept-alive connection that a replica closed (it
        # died, or its idle timeout struck as the request left) answers nothing: a GET is then
        # sent again on a new connection; anything else is not (it may have been done).
        "    option http-keep-alive",
        "    http-reuse safe",
        "    retry-on conn-failure empty-response",
        "",
    ]
    if stats_port is not None:
        lines += [
            "frontend stats",
            f"    bind 127.0.0.1:{stats_port}",
            "    stats enable",
            "    stats uri /",
            "",
        ]
    for frontend in frontends:
        lines += [
            f"frontend {frontend.name}",
            f"    bind 127.0.0.1:{frontend.port}",
            # The replicas see the client's address, as behind any load balancer.
            "    option forwardfor",
            f"    default_backend {frontend.name}-replicas",
            "",
            f"backend {frontend.name}-replicas",
            *(
                [f"    balance hdr({frontend.sticky_header})", "    hash-type consistent"]
                if frontend.sticky_header
                else ["    balance leastconn"]
            ),
            "    http-request disable-l7-retry if !METH_GET",  # see retry-on above
            f"    option httpchk GET {frontend.check_path}",
            "    http-check expect status 200",
        ]
        lines += [
            f"    server {frontend.name}-{index} 127.0.0.1:{port} check "
            f"inter {CHECK_INTERVAL_MS} fall 2 rise 1"
            for index, port in enumerate(frontend.replica_ports, start=1)
        ]
        lines.append("")
    return "\n".join(lines)


def haproxy_command(config: Path, binary: str | None = None) -> list[str]:
    """The argv that runs HAProxy in the foreground on `config`; ValueError if not installed."""
    found = binary or shutil.which("haproxy") or "/usr/sbin/haproxy"
    if not Path(found).exists():
        raise ValueError(
            "haproxy is not installed (the replicas need a load balancer in front); install "
            "it, e.g. `apt-get install haproxy` (scripts/demo and scripts/test do)"
        )
    return [found, "-db", "-f", str(config)]
