"""Who may read which code: own, bound dependents only; every access is audited."""

from __future__ import annotations

from datetime import date

from sqlmodel import select

from healthcode import StatusColour, verify_credential
from issuers.auth import Role
from issuers.models import AuditEntry
from tests.issuers.conftest import IssuerService, citizen_number
from tests.issuers.helpers import lab_csv, recent


def audit_actions(svc: IssuerService, subject: str) -> list[tuple[str, str]]:
    with svc.context.session() as session:
        rows = session.exec(select(AuditEntry).where(AuditEntry.subject == subject)).all()
    return [(row.actor, row.action) for row in rows]


def test_guardian_reads_a_bound_dependent_but_not_an_unbound_citizen(
    any_issuer: IssuerService,
) -> None:
    issuer = any_issuer
    guardian_id, stranger_id = citizen_number(21), citizen_number(23)
    child_id = citizen_number(22, born=date(2016, 6, 1))  # a minor: bound without consent
    issuer.register(guardian_id, "李四光", phone="13800000021")
    issuer.register(child_id, "李小明")
    issuer.register(stranger_id, "赵六", phone="13800000023")
    guardian = issuer.citizen_headers(guardian_id)
    stranger = issuer.citizen_headers(stranger_id)

    # Both the ID number and the name must match the records.
    wrong_name = issuer.http.post(
        "/v1/family", json={"id_number": child_id, "name": "李大明"}, headers=guardian
    )
    assert wrong_name.status_code == 404
    assert wrong_name.json()["error"] == "not_found"
    bound = issuer.http.post(
        "/v1/family", json={"id_number": child_id, "name": " 李小明"}, headers=guardian
    )
    assert bound.status_code == 201, bound.text
    ref = bound.json()["dependent_ref"]
    again = issuer.http.post(
        "/v1/family", json={"id_number": child_id, "name": "李小明"}, headers=guardian
    )
    assert again.status_code == 409
    assert again.json()["error"] == "conflict"
    listed = issuer.http.get("/v1/family", headers=guardian).json()
    assert [(m["dependent_ref"], m["masked_name"]) for m in listed] == [(ref, "李*明")]

    code = issuer.http.get(f"/v1/family/{ref}/code", headers=guardian)
    assert code.status_code == 200
    verified = verify_credential(code.json()["qr_text"], issuer.trust())
    assert verified.valid
    assert verified.credential is not None
    assert verified.credential.subject == issuer.subject(child_id)
    assert verified.credential.status is StatusColour.GREEN
    offline = issuer.http.post(f"/v1/family/{ref}/offline-code", headers=guardian).json()
    assert offline["kind"] == "offline"
    png = issuer.http.get(f"/v1/family/{ref}/code.png", headers=guardian)
    assert png.status_code == 200
    assert png.content.startswith(b"\x89PNG")

    # A stranger cannot use the guardian's reference, nor read staff views of other citizens.
    denied = issuer.http.get(f"/v1/family/{ref}/code", headers=stranger)
    assert denied.status_code == 403
    assert denied.json()["error"] == "forbidden"
    other = issuer.http.get(f"/v1/citizens/{issuer.subject(guardian_id)}", headers=stranger)
    assert other.status_code == 403
    assert other.json()["error"] == "forbidden"
    unknown = issuer.http.get("/v1/family/no-such-ref/code", headers=guardian)
    assert unknown.status_code == 404

    # Unbinding ends access.
    assert issuer.http.delete(f"/v1/family/{ref}", headers=guardian).status_code == 204
    after = issuer.http.get(f"/v1/family/{ref}/code", headers=guardian)
    assert after.status_code == 404

    child_audit = audit_actions(issuer, issuer.subject(child_id))
    guardian_actor = f"citizen:{issuer.subject(guardian_id)}"
    stranger_actor = f"citizen:{issuer.subject(stranger_id)}"
    assert (guardian_actor, "family_bind") in child_audit
    assert (guardian_actor, "read_family_member") in child_audit  # listing the family
    assert (guardian_actor, "read_code:phone") in child_audit
    assert (guardian_actor, "read_code:offline") in child_audit
    assert (stranger_actor, "family_access_denied") in child_audit
    assert (guardian_actor, "family_unbind") in child_audit


def test_each_read_of_own_data_is_audited(issuer: IssuerService) -> None:
    id_number = citizen_number(24)
    issuer.register(id_number, "王小二")
    headers = issuer.citizen_headers(id_number)
    issuer.http.get("/v1/me", headers=headers)
    issuer.http.get("/v1/me/code.svg", headers=headers)
    issuer.http.post("/v1/me/offline-code", headers=headers)
    actions = [action for _, action in audit_actions(issuer, issuer.subject(id_number))]
    assert actions.count("read_profile") == 1
    assert "read_code:phone" in actions
    assert "read_code:offline" in actions


