"""Citizen declarations recompute the colour; a status change revokes outstanding codes."""

from __future__ import annotations

import redis

from healthcode import ErrorCode, verify_credential
from issuers.auth import Role
from issuers.revocation import RedisRevocationChecker
from tests.issuers.conftest import IssuerService, citizen_number


def test_fever_declaration_turns_yellow_and_revokes_phone_and_offline_codes(
    issuer: IssuerService, redis_url: str
) -> None:
    id_number = citizen_number(121)
    issuer.register(id_number, "蒋十六")
    headers = issuer.citizen_headers(id_number)
    phone = issuer.http.get("/v1/me/code", headers=headers).json()
    offline = issuer.http.post("/v1/me/offline-code", headers=headers).json()
    assert offline["kind"] == "offline"
    declared = issuer.http.post(
        "/v1/me/declarations",
        json={"kind": "health_declaration", "data": {"symptoms": ["fever"], "temperature_c": 38.4}},
        headers=headers,
    )
    assert declared.status_code == 201, declared.text
    assert (declared.json()["colour"], declared.json()["reason"]) == ("yellow", "symptoms")
    client = redis.Redis.from_url(redis_url)
    checker = RedisRevocationChecker(client)
    for code in (phone, offline):
        result = verify_credential(code["qr_text"], issuer.trust(), revocations=checker)
        assert result.error is ErrorCode.REVOKED
    yellow = issuer.http.get("/v1/me/code", headers=headers).json()
    assert yellow["status"] == "yellow"
    assert verify_credential(yellow["qr_text"], issuer.trust(), revocations=checker).valid
    client.close()


def test_accepted_correction_without_override_recomputes(issuer: IssuerService) -> None:
    id_number = citizen_number(122)
    issuer.register(id_number, "沈十七")
    headers = issuer.citizen_headers(id_number)
    issuer.http.post(
        "/v1/me/declarations",
        json={"kind": "health_declaration", "data": {"symptoms": [], "temperature_c": 39.0}},
        headers=headers,
    )
    filed = issuer.http.post(
        "/v1/corrections", json={"reason": "thermometer was broken"}, headers=headers
    ).json()
    official = issuer.staff_headers(Role.HEALTH_OFFICIAL)
    decided = issuer.http.post(
        f"/v1/corrections/{filed['id']}/decision",
        json={"decision": "accept", "note": "re-evaluated with current data"},
        headers=official,
    )
    assert decided.json()["state"] == "accepted"
    # The rules still see the fever declaration: the colour stays yellow, no override recorded.
    me = issuer.http.get("/v1/me", headers=headers).json()
    assert (me["colour"], me["rule_id"]) == ("yellow", "fever")
