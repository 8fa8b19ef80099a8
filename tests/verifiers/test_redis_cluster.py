"""The checkpoint's copy of published revocations read from a real Redis Cluster, through a
master failing over: the copy is kept while a slot has no master, and refreshed after."""

from __future__ import annotations

from healthcode.revocation import redis_key
from healthcode.server.redis_client import connect_redis
from tests.cluster import RedisClusterServers
from verifiers.published import PublishedRevocations

NOW = 1_800_000_000.0
ISSUERS = [f"cn-{suffix}" for suffix in ("sc", "gd", "bj", "sh", "zj", "js")]


def test_published_sets_on_every_master_are_copied_and_kept_through_a_failover(
    redis_cluster: RedisClusterServers,
) -> None:
    writer = connect_redis(redis_cluster.url, timeout_s=2.0)
    for issuer in ISSUERS:
        writer.sadd(redis_key(issuer), f"{issuer}-revoked-jti-0001")
    assert len({redis_cluster.master_of(redis_key(issuer)) for issuer in ISSUERS}) >= 2
    published = PublishedRevocations(connect_redis(redis_cluster.url, timeout_s=1.0))
    assert published.refresh(ISSUERS, now=NOW)
    assert all(published.is_revoked(i, f"{i}-revoked-jti-0001") for i in ISSUERS)

    redis_cluster.fail_master(redis_cluster.master_of(redis_key("cn-sc")))
    # While the slot has no master the refresh fails and the copy stays as it was.
    if not published.refresh(ISSUERS, now=NOW + 1):
        assert published.status.last_error
        assert published.is_revoked("cn-sc", "cn-sc-revoked-jti-0001")
    redis_cluster.wait_until_healthy()
    writer.close()
    writer = connect_redis(redis_cluster.url, timeout_s=2.0)
    writer.sadd(redis_key("cn-sc"), "cn-sc-revoked-jti-0002")
    refreshed = published.refresh(ISSUERS, now=NOW + 2) or published.refresh(ISSUERS, now=NOW + 3)
    assert refreshed, published.status
    assert published.is_revoked("cn-sc", "cn-sc-revoked-jti-0002")
    assert published.status.current
    published.close()
    writer.close()
