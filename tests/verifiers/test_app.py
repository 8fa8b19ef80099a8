"""The checkpoint HTTP API against real stand-in issuers, a real Redis and uvicorn."""

from __future__ import annotations

import io
from datetime import date

import httpx
import pytest
import redis

from healthcode import (
    CodeKind,
    ReasonCode,
    StatusColour,
    TrustStore,
    encode_numeric,
    new_credential,
)
from healthcode.idnumber import make_id_number
from healthcode.jws import sign_credential
from healthcode.qr import render_png
from healthcode.revocation import redis_key
from tests.verifiers.conftest import (
    BJ_YELLOW,
    SC_GREEN,
    SC_RED,
    STAFF_PASSWORD,
    MakeSettings,
    Province,
    RunningCheckpoint,
    start_checkpoint,
)
from verifiers.scanlog import AuditRecord, ScanRecord

SC_GREEN_BIRTH = date(1948, 3, 1)


def phone_code(province: Province, **overrides: object) -> str:
    fields: dict[str, object] = {
        "issuer": province.issuer.issuer_id,
        "subject": "c3ViamVjdC1wc2V1ZG9ueW0tMDE",
        "status": StatusColour.GREEN,
        "masked_name": "张*丰",
        "id_tail": SC_GREEN[-4:],
    }
    fields.update(overrides)
    return encode_numeric(sign_credential(new_credential(**fields), province.issuer.key))  # type: ignore[arg-type]


def test_scan_green_with_scanner_line_ending(checkpoint: RunningCheckpoint, sc: Province) -> None:
    response = checkpoint.post("/v1/scan", json={"text": phone_code(sc) + "\r\n"})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["display"] == "green"
    assert answer["reason_text"] == {"zh": "无异常", "en": "No findings"}
    assert answer["masked_name"] == "张*丰"
    assert answer["id_tail"] == SC_GREEN[-4:]
    assert answer["issuer_name"] == "四川省 Sichuan"
    assert answer["kind"] == "phone"
    assert answer["checks"] == {
        "format": "passed",
        "claims": "passed",
        "trust_list": "passed",
        "issuer": "passed",
        "signature": "passed",
        "validity": "passed",
        "revocation": "passed",
    }
    assert answer["unchecked"] == []
    assert "subject" not in answer
    assert "jti" not in answer


def test_scan_red_shows_reason_and_offline_code_validity(
    checkpoint: RunningCheckpoint, sc: Province
) -> None:
    text = phone_code(
        sc,
        status=StatusColour.RED,
        reason=ReasonCode.POSITIVE_TEST,
        kind=CodeKind.OFFLINE,
        lifetime_s=7 * 86400,
    )
    answer = checkpoint.post("/v1/scan", json={"text": text}).json()
    assert answer["display"] == "red"
    assert answer["reason_text"]["en"] == "Positive test"
    assert answer["offline_code"] is True
    assert 7 * 86400 - 60 < answer["validity_left_s"] <= 7 * 86400


def test_scan_invalid_code_is_an_error_verdict(checkpoint: RunningCheckpoint) -> None:
    answer = checkpoint.post("/v1/scan", json={"text": "hc:/1234"}).json()
    assert answer["display"] == "error"
    assert answer["error"] == "malformed_jws"
    assert answer["error_text"]["zh"] == "码结构损坏"


@pytest.mark.parametrize("body", [b"not json", b'{"txt": "hc:/56"}', b'{"text": 5}', b""])
def test_scan_with_a_bad_body_is_invalid_request(
    checkpoint: RunningCheckpoint, body: bytes
) -> None:
    response = checkpoint.post("/v1/scan", content=body)
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_request"


def test_scan_requires_a_token(checkpoint: RunningCheckpoint, sc: Province) -> None:
    response = checkpoint.post("/v1/scan", token="hcd_not-a-real-token", json={"text": "x"})
    assert response.status_code == 401
    assert response.json()["error"] == "device_not_registered"
    anonymous = httpx.post(checkpoint.url + "/v1/scan", json={"text": "x"}, timeout=10)
    assert anonymous.json()["error"] == "unauthenticated"


def test_revoked_device_is_refused(checkpoint: RunningCheckpoint, sc: Province) -> None:
    device_id, token = checkpoint.service.auth.add_device("spare")
    assert checkpoint.post("/v1/scan", token=token, json={"text": "x"}).status_code == 200
    checkpoint.service.auth.revoke_device(device_id)
    assert checkpoint.post("/v1/scan", token=token, json={"text": "x"}).status_code == 401


