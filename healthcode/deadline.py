"""Request deadlines enforced on every socket operation, for `healthcode.fetch` (ADR 0018).

httpx times each read, not a request: a peer sending a byte every few seconds never trips a
read timeout. httpcore also reads its read timeout once per response, so a changing value in
the request's extensions would not help. Instead the connection pool's network backend
shortens every connect, read and write to what is left of the calling thread's deadline:
`deadlines.at` for the current request (set by `PeerClient.request`), never later than
`deadlines.job` for the current job (`job_deadline`).
"""

from __future__ import annotations

import contextlib
import functools
import ssl
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpcore
import httpx

__all__ = ["DeadlineTransport", "deadlines", "job_deadline"]


class _Deadline(threading.local):
    at: float | None = None  # monotonic time the current request of this thread must end by
    job: float | None = None  # ... and every request of the current job (`job_deadline`)


deadlines = _Deadline()


@contextlib.contextmanager
def job_deadline(seconds: float) -> Iterator[None]:
    """Every request this thread makes inside the block ends within `seconds` of entering it.

    For a job of several requests (the registry's roots, list and timestamp): each request
    keeps its own bound too, whichever ends first. Nested blocks keep the earlier deadline.
    """
    outer = deadlines.job
    at = time.monotonic() + seconds
    deadlines.job = at if outer is None else min(outer, at)
    try:
        yield
    finally:
        deadlines.job = outer


def _wait_at_most(timeout: float | None, expired: type[Exception]) -> float | None:
    """`timeout` shortened to what is left of this thread's request deadline."""
    at = deadlines.at
    if at is None:
        return timeout
    left = at - time.monotonic()
    if left <= 0:
        raise expired("the request's deadline has passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _wait_at_most(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _wait_at_most(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        wait = _wait_at_most(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._stream.start_tls(ssl_context, server_hostname, wait))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self) -> None:
        self._backend = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        wait = _wait_at_most(timeout, httpcore.ConnectTimeout)
        stream = self._backend.connect_tcp(host, port, wait, local_address, socket_options)
        return _DeadlineStream(stream)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.NetworkStream:
        wait = _wait_at_most(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._backend.connect_unix_socket(path, wait, socket_options))

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


@functools.lru_cache(maxsize=8)
def shared_ssl_context(verify: str | bool) -> ssl.SSLContext:
    """One TLS client context per trust setting, built once per process.

    Building one reads and parses the whole CA bundle: about 20 ms of CPU, which a client
    made for one call (a look-up relayed to another province, a print job) would pay each
    time, and a burst of such calls at a peak pays all at once. A client context is safe to
    share between connections and threads.
    """
    return httpx.create_ssl_context(verify=verify, trust_env=False)


class DeadlineTransport(httpx.HTTPTransport):
    """httpx's transport over a connection pool whose sockets honour the request deadline."""

    def __init__(self, verify: ssl.SSLContext | str | bool) -> None:
        context = verify if isinstance(verify, ssl.SSLContext) else shared_ssl_context(verify)
        super().__init__(verify=context, trust_env=False)
        self._pool = httpcore.ConnectionPool(
            ssl_context=context,
            max_connections=100,
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
            network_backend=_DeadlineBackend(),
        )
