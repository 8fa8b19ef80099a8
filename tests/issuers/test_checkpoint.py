"""Checkpoint look-ups by ID number: local citizens here, travellers via their home issuer."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from healthcode import ErrorCode, StatusColour, verify_credential
from healthcode.keys import SigningKey
from issuers.auth import Role
from issuers.models import IssuedCode
from issuers.partner_sync import sync_partner_revocations
from issuers.revocation import RedisRevocationChecker
from tests.issuers.conftest import IssuerService, citizen_number
from tests.issuers.federation import two_provinces
from tests.issuers.helpers import lab_csv, recent


def test_local_citizen_lookup_gives_a_short_lived_verified_credential(
    issuer: IssuerService,
) -> None:
    id_number = citizen_number(101)
    issuer.register(id_number, "冯十二")
    checkpoint = issuer.staff_headers(Role.CHECKPOINT)
    answer = issuer.http.post(
        "/v1/checkpoint/status-lookup",
        json={"id_number": id_number, "name": "冯十二", "assisted": True, "checkpoint_id": "g1"},
        headers=checkpoint,
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["home_issuer"] == "cn-sc"
    assert body["qr_text"].startswith("hc:/")
    result = verify_credential(body["token"], issuer.trust())
    assert result.valid
    assert result.credential is not None
    assert result.credential.expires_at - result.credential.issued_at <= 300
    wrong_name = issuer.http.post(
        "/v1/checkpoint/status-lookup",
        json={"id_number": id_number, "name": "别人", "checkpoint_id": "g1"},
        headers=checkpoint,
    )
    assert wrong_name.status_code == 404
    assert wrong_name.json()["error"] == "not_found"
    citizen = issuer.citizen_headers(id_number)
    refused = issuer.http.post(
        "/v1/checkpoint/status-lookup",
        json={"id_number": id_number, "checkpoint_id": "g1"},
        headers=citizen,
    )
    assert refused.status_code == 403


@contextlib.contextmanager
def federation(tmp_path: Path, redis_url: str) -> Iterator[tuple[IssuerService, IssuerService]]:
    """Sichuan and Guangdong issuers trusting each other through one shared trust store."""
    with two_provinces(tmp_path, redis_url) as (sichuan, guangdong, _trust):
        yield sichuan, guangdong


@pytest.mark.usefixtures("redis_server")
def test_traveller_lookup_is_relayed_to_the_home_issuer(tmp_path: Path, redis_url: str) -> None:
    with federation(tmp_path, redis_url) as (sichuan, guangdong):
        traveller = citizen_number(102, division="440106")
        guangdong.register(traveller, "陈十三")
        checkpoint = sichuan.staff_headers(Role.CHECKPOINT)
        answer = sichuan.http.post(
            "/v1/checkpoint/status-lookup",
            json={"id_number": traveller, "name": "陈十三", "checkpoint_id": "chengdu-east"},
            headers=checkpoint,
        )
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["home_issuer"] == "cn-gd"
        result = verify_credential(body["token"], guangdong.trust())
        assert result.valid
        assert result.credential is not None
        assert result.credential.status is StatusColour.GREEN
        assert result.credential.subject == guangdong.subject(traveller)

        unknown = sichuan.http.post(
            "/v1/checkpoint/status-lookup",
            json={
                "id_number": citizen_number(103, division="440106"),
                "name": "陈十三",
                "checkpoint_id": "x",
            },
            headers=checkpoint,
        )
        assert unknown.status_code == 404
        assert unknown.json()["error"] == "not_found"
        guangdong.server.stop()
        down = sichuan.http.post(
            "/v1/checkpoint/status-lookup",
            json={"id_number": traveller, "name": "陈十三", "checkpoint_id": "chengdu-east"},
            headers=checkpoint,
        )
        assert down.status_code == 503
        assert down.json()["error"] == "upstream_unavailable"


@pytest.mark.usefixtures("redis_server")
def test_partner_transcodes_a_code_of_its_region(tmp_path: Path, redis_url: str) -> None:
    from healthcode.partner import make_client_assertion

    with federation(tmp_path, redis_url) as (sichuan, guangdong):
        traveller = citizen_number(104, division="440106")
        guangdong.register(traveller, "卫十五")
        source = guangdong.http.get(
            "/v1/me/code", headers=guangdong.citizen_headers(traveller)
        ).json()
        assert guangdong.settings.partner_key_file is not None
        assertion = make_client_assertion(
            SigningKey.load(guangdong.settings.partner_key_file),
            partner="cn-gd",
            audience=sichuan.settings.partner_audience,
        )
        answer = sichuan.http.post(
            "/partner/v1/transcode",
            json={"credential": source["qr_text"]},
            headers={"Authorization": f"Bearer {assertion}"},
        )
        assert answer.status_code == 200, answer.text
        result = verify_credential(answer.json()["credential"], sichuan.trust())
        assert result.valid
        assert result.credential is not None
        assert result.credential.issuer == "cn-sc"
        assert result.credential.source == f"cn-gd/{source['jti']}"
        source_claims = verify_credential(source["token"], guangdong.trust()).credential
        assert source_claims is not None
        assert result.credential.expires_at <= source_claims.expires_at
        assert result.credential.subject == guangdong.subject(traveller)
        transcoded = result.credential

        # The source is revoked at home; syncing its feed revokes the transcoded code here.
        official = guangdong.staff_headers(Role.HEALTH_OFFICIAL)
        imported = guangdong.http.post(
            "/v1/feeds/lab_results",
            content=lab_csv((traveller, "positive", "pcr", recent())),
            headers=official,
        )
        assert imported.json()["revoked"] >= 1
        assert sichuan.settings.partner_key_file is not None
        sichuan_key = SigningKey.load(sichuan.settings.partner_key_file)
        trust = sichuan.context_trust()
        report = sync_partner_revocations(sichuan.context, trust, sichuan_key)
        assert (report.revoked, report.failed, report.synced) == ({"cn-gd": 1}, {}, ("cn-gd",))
        checker = RedisRevocationChecker(redis.Redis.from_url(redis_url))
        after = verify_credential(answer.json()["credential"], sichuan.trust(), revocations=checker)
        assert after.error is ErrorCode.REVOKED
        with sichuan.context.session() as session:
            stored = session.get(IssuedCode, transcoded.jti)
        assert stored is not None
        assert stored.source == f"cn-gd/{source['jti']}"
        assert stored.revoked_at is not None
        assert sync_partner_revocations(sichuan.context, trust, sichuan_key).revoked == {}