def test_revocation_published_by_issuer_is_rejected_after_sync(
    checkpoint: RunningCheckpoint, sc: Province
) -> None:
    credential = new_credential(
        issuer="cn-sc",
        subject="c3ViamVjdC1wc2V1ZG9ueW0tMDE",
        status=StatusColour.GREEN,
        masked_name="张*丰",
        id_tail=SC_GREEN[-4:],
    )
    text = encode_numeric(sign_credential(credential, sc.issuer.key))
    assert checkpoint.post("/v1/scan", json={"text": text}).json()["display"] == "green"
    sc.issuer.revoked.append((credential.jti, credential.expires_at))
    # Not yet synced: the checkpoint still holds the older (fresh) data.
    assert checkpoint.post("/v1/scan", json={"text": text}).json()["display"] == "green"
    assert checkpoint.service.sync_revocations()["cn-sc"] == "ok (+1)"
    answer = checkpoint.post("/v1/scan", json={"text": text}).json()
    assert answer["display"] == "error"
    assert answer["error"] == "revoked"


def test_batch_answers_each_scan_in_order(checkpoint: RunningCheckpoint, sc: Province) -> None:
    scans = [
        phone_code(sc),
        "https://example.cn/not-a-code",
        phone_code(sc, status=StatusColour.YELLOW),
    ]
    results = checkpoint.post("/v1/scan/batch", json={"scans": scans}).json()["results"]
    assert [r["display"] for r in results] == ["green", "error", "yellow"]
    assert results[1]["error"] == "malformed_input"
    too_many = checkpoint.post("/v1/scan/batch", json={"scans": ["x"] * 101})
    assert too_many.status_code == 422
    assert too_many.json()["error"] == "invalid_request"


def test_image_upload_is_decoded_and_verified(checkpoint: RunningCheckpoint, sc: Province) -> None:
    png = render_png(phone_code(sc))
    response = checkpoint.post("/v1/scan/image", content=png)
    assert response.status_code == 200
    assert [r["display"] for r in response.json()["results"]] == ["green"]
    assert [r["mode"] for r in response.json()["results"]] == ["image"]


def test_image_upload_is_bounded_and_answered_with_a_verdict(
    checkpoint: RunningCheckpoint,
) -> None:
    # §9: a verification call answers its failures as results, a photo's included.
    limit = checkpoint.service.settings.max_image_bytes
    response = checkpoint.post("/v1/scan/image", content=io.BytesIO(b"\0" * (limit + 1)).read())
    assert response.status_code == 200
    [too_large] = response.json()["results"]
    assert (too_large["display"], too_large["error"]) == ("error", "input_too_large")
    not_an_image = checkpoint.post("/v1/scan/image", content=b"hello")
    assert not_an_image.status_code == 200
    [damaged] = not_an_image.json()["results"]
    assert (damaged["display"], damaged["error"]) == ("error", "malformed_input")
    logged = [(r.mode, r.result, r.error) for r in checkpoint.service.scan_log.scans()]
    assert logged == [("image", "error", "input_too_large"), ("image", "error", "malformed_input")]


def test_scan_text_past_every_code_size_is_a_verdict_and_a_huge_body_413(
    checkpoint: RunningCheckpoint,
) -> None:
    over = checkpoint.post("/v1/scan", json={"text": "hc:/" + "5" * 70_000})
    assert over.status_code == 200
    assert (over.json()["display"], over.json()["error"]) == ("error", "input_too_large")
    huge = checkpoint.post("/v1/scan", json={"text": "5" * 500_000})
    assert (huge.status_code, huge.json()["error"]) == (413, "input_too_large")
    for malformed in (b"{not json", b'{"text": 5}', b"\xff\xfe"):
        refused = checkpoint.post("/v1/scan", content=malformed)
        assert (refused.status_code, refused.json()["error"]) == (422, "invalid_request")


