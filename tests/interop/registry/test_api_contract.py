"""The registry's OpenAPI holds every answer it gives (schemathesis, all checks)."""

from __future__ import annotations

from typing import Any

from interop.app import create_app
from interop.settings import InteropSettings
from tests.apicontract import contract_failures
from tests.interop.conftest import ADMIN_TOKEN

#: Bodies whose validity no JSON schema can state (healthcode.server.openapi, tests/apicontract).
SEMANTIC = {
    "POST /v1/admin/issuers": "its JWKS keys must be points of P-256",
    "POST /v1/issuers/{issuer_id}/keys": "proofs signed by the current and the new key",
    "POST /v1/issuers/{issuer_id}/keys/{kid}/revoke": "a proof signed by one of its keys",
    "POST /v1/admin/pending/{version}/signatures": "a root key's signature of the pending list",
}


def test_every_answer_is_documented(registry_settings: InteropSettings) -> None:
    def headers(case: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {ADMIN_TOKEN}"}  # the operator's real token

    failures = contract_failures(create_app(registry_settings), headers, semantic=SEMANTIC)
    assert failures == [], "\n".join(failures)
