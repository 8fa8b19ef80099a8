"""A hostile peer on loopback: a raw-socket HTTP/1.1 server whose answers we script.

Each path maps to an `Answer`: a status, headers, and a body given as a list of parts; a part
is written whole, then the server waits `drip_s` before the next one (a dripping peer). The
server records what it saw, so tests can assert on the order of events, never on wall time.

    with HostilePeer({"/v1/trust-list": gzip_bomb(1 << 30)}) as peer:
        PeerClient().get(peer.url("/v1/trust-list"), bounds)      # refused, memory bounded
"""

from __future__ import annotations

import functools
import json
import socket
import struct
import threading
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import brotli

from tests.servers import free_port


@dataclass
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    parts: list[bytes] = field(default_factory=list)
    drip_s: float = 0.0  # pause before each part after the first
    chunked: bool = False  # send no Content-Length (end of body = close)
    drip_head: bool = False  # drip the status line and headers too, a byte each `drip_s`


def json_answer(document: Any, status: int = 200) -> Answer:
    return Answer(status, {"Content-Type": "application/json"}, [json.dumps(document).encode()])


def raw_json_answer(body: bytes, status: int = 200) -> Answer:
    return Answer(status, {"Content-Type": "application/json"}, [body])


def nested_json(depth: int) -> bytes:
    """`{"a":[[[...]]]}` nested `depth` levels: fatal to a recursive parser near 1,000."""
    return b'{"a":' + b"[" * depth + b"]" * depth + b"}"


def gzip_bomb(decoded_bytes: int) -> Answer:
    """A gzip body that decodes to `decoded_bytes` zero bytes (about 1,000:1)."""
    return Answer(
        200,
        {"Content-Type": "application/json", "Content-Encoding": "gzip"},
        [_gzip_zeros(decoded_bytes)],
    )


def brotli_bomb(decoded_bytes: int) -> Answer:
    """A brotli body that decodes to `decoded_bytes` zero bytes (a few hundred bytes)."""
    return Answer(
        200,
        {"Content-Type": "application/json", "Content-Encoding": "br"},
        [_brotli_zeros(decoded_bytes)],
    )


_MIB_OF_ZEROS = b"\0" * (1 << 20)


@functools.cache
def _gzip_zeros(decoded_bytes: int) -> bytes:
    # A full flush resets the compressor, so every MiB of zeros compresses to the same bytes:
    # one block is compressed and repeated (compressing 256 MiB would take seconds).
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    block = compressor.compress(_MIB_OF_ZEROS) + compressor.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(decoded_bytes >> 20):
        crc = zlib.crc32(_MIB_OF_ZEROS, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"  # gzip, deflate, no name
    trailer = struct.pack("<II", crc, decoded_bytes & 0xFFFFFFFF)
    return header + block * (decoded_bytes >> 20) + compressor.flush() + trailer


@functools.cache
def _brotli_zeros(decoded_bytes: int) -> bytes:
    compressor = brotli.Compressor(quality=3)
    pieces = [compressor.process(_MIB_OF_ZEROS) for _ in range(decoded_bytes >> 20)]
    finished: bytes = compressor.finish()
    return b"".join(pieces) + finished


def dripping(body: bytes, drip_s: float) -> Answer:
    """One byte at a time, `drip_s` apart (a peer that never quite times out a read)."""
    return Answer(200, {"Content-Type": "application/json"}, [bytes([b]) for b in body], drip_s)


Route = Answer | Callable[[str], Answer]


class HostilePeer:
    """A threaded loopback server answering each path with a scripted `Answer`."""

    def __init__(self, routes: Mapping[str, Route]) -> None:
        self.routes: dict[str, Route] = dict(routes)
        self.port = free_port()
        self.events: list[tuple[str, str]] = []  # ("request"|"done"|"cut", path), in order
        self.request_heads: list[bytes] = []  # each request's head, as received
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._listener.settimeout(0.2)
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> HostilePeer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self._listener.close()

    def _note(self, event: str, path: str) -> None:
        with self._lock:
            self.events.append((event, path))

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._answer, args=(connection,), daemon=True).start()

    def _answer(self, connection: socket.socket) -> None:
        with connection:
            connection.settimeout(5)
            request = b""
            try:
                while b"\r\n\r\n" not in request:
                    data = connection.recv(65536)
                    if not data:
                        return
                    request += data
            except OSError:
                return
            target = request.split(b" ", 2)[1].decode()
            path = target.split("?", 1)[0]
            self._note("request", path)
            with self._lock:
                self.request_heads.append(request.split(b"\r\n\r\n", 1)[0])
            route = self.routes.get(path, Answer(404, {}, [b"not here"]))
            answer = route(target) if callable(route) else route
            headers = {"Connection": "close", **answer.headers}
            if not answer.chunked:
                headers["Content-Length"] = str(sum(len(p) for p in answer.parts))
            head = f"HTTP/1.1 {answer.status} X\r\n" + "".join(
                f"{k}: {v}\r\n" for k, v in headers.items()
            )
            head_parts = [head.encode() + b"\r\n"]
            if answer.drip_head:
                head_parts = [bytes([b]) for b in head_parts[0]]
            try:
                for index, part in enumerate(head_parts):
                    if index and self._stop.wait(answer.drip_s):
                        return
                    connection.sendall(part)
                for index, part in enumerate(answer.parts):
                    if index and answer.drip_s and self._stop.wait(answer.drip_s):
                        return
                    connection.sendall(part)
            except OSError:
                self._note("cut", path)
                return
            self._note("done", path)


def wait_until(predicate: Callable[[], bool], timeout: float = 60.0) -> bool:
    """Poll `predicate` (a generous cap only so a broken test ends; never a speed bound)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()
