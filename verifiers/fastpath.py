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

Scans are answered in batches, one per event-loop pass (`_ScanBatch`): the scans read in a
pass are verified one after the other once the pass's reads are done, and their answers then
leave together. The verifications run back to back instead of between socket reads, and the
kernel wakes a reader once per burst of answers instead of once per answer. On the two-core
benchmark VM that took about a fifth off the server's CPU per scan. The price: an answer
waits until the rest of its batch is verified (a pass's worth of scans, one or two
milliseconds at the benchmark's eight connections); the benchmark's p50 and p99 did not move
(docs/performance-checkpoint.md). Pipelined answers on one
connection go out in one write. Anything else written on a connection (uvicorn answering a
request it was handed, a 400 or 500, a half-close, shutdown) answers that connection's
waiting scans first, so answers never change order. A scan whose connection has closed
before its batch runs is not verified and not logged: nobody would see the answer.

The subclass relies on uvicorn's `HttpToolsProtocol` callbacks; the uvicorn versions it is
known to work with are pinned in pyproject.toml and tests/verifiers/test_fastpath.py runs it in
a real uvicorn server.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any, Protocol

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

__all__ = ["ScanAnswerer", "ScanDurability", "scan_protocol"]

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


class ScanDurability(Protocol):
    """What makes a batch's log records durable before its answers leave (the scan journal)."""

    def deferred(self) -> AbstractContextManager[None]:
        """Records made inside the block are not synced by the scan log itself."""
        ...

    def mark(self) -> int:
        """The number of the last record made so far."""
        ...

    def sync_to(self, mark: int) -> None:
        """Make records up to `mark` durable now (nothing to do if they already are)."""
        ...

    def when_durable(self, mark: int, callback: Callable[[], None], loop: Any) -> None:
        """Call `callback` on `loop` once records up to `mark` are durable (group commit)."""
        ...


class _NoDurability:
    def deferred(self) -> AbstractContextManager[None]:
        return nullcontext()

    def mark(self) -> int:
        return 0

    def sync_to(self, mark: int) -> None:
        return None

    def when_durable(self, mark: int, callback: Callable[[], None], loop: Any) -> None:
        callback()


class _ScanBatch:
    """The connections with scans read in this event-loop pass, answered together after it."""

    __slots__ = ("connections", "durability", "loop")

    def __init__(self, loop: Any, durability: ScanDurability) -> None:
        self.loop = loop
        self.durability = durability
        self.connections: list[Any] = []

    def add(self, connection: Any) -> None:
        """Answer `connection`'s scans with this pass's batch (it has none waiting yet)."""
        if not self.connections:
            # Runs after the I/O callbacks of this pass: every scan read in it is waiting.
            self.loop.call_soon(self.run)
        self.connections.append(connection)

    def run(self) -> None:
        connections, self.connections = self.connections, []
        durability = self.durability
        with durability.deferred():
            for connection in connections:
                connection.answer_jobs()

        def write_answers() -> None:
            for connection in connections:
                connection.write_queued()

        # The answers leave once the batch's scan records are on disk (a background sync that
        # the next batches share; the loop reads and verifies on meanwhile).
        durability.when_durable(durability.mark(), write_answers, self.loop)


def scan_protocol(
    answer: ScanAnswerer, max_body: int, durability: ScanDurability | None = None
) -> type[HttpToolsProtocol]:
    """A uvicorn `http=` protocol class that answers plain scans with `answer`.

    Args:
        answer: computes the response of one scan (the ASGI route's handler).
        max_body: bytes of request body read at most; a longer body is answered from the
            first `max_body + 1` bytes (the handler refuses it) and the rest is discarded.
        durability: the scan journal, synced once per batch before its answers are written
            (none: answers leave as soon as they are computed).
    """
    durable = durability or _NoDurability()

    batches: dict[Any, _ScanBatch] = {}  # one per event loop serving this protocol

    class ScanFastPathProtocol(HttpToolsProtocol):
        """uvicorn's httptools protocol with `POST /v1/scan` answered in place."""

        _scan_body: list[bytes] | None = None
        _scan_size = 0
        _scan_authorization: str | None = None
        #: True while reading is paused because answers are not being read by the client.
        _paused_for_answers = False
        #: Scans read and waiting for this pass's batch: (authorization, body, keep-alive,
        #: HTTP version when access logging is on, for its line).
        _jobs: list[tuple[str | None, bytes, bool, str | None]] | None = None
        #: Answers of the batch not yet written; whether the last of them keeps the
        #: connection open.
        _queued: list[bytes] | None = None
        _queued_keep_alive = True
        #: The journal mark the queued answers' scan records must be durable to.
        _queued_mark = 0
        _batch: _ScanBatch

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            batch = batches.get(self.loop)
            if batch is None:
                batch = batches[self.loop] = _ScanBatch(self.loop, durable)
            self._batch = batch

        def on_headers_complete(self) -> None:
            # A request is arriving: the connection is not idle (the timer a batch armed
            # after writing must not close it while this request waits for its batch).
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
            # uvicorn answers this one itself, straight to the socket: earlier scans first.
            self._answer_waiting()
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
            parser = self.parser
            # Read now: by the time the batch answers, the parser may hold a later request.
            version = parser.get_http_version() if self.access_log else None
            job = (self._scan_authorization, body, parser.should_keep_alive(), version)
            if self._jobs is None:
                self._jobs = [job]
                self._batch.add(self)
            else:
                self._jobs.append(job)

        def answer_jobs(self) -> None:
            """Answer the scans waiting on this connection (queued, written by the batch)."""
            jobs = self._jobs
            if jobs is None:
                return
            self._jobs = None
            try:
                self._answer(jobs)
            finally:
                self._queued_mark = durable.mark()

        def _answer(self, jobs: list[tuple[str | None, bytes, bool, str | None]]) -> None:
            for authorization, body, keep_alive, http_version in jobs:
                if self.transport.is_closing() or not self._queued_keep_alive:
                    return  # the client went away, or asked to close before these
                try:
                    status, headers, content = answer(authorization, body)
                    self._respond(status, headers, content, keep_alive, http_version)
                except Exception:
                    # A bug: this connection gets a 500 and is closed; the batch goes on.
                    _logger.exception("scan handler failed")
                    self._queued_mark = durable.mark()
                    self.write_queued()
                    if not self.transport.is_closing():
                        self.transport.write(_INTERNAL_ERROR)
                        self.transport.close()
                    return

        def _respond(
            self,
            status: int,
            headers: tuple[tuple[bytes, bytes], ...],
            content: bytes,
            keep_alive: bool,
            http_version: str | None,
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
            self.server_state.total_requests += 1
            if self.access_log:
                self._log_access(status, http_version)
            self._queued_keep_alive = keep_alive
            if self._queued is None:
                self._queued = [b"".join(parts)]
            else:
                self._queued.append(b"".join(parts))

        def write_queued(self) -> None:
            """Write the queued answers in one write, then what uvicorn does after an answer."""
            queued = self._queued
            if queued is None:
                return
            self._queued = None
            transport = self.transport
            if transport.is_closing():
                return  # the client went away: nobody to answer
            # No answer before its scan record is durable (done already when the batch wrote).
            durable.sync_to(self._queued_mark)
            transport.write(queued[0] if len(queued) == 1 else b"".join(queued))
            if not self._queued_keep_alive:
                transport.close()
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

        def _answer_waiting(self) -> None:
            """Answer and write this connection's waiting scans now, ahead of its batch."""
            with durable.deferred():
                self.answer_jobs()
            self.write_queued()

        def eof_received(self) -> None:
            # The client sent its last request and half-closed: the transport closes after
            # this returns, so its answers must be in the transport by then.
            self._answer_waiting()
            super().eof_received()

        def shutdown(self) -> None:
            self._answer_waiting()
            super().shutdown()

        def handle_websocket_upgrade(self) -> None:
            self._answer_waiting()
            super().handle_websocket_upgrade()

        def send_400_response(self, msg: str) -> None:
            # uvicorn refuses what the parser cannot read after the scans before it.
            self._answer_waiting()
            if not self.transport.is_closing():
                super().send_400_response(msg)

        def resume_writing(self) -> None:
            super().resume_writing()
            if self._paused_for_answers:
                self._paused_for_answers = False
                # uvicorn pauses reading for its own reasons too (a pipelined request waiting
                # for the app, a large body); leave those to uvicorn.
                if (self.cycle is None or self.cycle.response_complete) and not self.pipeline:
                    self.flow.resume_reading()

        def _log_access(self, status: int, http_version: str | None) -> None:
            client: Any = self.client
            where = f"{client[0]}:{client[1]}" if client else "-"
            # uvicorn's access formatter unpacks exactly these five arguments (client, method,
            # path, HTTP version, status); any other shape is a "Logging error" per scan.
            self.access_logger.info(
                '%s - "%s %s HTTP/%s" %d', where, "POST", "/v1/scan", http_version, status
            )

    return ScanFastPathProtocol
