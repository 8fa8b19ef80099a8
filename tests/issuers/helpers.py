"""Test helpers: a RevocationChecker over the signed revocation list, feed CSV builders, a
TCP proxy that can turn into a black hole, an SMS gateway and a partner serving any feed."""

from __future__ import annotations

import contextlib
import http.server
import json
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import jwt

from healthcode.jws import sign_compact
from healthcode.keys import SigningKey, load_jwks
from healthcode.trust import IssuerEntry, RevocationStatus, TrustedKey


class SignedListChecker:
    """Verifies the issuer's signed revocation list with its JWKS and answers from it."""

    def __init__(self, document: str, jwks: dict[str, object], issuer: str) -> None:
        header = jwt.get_unverified_header(document)
        keys = {key.kid: key for key in load_jwks(jwks)}
        key = keys[header["kid"]]
        payload = jwt.PyJWS().decode(document, key=key.public_key, algorithms=["ES256"])
        self.payload = json.loads(payload)
        assert self.payload["iss"] == issuer
        self.revoked = {entry["jti"] for entry in self.payload["entries"]}
        self.as_of = self.payload["issued_at"]
        self.issuer = issuer

    def revocation_status(self, issuer: str, jti: str) -> RevocationStatus:
        if issuer != self.issuer:
            return RevocationStatus.UNKNOWN
        return RevocationStatus.REVOKED if jti in self.revoked else RevocationStatus.NOT_REVOKED


def recent(hours: float = 1.0) -> str:
    """An ISO time `hours` ago (UTC, with offset)."""
    return (datetime.now(UTC) - timedelta(hours=hours)).replace(microsecond=0).isoformat()


def lab_csv(*rows: tuple[str, str, str, str]) -> bytes:
    lines = ["id_number,result,test,sampled_at"] + [",".join(row) for row in rows]
    return ("\n".join(lines) + "\n").encode("utf-8")


class SwitchableProxy:
    """A TCP proxy to a real server that can become a black hole: it then accepts connections
    and reads what is sent, but never forwards or answers anything (a hung Redis).

    What the black hole swallows is kept per connection; `swallowed_commands()` parses it as
    Redis commands, so a test can count what reached Redis instead of timing requests.
    """

    def __init__(self, target_port: int) -> None:
        self._target_port = target_port
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port = int(self._listener.getsockname()[1])
        self.black_hole = threading.Event()
        self._sockets: list[socket.socket] = []
        self._swallowed: dict[int, bytearray] = {}  # per client connection (id of its socket)
        self._swallowed_lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self._sockets.append(client)
            if self.black_hole.is_set():
                threading.Thread(target=self._swallow, args=(client,), daemon=True).start()
                continue
            upstream = socket.create_connection(("127.0.0.1", self._target_port))
            self._sockets.append(upstream)
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    def _keep(self, source: socket.socket, data: bytes) -> None:
        with self._swallowed_lock:
            self._swallowed.setdefault(id(source), bytearray()).extend(data)

    def _swallow(self, source: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                self._keep(source, data)

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        upstream = source.getpeername()[1] == self._target_port
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                if not self.black_hole.is_set():
                    target.sendall(data)
                elif not upstream:
                    self._keep(source, data)

    def swallowed_commands(self) -> list[list[bytes]]:
        """Every complete Redis command the black hole swallowed so far, per connection in order."""
        with self._swallowed_lock:
            buffers = [bytes(buffer) for buffer in self._swallowed.values()]
        return [command for buffer in buffers for command in _resp_commands(buffer)]

    def close(self) -> None:
        self._closed = True
        for sock in [self._listener, *self._sockets]:
            with contextlib.suppress(OSError):
                sock.close()


class RecordingWebhook:
    """A loopback HTTP server standing in for an SMS gateway: it records each JSON POST it
    accepts in `received`. The first `fail_first` POSTs are answered 503 (a gateway outage)
    instead; `attempts` holds the monotonic time of every POST, failed or not."""

    def __init__(self, fail_first: int = 0) -> None:
        received: list[tuple[dict[str, str], dict[str, object]]] = []
        attempts: list[float] = []
        self.received = received
        self.attempts = attempts

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                attempts.append(time.monotonic())
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if len(attempts) <= fail_first:
                    self.send_response(503)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                received.append((dict(self.headers.items()), json.loads(body)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/sms"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def wait_for(self, count: int, timeout_s: float = 10.0) -> list[dict[str, object]]:
        """The bodies once `count` have arrived (fails after `timeout_s`)."""
        deadline = time.monotonic() + timeout_s
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(self.received) >= count, f"{len(self.received)} of {count} codes delivered"
        return [body for _, body in self.received]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class PartnerFeedServer:
    """A partner issuer's API on loopback whose revocation feed the test writes: each
    `GET /partner/v1/revocations` answers `{"revocation_list": <JWS>}` (standard §10.4), the JWS
    signed with the partner's own trusted credential key over whatever `payload()` returns,
    well-formed or not. `requests` counts the feeds served."""

    def __init__(self, issuer_id: str, payload: Callable[[], object]) -> None:
        self.issuer_id = issuer_id
        self.key = SigningKey.generate()
        self.requests = 0
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if not self.path.startswith("/partner/v1/revocations"):
                    self.send_error(404)
                    return
                server.requests += 1
                signed = sign_compact(json.dumps(payload()).encode(), server.key, compress=False)
                body = json.dumps({"revocation_list": signed}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def entry(self) -> IssuerEntry:
        """The partner as the trust list lists it: its key active, its partner API here."""
        return IssuerEntry(
            id=self.issuer_id,
            name=self.issuer_id,
            keys=(TrustedKey(self.key.verifying_key),),
            endpoints={"partner_api": f"{self.url}/partner/v1"},
        )

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _resp_commands(data: bytes) -> list[list[bytes]]:
    """The complete RESP arrays of bulk strings (Redis commands) at the start of `data`."""
    commands: list[list[bytes]] = []
    at = 0
    while data.startswith(b"*", at):
        end = data.find(b"\r\n", at)
        if end < 0:
            break
        count, at, parts = int(data[at + 1 : end]), end + 2, []
        for _ in range(count):
            end = data.find(b"\r\n", at)
            if end < 0 or not data.startswith(b"$", at):
                return commands
            size = int(data[at + 1 : end])
            if len(data) < end + 2 + size + 2:
                return commands
            parts.append(data[end + 2 : end + 2 + size])
            at = end + 2 + size + 2
        commands.append(parts)
    return commands
