"""The issuer on a real Redis Cluster: revocations published and rebuilt there, and a master
failing over degrades publishing (queued in the database, retried) without failing a request."""

from __future__ import annotations

import time
from pathlib import Path

from healthcode.revocation import redis_key
from healthcode.server.redis_client import connect_redis
from tests.cluster import RedisClusterServers
from tests.issuers.conftest import citizen_number, make_settings, running_issuer

FEVER = {"kind": "health_declaration", "data": {"symptoms": ["fever"], "temperature_c": 38.5}}


def _eventually(check: object, timeout_s: float = 60.0) -> bool:
    """Poll `check()` until true (a generous deadline: this waits for an event, it does not
    measure speed)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return True
        time.sleep(0.2)
    return False


def test_revocations_are_published_to_the_cluster_and_survive_a_failover(
    tmp_path: Path, redis_cluster: RedisClusterServers
) -> None:
    client = connect_redis(redis_cluster.url, timeout_s=2.0)
    with running_issuer(make_settings(tmp_path, redis_cluster.url)) as svc:
        publisher = svc.context.publisher
        assert publisher is not None
        assert _eventually(lambda: publisher.healthy)  # the start-up rebuild ran on the cluster
        first, second = citizen_number(301), citizen_number(302)
        svc.register(first, "冯一")
        svc.register(second, "冯二")
        greens = {}
        for number in (first, second):
            headers = svc.citizen_headers(number)
            greens[number] = svc.http.get("/v1/me/code", headers=headers).json()["jti"]

        answer = svc.http.post(
            "/v1/me/declarations", json=FEVER, headers=svc.citizen_headers(first)
        )
        assert answer.status_code == 201, answer.text
        assert _eventually(lambda: client.sismember(redis_key("cn-sc"), greens[first]))

        # The master holding the issuer's set dies; a colour change still answers at once
        # (the revocation waits in the database) and reaches the promoted replica.
        redis_cluster.fail_master(redis_cluster.master_of(redis_key("cn-sc")))
        answer = svc.http.post(
            "/v1/me/declarations", json=FEVER, headers=svc.citizen_headers(second)
        )
        assert answer.status_code == 201, answer.text
        redis_cluster.wait_until_healthy()
        assert _eventually(lambda: publisher.flush(timeout_s=1.0) and publisher.healthy)
        fresh = connect_redis(redis_cluster.url, timeout_s=2.0)
        try:
            assert fresh.sismember(redis_key("cn-sc"), greens[second])
            assert fresh.sismember(redis_key("cn-sc"), greens[first])  # kept by the replica
        finally:
            fresh.close()
    client.close()
