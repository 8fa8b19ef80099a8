"""ID-card reads against misbehaving issuers, and how reads are recorded."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response

from healthcode import TrustStore
from healthcode.idnumber import pseudonymous_subject
from tests.servers import AppServer
from tests.verifiers.conftest import (
    BJ_YELLOW,
    SC_GREEN,
    SC_RED,
    MakeSettings,
    Province,
    RunningCheckpoint,
    start_checkpoint,
)


def broken_issuer() -> FastAPI:
    """An issuer whose answers cannot be used: a login without a token, an undecodable body."""
    app = FastAPI()

    @app.post("/v1/auth/login")
    def login() -> JSONResponse:
        return JSONResponse({"token_type": "bearer"})  # no access_token

    @app.post("/v1/checkpoint/status-lookup")
    def lookup() -> Response:
        # Says gzip, is not: the bounded decoder refuses it (upstream_malformed).
        return Response(
            b"this is not gzip", media_type="application/json", headers={"Content-Encoding": "gzip"}
        )

    return app


def swapping_issuer(sc: Province) -> FastAPI:
    """An issuer (or a relay with a bug) that answers every look-up with SC_RED's valid code."""
    app = FastAPI()

    @app.post("/v1/checkpoint/status-lookup")
    def lookup() -> JSONResponse:
        return JSONResponse({"token": sc.issuer.credential_for(SC_RED), "home_issuer": "cn-sc"})

    return app


def test_a_code_of_someone_else_is_refused_at_the_claims_check(
    make_settings: MakeSettings, trust_store: TrustStore, sc: Province
) -> None:
    swapping = AppServer(swapping_issuer(sc))
    running = start_checkpoint(
        make_settings(issuer_url=swapping.url, issuer_token="fixed-device-token"), trust_store
    )
    try:
        answer = running.post("/v1/id-card", json={"id_number": SC_GREEN, "name": "张三丰"})
        body = answer.json()
        assert body["error"] == "invalid_claims", body
        assert body["display"] != "red"  # never someone else's colour
        # `checks` tells which step refused it; the later steps did not run.
        assert body["checks"]["signature"] == "passed"
        assert body["checks"]["claims"] == "failed"
        assert "validity" not in body["checks"]
        assert "revocation" not in body["checks"]
    finally:
        running.server.stop()
        swapping.stop()


@pytest.fixture
def broken() -> Iterator[AppServer]:
    server = AppServer(broken_issuer())
    yield server
    server.stop()


@pytest.mark.parametrize(
    "credential",
    [
        {"issuer_username": "gate-1", "issuer_password": "device-password-1"},
        {"issuer_token": "fixed-device-token"},
    ],
    ids=["malformed-login-answer", "undecodable-lookup-answer"],
)
def test_unusable_issuer_answers_are_upstream_malformed_and_audited(
    make_settings: MakeSettings,
    trust_store: TrustStore,
    broken: AppServer,
    credential: dict[str, str],
) -> None:
    fields: dict[str, object] = {"issuer_url": broken.url, "issuer_token": None, **credential}
    running = start_checkpoint(make_settings(**fields), trust_store)
    try:
        response = running.post("/v1/id-card", json={"id_number": SC_GREEN, "name": "张三丰"})
        assert response.status_code == 502, response.text
        assert response.json()["error"] == "upstream_malformed"
        (record,) = running.service.scan_log.scans()
        assert (record.mode, record.result, record.error) == (
            "id_card",
            "error",
            "upstream_malformed",
        )
        audits = [a for a in running.service.scan_log.audit_records() if a.action == "id_card"]
        assert [a.detail for a in audits] == ["error=upstream_malformed"]
        assert audits[0].subject == record.subject
    finally:
        running.server.stop()


def test_every_read_of_one_person_carries_one_pseudonym(
    checkpoint: RunningCheckpoint, sc: Province
) -> None:
    ok = checkpoint.post("/v1/id-card", json={"id_number": SC_GREEN, "name": "张三丰"})
    assert ok.json()["display"] == "green"
    sc.server.stop()
    refused = checkpoint.post("/v1/id-card", json={"id_number": SC_GREEN})
    assert refused.json()["error"] == "unavailable_offline"
    expected = pseudonymous_subject(SC_GREEN, checkpoint.service._subject_secret)
    records = checkpoint.service.scan_log.scans()
    assert [(r.result, r.subject) for r in records] == [("green", expected), ("error", expected)]
    audits = [a for a in checkpoint.service.scan_log.audit_records() if a.action == "id_card"]
    assert [a.subject for a in audits] == [expected, expected]


def test_home_province_is_shown_by_name(checkpoint: RunningCheckpoint, bj: Province) -> None:
    answer = checkpoint.post("/v1/id-card", json={"id_number": BJ_YELLOW, "name": "李小龙"}).json()
    assert answer["home_issuer"] == "cn-bj"
    assert answer["home_issuer_name"] == "北京市 Beijing"