def test_code_images_are_cached_by_content(issuer: IssuerService) -> None:
    id_number = citizen_number(25)
    issuer.register(id_number, "孙七")
    headers = issuer.citizen_headers(id_number)
    first = issuer.http.get("/v1/me/code.svg", headers=headers)
    assert first.status_code == 200
    assert first.text.startswith("<svg")
    again = issuer.http.get(
        "/v1/me/code.svg", headers={**headers, "If-None-Match": first.headers["etag"]}
    )
    assert again.status_code == 304


def test_staff_roles_are_enforced(issuer: IssuerService) -> None:
    counter = issuer.staff_headers(Role.COUNTER_STAFF)
    feed = issuer.http.post("/v1/feeds/lab_results", content=b"", headers=counter)
    assert feed.status_code == 403
    assert feed.json()["error"] == "forbidden"
    checkpoint = issuer.staff_headers(Role.CHECKPOINT)
    me = issuer.http.get("/v1/me", headers=checkpoint)
    assert me.status_code == 403


def test_reads_of_corrections_and_of_the_audit_log_are_audited(issuer: IssuerService) -> None:
    guardian_id, child_id = citizen_number(26), citizen_number(27, born=date(2015, 3, 8))
    issuer.register(guardian_id, "吕廿六", phone="13800000026")
    issuer.register(child_id, "吕小廿")
    guardian = issuer.citizen_headers(guardian_id)
    ref = issuer.http.post(
        "/v1/family", json={"id_number": child_id, "name": "吕小廿"}, headers=guardian
    ).json()["dependent_ref"]
    own = issuer.http.post("/v1/corrections", json={"reason": "mine"}, headers=guardian).json()
    child = issuer.http.post(
        "/v1/corrections", json={"reason": "my son's", "dependent_ref": ref}, headers=guardian
    ).json()
    assert len(issuer.http.get("/v1/corrections/mine", headers=guardian).json()) == 2
    guardian_actor = f"citizen:{issuer.subject(guardian_id)}"
    for subject in (issuer.subject(guardian_id), issuer.subject(child_id)):
        assert (guardian_actor, "read_corrections") in audit_actions(issuer, subject)

    official = issuer.staff_headers(Role.HEALTH_OFFICIAL, username="official-1")
    listed = issuer.http.get("/v1/corrections", headers=official).json()
    assert [c["id"] for c in listed] == [own["id"], child["id"]]
    for subject in (issuer.subject(guardian_id), issuer.subject(child_id)):
        assert ("health_official:official-1", "official_read_correction") in audit_actions(
            issuer, subject
        )
    issuer.http.post(
        f"/v1/corrections/{own['id']}/decision",
        json={"decision": "reject", "note": "the data are right"},
        headers=official,
    )
    decided = issuer.http.get("/v1/corrections?state=decided", headers=official).json()
    assert [(c["id"], c["state"]) for c in decided] == [(own["id"], "rejected")]
    assert [c["id"] for c in issuer.http.get("/v1/corrections", headers=official).json()] == [
        child["id"]
    ]
    everything = issuer.http.get("/v1/corrections?state=all&limit=1", headers=official).json()
    assert [c["id"] for c in everything] == [own["id"]]
    page_two = issuer.http.get(
        f"/v1/corrections?state=all&after={own['id']}", headers=official
    ).json()
    assert [c["id"] for c in page_two] == [child["id"]]
    bad = issuer.http.get("/v1/corrections?state=pending", headers=official)
    assert bad.status_code == 422
    assert bad.json()["error"] == "invalid_request"

    admin = issuer.staff_headers(Role.ADMIN, username="admin-1")
    child_subject = issuer.subject(child_id)
    read = issuer.http.get("/v1/audit", params={"subject": child_subject}, headers=admin).json()
    assert read
    with issuer.context.session() as session:
        (entry,) = session.exec(select(AuditEntry).where(AuditEntry.action == "read_audit")).all()
    assert (entry.actor, entry.subject) == ("admin:admin-1", child_subject)


def test_a_new_reason_under_the_same_colour_is_audited(issuer: IssuerService) -> None:
    id_number = citizen_number(28)
    issuer.register(id_number, "施廿八")
    headers = issuer.citizen_headers(id_number)
    issuer.http.post(
        "/v1/me/declarations",
        json={"kind": "health_declaration", "data": {"symptoms": ["fever"], "temperature_c": 38.2}},
        headers=headers,
    )
    official = issuer.staff_headers(Role.HEALTH_OFFICIAL)
    feed = lab_csv((id_number, "positive", "antigen", recent()))
    issuer.http.post("/v1/feeds/lab_results", content=feed, headers=official)
    me = issuer.http.get("/v1/me", headers=headers).json()
    assert (me["colour"], me["reason"]) == ("yellow", "pending_test")
    with issuer.context.session() as session:
        changes = session.exec(
            select(AuditEntry).where(
                AuditEntry.action == "status_change",
                AuditEntry.subject == issuer.subject(id_number),
            )
        ).all()
    reasons = [entry.reason or "" for entry in changes]
    assert [r.split(" by ")[0] for r in reasons] == [
        "green (none)",
        "yellow (symptoms)",
        "yellow (pending_test)",
    ]
