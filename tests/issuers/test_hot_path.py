"""The citizen hot path keeps its promises (ADR 0022): logouts hold at once on every replica,
a colour change is never answered with the old code, and Redis down means the database answers.

Two app instances share one database and one Redis, as two replicas behind a load balancer.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from healthcode.server.redis_client import connect_redis
from issuers.hotcache import HotCache
from issuers.lookup import local_status_credential
from tests.cluster import RedisClusterServers
from tests.issuers.conftest import IssuerService, citizen_number, make_settings, running_issuer
from tests.servers import RedisServer

FEVER = {"kind": "health_declaration", "data": {"symptoms": ["fever"], "temperature_c": 38.4}}


@contextlib.contextmanager
def two_replicas(
    tmp_path: Path, redis_url: str, database_url: str | None = None
) -> Iterator[tuple[IssuerService, IssuerService]]:
    overrides = {} if database_url is None else {"database_url": database_url}
    # A short retry interval: the worker rebuilds Redis state soon after an outage.
    settings = make_settings(tmp_path, redis_url, redis_retry_interval_s=0.2, **overrides)
    with running_issuer(settings) as first, running_issuer(settings) as second:
        yield first, second


def _cached(service: IssuerService, redis_url: str, id_number: str) -> bool:
    hot = service.context.hot
    assert hot is not None
    client = redis.Redis.from_url(redis_url)
    try:
        return bool(client.exists(hot.code_key(service.subject(id_number))))
    finally:
        client.close()


def _warm(service: IssuerService, headers: dict[str, str], redis_url: str, number: str) -> str:
    """Read the code until it is answered from the cache; returns its jti."""
    for _ in range(50):
        answer = service.http.get("/v1/me/code", headers=headers)
        assert answer.status_code == 200, answer.text
        if _cached(service, redis_url, number):
            jti: str = answer.json()["jti"]
            return jti
    raise AssertionError("the code never reached the cache")


@pytest.mark.parametrize("route", ["/v1/me/code", "/v1/me", "/v1/me/code.svg"])
def test_a_logout_on_one_replica_holds_at_once_on_the_other(
    tmp_path: Path, redis_url: str, database_url: str, route: str
) -> None:
    with two_replicas(tmp_path, redis_url, database_url) as (first, second):
        number = citizen_number(11)
        first.register(number, "张三")
        headers = first.citizen_headers(number)
        _warm(second, headers, redis_url, number)
        assert second.http.get(route, headers=headers).status_code == 200
        assert first.http.post("/v1/auth/logout", headers=headers).status_code == 204
        # No wait: the very next request on the other replica is refused.
        refused = second.http.get(route, headers=headers)
        assert refused.status_code == 401, refused.text
        assert refused.json()["error"] == "unauthenticated"
        assert first.http.get(route, headers=headers).status_code == 401


def test_a_colour_change_is_never_answered_with_the_old_code(
    tmp_path: Path, redis_url: str, database_url: str
) -> None:
    with two_replicas(tmp_path, redis_url, database_url) as (first, second):
        number = citizen_number(12)
        first.register(number, "李四")
        headers = first.citizen_headers(number)
        old_jti = _warm(second, headers, redis_url, number)
        assert second.http.get("/v1/me", headers=headers).json()["colour"] == "green"
        declared = first.http.post("/v1/me/declarations", json=FEVER, headers=headers)
        assert declared.status_code == 201, declared.text
        new_colour = declared.json()["colour"]
        assert new_colour != "green"
        for replica in (second, first):
            code = replica.http.get("/v1/me/code", headers=headers).json()
            assert code["status"] == new_colour
            assert code["jti"] != old_jti
            assert replica.http.get("/v1/me", headers=headers).json()["colour"] == new_colour


def test_a_checkpoint_look_up_leaves_the_phone_code_cached_and_a_change_still_drops_it(
    tmp_path: Path, redis_url: str
) -> None:
    """A look-up issues a short credential of its own: the citizen's phone code and profile
    are unchanged, so their cached answer stays (dropping it sent the phone's next requests
    to the database all at once). A colour change after it still drops the entry."""
    with two_replicas(tmp_path, redis_url) as (first, second):
        number = citizen_number(13)
        first.register(number, "王五")
        headers = first.citizen_headers(number)
        jti = _warm(second, headers, redis_url, number)
        token, _ = local_status_credential(
            first.context, number, "王五", actor="checkpoint:gate-1", purpose="checkpoint gate-1"
        )
        assert token.count(".") == 2
        assert _cached(second, redis_url, number)
        assert second.http.get("/v1/me/code", headers=headers).json()["jti"] == jti
        declared = first.http.post("/v1/me/declarations", json=FEVER, headers=headers)
        assert declared.status_code == 201, declared.text
        assert not _cached(second, redis_url, number)
        code = second.http.get("/v1/me/code", headers=headers).json()
        assert code["jti"] != jti
        assert code["status"] == declared.json()["colour"]


def test_a_fill_racing_a_change_is_not_stored(tmp_path: Path, redis_url: str) -> None:
    """A miss reads the database, a colour change commits and invalidates, then the miss's
    fill arrives: the fill must not store what it read before the change."""
    import asyncio

    settings = make_settings(tmp_path, redis_url)
    with running_issuer(settings) as service:
        hot = service.context.hot
        assert hot is not None
        hot.rebuild_sessions()

        async def race() -> tuple[bool, bool]:
            client = HotCache(
                redis_url, "cn-sc", service.context.engine, timeout_s=1.0, retry_interval_s=1.0
            )
            try:
                probe = await client.probe("some-session", "subject-a")
                assert probe is not None
                assert probe.entry is None
                client.invalidate({"subject-a"})  # the change commits meanwhile
                await client.fill("subject-a", probe, False, b'{"stale":true}', 600)
                after_stale = await client.probe("some-session", "subject-a")
                assert after_stale is not None
                await client.fill("subject-a", after_stale, False, b'{"fresh":true}', 600)
                after_fresh = await client.probe("some-session", "subject-a")
                assert after_fresh is not None
                return after_stale.entry is not None, after_fresh.entry == b'{"fresh":true}'
            finally:
                client.close()
                await client.aclose()

        stale_stored, fresh_stored = asyncio.run(race())
        assert not stale_stored
        assert fresh_stored


def test_redis_down_degrades_to_the_database_and_logouts_still_hold(tmp_path: Path) -> None:
    own_redis = RedisServer()
    try:
        with two_replicas(tmp_path, own_redis.url) as (first, second):
            number = citizen_number(13)
            first.register(number, "王五")
            headers = first.citizen_headers(number)
            jti = _warm(second, headers, own_redis.url, number)
            own_redis.stop()
            for replica in (first, second):
                answer = replica.http.get("/v1/me/code", headers=headers)
                assert answer.status_code == 200, answer.text
                assert answer.json()["jti"] == jti
                assert replica.http.get("/v1/me", headers=headers).status_code == 200
            # Logged out while Redis is down: the database says so on every replica...
            assert first.http.post("/v1/auth/logout", headers=headers).status_code == 204
            for replica in (first, second):
                assert replica.http.get("/v1/me/code", headers=headers).status_code == 401
            # ...and after Redis comes back empty, until its revoked-session set is rebuilt.
            own_redis = RedisServer(port=own_redis.port)
            for _ in range(200):
                for replica in (first, second):
                    assert replica.http.get("/v1/me/code", headers=headers).status_code == 401
                client = redis.Redis.from_url(own_redis.url)
                try:
                    marker = client.get("hc:cn-sc:session-revoked-ready")
                finally:
                    client.close()
                if marker is not None:
                    break
            else:
                raise AssertionError("the revoked-session set was never rebuilt")
            for replica in (first, second):
                assert replica.http.get("/v1/me/code", headers=headers).status_code == 401
    finally:
        own_redis.stop()


def test_the_hot_path_keeps_its_promises_on_a_redis_cluster(
    tmp_path: Path, redis_cluster: RedisClusterServers
) -> None:
    """Probe (keys in several slots), fenced fill (one hash tag) and invalidation on a real
    three-master cluster (ADR 0024): cached answers, a colour change, a logout."""
    with two_replicas(tmp_path, redis_cluster.url) as (first, second):
        number = citizen_number(14)
        first.register(number, "孙七")
        headers = first.citizen_headers(number)
        client = connect_redis(redis_cluster.url, timeout_s=2.0)
        hot = second.context.hot
        assert hot is not None
        code_key = hot.code_key(second.subject(number))
        for _ in range(50):
            old = second.http.get("/v1/me/code", headers=headers)
            assert old.status_code == 200, old.text
            if client.exists(code_key):
                break
        else:
            raise AssertionError("the code never reached the cluster's cache")
        declared = first.http.post("/v1/me/declarations", json=FEVER, headers=headers)
        assert declared.status_code == 201, declared.text
        code = second.http.get("/v1/me/code", headers=headers).json()
        assert code["status"] == declared.json()["colour"] != "green"
        assert code["jti"] != old.json()["jti"]
        assert first.http.post("/v1/auth/logout", headers=headers).status_code == 204
        assert second.http.get("/v1/me/code", headers=headers).status_code == 401
