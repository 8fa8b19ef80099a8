"""HAProxy in front of a federation's replicas (`healthcode federation up --replicas N`).

One frontend per service on the port the service is known by (the trust list's endpoints,
the demo's printed URLs). A province's requests are packed onto its first replica (the
replicas share this machine's cores; ADR 0025), reads on shared kept-alive connections and
writes each on a new connection of its own; the checkpoint's go by device. HAProxy checks
each replica's `/readyz`, and takes a replica out of rotation at its first refused
connection; a request that could not connect (a replica killed with `kill -9`) is sent to
another replica (`retries`, `option redispatch 1`). Only requests that had reached the dead
replica can fail.

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
#: A replica leaves the rotation on its first failed connection (refused, timed out), not after
#: two failed health checks (up to three seconds): packed, every request of those seconds
#: would go to the dead replica first. A live replica wrongly marked down is back after its
#: next passing check (`rise 1`, a second later).
FAIL_OVER = "observe layer4 error-limit 1 on-error mark-down"
#: Requests one province replica serves at once before the next replica takes the excess.
#: The federation's replicas share one machine's cores, so spreading a province's requests
#: over its replicas buys no CPU; it only leaves each process one request per event-loop
#: turn, paying its own Redis and database round trips and wake-ups. Packed onto the first
#: replica, a turn serves several requests with one write each way: the peak test went
#: from about 910 to about 1,480 requests/s on the project's 2-core VM (loadtest/README.md,
#: ADR 0025). A deployment with cores per replica spreads instead (deploy/haproxy.cfg).
FILL_FIRST_MAXCONN = 32
#: How long a request may wait for a replica when every replica is at FILL_FIRST_MAXCONN:
#: a surge is queued for a few seconds (a phone waits that long) before it is refused (503).
QUEUE_TIMEOUT_S = 5


@dataclass(frozen=True)
class Frontend:
    """A service as clients see it (`port`) and the replicas that serve it."""

    name: str
    port: int
    replica_ports: Sequence[int]
    check_path: str = "/readyz"
    #: A request header whose value picks the replica (hashed, consistent), so one client's
    #: requests meet in one process: the checkpoint pairs a device's code scan and ID-card
    #: read in memory (scan + tap, ADR 0014). None: the first replica with a free slot
    #: (FILL_FIRST_MAXCONN) serves.
    sticky_header: str | None = None

    @property
    def packed(self) -> bool:
        """Requests fill the first replica with a free slot (no sticky header)."""
        return self.sticky_header is None


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
        f"    timeout queue {QUEUE_TIMEOUT_S}s",
        f"    timeout check {CHECK_TIMEOUT_MS}ms",
        # A connection refused by a dead replica is tried again on another one, at every
        # retry (`redispatch 1`; the default waits for the last). The replica that refused is
        # out of rotation by then (FAIL_OVER below), so "another" is not the dead one again.
        "    retries 2",
        "    option redispatch 1",
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
        lines += _frontend(frontend)
    return "\n".join(lines)


def _frontend(frontend: Frontend) -> list[str]:
    """A service's frontend and its backends: one for reads (and, sticky, for everything),
    one for writes when requests are packed onto the first replica."""
    packed = frontend.packed
    lines = [
        f"frontend {frontend.name}",
        f"    bind 127.0.0.1:{frontend.port}",
        # The replicas see the client's address, as behind any load balancer.
        "    option forwardfor",
        *([f"    use_backend {frontend.name}-writes if !METH_GET"] if packed else []),
        f"    default_backend {frontend.name}-replicas",
        "",
        f"backend {frontend.name}-replicas",
        *(
            ["    balance first"]
            if packed
            else [f"    balance hdr({frontend.sticky_header})", "    hash-type consistent"]
        ),
        "    http-request disable-l7-retry if !METH_GET",  # see retry-on in the defaults
        *_replicas(frontend),
    ]
    if packed:
        # A write (anything but GET and HEAD) goes out on a new connection of its own,
        # closed after the answer. Kept alive, it could be written onto a connection whose
        # replica had just died, before HAProxy had seen it close: the write is then lost in
        # the kernel, and cannot be sent again (it may have been done). On a new connection a
        # dead replica refuses it before anything is sent, and it is safe to try the other
        # replica (ADR 0025). Writes are a small part of a province's traffic at a peak; the
        # reads that make most of it keep their shared kept-alive connections.
        lines += [
            "",
            f"backend {frontend.name}-writes",
            "    balance first",
            "    option http-server-close",
            "    retry-on conn-failure",
            *_replicas(frontend),
        ]
    return [*lines, ""]


def _replicas(frontend: Frontend) -> list[str]:
    """Health checks and the server lines of a backend of `frontend`'s replicas."""
    # A sticky backend places by hash; the slot limit is what fills replicas in order.
    limit = f" maxconn {FILL_FIRST_MAXCONN}" if frontend.packed else ""
    return [
        f"    option httpchk GET {frontend.check_path}",
        "    http-check expect status 200",
        *(
            f"    server {frontend.name}-{index} 127.0.0.1:{port} check "
            f"inter {CHECK_INTERVAL_MS} fall 2 rise 1 {FAIL_OVER}{limit}"
            for index, port in enumerate(frontend.replica_ports, start=1)
        ),
    ]


def haproxy_command(config: Path, binary: str | None = None) -> list[str]:
    """The argv that runs HAProxy in the foreground on `config`; ValueError if not installed."""
    found = binary or shutil.which("haproxy") or "/usr/sbin/haproxy"
    if not Path(found).exists():
        raise ValueError(
            "haproxy is not installed (the replicas need a load balancer in front); install "
            "it, e.g. `apt-get install haproxy` (scripts/demo and scripts/test do)"
        )
    return [found, "-db", "-f", str(config)]
