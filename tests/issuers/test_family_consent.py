"""Binding family members: minors directly, adults only with their consent or at a counter,
within the province's limits (issue 15)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import httpx
import pytest
from sqlmodel import select

from healthcode.errors import RequestError
from issuers.auth import Role
from issuers.family import bind_minor, dependent_of, minor_until
from issuers.models import AuditEntry, FamilyBinding
from tests.issuers.conftest import IssuerService, citizen_number, make_settings, running_issuer
from tests.servers import postgres_schema

CHILD_BORN = date(2016, 6, 1)


def bind(svc: IssuerService, headers: dict[str, str], number: str, name: str) -> httpx.Response:
    return svc.http.post("/v1/family", json={"id_number": number, "name": name}, headers=headers)


def actions(svc: IssuerService, subject: str) -> list[str]:
    with svc.context.session() as session:
        rows = session.exec(select(AuditEntry).where(AuditEntry.subject == subject)).all()
    return [row.action for row in rows]


def test_knowing_an_adults_id_number_and_name_no_longer_shows_their_code(
    any_issuer: IssuerService,
) -> None:
    svc = any_issuer
    stalker_id, adult_id = citizen_number(301), citizen_number(302)
    svc.register(stalker_id, "钱三零一", phone="13800000301")
    svc.register(adult_id, "孙三零二", phone="13800000302")
    stalker = svc.citizen_headers(stalker_id)
    asked = bind(svc, stalker, adult_id, "孙三零二")
    assert asked.status_code == 202, asked.text
    body = asked.json()
    assert body["state"] == "pending"
    assert adult_id not in asked.text
    assert "dependent_ref" not in body
    # Nothing is bound: no family member, no code, no print.
    assert svc.http.get("/v1/family", headers=stalker).json() == []
    with svc.context.session() as session:
        assert session.exec(select(FamilyBinding)).all() == []
    # The adult sees the request and declines it.
    adult = svc.citizen_headers(adult_id)
    listed = svc.http.get("/v1/family/requests", headers=adult).json()
    assert [r["request_id"] for r in listed["incoming"]] == [body["request_id"]]
    assert listed["incoming"][0]["guardian_masked_name"] == "钱**一"
    assert (
        svc.http.get("/v1/family/requests", headers=stalker).json()["outgoing"][0]["id_tail"]
        == adult_id[-4:]
    )
    # The requester cannot approve their own request.
    self_approved = svc.http.post(
        f"/v1/family/requests/{body['request_id']}/approve", headers=stalker
    )
    assert self_approved.status_code == 403
    assert self_approved.json()["error"] == "forbidden"
    declined = svc.http.post(f"/v1/family/requests/{body['request_id']}/decline", headers=adult)
    assert declined.status_code == 200
    assert declined.json() == {"state": "declined"}
    again = svc.http.post(f"/v1/family/requests/{body['request_id']}/approve", headers=adult)
    assert again.status_code == 404
    assert again.json()["error"] == "not_found"
    assert svc.http.get("/v1/family", headers=stalker).json() == []
    adult_subject = svc.subject(adult_id)
    assert "family_bind_requested" in actions(svc, adult_subject)
    assert "family_request_declined" in actions(svc, adult_subject)
    assert "family_bind" not in actions(svc, adult_subject)


def test_an_adult_who_approves_is_bound_and_can_end_it(issuer: IssuerService) -> None:
    svc = issuer
    son_id, mother_id = citizen_number(311), citizen_number(312, born=date(1950, 2, 3))
    svc.register(son_id, "周三一一", phone="13800000311")
    svc.register(mother_id, "吴三一二", phone="13800000312")
    son, mother = svc.citizen_headers(son_id), svc.citizen_headers(mother_id)
    request_id = bind(svc, son, mother_id, "吴三一二").json()["request_id"]
    duplicate = bind(svc, son, mother_id, "吴三一二")
    assert duplicate.status_code == 409
    assert duplicate.json()["error"] == "conflict"
    approved = svc.http.post(f"/v1/family/requests/{request_id}/approve", headers=mother)
    assert approved.status_code == 200, approved.text
    assert approved.json() == {"state": "approved"}
    (member,) = svc.http.get("/v1/family", headers=son).json()
    assert (member["bound_by"], member["minor"]) == ("consent", False)
    code = svc.http.get(f"/v1/family/{member['dependent_ref']}/code", headers=son)
    assert code.status_code == 200
    assert (code.json()["whose"], code.json()["id_tail"]) == ("dependant", mother_id[-4:])
    # An adult declares for herself: her son may not.
    declared = svc.http.post(
        f"/v1/family/{member['dependent_ref']}/declarations",
        json={"kind": "health_declaration", "data": {"symptoms": [], "temperature_c": 36.5}},
        headers=son,
    )
    assert declared.status_code == 403
    assert declared.json()["error"] == "forbidden"
    # The mother sees who holds her code and ends it.
    (guardian,) = svc.http.get("/v1/me/guardians", headers=mother).json()
    assert (guardian["masked_name"], guardian["bound_by"]) == ("周**一", "consent")
    stranger = svc.http.delete(f"/v1/me/guardians/{guardian['guardian_ref']}", headers=son)
    assert stranger.status_code == 403
    ended = svc.http.delete(f"/v1/me/guardians/{guardian['guardian_ref']}", headers=mother)
    assert ended.status_code == 204
    gone = svc.http.get(f"/v1/family/{member['dependent_ref']}/code", headers=son)
    assert gone.status_code == 404
    unknown = svc.http.delete("/v1/me/guardians/no-such-ref", headers=mother)
    assert unknown.status_code == 404
    # A request can also be withdrawn by the one who asked, and only by them.
    second = bind(svc, son, mother_id, "吴三一二").json()["request_id"]
    assert svc.http.delete(f"/v1/family/requests/{second}", headers=mother).status_code == 403
    assert svc.http.delete(f"/v1/family/requests/{second}", headers=son).status_code == 204
    assert svc.http.get("/v1/family/requests", headers=mother).json()["incoming"] == []


def test_an_adult_without_an_account_is_bound_only_at_a_counter(issuer: IssuerService) -> None:
    svc = issuer
    guardian_id, elder_id = citizen_number(321), citizen_number(322, born=date(1940, 1, 1))
    svc.register(guardian_id, "郑三二一", phone="13800000321")
    svc.register(elder_id, "王三二二")  # no phone, no account
    guardian = svc.citizen_headers(guardian_id)
    refused = bind(svc, guardian, elder_id, "王三二二")
    assert refused.status_code == 403
    assert refused.json()["error"] == "counter_required"
    assert refused.json()["text"]["zh"] == "请到服务窗口办理绑定"
    body = {
        "guardian": {"id_number": guardian_id, "name": "郑三二一"},
        "dependant": {"id_number": elder_id, "name": "王三二二"},
        "note": "both ID cards checked",
    }
    not_staff = svc.http.post("/v1/counter/family", json=body, headers=guardian)
    assert not_staff.status_code == 403
    assert not_staff.json()["error"] == "forbidden"
    counter = svc.staff_headers(Role.COUNTER_STAFF, username="counter-322")
    wrong_name = svc.http.post(
        "/v1/counter/family",
        json={**body, "dependant": {"id_number": elder_id, "name": "王三"}},
        headers=counter,
    )
    assert wrong_name.status_code == 404
    bound = svc.http.post("/v1/counter/family", json=body, headers=counter)
    assert bound.status_code == 201, bound.text
    assert bound.json()["bound_by"] == "counter"
    assert elder_id not in bound.text
    (member,) = svc.http.get("/v1/family", headers=guardian).json()
    assert member["dependent_ref"] == bound.json()["dependent_ref"]
    with svc.context.session() as session:
        entry = session.exec(
            select(AuditEntry).where(
                AuditEntry.subject == svc.subject(elder_id), AuditEntry.action == "family_bind"
            )
        ).one()
    assert entry.actor == "counter_staff:counter-322"
    assert entry.reason == "bound by counter: both ID cards checked"
    assert "family_bind_counter" in actions(svc, svc.subject(guardian_id))


def test_family_limits(tmp_path: Path, redis_url: str) -> None:
    settings = make_settings(tmp_path, redis_url, family_max_dependants=2, family_max_guardians=2)
    with running_issuer(settings) as svc:
        parents = [citizen_number(330 + i) for i in range(3)]
        for i, number in enumerate(parents):
            svc.register(number, f"冯三三{i}", phone=f"1380000033{i}")
        children = [citizen_number(340 + i, born=CHILD_BORN) for i in range(3)]
        for i, number in enumerate(children):
            svc.register(number, f"冯小{i}")
        first = svc.citizen_headers(parents[0])
        assert bind(svc, first, children[0], "冯小0").status_code == 201
        assert bind(svc, first, children[1], "冯小1").status_code == 201
        full = bind(svc, first, children[2], "冯小2")
        assert full.status_code == 409
        assert full.json()["error"] == "family_limit"
        # A person has at most 2 guardians here: the third is refused.
        assert bind(svc, svc.citizen_headers(parents[1]), children[0], "冯小0").status_code == 201
        third = bind(svc, svc.citizen_headers(parents[2]), children[0], "冯小0")
        assert third.status_code == 409
        assert third.json()["error"] == "family_limit"
        # Unbinding frees a place.
        ref = svc.http.get("/v1/family", headers=first).json()[1]["dependent_ref"]
        assert svc.http.delete(f"/v1/family/{ref}", headers=first).status_code == 204
        assert bind(svc, first, children[2], "冯小2").status_code == 201
        # Waiting requests to adults are capped too (2 here).
        adults = [citizen_number(345 + i) for i in range(3)]
        for i, number in enumerate(adults):
            svc.register(number, f"冯大{i}", phone=f"1380000035{i}")
        requester = svc.citizen_headers(parents[2])
        assert [bind(svc, requester, adults[i], f"冯大{i}").status_code for i in (0, 1)] == [
            202,
            202,
        ]
        capped = bind(svc, requester, adults[2], "冯大2")
        assert capped.status_code == 409
        assert capped.json()["error"] == "family_limit"
        self_bind = bind(svc, first, parents[0], "冯三三0")
        assert self_bind.status_code == 422
        assert self_bind.json()["error"] == "invalid_request"


def test_a_minors_binding_ends_at_eighteen(issuer: IssuerService) -> None:
    svc = issuer
    guardian_id, teen_id = citizen_number(351), citizen_number(352, born=date(2009, 1, 15))
    svc.register(guardian_id, "陈三五一", phone="13800000351")
    svc.register(teen_id, "陈小五")
    guardian = svc.citizen_headers(guardian_id)
    bound = bind(svc, guardian, teen_id, "陈小五")
    assert bound.status_code == 201
    assert bound.json()["minor"] is True
    assert bound.json()["adult_from"] == "2027-01-14T16:00:00Z"  # midnight in China
    adult_at = minor_until(date(2009, 1, 15), time.time())
    assert adult_at is not None
    with svc.context.session() as session:
        subject = svc.subject(guardian_id)
        dependent_of(session, subject, bound.json()["dependent_ref"], now=adult_at - 1)
        with pytest.raises(Exception, match="turned 18"):
            dependent_of(session, subject, bound.json()["dependent_ref"], now=adult_at)
    assert minor_until(date(1990, 1, 1), time.time()) is None
    assert minor_until(date(2008, 2, 29), 0) == minor_until(date(2008, 3, 1), 0)


@pytest.mark.postgres
def test_concurrent_binds_never_pass_the_limit(
    tmp_path: Path, redis_url: str, postgres_database_url: str
) -> None:
    """Four minors bound to one guardian at once with room for two: the row locks serialise
    the limit checks, so exactly two are bound and the others answer family_limit."""
    with postgres_schema(postgres_database_url) as url:
        settings = make_settings(tmp_path, redis_url, database_url=url, family_max_dependants=2)
        with running_issuer(settings) as svc:
            guardian = citizen_number(361)
            svc.register(guardian, "韦三六一", phone="13800000361")
            children = [citizen_number(362 + i, born=CHILD_BORN) for i in range(4)]
            for i, number in enumerate(children):
                svc.register(number, f"韦小{i}")
            start = threading.Barrier(len(children))

            def bind_one(index: int) -> str:
                with svc.context.session() as session:
                    start.wait()
                    try:
                        bind_minor(
                            svc.context,
                            session,
                            svc.subject(guardian),
                            id_number=children[index],
                            name=f"韦小{index}",
                        )
                        session.commit()
                    except RequestError as refused:
                        return refused.code.value
                return "bound"

            with ThreadPoolExecutor(len(children)) as pool:
                outcomes = sorted(pool.map(bind_one, range(len(children))))
            assert outcomes == ["bound", "bound", "family_limit", "family_limit"]
            with svc.context.session() as session:
                assert len(session.exec(select(FamilyBinding)).all()) == 2
