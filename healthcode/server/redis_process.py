"""How the project starts a redis-server: one command line for the demo, scripts and tests.

Redis holds security state (partner-assertion jtis, published revocation sets, rate-limit
windows), so every Redis the project starts keeps an append-only file (AOF) with
`appendfsync everysec` (ADR 0020). Redis writes each command to the AOF before it answers, so a
`kill -9` of redis-server loses nothing acknowledged; a crash of the whole machine loses at most
the last one to two seconds (the fsync interval, and Redis's postponed fsync under a slow disk).
RDB snapshots stay off: the AOF is the one durable copy.
"""

from __future__ import annotations

import os

__all__ = ["redis_server_command"]


def redis_server_command(binary: str, port: int, directory: str | os.PathLike[str]) -> list[str]:
    """The argv of a loopback-only redis-server keeping its AOF under `directory`."""
    return [
        binary,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "yes",
        "--appendfsync",
        "everysec",
        "--dir",
        os.fspath(directory),
    ]