def test_id_card_read_of_local_citizen(
    checkpoint: RunningCheckpoint, sc: Province, redis_url: str
) -> None:
    response = checkpoint.post("/v1/id-card", json={"id_number": SC_RED, "name": "王五"})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["display"] == "red"
    assert answer["reason_text"]["zh"] == "核酸/抗原阳性"
    assert answer["home_issuer"] == "cn-sc"
    assert answer["cached"] is False
    assert answer["checks"]["revocation"] == "passed"
    # Cached under a keyed hash, never the number; a second read re-verifies the cached answer.
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    keys = [str(key) for key in client.keys("*")]
    client.close()
    assert len(keys) == 1
    assert SC_RED not in keys[0]
    assert SC_RED[-4:] not in keys[0]
    again = checkpoint.post("/v1/id-card", json={"id_number": SC_RED, "name": "王五"}).json()
    assert again["display"] == "red"
    assert again["cached"] is True
    assert len(sc.issuer.lookups) == 1
    assert sc.issuer.lookups[0] == {
        "assisted": False,
        "checkpoint_id": "cd-east-gate",
        "name": "王五",
    }


def test_id_card_read_of_traveller_shows_home_colour(
    checkpoint: RunningCheckpoint, sc: Province, bj: Province
) -> None:
    answer = checkpoint.post("/v1/id-card", json={"id_number": BJ_YELLOW, "name": "李小龙"}).json()
    assert answer["display"] == "yellow"
    assert answer["issuer"] == "cn-bj"
    assert answer["home_issuer"] == "cn-bj"
    assert answer["reason"] == "risk_area"


def test_id_card_errors(checkpoint: RunningCheckpoint, sc: Province) -> None:
    bad = checkpoint.post("/v1/id-card", json={"id_number": SC_GREEN[:-1] + "0"})
    assert bad.status_code == 422
    assert bad.json()["error"] == "invalid_id_number"
    assert SC_GREEN[:-1] not in bad.text
    unknown = make_id_number("510104", SC_GREEN_BIRTH, 999)
    missing = checkpoint.post("/v1/id-card", json={"id_number": unknown})
    assert missing.status_code == 404
    assert missing.json()["error"] == "not_found"
    no_issuer = checkpoint.post(
        "/v1/id-card", json={"id_number": make_id_number("440106", SC_GREEN_BIRTH, 1)}
    )
    assert no_issuer.status_code == 422
    assert no_issuer.json()["error"] == "unknown_region"


def test_answer_for_another_person_is_refused(checkpoint: RunningCheckpoint, sc: Province) -> None:
    # A faulty issuer answering with another citizen's credential must not show a colour.
    original = sc.issuer.credential_for
    sc.issuer.credential_for = lambda id_number, lifetime_s=300: original(SC_RED)  # type: ignore[method-assign]
    answer = checkpoint.post("/v1/id-card", json={"id_number": SC_GREEN}).json()
    assert answer["display"] == "error"
    assert answer["error"] == "invalid_claims"


def test_assisted_lookup_needs_staff_and_is_audited(
    checkpoint: RunningCheckpoint, sc: Province
) -> None:
    by_device = checkpoint.post("/v1/assisted", json={"id_number": SC_GREEN, "name": "张三丰"})
    assert by_device.status_code == 403
    answer = checkpoint.post(
        "/v1/assisted", token=checkpoint.staff_token, json={"id_number": SC_GREEN, "name": "张三丰"}
    ).json()
    assert answer["display"] == "green"
    assert answer["assisted"] is True
    assert sc.issuer.lookups[-1]["assisted"] is True
    audits = checkpoint.service.scan_log.audit_records()
    assisted = [a for a in audits if a.action == "assisted"]
    # The device's refused attempt is on record too.
    device = checkpoint.service.auth.authenticate(checkpoint.device_token).actor
    assert [(a.actor, a.detail) for a in assisted] == [
        (device, "error=forbidden"),
        ("staff1", "result=green error=-"),
    ]
    assert _no_raw_ids(audits)


