"""The shared app factory's request body limit (healthcode.server), which the issuer uses."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI, Request
from pydantic import BaseModel

from healthcode.server import create_base_app
from healthcode.server.limits import DEFAULT_MAX_BODY_BYTES
from tests.servers import serve


class Echo(BaseModel):
    text: str


def _app(**options: object) -> FastAPI:
    app = create_base_app(title="limits test", **options)  # type: ignore[arg-type]

    @app.post("/json")
    def json_body(body: Echo) -> dict[str, int]:
        return {"chars": len(body.text)}

    @app.post("/upload/raw")
    async def raw(request: Request) -> dict[str, int]:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
        return {"bytes": size}

    return app


@pytest.fixture(scope="module")
def limited() -> Iterator[httpx.Client]:
    with (
        serve(_app(max_body_bytes=1000, unlimited_body_paths=("/upload/",))) as server,
        httpx.Client(base_url=server.url, timeout=30) as http,
    ):
        yield http


def _body(size: int) -> bytes:
    return b'{"text": "' + b"x" * (size - 12) + b'"}'


def test_a_body_at_the_limit_passes_and_one_byte_more_is_refused(limited: httpx.Client) -> None:
    at_limit = limited.post(
        "/json", content=_body(1000), headers={"Content-Type": "application/json"}
    )
    assert at_limit.status_code == 200, at_limit.text
    over = limited.post("/json", content=_body(1001), headers={"Content-Type": "application/json"})
    assert over.status_code == 413
    assert over.json()["error"] == "input_too_large"
    assert over.json()["text"]["zh"]


def test_a_streamed_body_without_length_is_counted(limited: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"text": "'
        for _ in range(20):
            yield b"y" * 100
        yield b'"}'

    answer = limited.post("/json", content=chunks(), headers={"Content-Type": "application/json"})
    assert answer.status_code == 413
    assert answer.json()["error"] == "input_too_large"


def test_exempt_paths_take_larger_bodies(limited: httpx.Client) -> None:
    answer = limited.post("/upload/raw", content=b"z" * 50_000)
    assert answer.status_code == 200
    assert answer.json() == {"bytes": 50_000}


def test_the_limit_is_on_by_default_and_can_be_turned_off() -> None:
    assert DEFAULT_MAX_BODY_BYTES >= 8 * 1024 * 1024  # above a checkpoint's 5 MiB photos
    big = b"q" * (DEFAULT_MAX_BODY_BYTES + 1)
    with serve(_app()) as server, httpx.Client(base_url=server.url, timeout=60) as http:
        assert http.post("/upload/raw", content=big).status_code == 413
    with (
        serve(_app(max_body_bytes=None)) as server,
        httpx.Client(base_url=server.url, timeout=60) as http,
    ):
        assert http.post("/upload/raw", content=big).json() == {"bytes": len(big)}
