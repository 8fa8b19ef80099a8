"""The checkpoint on a real Redis Cluster: its copy of published revocations through a master
failing over (kept while a slot has no master, refreshed after), and its ID-card look-up
cache (the answer and its age read back in one round trip)."""

from __future__ import annotations

import time

from healthcode import TrustStore
from healthcode.revocation import redis_key
from healthcode.server.redis_client import connect_redis
from tests.cluster import RedisClusterServers
from tests.verifiers.conftest import SC_RED, MakeSettings, start_checkpoint
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


def test_an_id_card_answer_is_cached_on_the_cluster_with_its_age(
    redis_cluster: RedisClusterServers, make_settings: MakeSettings, trust_store: TrustStore
) -> None:
    redis_cluster.wait_until_healthy()
    checkpoint = start_checkpoint(make_settings(redis_url=redis_cluster.url), trust_store)
    client = connect_redis(redis_cluster.url, timeout_s=2.0)
    try:
        body = {"id_number": SC_RED, "name": "王五"}
        first = checkpoint.post("/v1/id-card", json=body).json()
        assert (first["display"], first["cached"]) == ("red", False)
        [key] = list(client.scan_iter(match="hc:ckpt:lookup:*"))
        assert SC_RED not in str(key)
        # As if the answer had been fetched 20 s ago (60 s lifetime, 40 s left).
        aged_from = time.time()
        client.expire(key, 40)
        aged_by = time.time()
        again = checkpoint.post("/v1/id-card", json=body).json()
        assert (again["display"], again["cached"]) == ("red", True)
        # Its age, read with the answer, is the key's: about 20 s before the change.
        assert aged_from - 22 <= again["fetched_at"] <= aged_by - 19
    finally:
        client.close()
        checkpoint.server.stop()
