"""Partner-assertion replay and rate limits on a real Redis Cluster: the admission script's
two keys share a slot (hash tag), and a master failing over fails closed, never open."""

from __future__ import annotations

import time

import pytest

from healthcode.errors import ErrorCode, HealthcodeError
from healthcode.server.partner.guard import RedisPartnerGuard
from tests.cluster import RedisClusterServers

NOW = time.time()


def test_replays_and_budgets_hold_on_a_cluster_and_a_failover_fails_closed(
    redis_cluster: RedisClusterServers,
) -> None:
    guard = RedisPartnerGuard(redis_cluster.url, callee="cn-sc", limit_per_minute=3)
    expires = int(NOW) + 60
    guard.admit(partner="cn-gd", jti="a" * 22, expires_at=expires, now=NOW)
    with pytest.raises(HealthcodeError) as replay:
        guard.admit(partner="cn-gd", jti="a" * 22, expires_at=expires, now=NOW)
    assert replay.value.code is ErrorCode.ASSERTION_REPLAYED
    guard.admit(partner="cn-gd", jti="b" * 22, expires_at=expires, now=NOW)
    guard.admit(partner="cn-gd", jti="c" * 22, expires_at=expires, now=NOW)
    with pytest.raises(HealthcodeError) as limited:
        guard.admit(partner="cn-gd", jti="d" * 22, expires_at=expires, now=NOW)
    assert limited.value.code is ErrorCode.RATE_LIMITED

    # The keys of this callee live on one master; it dies. Until its replica takes over, a
    # call is refused as unavailable: an unknown jti is never let through.
    redis_cluster.fail_master(redis_cluster.master_of("hc:partner:{cn-sc}:x"))
    outcomes = set()
    for attempt in range(3):
        try:
            guard.admit(partner="cn-xx", jti=f"{attempt}" * 22, expires_at=expires, now=NOW)
            outcomes.add("admitted")
        except HealthcodeError as refused:
            outcomes.add(refused.code.value)
    assert outcomes <= {"upstream_unavailable", "admitted"}
    redis_cluster.wait_until_healthy()
    retried = None
    for _ in range(3):  # the client refreshes its slot map after the first failed attempt
        try:
            guard.admit(partner="cn-hb", jti="e" * 22, expires_at=expires, now=NOW)
            retried = "admitted"
            break
        except HealthcodeError as refused:
            retried = refused.code.value
    assert retried == "admitted"
    guard.close()
