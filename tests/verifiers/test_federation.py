"""End to end with the real issuer services: a traveller's ID card read at a Sichuan checkpoint.

Two real issuer apps (Sichuan, Guangdong) with their partner routers, a real Redis and the
checkpoint, all on loopback ports. The checkpoint talks to its issuer over HTTP only.
"""

from __future__ import annotations

from pathlib import Path

from issuers.auth import Role
from tests.issuers.helpers import lab_csv, recent
from tests.verifiers.conftest import MakeSettings, start_checkpoint
from tests.verifiers.federation import federation, issuers_conftest


def test_traveller_id_card_read_shows_home_colour(
    tmp_path: Path, redis_url: str, make_settings: MakeSettings
) -> None:
    with federation(tmp_path, redis_url) as (sichuan, guangdong, trust):
        traveller = issuers_conftest.citizen_number(102, division="440106")
        guangdong.register(traveller, "陈十三")
        device = sichuan.staff_headers(Role.CHECKPOINT)["Authorization"]
        settings = make_settings(
            issuer_url=sichuan.url,
            issuer_token=device.removeprefix("Bearer "),
        )
        checkpoint = start_checkpoint(settings, trust)
        try:
            assert checkpoint.service.sync_revocations() == {
                "cn-sc": "ok (+0)",
                "cn-gd": "ok (+0)",
            }
            answer = checkpoint.post(
                "/v1/id-card", json={"id_number": traveller, "name": "陈十三"}
            ).json()
            assert answer["display"] == "green", answer
            assert answer["issuer"] == "cn-gd"
            assert answer["home_issuer"] == "cn-gd"
            assert answer["id_tail"] == traveller[-4:]
            assert answer["checks"]["signature"] == "passed"
            stranger = issuers_conftest.citizen_number(103, division="440106")
            nameless = checkpoint.post("/v1/id-card", json={"id_number": stranger})
            # A traveller's home issuer matches number and name (§10.2): staff are told.
            assert nameless.status_code == 422, nameless.text
            assert nameless.json()["error"] == "invalid_request"
            assert "name" in nameless.json()["message"]
            unknown = checkpoint.post("/v1/id-card", json={"id_number": stranger, "name": "王五"})
            assert unknown.status_code == 404, unknown.text
            guangdong.server.stop()
            # The cached answer (<= 60 s) is re-verified and still shown; a new person is not.
            again = checkpoint.post("/v1/id-card", json={"id_number": traveller, "name": "陈十三"})
            assert again.json()["cached"] is True
            other = issuers_conftest.citizen_number(104, division="440106")
            down = checkpoint.post("/v1/id-card", json={"id_number": other, "name": "赵六"})
            assert down.status_code == 503
            assert down.json()["error"] == "upstream_unavailable"
        finally:
            checkpoint.server.stop()


def test_checkpoint_logs_in_with_its_device_account_and_renews(
    tmp_path: Path, redis_url: str, make_settings: MakeSettings
) -> None:
    from tests.issuers.conftest import STAFF_PASSWORD

    with federation(tmp_path, redis_url) as (sichuan, _guangdong, trust):
        local = issuers_conftest.citizen_number(105, division="510104")
        sichuan.register(local, "周十五")
        sichuan.staff_headers(Role.CHECKPOINT, username="gate-7")  # creates the account
        settings = make_settings(
            issuer_url=sichuan.url, issuer_username="gate-7", issuer_password=STAFF_PASSWORD
        )
        checkpoint = start_checkpoint(settings, trust)
        try:
            checkpoint.service.sync_revocations()
            first = checkpoint.post("/v1/id-card", json={"id_number": local, "name": "周十五"})
            assert first.json()["display"] == "green", first.text
            # Pretend the issuer's token expired: the next look-up logs in again by itself.
            credential = checkpoint.service.lookup._credential
            credential._token = "expired-token"
            other = issuers_conftest.citizen_number(106, division="510104")
            sichuan.register(other, "吴十六")
            second = checkpoint.post("/v1/id-card", json={"id_number": other, "name": "吴十六"})
            assert second.json()["display"] == "green", second.text
            assert credential._token != "expired-token"
        finally:
            checkpoint.server.stop()


def test_positive_lab_result_at_the_real_issuer_revokes_the_old_green_code(
    tmp_path: Path, redis_url: str, make_settings: MakeSettings
) -> None:
    """Acceptance: a citizen turns red at a real issuer; once the checkpoint syncs, the green
    code on their phone is rejected as revoked."""
    with federation(tmp_path, redis_url) as (sichuan, _guangdong, trust):
        citizen = issuers_conftest.citizen_number(107, division="510104")
        sichuan.register(citizen, "郑十七", phone="13800000107")
        citizen_headers = sichuan.citizen_headers(citizen)
        green = sichuan.http.get("/v1/me/code", headers=citizen_headers).json()
        assert green["status"] == "green"
        checkpoint = start_checkpoint(make_settings(issuer_url=sichuan.url), trust)
        try:
            assert checkpoint.service.sync_revocations()["cn-sc"] == "ok (+0)"
            first = checkpoint.post("/v1/scan", json={"text": green["qr_text"]}).json()
            assert first["display"] == "green", first
            assert first["issuer"] == "cn-sc"

            official = sichuan.staff_headers(Role.HEALTH_OFFICIAL)
            imported = sichuan.http.post(
                "/v1/feeds/lab_results",
                content=lab_csv((citizen, "positive", "pcr", recent())),
                headers={**official, "Content-Type": "text/csv"},
            )
            assert imported.status_code == 200, imported.text
            assert imported.json()["revoked"] == 1
            # Until the next sync the checkpoint holds the older (still fresh) data.
            before = checkpoint.post("/v1/scan", json={"text": green["qr_text"]}).json()
            assert before["display"] == "green"

            assert checkpoint.service.sync_revocations()["cn-sc"] == "ok (+1)"
            after = checkpoint.post("/v1/scan", json={"text": green["qr_text"]}).json()
            assert after["display"] == "error"
            assert after["error"] == "revoked"
            assert after["error_text"] == {"en": "Code revoked", "zh": "码已作废"}
            assert after["checks"]["revocation"] == "failed"
            red = sichuan.http.get("/v1/me/code", headers=citizen_headers).json()
            now_red = checkpoint.post("/v1/scan", json={"text": red["qr_text"]}).json()
            assert (now_red["display"], now_red["reason"]) == ("red", "positive_test")
        finally:
            checkpoint.server.stop()
