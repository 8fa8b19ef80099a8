"""The print service against an issuer speaking the Issuer HTTP API, both on real servers.

The issuer here is a small stand-in built on the core's server plumbing: it implements the
contract's offline-code endpoints (bearer tokens, roles, error bodies) and signs real 7-day
credentials with the session's issuer key.
"""

from __future__ import annotations

import io
import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import httpx
import pytest
from fastapi import FastAPI, Header
from PIL import Image
from pydantic import BaseModel

from healthcode import (
    CodeKind,
    ErrorCode,
    RequestError,
    SigningKey,
    StatusColour,
    TrustStore,
    decode_image,
    encode_numeric,
    mask_name,
    new_credential,
    sign_credential,
    verify_credential,
)
from healthcode.idnumber import make_id_number, parse_id_number, pseudonymous_subject
from healthcode.server import create_base_app
from offline.app import create_app
from offline.settings import OfflineSettings
from tests.conftest import NOW, TEST_SUBJECT_SECRET
from tests.servers import AppServer, free_port, serve

if shutil.which("pdftoppm") is None:  # pragma: no cover - scripts/test installs it
    raise RuntimeError("pdftoppm (poppler-utils) is missing: run the suite through scripts/test")

CITIZEN_TOKEN = "citizen-session-token-0123456789"
STAFF_TOKEN = "counter-staff-session-token-0123"
CITIZEN_ID = make_id_number("510104", date(1948, 3, 1), 123)
DEPENDENTS = {
    "dep-grandchild": (
        make_id_number("510107", date(2016, 7, 9), 45),
        "李小明",
        StatusColour.GREEN,
    ),
    "dep-grandma": (make_id_number("510105", date(1940, 1, 2), 88), "王秀芳", StatusColour.YELLOW),
}
WALK_IN_ID = make_id_number("510106", date(1950, 5, 5), 7)


@dataclass
class StandInIssuer:
    """Records what it was asked, to show what the print service forwards."""

    key: SigningKey
    calls: list[tuple[str, str]] = field(default_factory=list)
    bodies: list[dict[str, Any]] = field(default_factory=list)
    issue_phone_codes: bool = False

    def token_for(self, id_number: str, name: str, colour: StatusColour) -> dict[str, Any]:
        resident = parse_id_number(id_number)
        credential = new_credential(
            issuer="cn-sc",
            subject=pseudonymous_subject(resident, TEST_SUBJECT_SECRET),
            status=colour,
            masked_name=mask_name(name),
            id_tail=resident.tail,
            kind=CodeKind.PHONE if self.issue_phone_codes else CodeKind.OFFLINE,
            now=NOW,
        )
        token = sign_credential(credential, self.key)
        return {
            "token": token,
            "qr_text": encode_numeric(token),
            "kind": credential.kind.value,
            "jti": credential.jti,
        }


class WalkIn(BaseModel):
    id_number: str
    name: str


def stand_in_issuer_app(issuer: StandInIssuer) -> FastAPI:
    app = create_base_app(title="stand-in issuer")

    def role_of(authorization: str | None, path: str) -> str:
        issuer.calls.append((path, authorization or ""))
        roles = {f"Bearer {CITIZEN_TOKEN}": "citizen", f"Bearer {STAFF_TOKEN}": "counter_staff"}
        role = roles.get(authorization or "")
        if role is None:
            raise RequestError(ErrorCode.UNAUTHENTICATED, "log in first")
        return role

    def need(role: str, wanted: str) -> None:
        if role != wanted:
            raise RequestError(ErrorCode.FORBIDDEN, f"this needs role {wanted}")

    @app.post("/v1/me/offline-code")
    def me(authorization: Annotated[str | None, Header()] = None) -> dict[str, Any]:
        need(role_of(authorization, "me"), "citizen")
        return issuer.token_for(CITIZEN_ID, "张三丰", StatusColour.GREEN)

    @app.get("/v1/family")
    def family(authorization: Annotated[str | None, Header()] = None) -> dict[str, Any]:
        need(role_of(authorization, "family"), "citizen")
        return {
            "dependents": [
                {"dependent_ref": ref, "id_tail": number[-4:]}
                for ref, (number, _, _) in DEPENDENTS.items()
            ]
        }

    @app.post("/v1/family/{ref}/offline-code")
    def dependent(
        ref: str, authorization: Annotated[str | None, Header()] = None
    ) -> dict[str, Any]:
        need(role_of(authorization, f"family/{ref}"), "citizen")
        if ref not in DEPENDENTS:
            raise RequestError(ErrorCode.NOT_FOUND, "no such dependent")
        number, name, colour = DEPENDENTS[ref]
        return issuer.token_for(number, name, colour)

    @app.post("/v1/counter/offline-code")
    def counter(
        body: WalkIn, authorization: Annotated[str | None, Header()] = None
    ) -> dict[str, Any]:
        need(role_of(authorization, "counter"), "counter_staff")
        issuer.bodies.append(body.model_dump())
        return issuer.token_for(body.id_number, body.name, StatusColour.RED)

    return app


