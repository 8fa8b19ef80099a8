"""PipelinedRedis against a real redis-server: the commands of one loop turn go out in one write,
each caller gets its own replies, an error reply is its caller's alone, and a Redis that goes
away fails whoever waits and is reconnected to once it is back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
import redis

from healthcode.server.fastredis import PipelinedRedis, RedisUnavailable, Reply
from tests.servers import RedisServer

CALLERS = 200
TIMEOUT_S = 30.0  # never reached: a generous bound for a machine under load


def _run(test: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(test())


async def _count_writes(client: PipelinedRedis) -> list[bytes]:
    """Connect `client`, then record every write its connection's transport makes."""
    assert await client.run(("PING",)) == [b"PONG"]
    connection = client._connection
    assert connection is not None
    assert connection.transport is not None
    transport = connection.transport
    writes: list[bytes] = []
    write = transport.write

    def recorded(data: bytes | bytearray | memoryview) -> None:
        writes.append(bytes(data))
        write(data)

    transport.write = recorded  # type: ignore[method-assign]
    return writes


def test_callers_of_one_turn_share_one_write_and_get_their_own_replies(redis_url: str) -> None:
    async def test() -> None:
        client = PipelinedRedis(redis_url, timeout_s=TIMEOUT_S)
        try:
            writes = await _count_writes(client)
            # Replies of many sizes, one of a megabyte: they arrive over many reads.
            values = [b"v%d-" % i * (1 + i % 7) for i in range(CALLERS)]
            values[CALLERS // 2] = b"x" * 1_000_000
            stored = await asyncio.gather(
                *(client.run(("SET", f"k{i}", value)) for i, value in enumerate(values))
            )
            assert stored == [[b"OK"]] * CALLERS
            assert len(writes) == 1
            read = await asyncio.gather(
                *(client.run(("GET", f"k{i}"), ("STRLEN", f"k{i}")) for i in range(CALLERS))
            )
            assert read == [[value, len(value)] for value in values]
            assert len(writes) == 2
        finally:
            client.close()

    _run(test)


def test_an_error_reply_fails_only_its_own_caller(redis_url: str) -> None:
    async def test() -> None:
        client = PipelinedRedis(redis_url, timeout_s=TIMEOUT_S)
        try:
            writes = await _count_writes(client)
            connection = client._connection
            await client.run(("SET", "word", "not-a-number"), ("SET", "count", 41))
            outcomes = await asyncio.gather(
                client.run(("GET", "word")),
                client.run(("INCR", "word")),
                client.run(("INCR", "count"), ("INCR", "word"), ("GET", "count")),
                client.run(("INCR", "count")),
                client.run(("GET", "missing"), ("GET", "count")),
                return_exceptions=True,
            )
            assert len(writes) == 2  # the SETs, then the five callers together
            plain, failed, failed_amid, counted, read = outcomes
            assert plain == [b"not-a-number"]
            assert isinstance(failed, RedisUnavailable)
            assert "not an integer" in str(failed)
            # A caller with an error among its replies gets the error, not the other replies,
            # although Redis ran its other commands (the count below was incremented).
            assert isinstance(failed_amid, RedisUnavailable)
            assert counted == [43]
            assert read == [None, b"43"]
            # An error reply is an answer: the connection stays up and in step.
            assert client._connection is connection
            assert await client.run(("GET", "count"), ("PING",)) == [b"43", b"PONG"]
        finally:
            client.close()

    _run(test)


def test_the_database_of_the_url_is_selected_on_every_connection(redis_url: str) -> None:
    own = RedisServer()
    url = f"redis://127.0.0.1:{own.port}/3"
    try:

        async def store(key: str) -> None:
            client = PipelinedRedis(url, timeout_s=TIMEOUT_S)
            try:
                assert await client.run(("SET", key, "1")) == [b"OK"]
                await asyncio.to_thread(own.restart)  # a new connection selects again
                assert await client.run(("SET", key + "-again", "1")) == [b"OK"]
            finally:
                client.close()

        _run(lambda: store("selected"))
        third = redis.Redis.from_url(url)
        zeroth = redis.Redis.from_url(own.url)
        try:
            assert third.exists("selected", "selected-again") == 2
            assert zeroth.dbsize() == 0
        finally:
            third.close()
            zeroth.close()
    finally:
        own.stop()


async def _blocked_in_redis(server: RedisServer) -> None:
    """Return once Redis holds a client blocked in BLPOP (the commands have arrived)."""
    observer = redis.Redis.from_url(server.url)
    try:
        for _ in range(10_000):
            clients = await asyncio.to_thread(observer.client_list)
            if any(client["cmd"] == "blpop" for client in clients):
                return
            await asyncio.sleep(0.01)
    finally:
        observer.close()
    raise AssertionError("the BLPOP never reached Redis")


def test_a_redis_that_goes_away_fails_its_waiting_callers_and_is_reconnected_to() -> None:
    own = RedisServer()
    try:

        async def test() -> None:
            client = PipelinedRedis(own.url, timeout_s=TIMEOUT_S)
            try:
                assert await client.run(("SET", "before", "1")) == [b"OK"]
                # A caller blocked on an empty list keeps the callers after it waiting too.
                blocked = asyncio.ensure_future(client.run(("BLPOP", "empty-list", 0)))
                queued: list[asyncio.Future[list[Reply]]] = [
                    asyncio.ensure_future(client.run(("GET", "before"))) for _ in range(10)
                ]
                await _blocked_in_redis(own)
                assert not blocked.done()
                assert not any(future.done() for future in queued)
                await asyncio.to_thread(own.halt)
                for future in (blocked, *queued):
                    with pytest.raises(RedisUnavailable):
                        await future
                # Down: refused at once, every time, no hang.
                for _ in range(3):
                    with pytest.raises(RedisUnavailable):
                        await client.run(("PING",))
                await asyncio.to_thread(own.restart)
                assert await client.run(("PING",)) == [b"PONG"]
                assert await client.run(("SET", "after", "2"), ("GET", "after")) == [b"OK", b"2"]
            finally:
                client.close()

        _run(test)
    finally:
        own.stop()
