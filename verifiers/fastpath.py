"""`POST /v1/scan` answered inside uvicorn's HTTP protocol, ahead of the ASGI machinery.

A checkpoint worker's CPU goes to one request all day: the scan. Through ASGI every scan pays
for a scope dict, a request-response cycle object, an asyncio task, the receive/send message
dicts and two socket writes (head, then body): about as much as the verification itself
(docs/performance-checkpoint.md). `scan_protocol` returns a subclass of uvicorn's own
httptools protocol that answers a plain `POST /v1/scan` in the parser callbacks, with the same
handler the ASGI route uses and one socket write; every other request, and any scan that is
not plain (pipelined behind a request still being answered, `Expect: 100-continue`, an
upgrade), goes through uvicorn and the app unchanged. Keep-alive timing and back-pressure
(stop reading while the client is not reading its answers) follow uvicorn's. ADR 0009 records
why and what it costs.

The subclass relies on uvicorn's `HttpToolsProtocol` callbacks; the uvicorn versions it is
known to work with are pinned in pyproject.toml and tests/verifiers/test_fastpath.py runs it in
a real uvicorn server.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

__all__ = ["ScanAnswerer", "scan_protocol"]

#: (authorization header or None, request body) -> (status, extra headers, body). It must not
#: raise for a bad request (that is an answer); an exception is a bug and answers 500.
ScanAnswerer = Callable[[str | None, bytes], tuple[int, tuple[tuple[bytes, bytes], ...], bytes]]

_SCAN_PATH = b"/v1/scan"
_POST = b"POST"
_INTERNAL_ERROR = (
    STATUS_LINE[500] + b"content-type: text/plain; charset=utf-8\r\ncontent-length: 21\r\n"
    b"connection: close\r\n\r\nInternal Server Error"
)
_logger = logging.getLogger("verifiers.fastpath")


def scan_protocol(answer: ScanAnswerer, max_body: int) -> type[HttpToolsProtocol]:
    """A uvicorn `http=` protocol class that answers plain scans with `answer`.

    Args:
        answer: computes the response of one scan (the ASGI route's handler).
        max_body: bytes of request body read at most; a longer body is answered from the
            first `max_body + 1` bytes (the handler refuses it) and the rest is discarded.
    """

    class ScanFastPathProtocol(HttpToolsProtocol):
        """uvicorn's httptools protocol with `POST /v1/scan` answered in place."""

        _scan_body: list[bytes] | None = None
        _scan_size = 0
        _scan_authorization: str | None = None
        #: True while reading is paused because answers are not being read by the client.
        _paused_for_answers = False

        def on_headers_complete(self) -> None:
            # A request is arriving: the connection is not idle. uvicorn cancels the idle
            # timer once per packet; a packet of pipelined scans re-arms it per answer.
            self._unset_keepalive_if_required()
            parser = self.parser
            if (
                self.url == _SCAN_PATH
                and parser.get_method() == _POST
                and not self.expect_100_continue
                and not parser.should_upgrade()
                and (self.cycle is None or self.cycle.response_complete)
                and not self.pipeline
            ):
                self._scan_body = []
                self._scan_size = 0
                self._scan_authorization = None
                for name, value in self.headers:
                    if name == b"authorization":
                        self._scan_authorization = value.decode("latin-1")
                        break
                return
            self._scan_body = None
            super().on_headers_complete()

        def on_body(self, body: bytes) -> None:
            chunks = self._scan_body
            if chunks is None:
                super().on_body(body)
                return
            # Keep one byte past the limit, so the handler sees the body is too long, and
            # drop the rest instead of buffering whatever a client sends.
            room = max_body + 1 - self._scan_size
            if room > 0:
                chunks.append(body[:room])
                self._scan_size += min(len(body), room)

        def on_message_complete(self) -> None:
            chunks = self._scan_body
            if chunks is None:
                super().on_message_complete()
                return
            self._scan_body = None
            body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
            keep_alive = self.parser.should_keep_alive()
            try:
                status, headers, content = answer(self._scan_authorization, body)
            except Exception:
                _logger.exception("scan handler failed")
                self.transport.write(_INTERNAL_ERROR)
                self.transport.close()
                return
            self._respond(status, headers, content, keep_alive)

        def _respond(
            self,
            status: int,
            headers: tuple[tuple[bytes, bytes], ...],
            content: bytes,
            keep_alive: bool,
        ) -> None:
            parts = [STATUS_LINE[status]]
            # uvicorn's own headers (date, server), refreshed by the server every second.
            for name, value in self.server_state.default_headers:
                parts += (name, b": ", value, b"\r\n")
            for name, value in headers:
                parts += (name, b": ", value, b"\r\n")
            parts += (b"content-length: ", b"%d" % len(content), b"\r\n")
            if not keep_alive:
                parts.append(b"connection: close\r\n")
            parts += (b"\r\n", content)
            self.transport.write(b"".join(parts))
            self.server_state.total_requests += 1
            if self.access_log:
                self._log_access(status)
            if not keep_alive:
                self.transport.close()
                return
            if self.transport.is_closing():
                return
            if self.flow.write_paused:
                # The client is not reading its answers: stop reading its requests until the
                # transport drains (resume_writing), so answers never pile up in memory.
                self._paused_for_answers = True
                self.flow.pause_reading()
            # As uvicorn does after each response: close an idle keep-alive connection.
            self._unset_keepalive_if_required()
            self.timeout_keep_alive_task = self.loop.call_later(
                self.timeout_keep_alive, self.timeout_keep_alive_handler
            )

        def resume_writing(self) -> None:
            super().resume_writing()
            if self._paused_for_answers:
                self._paused_for_answers = False
                # uvicorn pauses reading for its own reasons too (a pipelined request waiting
                # for the app, a large body); leave those to uvicorn.
                if (self.cycle is None or self.cycle.response_complete) and not self.pipeline:
                    self.flow.resume_reading()

        def _log_access(self, status: int) -> None:
            client: Any = self.client
            where = f"{client[0]}:{client[1]}" if client else "-"
            http_version = self.parser.get_http_version()
            self.access_logger.info('%s - "POST /v1/scan HTTP/%s" %d', where, http_version, status)

    return ScanFastPathProtocol
