"""Every documented error of the issuer API: its code, its status, and nothing changed."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import httpx
import pytest
from sqlmodel import SQLModel, func, select

from healthcode.errors import ErrorCode, RequestError
from healthcode.idnumber import check_character
from issuers.auth import Principal, Role, issue_access_token
from issuers.models import AuditEntry, Citizen, EventRecord, StaffAccount
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


def count(svc: IssuerService, model: type[SQLModel]) -> int:
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
        "otp_expired",
    )


def test_request_errors_change_nothing(any_issuer: IssuerService) -> None:
    issuer = any_issuer
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


def test_bad_input_of_every_kind_is_refused_with_a_code_and_stores_nothing(
    any_issuer: IssuerService,
) -> None:
    issuer = any_issuer
    good = citizen_number(141)
    issuer.register(good, "甲乙")
    citizen = issuer.citizen_headers(good)
    counter = issuer.staff_headers(Role.COUNTER_STAFF)
    official = issuer.staff_headers(Role.HEALTH_OFFICIAL)
    before = (count(issuer, Citizen), count(issuer, EventRecord), count(issuer, AuditEntry))

    def declare(data: object) -> httpx.Response:
        return issuer.http.post(
            "/v1/me/declarations",
            json={"kind": "health_declaration", "data": data},
            headers=citizen,
        )

    def declare_raw(data: str) -> httpx.Response:  # what Python's json module parses, NaN too
        return issuer.http.post(
            "/v1/me/declarations",
            content=b'{"kind": "health_declaration", "data": %s}' % data.encode(),
            headers={**citizen, "Content-Type": "application/json"},
        )

    # NaN passes every bound and would match the fever rule's `at_least`.
    expect(declare_raw('{"symptoms": [], "temperature_c": NaN}'), 422, "invalid_request")
    expect(declare_raw('{"symptoms": [], "temperature_c": Infinity}'), 422, "invalid_request")
    expect(declare({"symptoms": ["cough"] * 33, "temperature_c": 36.5}), 422, "invalid_request")
    expect(declare({"symptoms": ["a\u0000b"], "temperature_c": 36.5}), 422, "invalid_request")
    many_keys = {f"k{i}": i for i in range(9)}
    expect(declare(many_keys), 422, "invalid_request")
    itinerary = {"area_code": "510104", "visited_on": "0001-01-01"}
    expect(
        issuer.http.post(
            "/v1/me/declarations", json={"kind": "itinerary", "data": itinerary}, headers=citizen
        ),
        422,
        "invalid_request",
    )
    # 200,000 symptoms (about 1.6 MB) are refused for their size before they are parsed.
    huge = {"symptoms": ["headache"] * 200_000, "temperature_c": 36.5}
    expect(declare(huge), 413, "input_too_large")

    def streamed() -> Iterator[bytes]:  # no Content-Length: counted while it arrives
        yield b'{"kind": "health_declaration", "data": {"symptoms": ['
        for _ in range(20_000):
            yield b'"headache",'
        yield b'"x"], "temperature_c": 36.5}}'

    expect(
        issuer.http.post(
            "/v1/me/declarations",
            content=streamed(),
            headers={**citizen, "Content-Type": "application/json"},
        ),
        413,
        "input_too_large",
    )
    # Text PostgreSQL cannot store (NUL) or no encoder accepts (a lone surrogate).
    expect(
        issuer.http.post(
            "/v1/citizens",
            json={"id_number": citizen_number(142), "name": "张\u0000三"},
            headers=counter,
        ),
        422,
        "invalid_request",
    )
    expect(
        issuer.http.post(
            "/v1/citizens",
            content=b'{"id_number": "%s", "name": "\\ud800"}' % citizen_number(143).encode(),
            headers={**counter, "Content-Type": "application/json"},
        ),
        422,
        "invalid_request",
    )
    expect(
        issuer.http.post("/v1/auth/login", json={"username": "a\u0000", "password": "x"}),
        422,
        "invalid_request",
    )
    expect(
        issuer.http.post("/v1/corrections", json={"reason": "bad\u0007bell"}, headers=citizen),
        422,
        "invalid_request",
    )
    # A path id beyond the 32-bit row ids of PostgreSQL.
    expect(
        issuer.http.post(
            "/v1/corrections/99999999999999/decision",
            json={"decision": "reject", "note": "n"},
            headers=official,
        ),
        422,
        "invalid_request",
    )
    expect(issuer.http.get("/v1/audit?limit=0", headers=official), 422, "invalid_request")
    assert (count(issuer, Citizen), count(issuer, EventRecord), count(issuer, AuditEntry)) == before


def test_concurrent_duplicate_requests_are_conflicts_not_errors(any_issuer: IssuerService) -> None:
    issuer = any_issuer
    counter = issuer.staff_headers(Role.COUNTER_STAFF)
    admin = issuer.staff_headers(Role.ADMIN)
    guardian_id, twin_id = citizen_number(144), citizen_number(146)
    child_id = citizen_number(145, born=date(2016, 2, 1))  # a minor: bound at once
    issuer.register(guardian_id, "孔廿九")
    issuer.register(child_id, "孔小九")
    guardian = issuer.citizen_headers(guardian_id)
    requests: dict[str, Callable[[], httpx.Response]] = {
        "register": lambda: issuer.http.post(
            "/v1/citizens", json={"id_number": twin_id, "name": "孔三十"}, headers=counter
        ),
        "bind": lambda: issuer.http.post(
            "/v1/family", json={"id_number": child_id, "name": "孔小九"}, headers=guardian
        ),
        "staff": lambda: issuer.http.post(
            "/v1/staff",
            json={"username": "twin", "password": "twin-password-1", "role": "counter_staff"},
            headers=admin,
        ),
    }
    for name, send in requests.items():
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda _, send=send: send(), range(8)))
        statuses = sorted(answer.status_code for answer in answers)
        assert statuses == [201] + [409] * 7, (name, [a.text for a in answers])
        for answer in answers:
            if answer.status_code == 409:
                expect(answer, 409, "conflict")


def test_a_unique_violation_at_commit_is_a_conflict(any_issuer: IssuerService) -> None:
    """What two identical requests racing past the duplicate check end in."""
    with any_issuer.context.session() as first, any_issuer.context.session() as second:
        for session in (first, second):
            session.add(StaffAccount(username="twin-xq7", password_hash="x", role="admin"))
        first.commit()
        with pytest.raises(RequestError) as raised:
            second.commit()
    assert raised.value.code is ErrorCode.CONFLICT
    assert "twin-xq7" not in raised.value.message  # the constraint's text is not passed on
