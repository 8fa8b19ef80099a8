"""`connect_redis`: one server or a Redis Cluster by URL, the same commands on both."""

from __future__ import annotations

import pytest
from redis.cluster import RedisCluster

from healthcode.server.redis_client import connect_redis, is_cluster_url, slot_tag
from tests.cluster import RedisClusterServers


def test_a_plain_url_opens_one_server(redis_url: str) -> None:
    client = connect_redis(redis_url, timeout_s=1.0)
    try:
        assert not isinstance(client, RedisCluster)
        client.set("hc:test:plain", "1")
        assert client.get("hc:test:plain") == b"1"
    finally:
        client.close()


def test_a_cluster_url_spreads_keys_over_the_masters(redis_cluster: RedisClusterServers) -> None:
    assert is_cluster_url(redis_cluster.url)
    client = connect_redis(redis_cluster.url, timeout_s=2.0)
    try:
        assert isinstance(client, RedisCluster)
        keys = [f"hc:test:spread:{index}" for index in range(60)]
        for key in keys:
            client.set(key, key)
        assert [client.get(key) for key in keys] == [key.encode() for key in keys]
        assert len({redis_cluster.master_of(key) for key in keys}) == 3
        # Keys with one hash tag share a slot: a multi-key command across them is allowed.
        tagged = [f"hc:test:{slot_tag('cn-sc')}:{name}" for name in ("a", "b")]
        client.sadd(tagged[0], "x")
        client.rename(tagged[0], tagged[1])
        assert client.smembers(tagged[1]) == {b"x"}
    finally:
        client.close()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("redis+cluster://127.0.0.1:7000/3", "only database 0"),
        ("redis+cluster://127.0.0.1", "host:port"),
        ("redis+cluster://127.0.0.1:7000,:x", "host:port"),
    ],
)
def test_a_cluster_url_that_cannot_work_is_refused(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        connect_redis(url, timeout_s=0.5)


def test_a_hash_tag_cannot_hold_braces() -> None:
    assert slot_tag("cn-sc") == "{cn-sc}"
    with pytest.raises(ValueError, match="braces"):
        slot_tag("a}b")
