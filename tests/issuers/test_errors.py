"""Every documented error of the issuer API: its code, its status, and nothing changed."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import func, select

from healthcode.idnumber import check_character
from issuers.auth import Principal, Role, issue_access_token
from issuers.models import Citizen, EventRecord
from tests.issuers.conftest import (
    TEST_TOKEN_SECRET,
    IssuerService,
    citizen_number,
    make_settings,
    running_issuer,
)
from tests.issuers.helpers import lab_csv, recent


def expect(answer: object, status: int, code: str) -> None:
    import httpx

    assert isinstance(answer, httpx.Response)
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["error"] == code
    assert body["message"]
    assert body["hint"]
    assert body["text"]["zh"]
    assert body["text"]["en"]


def count(svc: IssuerService, model: type[Citizen] | type[EventRecord]) -> int:
    with svc.context.session() as session:
        return int(session.exec(select(func.count()).select_from(model)).one())


def test_authentication_errors(issuer: IssuerService) -> None:
    expect(issuer.http.get("/v1/me"), 401, "unauthenticated")
    expect(
        issuer.http.get("/v1/me", headers={"Authorization": "Bearer hc1.e30.AAAA"}),
        401,
        "unauthenticated",
    )
    expired = issue_access_token(
        Principal(role=Role.CITIZEN, subject="A" * 22), TEST_TOKEN_SECRET.encode(), 60, now=1000
    )
    expect(
        issuer.http.get("/v1/me", headers={"Authorization": f"Bearer {expired}"}),
        401,
        "token_expired",
    )
    expect(
        issuer.http.post("/v1/auth/login", json={"username": "nobody", "password": "x"}),
        401,
        "unauthenticated",
    )
    expect(
        issuer.http.post("/v1/auth/otp/verify", json={"phone": "13812345678", "code": "000000"}),
        401,
        "unauthenticated",
    )


def test_request_errors_change_nothing(issuer: IssuerService) -> None:
    counter = issuer.staff_headers(Role.COUNTER_STAFF)
    good = citizen_number(41)
    bad_check = good[:-1] + ("1" if good[-1] == "0" else "0")
    expect(
        issuer.http.post(
            "/v1/citizens", json={"id_number": bad_check, "name": "甲"}, headers=counter
        ),
        422,
        "invalid_id_number",
    )
    unknown_region = "990101198001010" + "12"
    unknown_region += check_character(unknown_region)
    expect(
        issuer.http.post(
            "/v1/citizens", json={"id_number": unknown_region, "name": "甲"}, headers=counter
        ),
        422,
        "unknown_region",
    )
    other_province = citizen_number(42, division="440106")
    expect(
        issuer.http.post(
            "/v1/citizens", json={"id_number": other_province, "name": "甲"}, headers=counter
        ),
        422,
        "invalid_request",
    )
    expect(
        issuer.http.post("/v1/citizens", json={"name": "甲"}, headers=counter),
        422,
        "invalid_request",
    )
    assert count(issuer, Citizen) == 0
    issuer.register(good, "甲乙")
    expect(
        issuer.http.post("/v1/citizens", json={"id_number": good, "name": "甲乙"}, headers=counter),
        409,
        "conflict",
    )
    assert count(issuer, Citizen) == 1

    # Role and ownership.
    citizen = issuer.citizen_headers(good)
    expect(
        issuer.http.post("/v1/citizens", json={"id_number": good, "name": "甲乙"}, headers=citizen),
        403,
        "forbidden",
    )
    expect(
        issuer.http.post(
            "/v1/counter/offline-code",
            json={"id_number": citizen_number(43), "name": "丙"},
            headers=counter,
        ),
        404,
        "not_found",
    )
    expect(
        issuer.http.post(
            "/v1/counter/offline-code", json={"id_number": good, "name": "丙"}, headers=counter
        ),
        404,
        "not_found",
    )

    # Declarations are validated before anything is stored.
    expect(
        issuer.http.post(
            "/v1/me/declarations",
            json={"kind": "health_declaration", "data": {"temperature_c": 99}},
            headers=citizen,
        ),
        422,
        "invalid_request",
    )
    expect(
        issuer.http.post(
            "/v1/me/declarations",
            json={"kind": "lab_result", "data": {"result": "negative"}},
            headers=citizen,
        ),
        422,
        "invalid_request",
    )
    assert count(issuer, EventRecord) == 0

    # A feed with a wrong header is refused whole.
    official = issuer.staff_headers(Role.HEALTH_OFFICIAL)
    expect(
        issuer.http.post("/v1/feeds/lab_results", content=b"id,colour\n1,red\n", headers=official),
        422,
        "invalid_request",
    )
    expect(
        issuer.http.post("/v1/feeds/lab_results", content=b"\xff\xfe not utf-8", headers=official),
        422,
        "invalid_request",
    )
    expect(
        issuer.http.post("/v1/feeds/no_such_feed", content=b"", headers=official),
        422,
        "invalid_request",
    )
    assert count(issuer, EventRecord) == 0

    # Corrections.
    expect(
        issuer.http.post(
            "/v1/corrections/999/decision",
            json={"decision": "reject", "note": "n/a"},
            headers=official,
        ),
        404,
        "not_found",
    )
    filed = issuer.http.post("/v1/corrections", json={"reason": "wrong"}, headers=citizen)
    expect(
        issuer.http.post("/v1/corrections", json={"reason": "again"}, headers=citizen),
        409,
        "conflict",
    )
    decided = issuer.http.post(
        f"/v1/corrections/{filed.json()['id']}/decision",
        json={"decision": "reject", "note": "data are right"},
        headers=official,
    )
    assert decided.json()["state"] == "rejected"
    expect(
        issuer.http.post(
            f"/v1/corrections/{filed.json()['id']}/decision",
            json={"decision": "accept", "note": "x"},
            headers=official,
        ),
        409,
        "conflict",
    )


def test_cross_province_lookup_without_partner_setup_is_upstream_unavailable(
    issuer: IssuerService,
) -> None:
    checkpoint = issuer.staff_headers(Role.CHECKPOINT)
    traveller = citizen_number(44, division="440106")
    answer = issuer.http.post(
        "/v1/checkpoint/status-lookup",
        json={"id_number": traveller, "checkpoint_id": "gate-2"},
        headers=checkpoint,
    )
    # Only this issuer is trusted: no issuer serves Guangdong.
    expect(answer, 422, "unknown_region")


def test_partner_api_refuses_calls_without_assertion(issuer: IssuerService) -> None:
    answer = issuer.http.post(
        "/partner/v1/status", json={"id_number": citizen_number(45), "purpose": "test"}
    )
    expect(answer, 401, "assertion_invalid")


def test_oversized_feed_is_refused(tmp_path: Path, redis_url: str) -> None:
    with running_issuer(make_settings(tmp_path, redis_url, max_feed_bytes=100)) as svc:
        official = svc.staff_headers(Role.HEALTH_OFFICIAL)
        rows = [(citizen_number(n), "negative", "pcr", recent()) for n in range(50, 55)]
        expect(
            svc.http.post("/v1/feeds/lab_results", content=lab_csv(*rows), headers=official),
            413,
            "input_too_large",
        )
        assert count(svc, EventRecord) == 0


@pytest.mark.parametrize("role", [Role.CITIZEN, Role.COUNTER_STAFF, Role.CHECKPOINT])
def test_only_admins_read_the_audit_log(issuer: IssuerService, role: Role) -> None:
    headers = (
        issuer.citizen_headers(citizen_number(46))
        if role is Role.CITIZEN
        else issuer.staff_headers(role)
    )
    expect(issuer.http.get("/v1/audit", headers=headers), 403, "forbidden")
    admin = issuer.staff_headers(Role.ADMIN)
    assert issuer.http.get("/v1/audit", headers=admin).status_code == 200


def test_cross_province_lookup_without_a_trust_list_is_trust_list_unavailable(
    tmp_path: Path, redis_url: str
) -> None:
    from healthcode.errors import ErrorCode, TrustUnavailable
    from healthcode.trust import TrustStore

    def no_trust_list() -> TrustStore:
        raise TrustUnavailable(ErrorCode.TRUST_LIST_UNAVAILABLE, "registry never reached")

    with running_issuer(make_settings(tmp_path, redis_url), trust=no_trust_list) as svc:
        checkpoint = svc.staff_headers(Role.CHECKPOINT)
        answer = svc.http.post(
            "/v1/checkpoint/status-lookup",
            json={"id_number": citizen_number(47, division="440106"), "checkpoint_id": "g"},
            headers=checkpoint,
        )
        expect(answer, 503, "trust_list_unavailable")
