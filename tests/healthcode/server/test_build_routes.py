"""`build_routes`: an app's included routers are built by the factory's thread, not by the
first request on a serving thread (where two apps of one process building at once swapped
each other's warning filters, and a warning FastAPI silences escaped as an error)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Annotated

import httpx
from fastapi import APIRouter, Depends, FastAPI, Header

from healthcode.server import build_routes, create_base_app
from tests.servers import AppServer, route_building_forbidden


def _caller(authorization: Annotated[str | None, Header()] = None) -> str:
    return authorization or "anonymous"


def _app() -> FastAPI:
    inner = APIRouter()

    @inner.get("/whoami")
    def whoami(caller: Annotated[str, Depends(_caller)]) -> dict[str, str]:
        return {"caller": caller}

    outer = APIRouter()
    outer.include_router(inner, prefix="/inner")

    @outer.get("/ping")
    def ping() -> dict[str, str]:
        return {"pong": "yes"}

    app = create_base_app(title="build routes")
    app.include_router(outer, prefix="/v1")
    return app


@contextlib.contextmanager
def _serving(app: FastAPI) -> Iterator[httpx.Client]:
    server = AppServer(app)
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            yield client
    finally:
        server.stop()


def test_a_built_app_serves_nested_included_routes_without_building_them() -> None:
    app = build_routes(_app())
    with route_building_forbidden() as attempts, _serving(app) as client:
        nested = client.get("/v1/inner/whoami", headers={"Authorization": "Bearer x"})
        flat = client.get("/v1/ping")
    assert nested.status_code == 200
    assert nested.json() == {"caller": "Bearer x"}
    assert flat.json() == {"pong": "yes"}
    assert attempts == []


def test_an_unbuilt_app_builds_on_its_first_request() -> None:
    # The control: without build_routes, the first request is what builds the routes.
    app = _app()
    with route_building_forbidden() as attempts, _serving(app) as client:
        answer = client.get("/v1/ping")
    assert answer.status_code == 500
    assert attempts


def test_routes_added_after_the_build_are_still_served() -> None:
    app = build_routes(_app())
    late = APIRouter()

    @late.get("/late")
    def late_route() -> dict[str, str]:
        return {"late": "yes"}

    app.include_router(late, prefix="/v2")
    with _serving(app) as client:
        assert client.get("/v2/late").json() == {"late": "yes"}
        assert client.get("/v1/ping").json() == {"pong": "yes"}
