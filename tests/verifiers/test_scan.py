"""The verification core with a fixed clock: answers, freshness, trust sources."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from healthcode import CodeKind, SigningKey, TrustStore, jwks_document
from healthcode.jws import sign_compact
from tests.conftest import NOW, VECTORS
from verifiers.revocations import RevocationCache
from verifiers.scan import Checkpoint, normalise_scan
from verifiers.settings import VerifierSettings
from verifiers.trustsource import LocalTrustSource


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("hc:/56\r\n", "hc:/56"),
        ("hc:/56\n", "hc:/56"),
        ("hc:/56\r", "hc:/56"),
        ("hc:/56 ", "hc:/56"),
        ("hc:/56\n\n", "hc:/56\n"),
        ("hc:/56", "hc:/56"),
        ("", ""),
    ],
)
def test_normalise_strips_one_line_ending(typed: str, expected: str) -> None:
    assert normalise_scan(typed) == expected


@pytest.fixture
def synced_checkpoint(tmp_path: Path, trust: TrustStore, issuer_key: SigningKey) -> Checkpoint:
    cache = RevocationCache(tmp_path, max_age_s=900)
    payload = {"iss": "cn-sc", "seq": 0, "issued_at": NOW, "since": 0, "entries": []}
    cache.apply(
        trust.issuers["cn-sc"],
        sign_compact(orjson.dumps(payload), issuer_key, compress=False),
        now=NOW,
    )
    return Checkpoint(LocalTrustSource(trust), cache)


def test_offline_code_answer(synced_checkpoint: Checkpoint, make_token: Callable[..., str]) -> None:
    token = make_token(kind=CodeKind.OFFLINE)
    answer = synced_checkpoint.verify_text(token, now=NOW + 600).to_json()
    assert answer["display"] == "green"
    assert answer["offline_code"] is True
    assert answer["validity_left_s"] == 7 * 86400 - 600
    assert answer["checked_at"] == NOW + 600
    assert answer["mode"] == "qr"


def test_stale_revocation_data_is_never_green(
    synced_checkpoint: Checkpoint, make_token: Callable[..., str]
) -> None:
    token = make_token(kind=CodeKind.OFFLINE)
    fresh = synced_checkpoint.verify_text(token, now=NOW + 900)
    assert fresh.display == "green"
    stale = synced_checkpoint.verify_text(token, now=NOW + 901).to_json()
    assert stale["display"] == "unconfirmed"  # its own screen, never green, not a forgery
    assert stale["error"] == "status_unconfirmed"
    assert stale["error_text"] == {"en": "Status could not be confirmed", "zh": "状态无法确认"}
    assert stale["unchecked"][0]["since"] == NOW


def test_no_revocation_data_is_status_unconfirmed(
    tmp_path: Path, trust: TrustStore, make_token: Callable[..., str]
) -> None:
    checkpoint = Checkpoint(LocalTrustSource(trust), RevocationCache(tmp_path))
    answer = checkpoint.verify_text(make_token(), now=NOW).to_json()
    assert answer["error"] == "status_unconfirmed"
    assert answer["unchecked"][0]["since"] is None


def test_local_trust_source_from_jwks_files(
    tmp_path: Path, issuer_key: SigningKey, make_token: Callable[..., str]
) -> None:
    jwks = tmp_path / "cn-sc.jwks.json"
    jwks.write_text(json.dumps(jwks_document([issuer_key.verifying_key])))
    settings = VerifierSettings(
        demo_mode=True,
        trust_jwks={"cn-sc": jwks},
        trust_issuers={
            "cn-sc": {
                "name": "四川省",
                "region": "510000",
                "endpoints": {"revocations": "http://127.0.0.1:1/v1/revocations"},
            }
        },
    )
    source = LocalTrustSource.from_settings(settings)
    store = source.current()
    assert store.issuer_for_region("510104") is not None
    assert store.issuers["cn-sc"].endpoints["revocations"].endswith("/v1/revocations")
    checkpoint = Checkpoint(source, RevocationCache(tmp_path))
    assert checkpoint.verify_text(make_token(), now=NOW).result.issuer_name == "四川省"
    assert source.status()["source"] == "jwks"


def test_settings_refuse_demo_secrets_outside_demo_mode() -> None:
    with pytest.raises(ValueError, match="demo value"):
        VerifierSettings()


def test_smart_health_card_is_shown_without_colour(tmp_path: Path) -> None:
    shc = VECTORS / "shc"
    issuer = "https://spec.smarthealth.cards/examples/issuer"
    trust = TrustStore.from_jwks([(issuer, (shc / "issuer" / "jwks.json").read_bytes())])
    checkpoint = Checkpoint(LocalTrustSource(trust), RevocationCache(tmp_path))
    qr_text = (shc / "example-00-f-qr-code-numeric-value-0.txt").read_text().strip()
    answer = checkpoint.verify_text(
        qr_text + "\n", now=datetime(2024, 1, 1, tzinfo=UTC).timestamp()
    )
    data = answer.to_json()
    assert answer.display == "card"
    assert data["checks"]["revocation"] == "not_checked"
    assert data["unchecked"] == []
    assert "Immunization" in data["shc"]["resources"]
