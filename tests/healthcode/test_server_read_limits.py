"""Slow-loris: a connection that sends its request too slowly is answered 408 and closed.

Raw sockets against a real uvicorn server. The deadlines are short so the test is quick; the
assertions are only that the server closes (the socket timeout is a generous safety net, not a
bound on anything)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest
from fastapi import FastAPI, Request

from healthcode.server import create_base_app
from healthcode.server.readlimits import ReadDeadlines, with_read_deadlines
from tests.servers import AppServer

SHORT = ReadDeadlines(header_s=0.5, body_s=0.5, body_min_bytes_per_s=1024)


def _app() -> FastAPI:
    app = create_base_app(title="read limits")

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, int]:
        return {"bytes": len(await request.body())}

    return app


@pytest.fixture(scope="module")
def server() -> Iterator[AppServer]:
    running = AppServer(_app(), http=with_read_deadlines(deadlines=SHORT))
    yield running
    running.stop()


def _until_closed(connection: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    connection.settimeout(60)
    received = b""
    while chunk := connection.recv(65536):
        received += chunk
    return received


def _timed_out(answer: bytes) -> None:
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 "), answer
    assert json.loads(body)["error"] == "request_timeout"


def test_a_partial_header_is_cut(server: AppServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port)) as connection:
        connection.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        _timed_out(_until_closed(connection))


def test_a_connection_that_sends_nothing_is_cut(server: AppServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port)) as connection:
        assert _until_closed(connection).startswith(b"HTTP/1.1 408 ")


def test_a_partial_body_is_cut(server: AppServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port)) as connection:
        connection.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n")
        connection.sendall(b"x" * 10)
        _timed_out(_until_closed(connection))


def test_whole_requests_are_answered_and_keep_alive_still_works(server: AppServer) -> None:
    request = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
    with socket.create_connection(("127.0.0.1", server.port)) as connection:
        connection.settimeout(60)
        for _ in range(2):  # two requests on one connection, each answered in full
            connection.sendall(request)
            answer = b""
            while not answer.endswith(b'{"bytes":3}'):
                chunk = connection.recv(65536)
                assert chunk, answer
                answer += chunk
            assert answer.startswith(b"HTTP/1.1 200 ")


def test_deadlines_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        ReadDeadlines(header_s=0)
