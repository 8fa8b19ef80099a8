"""`POST /v1/scan` answered inside uvicorn's protocol: same answers, HTTP/1.1 kept intact.

These tests talk raw HTTP over a socket to a real uvicorn server using the fast-path protocol,
so keep-alive, pipelining, chunked bodies, `Connection: close` and oversized bodies are seen
exactly as a client sees them.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import time
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from healthcode import ReasonCode, StatusColour
from tests.servers import AppServer
from tests.verifiers.conftest import MakeSettings, Province, RunningCheckpoint, start_checkpoint
from tests.verifiers.test_app import phone_code
from tests.verifiers.test_scan_endpoint import call, scan_body, without_clock
from verifiers.fastpath import scan_protocol
from verifiers.hotpath import MAX_SCAN_BODY


@pytest.fixture
def fast(make_settings: MakeSettings, trust_store: Any) -> Iterator[RunningCheckpoint]:
    """A checkpoint served as `python -m verifiers` serves it: fast path + the app."""
    running = start_checkpoint(make_settings(), trust_store, fast_path=True)
    running.service.sync_revocations()
    yield running
    running.server.stop()


class Connection:
    """One keep-alive HTTP/1.1 connection with a parser just good enough for these answers."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buffer = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read_response(self) -> tuple[int, dict[bytes, bytes], bytes]:
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        status_line, *lines = head.split(b"\r\n")
        headers = {}
        for line in lines:
            name, value = line.split(b": ", 1)
            assert name.lower() not in headers, f"duplicate header {name!r}"
            headers[name.lower()] = value
        length = int(headers[b"content-length"])
        while len(self.buffer) < length:
            self._fill()
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return int(status_line.split()[1]), headers, body

    def closed_by_server(self) -> bool:
        self.sock.settimeout(5)
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        self.buffer += chunk

    def close(self) -> None:
        self.sock.close()


def scan_request(
    body: bytes, token: str | None, *, extra: bytes = b"", http: bytes = b"1.1"
) -> bytes:
    auth = b"authorization: Bearer " + token.encode() + b"\r\n" if token else b""
    return (
        b"POST /v1/scan HTTP/"
        + http
        + b"\r\nhost: checkpoint\r\ncontent-type: application/json\r\n"
        + auth
        + extra
        + b"content-length: %d\r\n\r\n" % len(body)
        + body
    )


def test_fast_answer_equals_the_asgi_answer(fast: RunningCheckpoint, sc: Province) -> None:
    text = phone_code(sc)
    connection = Connection(fast.server.port)
    connection.send(scan_request(scan_body(text), fast.device_token))
    status, headers, body = connection.read_response()
    asgi = call(fast.app, [scan_body(text)], token=fast.device_token)
    assert asgi is not None
    assert status == asgi[0] == 200
    assert headers[b"content-type"] == b"application/json"
    assert b"date" in headers  # uvicorn's own headers, as on every other answer
    assert b"server" in headers
    assert without_clock(body) == without_clock(asgi[2])
    assert orjson.loads(body)["display"] == "green"
    # Both scans were logged like any other scan.
    assert len(fast.service.scan_log.scans()) == 2
    connection.close()


def test_keep_alive_and_pipelining_answer_in_order(fast: RunningCheckpoint, sc: Province) -> None:
    green, red = (
        phone_code(sc),
        phone_code(sc, status=StatusColour.RED, reason=ReasonCode.POSITIVE_TEST),
    )
    connection = Connection(fast.server.port)
    token = fast.device_token
    # Three scans and a status request in one packet, then one more scan on the same socket.
    connection.send(
        scan_request(scan_body(green), token)
        + b"GET /v1/status HTTP/1.1\r\nhost: checkpoint\r\nauthorization: Bearer "
        + token.encode()
        + b"\r\n\r\n"
        + scan_request(scan_body(red), token)
        + scan_request(b"{not json", token)
    )
    answers = [connection.read_response() for _ in range(4)]
    assert [status for status, _, _ in answers] == [200, 200, 200, 422]
    assert orjson.loads(answers[0][2])["display"] == "green"
    assert "revocations" in orjson.loads(answers[1][2])  # the status page, from the app
    assert orjson.loads(answers[2][2])["display"] == "red"
    assert orjson.loads(answers[3][2])["error"] == "invalid_request"
    connection.send(scan_request(scan_body(green), token))
    assert orjson.loads(connection.read_response()[2])["display"] == "green"
    connection.close()


def test_connection_close_and_http_1_0_close_after_the_answer(
    fast: RunningCheckpoint, sc: Province
) -> None:
    for request in (
        scan_request(scan_body(phone_code(sc)), fast.device_token, extra=b"connection: close\r\n"),
        scan_request(scan_body(phone_code(sc)), fast.device_token, http=b"1.0"),
    ):
        connection = Connection(fast.server.port)
        connection.send(request)
        status, headers, _ = connection.read_response()
        assert status == 200
        assert headers[b"connection"] == b"close"
        assert connection.closed_by_server()
        connection.close()


