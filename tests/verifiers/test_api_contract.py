"""The checkpoint's OpenAPI holds every answer it gives (schemathesis, all checks)."""

from __future__ import annotations

from typing import Any

from tests.apicontract import contract_failures
from tests.verifiers.conftest import RunningCheckpoint


def test_every_answer_is_documented(checkpoint: RunningCheckpoint) -> None:
    def headers(case: Any) -> dict[str, str]:
        # Real sessions: a health official for the scan-log export, a device for the rest.
        official = case.path.startswith("/v1/scans/")
        token = checkpoint.official_token if official else checkpoint.device_token
        return {"Authorization": f"Bearer {token}"}

    semantic = {
        "POST /v1/id-card": "an ID number's check character (GB 11643)",
        "POST /v1/assisted": "an ID number's check character (GB 11643)",
    }
    failures = contract_failures(checkpoint.app, headers, semantic=semantic)
    assert failures == [], "\n".join(failures)
