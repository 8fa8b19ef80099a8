"""Server-side limits on how long a client may take to send a request (slow-loris defence).

uvicorn bounds the idle time between requests (keep-alive) but not the time a client takes to
send one: a connection that sends half a header line, or a body one byte every few seconds,
holds its socket and its buffers for as long as the client likes. `with_read_deadlines`
returns a subclass of a uvicorn httptools protocol class (uvicorn's own, or the checkpoint's
scan fast path) that cuts such a connection:

- **headers**: the request line and headers must be complete `header_s` after the connection
  opened, or after the first byte of a later request on it;
- **body**: then the body must be complete within `body_s` plus the time its bytes take at
  `body_min_bytes_per_s`, so a large upload at a reasonable speed goes through while a drip
  does not. While the server itself has paused reading (the app is not consuming the body
  yet) the clock is not held against the client.

A request cut this way is answered `408 Request Timeout` and the connection closed. The bounds
are in standard §9 (server read limits) and ADR 0021.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from healthcode.errors import ErrorCode
from healthcode.server.errors import HTTP_STATUS, error_body

__all__ = ["ReadDeadlines", "with_read_deadlines"]


@dataclass(frozen=True, slots=True)
class ReadDeadlines:
    """How long a client may take to send one request."""

    header_s: float = 10.0
    body_s: float = 30.0
    body_min_bytes_per_s: int = 64 * 1024

    def __post_init__(self) -> None:
        if self.header_s <= 0 or self.body_s <= 0 or self.body_min_bytes_per_s <= 0:
            raise ValueError("read deadlines must be positive")


_TIMEOUT_BODY = orjson.dumps(
    error_body(
        ErrorCode.REQUEST_TIMEOUT,
        "the request was not sent in time; the connection is closed (send it again)",
    )
)
_REQUEST_TIMEOUT = (
    STATUS_LINE[HTTP_STATUS[ErrorCode.REQUEST_TIMEOUT]]
    + b"content-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n"
    % len(_TIMEOUT_BODY)
    + _TIMEOUT_BODY
)


def with_read_deadlines(
    base: type[HttpToolsProtocol] = HttpToolsProtocol, deadlines: ReadDeadlines | None = None
) -> type[HttpToolsProtocol]:
    """`base` with the request read deadlines above (a uvicorn `http=` protocol class)."""
    limits = deadlines or ReadDeadlines()

    class ReadDeadlineProtocol(base):  # type: ignore[valid-type, misc]
        """A uvicorn protocol that cuts connections sending a request too slowly."""

        _read_timer: Any = None
        _reading_since = 0.0  # loop time the current phase started
        _in_body = False
        _body_bytes = 0

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._start_headers()

        def data_received(self, data: bytes) -> None:
            if self._read_timer is None:
                self._start_headers()  # the first byte of a later request on the connection
            super().data_received(data)

        def on_headers_complete(self) -> None:
            self._in_body = True
            self._body_bytes = 0
            self._reading_since = self.loop.time()
            super().on_headers_complete()

        def on_body(self, body: bytes) -> None:
            self._body_bytes += len(body)
            super().on_body(body)

        def on_message_complete(self) -> None:
            self._stop_read_timer()
            super().on_message_complete()

        def connection_lost(self, exc: Exception | None) -> None:
            self._stop_read_timer()
            super().connection_lost(exc)

        def _start_headers(self) -> None:
            self._in_body = False
            self._reading_since = self.loop.time()
            self._arm(limits.header_s)

        def _arm(self, delay: float) -> None:
            self._read_timer = self.loop.call_later(max(delay, 0.01), self._check_read)

        def _stop_read_timer(self) -> None:
            if self._read_timer is not None:
                self._read_timer.cancel()
                self._read_timer = None
            self._in_body = False

        def _check_read(self) -> None:
            self._read_timer = None
            if self.transport.is_closing():
                return
            now = self.loop.time()
            if self.flow.read_paused:
                # We stopped reading, not the client: its clock starts again.
                self._reading_since, self._body_bytes = now, 0
                self._arm(limits.body_s if self._in_body else limits.header_s)
                return
            if self._in_body:
                allowed = limits.body_s + self._body_bytes / limits.body_min_bytes_per_s
            else:
                allowed = limits.header_s
            left = self._reading_since + allowed - now
            if left > 0:
                self._arm(left)
                return
            self.transport.write(_REQUEST_TIMEOUT)
            self.transport.close()

    ReadDeadlineProtocol.__name__ = f"ReadDeadline{base.__name__}"
    return ReadDeadlineProtocol