def test_nothing_is_answered_behind_a_connection_close_answer() -> None:
    with _serving(_numbered_answer()) as server:
        connection = Connection(server.port)
        connection.send(
            scan_request(b'{"text": "x"}', "token")
            + scan_request(b'{"text": "x"}', "token", extra=b"connection: close\r\n")
            + scan_request(b'{"text": "x"}', "token")
        )
        first, second = connection.read_response(), connection.read_response()
        assert (first[2], second[2]) == (b"answer 1", b"answer 2")
        assert second[1][b"connection"] == b"close"
        assert connection.closed_by_server()
        assert connection.buffer == b""  # the third scan, behind the close, got no answer
        connection.close()


def test_a_scan_before_unreadable_bytes_is_answered_before_the_400() -> None:
    with _serving(_numbered_answer()) as server:
        connection = Connection(server.port)
        connection.send(scan_request(b'{"text": "x"}', "token") + b"NOT HTTP\r\n\r\n")
        assert connection.read_response()[2] == b"answer 1"
        assert connection.read_response()[0] == 400
        assert connection.closed_by_server()
        connection.close()


def test_a_client_that_half_closes_still_gets_its_answers() -> None:
    # A scanner script that sends its scans and shuts down its sending side (nc -N, curl
    # with a body from stdin) must still read every answer.
    with _serving(_numbered_answer()) as server:
        connection = Connection(server.port)
        connection.send(scan_request(b'{"text": "x"}', "token") * 2)
        connection.sock.shutdown(socket.SHUT_WR)
        answers = [connection.read_response()[2] for _ in range(2)]
        assert answers == [b"answer 1", b"answer 2"]
        assert connection.closed_by_server()
        connection.close()


def test_answers_before_a_handler_failure_are_written_before_the_500() -> None:
    answer = _numbered_answer()

    def fails_on_boom(authorization: str | None, body: bytes) -> Any:
        if b"boom" in body:
            raise RuntimeError("bug")
        return answer(authorization, body)

    with _serving(fails_on_boom) as server:
        connection, neighbour = Connection(server.port), Connection(server.port)
        # Sent together, so the neighbour's scan is usually in the failing scan's batch.
        connection.send(
            scan_request(b'{"text": "x"}', "token") + scan_request(b'{"text": "boom"}', "token")
        )
        neighbour.send(scan_request(b'{"text": "x"}', "token"))
        assert connection.read_response()[2] == b"answer 1"
        assert connection.read_response()[:1] == (500,)
        assert connection.closed_by_server()
        # The other connection is answered, and keeps being answered.
        assert neighbour.read_response()[0] == 200
        neighbour.send(scan_request(b'{"text": "x"}', "token"))
        assert neighbour.read_response()[0] == 200
        connection.close()
        neighbour.close()


def test_refusals_are_the_standard_error_answers(fast: RunningCheckpoint, sc: Province) -> None:
    connection = Connection(fast.server.port)
    connection.send(scan_request(scan_body(phone_code(sc)), None))
    status, _, body = connection.read_response()
    assert (status, orjson.loads(body)["error"]) == (401, "unauthenticated")
    connection.send(scan_request(scan_body(phone_code(sc)), "not-a-token"))
    assert connection.read_response()[0] == 401
    # Nothing refused is logged.
    assert fast.service.scan_log.scans() == []
    connection.close()


def test_an_oversized_body_is_refused_without_buffering_it(fast: RunningCheckpoint) -> None:
    connection = Connection(fast.server.port)
    huge = b'{"text": "' + b"5" * (MAX_SCAN_BODY + 4096) + b'"}'
    connection.send(scan_request(huge, fast.device_token))
    status, _, body = connection.read_response()
    assert (status, orjson.loads(body)["error"]) == (413, "input_too_large")
    connection.close()


def test_a_chunked_body_is_read_whole(fast: RunningCheckpoint, sc: Province) -> None:
    body = scan_body(phone_code(sc))
    half = len(body) // 2
    chunked = b"%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n" % (
        half,
        body[:half],
        len(body) - half,
        body[half:],
    )
    connection = Connection(fast.server.port)
    connection.send(
        b"POST /v1/scan HTTP/1.1\r\nhost: c\r\nauthorization: Bearer "
        + fast.device_token.encode()
        + b"\r\ntransfer-encoding: chunked\r\n\r\n"
    )
    time.sleep(0.05)  # the body arrives in a later packet, as from a slow scanner
    connection.send(chunked)
    status, _, answer = connection.read_response()
    assert status == 200
    assert orjson.loads(answer)["display"] == "green"
    connection.close()


def test_expect_100_continue_goes_through_the_app(fast: RunningCheckpoint, sc: Province) -> None:
    body = scan_body(phone_code(sc))
    connection = Connection(fast.server.port)
    connection.send(
        b"POST /v1/scan HTTP/1.1\r\nhost: c\r\nauthorization: Bearer "
        + fast.device_token.encode()
        + b"\r\nexpect: 100-continue\r\ncontent-length: %d\r\n\r\n" % len(body)
    )
    connection.send(body)
    raw = b""
    while b"application/json" not in raw or not raw.rstrip().endswith(b"}"):
        raw += connection.sock.recv(65536)
    assert b" 200 OK" in raw
    assert b'"display":"green"' in raw
    connection.close()


