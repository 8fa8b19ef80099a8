"""The print service's OpenAPI holds every answer it gives (schemathesis, all checks)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from offline.app import create_app
from offline.settings import OfflineSettings
from tests.apicontract import contract_failures
from tests.offline.standin import CITIZEN_TOKEN, STAFF_TOKEN, StandInIssuer
from tests.servers import AppServer


def _headers(case: Any) -> dict[str, str]:
    # A real session of the stand-in issuer: counter staff at the counter, else a citizen.
    token = STAFF_TOKEN if case.path.endswith("/counter") else CITIZEN_TOKEN
    return {"Authorization": f"Bearer {token}"}


def test_every_answer_is_documented(
    tmp_path: Path, issuer: tuple[StandInIssuer, AppServer]
) -> None:
    _, server = issuer
    settings = OfflineSettings(
        issuer_url=server.url, audit_database_url=f"sqlite:///{tmp_path / 'audit.db'}"
    )
    semantic = {
        "POST /v1/print/counter": "an ID number's check character (GB 11643)",
        "POST /v1/print/family": "a family sheet is A4 only (layout and action together)",
    }
    failures = contract_failures(create_app(settings), _headers, semantic=semantic)
    assert failures == [], "\n".join(failures)
