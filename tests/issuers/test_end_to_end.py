"""A citizen's code from green to red to corrected, on SQLite and on PostgreSQL."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from healthcode import ErrorCode, StatusColour, verify_credential
from issuers.auth import Role
from issuers.revocation import RedisRevocationChecker
from tests.issuers.conftest import citizen_number, make_settings, running_issuer
from tests.issuers.helpers import SignedListChecker, lab_csv, recent
from tests.servers import postgres_schema


@contextlib.contextmanager
def database(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'issuer.db'}"
        return
    base = request.getfixturevalue("postgres_database_url")
    with postgres_schema(base) as url:
        yield url


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_green_code_turns_red_on_positive_result_and_correction_restores_it(
    backend: str, tmp_path: Path, redis_url: str, request: pytest.FixtureRequest
) -> None:
    with (
        database(backend, tmp_path, request) as database_url,
        running_issuer(make_settings(tmp_path, redis_url, database_url=database_url)) as svc,
    ):
        id_number = citizen_number(11)
        svc.register(id_number, "张三丰", phone="13800000011")
        citizen = svc.citizen_headers(id_number)
        redis_client = redis.Redis.from_url(redis_url)
        checker = RedisRevocationChecker(redis_client)

        green = svc.http.get("/v1/me/code", headers=citizen).json()
        assert green["status"] == "green"
        assert green["kind"] == "phone"
        assert green["masked_name"] == "张*丰"
        assert green["id_tail"] == id_number[-4:]
        result = verify_credential(green["qr_text"], svc.trust(), revocations=checker)
        assert result.valid, result.message
        assert result.credential is not None
        assert result.credential.status is StatusColour.GREEN
        # The current code is reused while fresh.
        assert svc.http.get("/v1/me/code", headers=citizen).json()["jti"] == green["jti"]

        official = svc.staff_headers(Role.HEALTH_OFFICIAL)
        answer = svc.http.post(
            "/v1/feeds/lab_results",
            content=lab_csv((id_number, "positive", "pcr", recent())),
            headers={**official, "Content-Type": "text/csv"},
        )
        assert answer.status_code == 200, answer.text
        report = answer.json()
        assert (report["accepted"], report["status_changes"], report["revoked"]) == (1, 1, 1)

        red = svc.http.get("/v1/me/code", headers=citizen).json()
        assert red["status"] == "red"
        assert red["reason"] == "positive_test"
        assert red["jti"] != green["jti"]
        assert red["reason_text"]["zh"]
        assert red["reason_text"]["en"]

        old = verify_credential(green["qr_text"], svc.trust(), revocations=checker)
        assert not old.valid
        assert old.error is ErrorCode.REVOKED
        revocation_list = svc.http.get("/v1/revocations", params={"since": 0}).json()
        signed = SignedListChecker(
            revocation_list["revocation_list"],
            svc.http.get("/.well-known/jwks.json").json(),
            svc.settings.issuer_id,
        )
        old_by_list = verify_credential(green["qr_text"], svc.trust(), revocations=signed)
        assert old_by_list.error is ErrorCode.REVOKED
        assert verify_credential(red["qr_text"], svc.trust(), revocations=checker).valid
        later = svc.http.get("/v1/revocations", params={"since": signed.payload["seq"]}).json()
        assert (
            SignedListChecker(
                later["revocation_list"], svc.http.get("/.well-known/jwks.json").json(), "cn-sc"
            ).revoked
            == set()
        )

        history = svc.http.get("/v1/me/history", headers=citizen).json()
        assert [entry["colour"] for entry in history] == ["green", "red"]

        # Correction: the citizen disputes, an official overrides with a reason.
        filed = svc.http.post(
            "/v1/corrections", json={"reason": "the sample was mislabelled"}, headers=citizen
        )
        assert filed.status_code == 201
        assert filed.json()["state"] == "open"
        queue = svc.http.get("/v1/corrections", headers=official).json()
        assert [item["id"] for item in queue] == [filed.json()["id"]]
        decided = svc.http.post(
            f"/v1/corrections/{filed.json()['id']}/decision",
            json={
                "decision": "accept",
                "note": "lab confirmed a mix-up",
                "override_colour": "green",
            },
            headers=official,
        )
        assert decided.status_code == 200
        assert decided.json()["state"] == "accepted"
        mine = svc.http.get("/v1/corrections/mine", headers=citizen).json()
        assert mine[0]["state"] == "accepted"
        assert mine[0]["decision_note"] == "lab confirmed a mix-up"
        assert svc.http.get("/v1/me", headers=citizen).json()["colour"] == "green"
        assert not verify_credential(red["qr_text"], svc.trust(), revocations=checker).valid
        history = svc.http.get("/v1/me/history", headers=citizen).json()
        assert history[-1]["rule_id"] == "official-override"
        seen_by_official = svc.http.get(f"/v1/citizens/{svc.subject(id_number)}", headers=official)
        assert [h["colour"] for h in seen_by_official.json()["history"]] == [
            "green",
            "red",
            "green",
        ]
        assert seen_by_official.json()["history"][-1]["actor"].startswith("health_official:")
        assert "correction" in history[-1]["note"]
        redis_client.close()