def test_scan_log_holds_no_raw_id_and_exports_to_officials_only(
    checkpoint: RunningCheckpoint, sc: Province
) -> None:
    checkpoint.post("/v1/scan", json={"text": phone_code(sc)})
    # "Next person": the card read below is not paired with that code (scan + tap).
    assert checkpoint.post("/v1/scan-tap/end").json() == {"ended": True}
    checkpoint.post("/v1/id-card", json={"id_number": SC_RED, "name": "王五"})
    checkpoint.post("/v1/id-card", json={"id_number": make_id_number("510104", SC_GREEN_BIRTH, 9)})
    records = checkpoint.service.scan_log.scans()
    assert [r.result for r in records] == ["green", "red", "error"]
    assert records[2].error == "not_found"
    assert records[2].subject is not None
    assert _no_raw_ids(records)
    assert checkpoint.get("/v1/scans/export", token=checkpoint.staff_token).status_code == 403
    assert checkpoint.get("/v1/scans/export").status_code == 403
    exported = checkpoint.get("/v1/scans/export", token=checkpoint.official_token).json()
    assert [row["result"] for row in exported["scans"]] == ["green", "red", "error"]
    csv_text = checkpoint.get(
        "/v1/scans/export", token=checkpoint.official_token, params={"format": "csv"}
    ).text
    assert csv_text.splitlines()[0].startswith("checkpoint_id,scanned_at,mode")
    assert len(csv_text.splitlines()) == 4
    actions = [a.action for a in checkpoint.service.scan_log.audit_records()]
    assert actions.count("export_scans") == 2


def test_login(checkpoint: RunningCheckpoint) -> None:
    ok = httpx.post(
        checkpoint.url + "/v1/auth/login", json={"username": "staff1", "password": STAFF_PASSWORD}
    )
    assert ok.status_code == 200
    assert ok.json()["role"] == "staff"
    wrong = httpx.post(
        checkpoint.url + "/v1/auth/login", json={"username": "staff1", "password": "nope-nope-no"}
    )
    assert wrong.status_code == 401
    assert wrong.json()["error"] == "login_failed"
    assert wrong.json()["staff_text"]["en"] == "wrong username or password — type them again"
    status = checkpoint.get("/v1/status", token=ok.json()["access_token"]).json()
    assert status["checkpoint_id"] == "cd-east-gate"
    assert status["offline"] is False
    assert set(status["revocations"]) == {"cn-sc", "cn-bj"}


def _no_raw_ids(records: list[ScanRecord] | list[AuditRecord]) -> bool:
    text = repr([record.model_dump() for record in records])
    return all(number not in text for number in (SC_GREEN, SC_RED, BJ_YELLOW))


def test_revocation_published_in_redis_counts_before_the_sync(
    make_settings: MakeSettings, trust_store: TrustStore, sc: Province, redis_url: str
) -> None:
    running = start_checkpoint(make_settings(revocation_redis_url=redis_url), trust_store)
    try:
        running.service.sync_revocations()
        credential = new_credential(
            issuer="cn-sc",
            subject="c3ViamVjdC1wc2V1ZG9ueW0tMDE",
            status=StatusColour.GREEN,
            masked_name="张*丰",
            id_tail=SC_GREEN[-4:],
        )
        text = encode_numeric(sign_credential(credential, sc.issuer.key))
        assert running.post("/v1/scan", json={"text": text}).json()["display"] == "green"
        client = redis.Redis.from_url(redis_url)
        client.sadd(redis_key("cn-sc"), credential.jti)
        client.close()
        # The background job copies the set into memory (here by hand: no background tasks).
        assert running.service.refresh_published_revocations()
        answer = running.post("/v1/scan", json={"text": text}).json()
        assert answer["error"] == "revoked"
    finally:
        running.server.stop()


def test_unconfirmed_status_is_not_shown_like_a_forgery(
    make_settings: MakeSettings, trust_store: TrustStore, sc: Province, bj: Province
) -> None:
    # Never synced: no revocation data, so a genuine code's status cannot be confirmed.
    running = start_checkpoint(make_settings(hotline="12320"), trust_store)
    try:
        answer = running.post("/v1/scan", json={"text": phone_code(sc)}).json()
        assert answer["display"] == "unconfirmed"
        assert answer["error"] == "status_unconfirmed"
        assert answer["issuer_name"] == "四川省 Sichuan"
        assert [(item["check"], item["within_policy"]) for item in answer["unchecked"]] == [
            ("revocation", False)
        ]
        forged = phone_code(sc).removesuffix(phone_code(sc)[-6:]) + "000000"
        assert running.post("/v1/scan", json={"text": forged}).json()["display"] == "error"
        assert [r.result for r in running.service.scan_log.scans()] == ["unconfirmed", "error"]
        status = running.get("/v1/status").json()
        assert status["hotline"] == "12320"
        assert status["result_display_s"] == 5.0
    finally:
        running.server.stop()
