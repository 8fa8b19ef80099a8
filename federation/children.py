"""One service process of the demo federation (`Child`), its ports and its health checks."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from healthcode.errors import PeerError
from healthcode.fetch import KIB, PeerClient, ReadBounds

HEALTH_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 10.0


class FederationError(Exception):
    """A service did not start or onboarding failed; the message names the log to read."""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_free(port: int) -> bool:
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
    #: Where this process answers /healthz when `url` is a load balancer in front of it.
    health_url: str | None = None
    #: Run as this user (PostgreSQL under a root supervisor); None: as ourselves.
    user: str | None = None

    def start(self, *, clock_offset_s: float = 0) -> None:
        """Start the process; a clock offset runs it under `federation.shifted_clock` (tests)."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        argv, env = self.argv, {**os.environ, **self.env}
        if clock_offset_s and argv[:2] == [sys.executable, "-m"]:
            argv = [sys.executable, "-m", "federation.shifted_clock", argv[2], *argv[3:]]
            env["HC_FEDERATION_CLOCK_OFFSET_S"] = str(clock_offset_s)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                argv, env=env, stdout=log, stderr=subprocess.STDOUT, user=self.user
            )

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
        url = self.health_url or self.url
        assert url is not None
        deadline = time.monotonic() + timeout
        with PeerClient(bounds=ReadBounds(64 * KIB, 2.0)) as http:
            while time.monotonic() < deadline:
                if not self.running():
                    raise FederationError(
                        f"{self.name} exited during start-up; log {self.log_path}:\n"
                        + self.log_tail()
                    )
                try:
                    if http.get(f"{url}/healthz").status_code == 200:
                        return
                except PeerError:
                    pass
                time.sleep(0.2)
        raise FederationError(f"{self.name} did not answer /healthz; log {self.log_path}")

    def replica(self, index: int, port: int, log_path: Path, env: dict[str, str]) -> Child:
        """Another process of the same service, on its own port, behind the same `url`."""
        return Child(
            f"{self.name}-{index}",
            self.argv,
            env,
            log_path,
            url=self.url,
            health_url=f"http://127.0.0.1:{port}",
        )


class Ports:
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
        if not port_free(port):
            raise FederationError(
                f"port {port} of {name} (kept in {self.path}) is in use; stop what uses "
                "it, or start a fresh federation with another --dir"
            )
        return port


def wait_redis(child: Child) -> None:
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


def wait_balancer(balancer: Child, timeout_s: float = 15.0) -> None:
    """Until HAProxy is up (it refuses a bad configuration or a port at once: say so)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not balancer.running():
            raise FederationError(f"HAProxy did not start:\n{balancer.log_tail()}")
        if balancer.process is not None and _listening(balancer):
            return
        time.sleep(0.1)
    raise FederationError(f"HAProxy did not start listening; log {balancer.log_path}")


def _listening(balancer: Child) -> bool:
    config = Path(balancer.argv[-1]).read_text(encoding="utf-8")
    port = int(config.split("bind 127.0.0.1:", 1)[1].split()[0])
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
        return True
    return False


def run_command(argv: list[str], env: dict[str, str], what: str) -> bytes:
    """Run one service command to its end (2 minutes at most); its stdout, or FederationError."""
    done = subprocess.run(
        argv, env={**os.environ, **env}, capture_output=True, check=False, timeout=120
    )
    if done.returncode != 0:
        raise FederationError(f"{what} failed: {done.stderr.decode(errors='replace')[-800:]}")
    return done.stdout


def healthcode_command(*args: str) -> list[str]:
    """The argv of `healthcode ARGS...` run by this interpreter (no PATH look-up)."""
    return [sys.executable, "-m", "healthcode.cli", *args]