@pytest.fixture
def issuer(issuer_key: SigningKey) -> Iterator[tuple[StandInIssuer, AppServer]]:
    stand_in = StandInIssuer(issuer_key)
    with serve(stand_in_issuer_app(stand_in)) as server:
        yield stand_in, server


@pytest.fixture
def audit_db(tmp_path: Path) -> Path:
    return tmp_path / "offline-audit.db"


@pytest.fixture
def printer(issuer: tuple[StandInIssuer, AppServer], audit_db: Path) -> Iterator[httpx.Client]:
    settings = OfflineSettings(
        issuer_url=issuer[1].url,
        audit_database_url=f"sqlite:///{audit_db}",
        issuer_names={"cn-sc": "四川省卫生健康委员会"},
    )
    with (
        serve(create_app(settings)) as server,
        httpx.Client(base_url=server.url, timeout=60) as client,
    ):
        yield client


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _audit_rows(audit_db: Path) -> list[dict[str, Any]]:
    with sqlite3.connect(audit_db) as db:
        db.row_factory = sqlite3.Row
        return [dict(row) for row in db.execute("SELECT * FROM offline_print_audit ORDER BY id")]


def _verified(png: bytes, trust: TrustStore) -> list[Any]:
    with Image.open(io.BytesIO(png)) as image:
        return [verify_credential(text, trust, NOW + 60) for text in decode_image(image.copy())]


def test_print_me_returns_a_pdf_and_audits_the_pseudonymous_subject(
    printer: httpx.Client, audit_db: Path
) -> None:
    response = printer.post("/v1/print/me", headers=_auth(CITIZEN_TOKEN))

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["cache-control"] == "no-store"
    assert response.content.startswith(b"%PDF")
    (row,) = _audit_rows(audit_db)
    assert row["actor_role"] == "citizen"
    assert row["action"] == "print_me"
    assert row["subject"] == pseudonymous_subject(CITIZEN_ID, TEST_SUBJECT_SECRET)
    assert (row["layout"], row["format"]) == ("a4", "pdf")
    assert CITIZEN_TOKEN not in str(row)
    assert CITIZEN_ID.encode() not in audit_db.read_bytes()


def test_print_me_as_png_card_verifies(printer: httpx.Client, trust: TrustStore) -> None:
    response = printer.post(
        "/v1/print/me", params={"format": "png", "layout": "card"}, headers=_auth(CITIZEN_TOKEN)
    )

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    (result,) = _verified(response.content, trust)
    assert result.valid
    assert result.credential.status is StatusColour.GREEN
    assert result.credential.masked_name == "张*丰"


def test_print_one_dependent(printer: httpx.Client, trust: TrustStore, audit_db: Path) -> None:
    response = printer.post(
        "/v1/print/family/dep-grandma", params={"format": "png"}, headers=_auth(CITIZEN_TOKEN)
    )

    assert response.status_code == 200, response.text
    (result,) = _verified(response.content, trust)
    assert result.credential.status is StatusColour.YELLOW
    (row,) = _audit_rows(audit_db)
    assert row["action"] == "print_family_member"
    assert row["subject"] == result.credential.subject


def test_family_sheet_prints_every_dependent(
    printer: httpx.Client, trust: TrustStore, audit_db: Path
) -> None:
    response = printer.post(
        "/v1/print/family", params={"format": "png"}, headers=_auth(CITIZEN_TOKEN)
    )

    assert response.status_code == 200, response.text
    results = _verified(response.content, trust)
    assert [r.valid for r in results] == [True, True]
    rows = _audit_rows(audit_db)
    assert {row["subject"] for row in rows} == {r.credential.subject for r in results}
    assert {row["action"] for row in rows} == {"print_family"}


def test_family_sheet_as_card_is_refused_without_audit(
    printer: httpx.Client, audit_db: Path
) -> None:
    response = printer.post(
        "/v1/print/family", params={"layout": "card"}, headers=_auth(CITIZEN_TOKEN)
    )

    assert response.status_code == 422
    assert response.json()["error"] == "invalid_request"
    assert _audit_rows(audit_db) == []


def test_counter_prints_a_walk_in_citizen(
    printer: httpx.Client,
    issuer: tuple[StandInIssuer, AppServer],
    trust: TrustStore,
    audit_db: Path,
) -> None:
    response = printer.post(
        "/v1/print/counter",
        params={"format": "png"},
        json={"id_number": WALK_IN_ID, "name": "赵老伯"},
        headers=_auth(STAFF_TOKEN),
    )

    assert response.status_code == 200, response.text
    (result,) = _verified(response.content, trust)
    assert result.credential.status is StatusColour.RED
    assert issuer[0].bodies == [{"id_number": WALK_IN_ID, "name": "赵老伯"}]
    (row,) = _audit_rows(audit_db)
    assert (row["actor_role"], row["action"]) == ("counter_staff", "print_counter")
    assert WALK_IN_ID.encode() not in audit_db.read_bytes()


