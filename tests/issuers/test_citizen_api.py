"""The citizen app's API: code screen fields, the status poll, declarations with their schema,
history, and "who looked at my status" (issuers/README.md, "Citizen app API")."""

from __future__ import annotations

from datetime import date, timedelta

from healthcode import StatusColour, verify_credential
from issuers.auth import Role
from tests.issuers.conftest import IssuerService, citizen_number
from tests.issuers.helpers import lab_csv, recent


def test_the_code_screen_and_a_status_change_seen_by_the_poll(any_issuer: IssuerService) -> None:
    svc = any_issuer
    number = citizen_number(401)
    svc.register(number, "褚四零一", phone="13800000401")
    me = svc.citizen_headers(number)
    code = svc.http.get("/v1/me/code", headers=me)
    assert code.status_code == 200
    body = code.json()
    assert (body["colour"], body["colour_text"]) == ("green", {"zh": "绿码", "en": "Green"})
    assert body["province"] == {"zh": "四川省", "en": "Sichuan"}
    assert body["masked_name"] == "褚**一"
    assert body["id_tail"] == number[-4:]
    assert body["advice"]["en"].startswith("Show this code")
    assert (body["whose"], body["dependent_ref"]) == ("self", None)
    assert body["issued_at"] < body["expires_at"]
    assert code.headers["etag"] == f'"{body["status_version"]}"'
    assert code.headers["cache-control"] == "no-store"
    assert number not in code.text
    assert verify_credential(body["qr_text"], svc.trust()).valid

    etag = code.headers["etag"]
    unchanged = svc.http.get("/v1/me/status", headers={**me, "If-None-Match": etag})
    assert unchanged.status_code == 304
    assert unchanged.content == b""
    official = svc.staff_headers(Role.HEALTH_OFFICIAL)
    imported = svc.http.post(
        "/v1/feeds/lab_results",
        content=lab_csv((number, "positive", "pcr", recent(2))),
        headers={**official, "Content-Type": "text/csv"},
    )
    assert imported.status_code == 200, imported.text
    changed = svc.http.get("/v1/me/status", headers={**me, "If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.json()["colour"] == "red"
    assert changed.headers["etag"] != etag
    red = svc.http.get("/v1/me/code", headers=me).json()
    assert red["colour"] == "red"
    assert red["status_version"] == changed.json()["status_version"]
    assert red["advice"]["en"].startswith("Stay where you are")
    history = svc.http.get("/v1/me/history", headers=me).json()
    assert [h["colour"] for h in history] == ["green", "red"]
    assert history[-1]["reason_text"]["en"].startswith("Positive PCR test")
    assert history[-1]["colour_text"]["zh"] == "红码"
    unauthenticated = svc.http.get("/v1/me/status")
    assert unauthenticated.status_code == 401


def test_a_dependants_code_and_status(issuer: IssuerService) -> None:
    svc = issuer
    parent, child = citizen_number(411), citizen_number(412, born=date(2017, 9, 1))
    svc.register(parent, "卫四一一", phone="13800000411")
    svc.register(child, "卫小一")
    headers = svc.citizen_headers(parent)
    ref = svc.http.post(
        "/v1/family", json={"id_number": child, "name": "卫小一"}, headers=headers
    ).json()["dependent_ref"]
    code = svc.http.get(f"/v1/family/{ref}/code", headers=headers)
    assert (code.json()["whose"], code.json()["dependent_ref"]) == ("dependant", ref)
    status = svc.http.get(
        f"/v1/family/{ref}/status", headers={**headers, "If-None-Match": code.headers["etag"]}
    )
    assert status.status_code == 304
    # A guardian declares for the child: the child's colour changes, the poll sees it.
    fever = svc.http.post(
        f"/v1/family/{ref}/declarations",
        json={"kind": "health_declaration", "data": {"symptoms": ["发热"], "temperature_c": 38.4}},
        headers=headers,
    )
    assert fever.status_code == 201, fever.text
    assert (fever.json()["colour"], fever.json()["colour_changed"]) == ("yellow", True)
    assert fever.json()["id_tail"] == child[-4:]
    after = svc.http.get(
        f"/v1/family/{ref}/status", headers={**headers, "If-None-Match": code.headers["etag"]}
    )
    assert after.json()["colour"] == "yellow"
    assert svc.http.get("/v1/me/code", headers=headers).json()["colour"] == "green"
    stranger = svc.citizen_headers(citizen_number(413))
    assert svc.http.get(f"/v1/family/{ref}/status", headers=stranger).status_code == 403
    not_theirs = svc.http.post(
        f"/v1/family/{ref}/declarations",
        json={"kind": "health_declaration", "data": {"symptoms": [], "temperature_c": 36.5}},
        headers=stranger,
    )
    assert not_theirs.status_code == 403
    assert svc.http.get("/v1/family/nope/status", headers=headers).status_code == 404


def test_app_config_is_public_and_names_the_province(issuer: IssuerService) -> None:
    config = issuer.http.get("/v1/app/config").json()
    assert config["province"]["en"] == "Sichuan"
    assert config["family"] == {"max_dependants": 5, "max_guardians": 3}
    assert config["demo_mode"] is False
    assert config["print"]["available"] is False
    assert config["status_poll_s"] <= 30


def test_declarations_follow_the_published_schema(issuer: IssuerService) -> None:
    svc = issuer
    schema = svc.http.get("/v1/declarations/schema").json()
    kinds = [branch["properties"]["kind"]["const"] for branch in schema["oneOf"]]
    assert kinds == ["health_declaration", "itinerary"]
    health = schema["oneOf"][0]["properties"]["data"]
    assert health["properties"]["temperature_c"]["maximum"] == 45.0
    assert health["properties"]["temperature_c"]["x-title-zh"] == "体温（°C）"
    assert health["additionalProperties"] is False
    openapi = svc.http.get("/openapi.json").json()
    declaration = openapi["components"]["schemas"]["Declaration"]
    assert [b["properties"]["kind"]["const"] for b in declaration["oneOf"]] == kinds

    number = citizen_number(421)
    svc.register(number, "蒋四二一", phone="13800000421")
    me = svc.citizen_headers(number)
    refused = svc.http.post(
        "/v1/me/declarations",
        json={"kind": "health_declaration", "data": {"temperature_c": 51}},
        headers=me,
    )
    assert refused.status_code == 422
    assert refused.json()["error"] == "invalid_request"
    problems = {p["field"]: p for p in refused.json()["problems"]}
    assert set(problems) == {"data.symptoms", "data.temperature_c"}
    assert problems["data.temperature_c"]["text"]["zh"] == "体温（°C）应在 30 至 45 之间"
    assert problems["data.symptoms"]["problem"] == "is required"
    feed_kind = svc.http.post(
        "/v1/me/declarations", json={"kind": "lab_result", "data": {}}, headers=me
    )
    assert feed_kind.status_code == 422
    fine = svc.http.post(
        "/v1/me/declarations",
        json={"kind": "health_declaration", "data": {"symptoms": [], "temperature_c": 36.5}},
        headers=me,
    )
    assert fine.status_code == 201, fine.text
    assert (fine.json()["colour"], fine.json()["colour_changed"]) == ("green", False)
    fever = svc.http.post(
        "/v1/me/declarations",
        json={"kind": "health_declaration", "data": {"symptoms": ["fever"], "temperature_c": 38}},
        headers=me,
    )
    assert fever.status_code == 201
    assert fever.json()["previous_colour"] == "green"
    assert fever.json()["colour"] == "yellow"
    assert fever.json()["colour_changed"] is True
    yesterday = (date.today() - timedelta(days=1)).isoformat()
    bad_day = svc.http.post(
        "/v1/me/declarations",
        json={"kind": "itinerary", "data": {"area_code": "51010", "visited_on": yesterday}},
        headers=me,
    )
    assert [p["field"] for p in bad_day.json()["problems"]] == ["data.area_code"]


def test_who_looked_at_my_status(issuer: IssuerService) -> None:
    svc = issuer
    number, parent = citizen_number(431), citizen_number(432)
    svc.register(number, "沈四三一", phone="13800000431")
    me = svc.citizen_headers(number)
    svc.http.get("/v1/me/code", headers=me)  # one's own reads are not listed
    checkpoint = svc.staff_headers(Role.CHECKPOINT, username="gate-device")
    looked = svc.http.post(
        "/v1/checkpoint/status-lookup",
        json={"id_number": number, "name": "沈四三一", "checkpoint_id": "cd-east-gate"},
        headers=checkpoint,
    )
    assert looked.status_code == 200, looked.text
    svc.http.post(
        "/v1/checkpoint/status-lookup",
        json={"id_number": number, "assisted": True, "checkpoint_id": "cd-west"},
        headers=checkpoint,
    )
    official = svc.staff_headers(Role.HEALTH_OFFICIAL)
    assert svc.http.get(f"/v1/citizens/{svc.subject(number)}", headers=official).status_code == 200
    log = svc.http.get("/v1/me/access-log", headers=me)
    assert log.status_code == 200
    entries = log.json()
    assert [(e["kind"], e["role"], e["place"]) for e in entries] == [
        ("official_read", "health_official", None),
        ("assisted_lookup", "checkpoint", "cd-west"),
        ("checkpoint_id_read", "checkpoint", "cd-east-gate"),
        ("counter", "counter_staff", None),  # registered at a counter
    ]
    assert entries[2]["purpose"] == "checkpoint cd-east-gate"
    assert entries[2]["text"]["zh"] == "检查点读取身份证查询"
    assert "gate-device" not in log.text  # roles and places, not staff names
    assert number not in log.text
    page = svc.http.get(
        "/v1/me/access-log", params={"limit": 1, "before": entries[0]["id"]}, headers=me
    ).json()
    assert [e["kind"] for e in page] == ["assisted_lookup"]
    assert entries[3]["text"]["en"] == "Service counter"
    assert svc.http.get("/v1/me/access-log", params={"limit": 0}, headers=me).status_code == 422
    assert svc.http.get("/v1/me/access-log", headers=checkpoint).status_code == 403

    # A guardian's reads of a minor are on the minor's log, which the guardian may read;
    # an adult's log is theirs alone.
    child = citizen_number(433, born=date(2018, 1, 1))
    svc.register(parent, "沈四三二", phone="13800000432")
    svc.register(child, "沈小三")
    guardian = svc.citizen_headers(parent)
    ref = svc.http.post(
        "/v1/family", json={"id_number": child, "name": "沈小三"}, headers=guardian
    ).json()["dependent_ref"]
    svc.http.get(f"/v1/family/{ref}/code", headers=guardian)
    minor_log = svc.http.get(f"/v1/family/{ref}/access-log", headers=guardian).json()
    kinds = {(e["kind"], e["who"]) for e in minor_log}
    assert ("guardian", "沈**二") in kinds
    assert ("family", "沈**二") in kinds
    adult_ref = svc.bind_at_counter((parent, "沈四三二"), (number, "沈四三一"))["dependent_ref"]
    adult_log = svc.http.get(f"/v1/family/{adult_ref}/access-log", headers=guardian)
    assert adult_log.status_code == 403
    assert adult_log.json()["error"] == "forbidden"
    counter_entry = svc.http.get("/v1/me/access-log", headers=me).json()[0]
    assert (counter_entry["kind"], counter_entry["role"]) == ("counter", "counter_staff")
    # An administrator listing the whole audit log has seen this citizen's records too.
    admin = svc.staff_headers(Role.ADMIN)
    assert svc.http.get("/v1/audit", headers=admin).status_code == 200
    newest = svc.http.get("/v1/me/access-log", headers=me).json()[0]
    assert (newest["kind"], newest["role"]) == ("staff_read", "admin")
    assert StatusColour.GREEN.value == "green"
