"""Pipelined Redis reads for a hot request path: one connection per event loop, no pool.

redis-py's asyncio client costs about 190 us of CPU for a four-command pipeline on this
machine (locks, pool, timeouts, observability hooks); the wire work is about 25 us. A request
path whose whole budget is a few hundred microseconds sends its reads here instead: commands
are written at once on a single shared connection and Redis answers in order, so each caller
waits for its own replies in a FIFO. Scalar RESP2 replies only (nil, integers, strings, errors):
reads and simple writes, no pub/sub, no transactions, no cluster redirections (use redis-py for
anything else; a cluster deployment keeps redis-py's cluster client, ADR 0022).

A caller whose replies take longer than `timeout_s` gets `RedisUnavailable` and the connection
is dropped (the next call reconnects), so a black-holed Redis costs one timeout, not a hang.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import cast
from urllib.parse import unquote, urlsplit

Reply = bytes | int | None


class RedisUnavailable(ConnectionError):
    """Redis did not answer (refused, reset, timed out) or answered with an error."""


def _encode(command: tuple[str | bytes | int, ...]) -> bytes:
    parts = [b"*%d\r\n" % len(command)]
    for arg in command:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        parts += (b"$%d\r\n" % len(data), data, b"\r\n")
    return b"".join(parts)


def _parse(buffer: bytearray, start: int) -> tuple[Reply | RedisUnavailable, int] | None:
    """One reply at `start`: (value, end), or None if not all of it has arrived."""
    line_end = buffer.find(b"\r\n", start)
    if line_end < 0:
        return None
    kind, line = buffer[start : start + 1], bytes(buffer[start + 1 : line_end])
    if kind == b"$":
        size = int(line)
        if size < 0:
            return None, line_end + 2
        end = line_end + 2 + size
        if len(buffer) < end + 2:
            return None
        return bytes(buffer[line_end + 2 : end]), end + 2
    if kind == b":":
        return int(line), line_end + 2
    if kind == b"+":
        return line, line_end + 2
    if kind == b"-":
        return RedisUnavailable(line.decode(errors="replace")), line_end + 2
    raise RedisUnavailable(f"unsupported reply type {kind!r}")


class _Waiter:
    __slots__ = ("count", "done", "replies", "sent_at")

    def __init__(self, count: int, done: asyncio.Future[list[Reply]]) -> None:
        self.count, self.done, self.sent_at = count, done, time.monotonic()
        self.replies: list[Reply] = []


class _Connection(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiting: deque[_Waiter] = deque()
        self.closed = False
        #: commands of this turn of the event loop, written together at its end
        self.outgoing: list[bytes] = []

    def queue(self, data: bytes) -> None:
        """Write `data` with everything else queued in this turn of the loop: one system call
        (and one read by Redis) for all the requests a turn serves, not one each."""
        if not self.outgoing:
            asyncio.get_running_loop().call_soon(self.flush)
        self.outgoing.append(data)

    def flush(self) -> None:
        data, self.outgoing = b"".join(self.outgoing), []
        if self.transport is not None and not self.closed:
            self.transport.write(data)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses; they behave as one.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        position = 0
        try:
            while self.waiting:
                parsed = _parse(self.buffer, position)
                if parsed is None:
                    break
                value, position = parsed
                waiter = self.waiting[0]
                waiter.replies.append(value)  # type: ignore[arg-type]
                if len(waiter.replies) == waiter.count:
                    self.waiting.popleft()
                    if not waiter.done.done():
                        waiter.done.set_result(waiter.replies)
        except (ValueError, RedisUnavailable) as error:
            self.fail(RedisUnavailable(f"unreadable reply: {error}"))
            return
        del self.buffer[:position]

    def connection_lost(self, exc: Exception | None) -> None:
        self.fail(RedisUnavailable(f"connection lost: {exc}"))

    def fail(self, error: RedisUnavailable) -> None:
        self.closed = True
        while self.waiting:
            waiter = self.waiting.popleft()
            if not waiter.done.done():
                waiter.done.set_exception(error)
        if self.transport is not None:
            self.transport.abort()


class PipelinedRedis:
    """Pipelined scalar commands over one connection per event loop (see the module doc)."""

    def __init__(self, url: str, *, timeout_s: float) -> None:
        parts = urlsplit(url)
        if parts.scheme != "redis":
            raise ValueError("PipelinedRedis takes redis:// URLs only")
        self._address = (parts.hostname or "127.0.0.1", parts.port or 6379)
        self._setup: list[tuple[str | bytes | int, ...]] = []
        if parts.password:
            user = unquote(parts.username) if parts.username else None
            password = unquote(parts.password)
            self._setup.append(("AUTH", user, password) if user else ("AUTH", password))
        database = parts.path.strip("/")
        if database and database != "0":
            self._setup.append(("SELECT", int(database)))
        self._timeout_s = timeout_s
        self._connection: _Connection | None = None
        self._connecting: asyncio.Lock | None = None
        self._watchdog: asyncio.TimerHandle | None = None

    async def _connected(self) -> _Connection:
        connection = self._connection
        if connection is not None and not connection.closed:
            return connection
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            connection = self._connection
            if connection is None or connection.closed:
                loop = asyncio.get_running_loop()
                try:
                    async with asyncio.timeout(self._timeout_s):
                        _, connection = await loop.create_connection(_Connection, *self._address)
                except (OSError, TimeoutError) as error:
                    raise RedisUnavailable(f"cannot connect: {error}") from None
                self._connection = connection
                if self._setup:
                    for reply in await self._send(connection, tuple(self._setup)):
                        if isinstance(reply, RedisUnavailable):
                            connection.fail(reply)
                            raise reply
        return connection

    def _send(
        self, connection: _Connection, commands: tuple[tuple[str | bytes | int, ...], ...]
    ) -> asyncio.Future[list[Reply]]:
        done: asyncio.Future[list[Reply]] = asyncio.get_running_loop().create_future()
        connection.waiting.append(_Waiter(len(commands), done))
        connection.queue(b"".join(_encode(command) for command in commands))
        if self._watchdog is None:
            self._watchdog = asyncio.get_running_loop().call_later(self._timeout_s, self._check)
        return done

    def _check(self) -> None:
        """Fail everything waiting if the oldest caller has waited past the timeout."""
        self._watchdog = None
        connection = self._connection
        if connection is None or not connection.waiting:
            return
        waited = time.monotonic() - connection.waiting[0].sent_at
        if waited >= self._timeout_s:
            connection.fail(RedisUnavailable(f"no answer within {self._timeout_s} s"))
            return
        loop = asyncio.get_running_loop()
        self._watchdog = loop.call_later(self._timeout_s - waited, self._check)

    async def run(self, *commands: tuple[str | bytes | int, ...]) -> list[Reply]:
        """The replies of `commands`, sent in one write; raises RedisUnavailable."""
        connection = await self._connected()
        replies = await self._send(connection, commands)
        for reply in replies:
            if isinstance(reply, RedisUnavailable):
                raise reply
        return replies

    def close(self) -> None:
        if self._connection is not None and self._connection.transport is not None:
            self._connection.transport.close()
        if self._watchdog is not None:
            self._watchdog.cancel()
