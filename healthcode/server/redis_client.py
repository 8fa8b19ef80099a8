"""One way for every service to open Redis: a single server or a Redis Cluster, by URL.

- `redis://host:port/db` (or `rediss://`, `unix://`): one server, redis-py's `Redis`.
- `redis+cluster://host:port[,host:port...]` (or `rediss+cluster://`): a Redis Cluster through
  redis-py's `RedisCluster`; the hosts are start-up nodes, the client learns the rest. A cluster
  has only database 0, so a path naming another database is refused here instead of silently
  sharing keys with whatever used that number before.

Every key the services write is a single-key operation or names its keys with one hash tag
(`{...}`), so multi-key commands and scripts stay in one slot (`slot_tag`).

Failure: both clients raise `redis.RedisError` subclasses (a cluster adds `ClusterDownError`,
`SlotNotCoveredError`); callers already degrade on `redis.RedisError`, so one `except` covers
both. A cluster client tries a failed command again only once, after refreshing its slot map:
a master failing over must not hold a scan or a code request for many timeouts.
"""

from __future__ import annotations

from typing import TypeAlias
from urllib.parse import urlsplit

import redis
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.retry import Retry

__all__ = ["CLUSTER_SCHEMES", "RedisClient", "connect_redis", "is_cluster_url", "slot_tag"]

RedisClient: TypeAlias = "redis.Redis | RedisCluster"

CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}


def is_cluster_url(url: str) -> bool:
    """Whether `url` names a Redis Cluster (`redis+cluster://...`)."""
    return urlsplit(url).scheme in CLUSTER_SCHEMES


def slot_tag(name: str) -> str:
    """`{name}`: keys that share it share a cluster slot (Redis Cluster hash tags)."""
    if "{" in name or "}" in name:
        raise ValueError(f"a hash tag cannot hold braces (got {name!r})")
    return "{" + name + "}"


def connect_redis(
    url: str,
    *,
    timeout_s: float,
    connect_timeout_s: float | None = None,
    retries: int = 0,
) -> RedisClient:
    """A client for `url` with bounded waits: `timeout_s` per command, `retries` more tries
    after a connection error (none by default: callers degrade instead of waiting)."""
    connect = timeout_s if connect_timeout_s is None else connect_timeout_s
    parts = urlsplit(url)
    if parts.scheme not in CLUSTER_SCHEMES:
        return redis.Redis.from_url(
            url,
            socket_timeout=timeout_s,
            socket_connect_timeout=connect,
            retry=Retry(NoBackoff(), retries),
        )
    if parts.path not in ("", "/", "/0"):
        raise ValueError(
            f"a Redis Cluster has only database 0 (the URL names {parts.path!r}): drop the "
            "path and give each service its own key prefix instead"
        )
    nodes = [_node(address, url) for address in parts.netloc.rpartition("@")[2].split(",")]
    username, password = _credentials(parts.netloc)
    return RedisCluster(
        startup_nodes=nodes,
        username=username,
        password=password,
        ssl=CLUSTER_SCHEMES[parts.scheme] == "rediss",
        socket_timeout=timeout_s,
        socket_connect_timeout=connect,
        retry=Retry(NoBackoff(), max(1, retries)),
        require_full_coverage=False,  # keys on healthy masters keep working in a failover
    )


def _node(address: str, url: str) -> ClusterNode:
    host, _, port = address.strip().rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"each cluster node is host:port (got {address!r} in {url!r})")
    return ClusterNode(host.strip("[]"), int(port))  # type: ignore[no-untyped-call]


def _credentials(netloc: str) -> tuple[str | None, str | None]:
    userinfo, at, _ = netloc.rpartition("@")
    if not at:
        return None, None
    username, _, password = userinfo.partition(":")
    return (username or None), (password or None)
