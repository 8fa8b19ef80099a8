"""Request bounds: bodies are bounded before they are read, batches before they are parsed."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import orjson
import pytest

from tests.verifiers.conftest import RunningCheckpoint
from verifiers.routes import BatchRequest
from verifiers.settings import MAX_BATCH_SCANS, VerifierSettings


def test_batch_model_caps_the_number_of_scans() -> None:
    BatchRequest.model_validate({"scans": ["x"] * MAX_BATCH_SCANS})
    with pytest.raises(ValueError, match="at most 100"):
        BatchRequest.model_validate({"scans": ["x"] * (MAX_BATCH_SCANS + 1)})
    with pytest.raises(ValueError):
        VerifierSettings(demo_mode=True, max_batch=MAX_BATCH_SCANS + 1)


def test_batch_is_not_parsed_before_the_caller_is_known(checkpoint: RunningCheckpoint) -> None:
    body = orjson.dumps({"scans": ["hc:/" + "5" * 4000] * 101})  # ~400 kB, under the body limit
    anonymous = httpx.post(
        checkpoint.url + "/v1/scan/batch",
        content=body,
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert anonymous.status_code == 401
    assert anonymous.json()["error"] == "unauthenticated"
    too_many = checkpoint.post("/v1/scan/batch", content=body)
    assert too_many.status_code == 422
    assert too_many.json()["error"] == "invalid_request"
    assert too_many.json()["problems"][0]["field"] == "scans"
    not_json = checkpoint.post("/v1/scan/batch", content=b"{not json")
    assert not_json.status_code == 422
    assert not_json.json()["error"] == "invalid_request"
    assert checkpoint.service.scan_log.scans() == []


@pytest.mark.parametrize("path", ["/v1/scan/batch", "/v1/id-card", "/v1/auth/login"])
def test_declared_oversized_body_is_refused_unread(
    checkpoint: RunningCheckpoint, path: str
) -> None:
    limit = checkpoint.service.settings.max_body_bytes
    response = checkpoint.post(path, content=b"{" + b" " * limit + b"}")
    assert response.status_code == 413
    assert response.json()["error"] == "input_too_large"


@pytest.mark.parametrize("path", ["/v1/scan/batch", "/v1/id-card"])
def test_streamed_oversized_body_is_stopped(checkpoint: RunningCheckpoint, path: str) -> None:
    limit = checkpoint.service.settings.max_body_bytes

    def chunks() -> Iterator[bytes]:  # no Content-Length: sent chunked
        yield b'{"scans": ["'
        for _ in range(limit // 65536 + 2):
            yield b"5" * 65536
        yield b'"]}'

    response = httpx.post(
        checkpoint.url + path,
        content=chunks(),
        headers={
            "Authorization": f"Bearer {checkpoint.device_token}",
            "Content-Type": "application/json",
        },
        timeout=10,
    )
    assert response.status_code == 413
    assert response.json()["error"] == "input_too_large"


def test_a_photo_keeps_its_own_larger_bound(checkpoint: RunningCheckpoint) -> None:
    settings = checkpoint.service.settings
    assert settings.max_image_bytes > settings.max_body_bytes
    # Over the general limit, under the photo's: read (after authentication) and decoded.
    response = checkpoint.post("/v1/scan/image", content=b"\0" * (settings.max_body_bytes + 1))
    assert response.status_code == 200
    assert response.json()["results"][0]["error"] == "malformed_input"
