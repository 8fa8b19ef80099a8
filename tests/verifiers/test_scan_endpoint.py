"""`POST /v1/scan`, answered by `ScanEndpoint` ahead of routing, answers as the service does."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest
from fastapi.routing import APIRoute

from healthcode.errors import ErrorCode
from healthcode.server import error_body
from tests.verifiers.conftest import SC_GREEN, Province, RunningCheckpoint
from tests.verifiers.test_app import phone_code
from verifiers.app import create_app
from verifiers.hotpath import SCAN_PATH

# Fields that move with the clock between two answers to the same scan.
_CLOCK_FIELDS = ("checked_at", "validity_left_s", "trust_list")

Answer = tuple[int, dict[bytes, bytes], bytes]


def call(
    asgi: Any,
    body_chunks: list[bytes],
    *,
    token: str | None,
    method: str = "POST",
    path: str = "/v1/scan",
    disconnect: bool = False,
) -> Answer | None:
    """One HTTP request straight into an ASGI app; None when nothing was answered."""
    headers = [(b"host", b"checkpoint"), (b"content-type", b"application/json")]
    if token is not None:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }
    messages: list[dict[str, Any]] = [{"type": "http.disconnect"}] if disconnect else []
    messages += [
        {"type": "http.request", "body": chunk, "more_body": i < len(body_chunks) - 1}
        for i, chunk in enumerate(body_chunks)
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(asgi(scope, receive, send))
    if not sent:
        return None
    start, *bodies = sent
    return start["status"], dict(start["headers"]), b"".join(m.get("body", b"") for m in bodies)


def scan_body(text: str) -> bytes:
    return orjson.dumps({"text": text})


def without_clock(answer: bytes) -> dict[str, Any]:
    data = orjson.loads(answer)
    for name in _CLOCK_FIELDS:
        data.pop(name, None)
    return dict(data)


def test_answers_match_the_service_and_are_logged(
    checkpoint: RunningCheckpoint, sc: Province
) -> None:
    app, token = checkpoint.app, checkpoint.device_token
    text = phone_code(sc)
    through_app = call(app, [scan_body(text)], token=token)
    assert through_app is not None
    reference = orjson.dumps(
        checkpoint.service.scan_text(text, checkpoint.service.auth.authenticate(token)).to_json()
    )
    status, headers, body = through_app
    assert status == 200
    assert headers[b"content-type"] == b"application/json"
    assert int(headers[b"content-length"]) == len(body)
    assert without_clock(body) == without_clock(reference)
    answer = orjson.loads(body)
    assert answer["display"] == "green"
    assert answer["id_tail"] == SC_GREEN[-4:]
    assert "subject" not in answer
    records = checkpoint.service.scan_log.scans()
    assert len(records) == 2
    assert {record.subject for record in records} == {"c3ViamVjdC1wc2V1ZG9ueW0tMDE"}
    assert {record.actor for record in records} == {
        checkpoint.service.auth.authenticate(token).actor
    }


def test_the_scan_is_registered_once_and_documented(checkpoint: RunningCheckpoint) -> None:
    app = checkpoint.app
    assert not [r for r in app.routes if isinstance(r, APIRoute) and r.path == SCAN_PATH]
    operation = app.openapi()["paths"][SCAN_PATH]["post"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    assert schema["required"] == ["text"]
    # No length bound on the text: too long for a code is a verdict (200 input_too_large);
    # the body's own bound is documented as the 413 every refusal of the route lists.
    assert "maxLength" not in schema["properties"]["text"]
    assert {"200", "401", "413", "422"} <= set(operation["responses"])
    # A second app documents it too (the schema is not shared state between apps).
    other = create_app(checkpoint.service.settings)
    try:
        assert SCAN_PATH in other.openapi()["paths"]
    finally:
        other.state.service.close()


def test_body_in_several_chunks(checkpoint: RunningCheckpoint, sc: Province) -> None:
    body = scan_body(phone_code(sc))
    answer = call(
        checkpoint.app,
        [body[:10], body[10:100], body[100:]],
        token=checkpoint.device_token,
    )
    assert answer is not None
    assert orjson.loads(answer[2])["display"] == "green"


@pytest.mark.parametrize(
    ("body", "token", "status", "code"),
    [
        (b'{"text": "x"}', None, 401, ErrorCode.UNAUTHENTICATED),
        (b'{"text": "x"}', "hcd_not-a-real-token", 401, ErrorCode.DEVICE_NOT_REGISTERED),
        (b"not json", "device", 422, ErrorCode.INVALID_REQUEST),
        (b'{"txt": "hc:/56"}', "device", 422, ErrorCode.INVALID_REQUEST),
        (b'{"text": 5}', "device", 422, ErrorCode.INVALID_REQUEST),
        (b'["hc:/56"]', "device", 422, ErrorCode.INVALID_REQUEST),
        (b"", "device", 422, ErrorCode.INVALID_REQUEST),
        # Text too long for any code is a verdict (tests/verifiers/test_app.py); a body past
        # the scan bound is refused unread.
        (b" " * (7 * 65536), "device", 413, ErrorCode.INPUT_TOO_LARGE),
    ],
)
def test_refusals_are_the_standard_error_answer(
    checkpoint: RunningCheckpoint, body: bytes, token: str | None, status: int, code: ErrorCode
) -> None:
    bearer = checkpoint.device_token if token == "device" else token
    answer = call(checkpoint.app, [body], token=bearer)
    assert answer is not None
    assert answer[0] == status
    assert orjson.loads(answer[2])["error"] == code.value
    assert set(orjson.loads(answer[2])) == set(error_body(code, "m"))


def test_a_refused_scan_is_not_logged(checkpoint: RunningCheckpoint) -> None:
    call(checkpoint.app, [b"not json"], token=checkpoint.device_token)
    call(checkpoint.app, [b'{"text": "x"}'], token="hcd_not-a-real-token")
    assert checkpoint.service.scan_log.scans() == []


def test_client_gone_before_the_body_gets_no_answer(checkpoint: RunningCheckpoint) -> None:
    answer = call(
        checkpoint.app,
        [b'{"text": "x"}'],
        token=checkpoint.device_token,
        disconnect=True,
    )
    assert answer is None
    assert checkpoint.service.scan_log.scans() == []


def test_other_requests_pass_through(checkpoint: RunningCheckpoint) -> None:
    app = checkpoint.app
    health = call(app, [b""], token=None, method="GET", path="/healthz")
    assert health is not None
    assert health[0] == 200
    wrong_method = call(app, [b""], token=checkpoint.device_token, method="GET")
    assert wrong_method is not None
    assert wrong_method[0] == 405
    assert wrong_method[1][b"allow"] == b"POST"
    assert orjson.loads(wrong_method[2])["error"] == ErrorCode.INVALID_REQUEST.value
    batch = call(
        app,
        [orjson.dumps({"scans": ["hc:/1234"]})],
        token=checkpoint.device_token,
        path="/v1/scan/batch",
    )
    assert batch is not None
    assert batch[0] == 200
    assert orjson.loads(batch[2])["results"][0]["error"] == "malformed_jws"


def test_served_by_uvicorn(checkpoint: RunningCheckpoint, sc: Province) -> None:
    """The running test server (the app, no fast path) answers scans over HTTP."""
    response = checkpoint.post("/v1/scan", content=scan_body(phone_code(sc)))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json()["display"] == "green"
