"""Offline, failing closed: sources stopped, QR codes still verify; ID-card reads refused."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from healthcode import StatusColour, TrustStore, encode_numeric, new_credential
from healthcode.jws import sign_credential
from tests.servers import AppServer, RedisServer
from tests.verifiers.conftest import SC_GREEN, MakeSettings, Province, start_checkpoint
from verifiers.app import CheckpointService
from verifiers.trustsource import LocalTrustSource


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    server = RedisServer()
    yield server
    server.stop()


def _code(province: Province, now: float | None = None) -> tuple[str, str]:
    credential = new_credential(
        issuer=province.issuer.issuer_id,
        subject="c3ViamVjdC1wc2V1ZG9ueW0tMDE",
        status=StatusColour.GREEN,
        masked_name="张*丰",
        id_tail=SC_GREEN[-4:],
        now=now,
    )
    return encode_numeric(sign_credential(credential, province.issuer.key)), credential.jti


def test_offline_qr_verifies_and_id_card_is_refused(
    make_settings: MakeSettings,
    trust_store: TrustStore,
    sc: Province,
    bj: Province,
    own_redis: RedisServer,
) -> None:
    running = start_checkpoint(make_settings(redis_url=own_redis.url), trust_store)
    try:
        assert running.service.sync_revocations() == {"cn-sc": "ok (+0)", "cn-bj": "ok (+0)"}
        text, _ = _code(sc)
        # Every source goes away: both issuers (registry stand-ins) and Redis.
        sc.server.stop()
        bj.server.stop()
        own_redis.stop()

        answer = running.post("/v1/scan", json={"text": text}).json()
        assert answer["display"] == "green"
        assert answer["checks"]["revocation"] == "passed"
        assert any(note.startswith("revocation data as of") for note in answer["notes"])

        refused = running.post("/v1/id-card", json={"id_number": SC_GREEN, "name": "张三丰"})
        assert refused.status_code == 503
        assert refused.json()["error"] == "unavailable_offline"

        assert running.service.sync_revocations() == {"cn-sc": "failed", "cn-bj": "failed"}
        status = running.get("/v1/status").json()
        assert status["offline"] is True
        assert status["revocations"]["cn-sc"]["last_error"].startswith("ConnectError")

        # Past the freshness bound the same code is never green: status_unconfirmed.
        as_of = running.service.revocations.state("cn-sc").as_of
        late = running.service.checkpoint.verify_text(text, now=as_of + 901).to_json()
        assert late["display"] == "error"
        assert late["error"] == "status_unconfirmed"
        assert late["unchecked"][0]["check"] == "revocation"
        assert late["unchecked"][0]["since"] == as_of
        assert late["unchecked"][0]["age_s"] == 901
    finally:
        running.server.stop()


def test_revocation_state_survives_a_restart_offline(
    make_settings: MakeSettings, trust_store: TrustStore, sc: Province
) -> None:
    settings = make_settings()
    first = CheckpointService(settings, LocalTrustSource(trust_store))
    text, jti = _code(sc)
    sc.issuer.revoked.append((jti, int(time.time()) + 3600))
    first.sync_revocations()
    first.close()
    sc.server.stop()

    second = CheckpointService(settings, LocalTrustSource(trust_store))
    try:
        assert second.checkpoint.verify_text(text).to_json()["error"] == "revoked"
        other, _ = _code(sc)
        assert second.checkpoint.verify_text(other).display == "green"
    finally:
        second.close()


def test_catches_up_by_itself_when_the_network_returns(
    make_settings: MakeSettings, trust_store: TrustStore, sc: Province, bj: Province
) -> None:
    settings = make_settings(background_tasks=True, revocation_sync_interval_s=0.2)
    port = sc.server.port
    sc.server.stop()
    running = start_checkpoint(settings, trust_store)
    try:
        text, jti = _code(sc)
        assert running.post("/v1/scan", json={"text": text}).json()["error"] == (
            "status_unconfirmed"
        )
        sc.issuer.revoked.append((jti, int(time.time()) + 3600))
        restarted = AppServer(sc.issuer.app(), port=port)
        try:
            deadline = time.monotonic() + 10
            answer: dict[str, object] = {}
            while time.monotonic() < deadline:
                answer = running.post("/v1/scan", json={"text": text}).json()
                if answer["error"] == "revoked":
                    break
                time.sleep(0.1)
            assert answer["error"] == "revoked"
            fresh, _ = _code(sc)
            assert running.post("/v1/scan", json={"text": fresh}).json()["display"] == "green"
        finally:
            restarted.stop()
    finally:
        running.server.stop()
