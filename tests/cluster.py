"""A real Redis Cluster on loopback for tests: three masters, each with one replica.

Six redis-server processes with `--cluster-enabled yes` (AOF on, as everywhere the project
starts Redis), joined by `redis-cli --cluster create`. `fail_master()` kills one master with
SIGKILL so its replica is promoted, as a real failover goes.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import redis
from redis.cluster import RedisCluster

from tests.servers import free_port, redis_command, wait_for_port

MASTERS = 3
NODE_TIMEOUT_MS = 1500


class RedisClusterServers:
    """Three masters and three replicas, started and joined; `url` for `connect_redis`."""

    def __init__(self) -> None:
        self._processes: dict[int, subprocess.Popen[bytes]] = {}
        self.root = Path(tempfile.mkdtemp(prefix="hc-redis-cluster-"))
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        binary, cli = shutil.which("redis-server"), shutil.which("redis-cli")
        if binary is None or cli is None:
            raise RuntimeError(
                "redis-server/redis-cli are not installed; scripts/test installs them"
            )
        self.root = Path(tempfile.mkdtemp(prefix="hc-redis-cluster-"))
        self.ports = [free_port() for _ in range(MASTERS * 2)]
        # The cluster bus defaults to port + 10000, which a high free port overflows.
        bus_ports = [free_port() for _ in self.ports]
        for port, bus_port in zip(self.ports, bus_ports, strict=True):
            directory = self.root / str(port)
            directory.mkdir()
            self._processes[port] = subprocess.Popen(
                [
                    *redis_command(binary, port, directory),
                    *("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"),
                    *("--cluster-node-timeout", str(NODE_TIMEOUT_MS)),
                    *("--cluster-port", str(bus_port)),
                    # A replica may take over however long it was cut off (tests kill
                    # masters soon after start-up, before a replica's link is old).
                    *("--cluster-replica-validity-factor", "0"),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        for port in self.ports:
            wait_for_port(port)
        subprocess.run(
            [
                *(cli, "--cluster", "create", *(f"127.0.0.1:{p}" for p in self.ports)),
                *("--cluster-replicas", "1", "--cluster-yes"),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        self.wait_until_healthy()

    @property
    def url(self) -> str:
        """Two start-up nodes, as a deployment would give them."""
        return f"redis+cluster://127.0.0.1:{self.ports[0]},127.0.0.1:{self.ports[1]}"

    def _live_ports(self) -> list[int]:
        return [port for port, process in self._processes.items() if process.poll() is None]

    def _info(self, port: int) -> dict[str, str]:
        with contextlib.closing(redis.Redis(port=port, socket_timeout=2)) as client:
            info = client.cluster("INFO")
        return {str(key): str(value) for key, value in dict(info).items()}

    def _owners(self, port: int) -> set[int]:
        """The ports that node `port` believes serve slots as masters."""
        with contextlib.closing(redis.Redis(port=port, socket_timeout=2)) as client:
            slots = client.execute_command("CLUSTER SLOTS")
        return {int(entry[2][1]) for entry in slots}

    def wait_until_healthy(self, timeout_s: float = 90.0) -> None:
        """Until every live node reports `cluster_state:ok` with all 16384 slots served by
        masters that are alive (after a kill, until a replica has taken over)."""
        deadline = time.monotonic() + timeout_s
        while True:
            states = []
            live = set(self._live_ports())
            for port in live:
                with contextlib.suppress(redis.RedisError):
                    info = self._info(port)
                    states.append(
                        info.get("cluster_state") == "ok"
                        and info.get("cluster_slots_ok") == "16384"
                        and self._owners(port) <= live
                    )
            if states and all(states):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"the cluster is not healthy after {timeout_s} s")
            time.sleep(0.2)

    def master_of(self, key: str) -> int:
        """The port of the master that serves `key`'s slot now."""
        client = RedisCluster(host="127.0.0.1", port=self._live_ports()[0])
        try:
            node = client.get_node_from_key(key)
            return int(node.port)
        finally:
            client.close()

    def fail_master(self, port: int) -> None:
        """SIGKILL one master; its replica takes over after the node timeout."""
        process = self._processes[port]
        process.send_signal(signal.SIGKILL)
        process.wait(10)

    def stop(self) -> None:
        for process in self._processes.values():
            if process.poll() is None:
                process.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(10)
            if process.poll() is None:
                process.kill()
                process.wait()
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def redis_cluster() -> Iterator[RedisClusterServers]:
    cluster = RedisClusterServers()
    try:
        yield cluster
    finally:
        cluster.stop()
