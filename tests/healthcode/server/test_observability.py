"""The shared observability parts: /metrics by route template, error counts, /readyz, request
ids and JSON log lines without personal data (ADR 0023)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import create_engine

from healthcode.errors import ErrorCode, RequestError
from healthcode.idnumber import make_id_number
from healthcode.server import create_base_app
from healthcode.server.logs import REQUEST_ID, JsonFormatter, scrub
from healthcode.server.readiness import database_check, redis_check
from tests.servers import AppServer, free_port

ID_NUMBER = make_id_number("510104", __import__("datetime").date(1980, 5, 17), 123)


def _app(checks: dict[str, object] | None = None) -> FastAPI:
    app = create_base_app(title="test", service="testsvc", readiness=checks or {})  # type: ignore[arg-type]

    @app.get("/items/{item_id}")
    async def item(item_id: str) -> dict[str, str]:
        if item_id == "missing":
            raise RequestError(ErrorCode.NOT_FOUND, "no such item")
        return {"item": item_id}

    return app


@pytest.fixture
def served() -> Iterator[httpx.Client]:
    server = AppServer(_app())
    try:
        with httpx.Client(base_url=server.url, timeout=10) as http:
            yield http
    finally:
        server.stop()


def _sample(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_requests_are_counted_by_route_template_and_errors_by_code(
    served: httpx.Client,
) -> None:
    before = served.get("/metrics").text
    for item in (ID_NUMBER, "b", "missing"):
        served.get(f"/items/{item}")
    after = served.get("/metrics").text
    template = {"service": "testsvc", "route": "/items/{item_id}"}
    ok = _sample(after, "hc_http_requests_total", **template, status="200")
    assert ok - _sample(before, "hc_http_requests_total", **template, status="200") == 2
    missing = {"service": "testsvc", "code": "not_found"}
    assert (
        _sample(after, "hc_errors_total", **missing) - _sample(before, "hc_errors_total", **missing)
        == 1
    )
    assert _sample(after, "hc_http_request_duration_seconds_count", **template) >= 3
    # The raw path (here an ID number) is never a label value.
    assert ID_NUMBER not in after


def test_request_ids_are_echoed_or_made(served: httpx.Client) -> None:
    given = served.get("/items/a", headers={"X-Request-ID": "lb-1234"})
    assert given.headers["x-request-id"] == "lb-1234"
    made = served.get("/items/a", headers={"X-Request-ID": "not sane; <script>"})
    assert made.headers["x-request-id"] != "not sane; <script>"
    assert len(made.headers["x-request-id"]) == 16


def test_readiness_fails_on_a_required_check_and_degrades_on_an_optional_one() -> None:
    dead_redis = redis_check(f"redis://127.0.0.1:{free_port()}/0", "testsvc", timeout_s=0.5)
    engine = create_engine("sqlite://")
    app = _app({"database": database_check(engine, "testsvc"), "redis": dead_redis})
    server = AppServer(app)
    try:
        with httpx.Client(base_url=server.url, timeout=10) as http:
            degraded = http.get("/readyz")
            assert degraded.status_code == 200
            assert degraded.json()["status"] == "degraded"
            assert degraded.json()["checks"]["database"] == "ok"
            assert "Redis" in degraded.json()["checks"]["redis"]
            app.state.readiness["trust_list"] = lambda: "no verified trust list yet"
            failing = http.get("/readyz")
            assert failing.status_code == 503
            assert failing.json()["status"] == "not ready"
            assert http.get("/healthz").status_code == 200  # liveness is not readiness
    finally:
        server.stop()
        engine.dispose()


def test_json_lines_carry_time_level_and_request_id_and_mask_personal_data() -> None:
    formatter = JsonFormatter()
    record = logging.LogRecord(
        "issuers", logging.WARNING, __file__, 1, "lookup of %s with %s failed", None, None
    )
    record.args = (ID_NUMBER, "Bearer hc1.eyJzdWIiOiJjaXRpemVuIn0.c2lnbmF0dXJl")
    token = REQUEST_ID.set("req-42")
    try:
        line = json.loads(formatter.format(record))
    finally:
        REQUEST_ID.reset(token)
    assert line["level"] == "warning"
    assert line["request_id"] == "req-42"
    assert line["ts"].endswith("Z")
    assert ID_NUMBER not in line["message"]
    assert "hc1." not in line["message"]
    access = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d', None, None
    )
    access.args = ("10.0.0.7:5555", "GET", f"/v1/citizens?id_number={ID_NUMBER}", "1.1", 200)
    entry = json.loads(formatter.format(access))
    assert entry["path"] == "/v1/citizens"
    assert entry["status"] == 200
    assert "10.0.0.7" not in json.dumps(entry)  # client addresses are personal data


def test_scrub_leaves_ordinary_text_alone() -> None:
    text = "imported 1000 rows in 2.5 s from batch 20261206"
    assert scrub(text) == text
    assert scrub(f"id {ID_NUMBER} done") == "id [redacted] done"
