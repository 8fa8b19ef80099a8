"""The issuer's OpenAPI holds every answer it gives (schemathesis, all checks; issue 13 §9)."""

from __future__ import annotations

import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from issuers.api.schemas import StaffRole
from issuers.app import create_app
from issuers.auth import STAFF_ROLES, Role
from issuers.db import migrate
from offline.app import create_app as create_print_app
from offline.settings import OfflineSettings
from tests.apicontract import contract_failures
from tests.issuers.conftest import IssuerService, citizen_number, make_settings
from tests.issuers.helpers import RecordingWebhook
from tests.servers import AppServer, free_port, serve

#: Which staff role each staff path is for (longest prefix first); every other path is a
#: citizen's. A route called by another role is still exercised: its 403 is documented too.
_STAFF_PATHS = (
    ("/v1/citizens", Role.HEALTH_OFFICIAL),
    ("/v1/counter/", Role.COUNTER_STAFF),
    ("/v1/checkpoint/", Role.CHECKPOINT),
    ("/v1/feeds/", Role.HEALTH_OFFICIAL),
    ("/v1/corrections/mine", Role.CITIZEN),
    ("/v1/corrections/", Role.HEALTH_OFFICIAL),
    ("/v1/audit", Role.ADMIN),
    ("/v1/staff", Role.ADMIN),
)


@pytest.fixture
def issuer_app(tmp_path: Path, redis_url: str) -> Iterator[tuple[Any, IssuerService]]:
    """A real issuer on a free port with what a deployment has: an SMS gateway (a loopback
    webhook) and a real print service. Without them the one-time-code request and printing
    are refused 503 `upstream_unavailable` (documented; tests/issuers/test_login_codes.py and
    test_citizen_printing.py produce those), which schemathesis counts as server errors."""
    port = free_port()
    gateway = RecordingWebhook()
    print_settings = OfflineSettings(
        issuer_url=f"http://127.0.0.1:{port}",
        audit_database_url=f"sqlite:///{tmp_path / 'print-audit.db'}",
    )
    try:
        with serve(create_print_app(print_settings)) as printer:
            settings = make_settings(
                tmp_path, redis_url, otp_webhook_url=gateway.url, print_url=printer.url
            )
            migrate(settings.database_url)
            app = create_app(settings)
            server = AppServer(app, port=port)  # the port the print service calls back
            try:
                with httpx.Client(base_url=server.url, timeout=30) as http:
                    yield (
                        app,
                        IssuerService(settings, app.state.context, server, http, app.state.trust),
                    )
            finally:
                server.stop()
    finally:
        gateway.close()


def test_new_staff_roles_are_the_staff_roles() -> None:
    # The OpenAPI lists the roles an admin may give; they must be exactly the staff roles.
    assert set(typing.get_args(StaffRole)) == {role.value for role in STAFF_ROLES}


def test_every_answer_is_documented(issuer_app: tuple[Any, IssuerService]) -> None:
    app, issuer = issuer_app
    citizen = citizen_number(41)
    issuer.register(citizen, "Contract Citizen", "13800000041")
    staff_roles = {role for _, role in _STAFF_PATHS} - {Role.CITIZEN}
    headers = {role: issuer.staff_headers(role) for role in staff_roles}
    headers[Role.CITIZEN] = issuer.citizen_headers(citizen)

    def headers_for(case: Any) -> dict[str, str]:
        if case.path == "/v1/auth/logout":
            return issuer.citizen_headers(citizen)  # each logout ends a session of its own
        if case.path == "/v1/corrections" and case.method.upper() == "GET":
            return headers[Role.HEALTH_OFFICIAL]
        for prefix, role in _STAFF_PATHS:
            if case.path.startswith(prefix) and role in headers:
                return headers[role]
        return headers[Role.CITIZEN]

    #: Bodies valid by their schema that are still refused 422, for what no JSON schema says.
    id_number = "an ID number's check character, date and region (GB 11643)"
    semantic = {
        "POST /v1/citizens": id_number,
        "POST /v1/family": id_number,
        "POST /v1/counter/family": id_number,
        "POST /v1/counter/offline-code": id_number,
        "POST /v1/checkpoint/status-lookup": id_number,
        "POST /v1/feeds/{kind}": "a CSV feed: its header line and each row's fields",
        "POST /v1/me/declarations": "a declaration's fields checked together (rules vocabulary)",
        "POST /v1/family/{dependent_ref}/declarations": "the same declaration rules",
        "POST /v1/corrections/{correction_id}/decision": (
            "fields checked together: override_days only with an override_colour, no "
            "override on a rejection, a note that is not blank"
        ),
    }
    failures = contract_failures(app, headers_for, semantic=semantic)
    assert failures == [], "\n".join(failures)