def test_counter_refuses_a_bad_id_number_before_calling_the_issuer(
    printer: httpx.Client, issuer: tuple[StandInIssuer, AppServer], audit_db: Path
) -> None:
    bad = WALK_IN_ID[:-1] + ("0" if WALK_IN_ID[-1] != "0" else "1")
    response = printer.post(
        "/v1/print/counter", json={"id_number": bad, "name": "赵老伯"}, headers=_auth(STAFF_TOKEN)
    )

    assert response.status_code == 422
    assert response.json()["error"] == "invalid_id_number"
    assert bad not in response.text
    assert issuer[0].calls == []
    assert _audit_rows(audit_db) == []


def test_a_citizen_cannot_print_at_the_counter(printer: httpx.Client, audit_db: Path) -> None:
    response = printer.post(
        "/v1/print/counter",
        json={"id_number": WALK_IN_ID, "name": "赵老伯"},
        headers=_auth(CITIZEN_TOKEN),
    )

    assert response.status_code == 403
    assert response.json()["error"] == "forbidden"
    assert _audit_rows(audit_db) == []


def test_no_bearer_token_is_401_and_the_issuer_is_not_called(
    printer: httpx.Client, issuer: tuple[StandInIssuer, AppServer]
) -> None:
    response = printer.post("/v1/print/me")

    assert response.status_code == 401
    assert response.json()["error"] == "unauthenticated"
    assert issuer[0].calls == []


def test_the_issuer_refusing_the_token_is_relayed(printer: httpx.Client) -> None:
    response = printer.post("/v1/print/me", headers=_auth("stolen-or-expired"))

    assert response.status_code == 401
    assert response.json()["error"] == "unauthenticated"


def test_the_bearer_token_is_forwarded_unchanged(
    printer: httpx.Client, issuer: tuple[StandInIssuer, AppServer]
) -> None:
    printer.post("/v1/print/family/dep-grandchild", headers=_auth(CITIZEN_TOKEN))

    assert issuer[0].calls == [("family/dep-grandchild", f"Bearer {CITIZEN_TOKEN}")]


@pytest.mark.parametrize("ref", ["..%2Fme", "a%3Fb", "x" * 65])
def test_a_dependent_ref_that_could_change_the_issuer_path_is_refused(
    printer: httpx.Client, issuer: tuple[StandInIssuer, AppServer], ref: str
) -> None:
    response = printer.post(f"/v1/print/family/{ref}", headers=_auth(CITIZEN_TOKEN))

    assert response.status_code in (404, 422)
    assert issuer[0].calls == []


def test_unknown_dependent_is_404(printer: httpx.Client, audit_db: Path) -> None:
    response = printer.post("/v1/print/family/dep-nobody", headers=_auth(CITIZEN_TOKEN))

    assert response.status_code == 404
    assert response.json()["error"] == "not_found"
    assert _audit_rows(audit_db) == []


@pytest.mark.parametrize("params", [{"format": "gif"}, {"layout": "a3"}])
def test_bad_query_parameters_are_invalid_request(
    printer: httpx.Client, params: dict[str, str]
) -> None:
    response = printer.post("/v1/print/me", params=params, headers=_auth(CITIZEN_TOKEN))

    assert response.status_code == 422
    assert response.json()["error"] == "invalid_request"


def test_a_phone_code_from_the_issuer_is_not_printed(
    printer: httpx.Client, issuer: tuple[StandInIssuer, AppServer], audit_db: Path
) -> None:
    issuer[0].issue_phone_codes = True

    response = printer.post("/v1/print/me", headers=_auth(CITIZEN_TOKEN))

    assert response.status_code == 422
    assert response.json()["error"] == "invalid_request"
    assert _audit_rows(audit_db) == []


def test_issuer_down_is_503_upstream_unavailable(tmp_path: Path) -> None:
    settings = OfflineSettings(
        issuer_url=f"http://127.0.0.1:{free_port()}",
        audit_database_url=f"sqlite:///{tmp_path / 'audit.db'}",
        issuer_timeout_s=2,
    )
    with serve(create_app(settings)) as server:
        response = httpx.post(f"{server.url}/v1/print/me", headers=_auth(CITIZEN_TOKEN))

    assert response.status_code == 503
    assert response.json()["error"] == "upstream_unavailable"


def test_settings_come_from_the_hc_offline_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HC_OFFLINE_ISSUER_URL", "http://127.0.0.1:9999")
    monkeypatch.setenv("HC_OFFLINE_ISSUER_NAMES", '{"cn-sc": "四川"}')

    settings = OfflineSettings()

    assert settings.issuer_url == "http://127.0.0.1:9999"
    assert settings.issuer_names == {"cn-sc": "四川"}