def test_a_failing_handler_answers_500_and_closes() -> None:
    def broken(authorization: str | None, body: bytes) -> Any:
        raise RuntimeError("bug")

    with _serving(broken) as server:
        connection = Connection(server.port)
        connection.send(scan_request(b'{"text": "x"}', "token"))
        status, _, body = connection.read_response()
        assert (status, body) == (500, b"Internal Server Error")
        assert connection.closed_by_server()
        connection.close()


@contextlib.contextmanager
def _serving(answer: Any, **options: Any) -> Iterator[AppServer]:
    """A real uvicorn server whose fast path answers every scan with `answer`."""
    server = AppServer(_lifespan_only, http=scan_protocol(answer, 1024), **options)
    try:
        yield server
    finally:
        server.stop()


async def _lifespan_only(scope: Any, receive: Any, send: Any) -> None:
    """An app for protocol-level tests: the fast path answers every scan itself."""
    assert scope["type"] == "lifespan"
    while (await receive())["type"] != "lifespan.shutdown":
        await send({"type": "lifespan.startup.complete"})
    await send({"type": "lifespan.shutdown.complete"})


def _constant_answer(authorization: str | None, body: bytes) -> Any:
    return 200, ((b"content-type", b"application/json"),), b'{"display": "green"}' + b" " * 1000


def _numbered_answer() -> Any:
    """An answerer whose answers say how many scans it has answered: order is visible."""
    count = 0

    def answer(authorization: str | None, body: bytes) -> Any:
        nonlocal count
        count += 1
        return 200, ((b"content-type", b"text/plain"),), b"answer %d" % count

    return answer


def test_pipelined_scans_leave_one_keep_alive_timer() -> None:
    # Each answer re-arms the idle timer; a timer armed by an earlier answer in the same
    # packet must not survive to close a connection that has been busy since.
    with _serving(_constant_answer, timeout_keep_alive=1) as server:
        connection = Connection(server.port)
        connection.send(scan_request(b'{"text": "x"}', "token") * 3)
        for _ in range(3):
            assert connection.read_response()[0] == 200
        time.sleep(0.6)
        connection.send(scan_request(b'{"text": "x"}', "token"))
        assert connection.read_response()[0] == 200
        # 1.3 s after the pipelined packet, 0.7 s after the last answer: still open.
        time.sleep(0.7)
        connection.send(scan_request(b'{"text": "x"}', "token"))
        assert connection.read_response()[0] == 200
        # And idle past the timeout it is closed, as uvicorn closes idle connections.
        assert connection.closed_by_server()
        connection.close()


def test_a_client_that_does_not_read_stops_being_read() -> None:
    # A client pipelining scans without reading the answers must not make the server buffer
    # every answer: once the socket's write buffer is full the server stops reading.
    with _serving(_constant_answer) as server:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        sock.connect(("127.0.0.1", server.port))
        sock.setblocking(False)
        request = scan_request(b'{"text": "x"}', "token") * 100
        sent, stalled_since = 0, None
        deadline = time.monotonic() + 30
        while sent < 64 * 1024 * 1024 and time.monotonic() < deadline:
            try:
                sent += sock.send(request)
                stalled_since = None
            except BlockingIOError:
                stalled_since = stalled_since or time.monotonic()
                if time.monotonic() - stalled_since > 2:
                    break
                time.sleep(0.01)
        (protocol,) = server.connections()
        buffered = protocol.transport.get_write_buffer_size()
        assert stalled_since is not None, f"the server read all {sent} bytes sent"
        assert buffered < 1024 * 1024, f"{buffered} bytes of answers buffered"
        # Reading the answers resumes the server: the connection still answers scans.
        sock.setblocking(True)
        sock.settimeout(10)
        received = 0
        while received < 64 * 1024:
            received += len(sock.recv(65536))
        sock.close()


def test_each_access_log_line_names_its_own_requests_http_version() -> None:
    """Pipelined scans are answered after the whole packet is parsed: each access-log line
    must still name the HTTP version of the request it answers, not of the last one read."""
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    handler = Collect()
    with _serving(_numbered_answer()) as server:
        access = logging.getLogger("uvicorn.access")
        level = access.level
        access.addHandler(handler)
        access.setLevel(logging.INFO)  # the server set it to its own level at start
        try:
            connection = Connection(server.port)
            connection.send(
                scan_request(b"{}", "t", http=b"1.0", extra=b"connection: keep-alive\r\n")
                + scan_request(b"{}", "t")
            )
            assert [connection.read_response()[2] for _ in range(2)] == [b"answer 1", b"answer 2"]
            connection.close()
        finally:
            access.removeHandler(handler)
            access.setLevel(level)
    assert [line.split('"')[1] for line in lines] == [
        "POST /v1/scan HTTP/1.0",
        "POST /v1/scan HTTP/1.1",
    ]
