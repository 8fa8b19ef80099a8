"""Real servers for tests: redis-server processes and uvicorn apps on free loopback ports."""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI
from sqlalchemy import create_engine, text

from healthcode.server.redis_process import redis_server_command


def redis_command(binary: str, port: int, directory: str | os.PathLike[str]) -> list[str]:
    """The redis-server the project starts everywhere: loopback, AOF with fsync every second."""
    return redis_server_command(binary, port, directory)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


class RedisServer:
    """A real redis-server process on a free port, persisting (AOF) into a temp dir it owns."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.directory = tempfile.mkdtemp(prefix="hc-redis-")
        self._start()

    def _start(self, *extra: str) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed; scripts/test installs it")
        if not os.path.isdir(self.directory):
            # redis-server refuses a missing --dir and the port would never open.
            raise RuntimeError("this Redis was stopped for good (stop()); use halt() for an outage")
        self._process = subprocess.Popen(
            [*redis_command(binary, self.port, self.directory), *extra],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)
        self._wait_loaded()

    def _wait_loaded(self, timeout: float = 60.0) -> None:
        """Until PING answers PONG: a restarted Redis takes connections while it still loads
        its data, and answers every command with LOADING until then (slow on a busy machine)."""
        deadline = time.monotonic() + timeout
        while True:
            with socket.create_connection(("127.0.0.1", self.port), 5) as connection:
                connection.sendall(b"PING\r\n")
                reply = connection.recv(256)
            if reply.startswith(b"+PONG"):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"redis-server on {self.port} still answers {reply!r}")
            time.sleep(0.05)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _halt(self, sig: signal.Signals) -> None:
        if self._process.poll() is None:
            self._process.send_signal(sig)
            self._process.wait(10)

    def halt(self) -> None:
        """Stop the process cleanly and keep its data directory: an outage `restart()` ends."""
        self._halt(signal.SIGTERM)

    def stop(self) -> None:
        """Stop for good: the process and its data directory."""
        self._halt(signal.SIGTERM)
        shutil.rmtree(self.directory, ignore_errors=True)

    def restart(self) -> None:
        """Stop cleanly (if running) and start again on the same port and data directory."""
        self._halt(signal.SIGTERM)
        self._start()

    def crash_and_restart(self, *, appendonly: bool = True) -> None:
        """`kill -9` the process, then start again on the same port and data directory
        (`appendonly=False`: as a Redis without persistence would come back)."""
        self._halt(signal.SIGKILL)
        self._start(*(() if appendonly else ("--appendonly", "no")))


class AppServer:
    """A FastAPI app served by uvicorn in a background thread on a free port."""

    def __init__(
        self,
        app: Any,
        port: int | None = None,
        *,
        http: Any = "auto",
        timeout_keep_alive: int = 5,
    ) -> None:
        self.port = port or free_port()
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="on",
            http=http,
            timeout_keep_alive=timeout_keep_alive,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        wait_for_port(self.port)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def connections(self) -> list[Any]:
        """The protocol objects of the connections the server holds open now."""
        return list(self._server.server_state.connections)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(15)


@contextlib.contextmanager
def serve(app: FastAPI) -> Iterator[AppServer]:
    server = AppServer(app)
    try:
        yield server
    finally:
        server.stop()


def postgres_url() -> str | None:
    """The PostgreSQL URL scripts/test provides (a server it found or started), if any."""
    return os.environ.get("HC_TEST_POSTGRES_URL")


@contextlib.contextmanager
def demo_federation(
    directory: Path,
    *,
    env: Mapping[str, str] | None = None,
    startup_timeout_s: float = 240,
    args: Sequence[str] = (),
) -> Iterator[dict[str, Any]]:
    """`healthcode federation up --json --dir directory`, as the README's demo starts it.

    Yields the URLs it printed; stops it with Ctrl-C (SIGINT) afterwards. Its stderr (the
    start-up steps, a failing child's log tail) goes to `<directory>-stderr.txt`."""
    errors = directory.with_name(directory.name + "-stderr.txt")
    command = [sys.executable, "-m", "healthcode.cli", "federation", "up", "--json"]
    with (
        errors.open("wb") as stderr,
        subprocess.Popen(
            [*command, "--dir", str(directory), *args],
            stdout=subprocess.PIPE,
            stderr=stderr,
            env={**os.environ, **(env or {})},
        ) as process,
    ):
        try:
            assert process.stdout is not None
            with selectors.DefaultSelector() as selector:
                selector.register(process.stdout, selectors.EVENT_READ)
                assert selector.select(startup_timeout_s), errors.read_text()
            line = process.stdout.readline()
            assert line, errors.read_text()
            urls: dict[str, Any] = json.loads(line)
            yield urls
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(60)


@contextlib.contextmanager
def postgres_schema(base_url: str) -> Iterator[str]:
    """A database URL whose connections use a fresh schema, dropped afterwards."""
    schema = f"test_{uuid.uuid4().hex[:12]}"
    engine = create_engine(base_url)
    with engine.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in base_url else "?"
    try:
        yield f"{base_url}{separator}options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


@contextlib.contextmanager
def route_building_forbidden() -> Iterator[list[str]]:
    """While open, FastAPI building an included router's route (what it does lazily on a
    router's first request) fails that request; yields the paths it tried to build."""
    from fastapi import APIRouter

    probe = FastAPI()
    probe.include_router(APIRouter())
    included_router_type = type(probe.router.routes[-1])
    attempts: list[str] = []

    def refuse(self: Any, route: Any) -> None:
        attempts.append(str(getattr(route, "path", route)))
        raise AssertionError("a route was built while serving")

    original = included_router_type._build_effective_context  # type: ignore[attr-defined]
    included_router_type._build_effective_context = refuse  # type: ignore[attr-defined]
    try:
        yield attempts
    finally:
        included_router_type._build_effective_context = original  # type: ignore[attr-defined]
