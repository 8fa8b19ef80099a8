"""`ScanAnswer.to_json` builds credential answers directly: same JSON as the generic way."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from healthcode import CodeKind, ReasonCode, SigningKey, StatusColour, TrustStore
from healthcode.jws import sign_compact
from tests.conftest import NOW, VECTORS
from verifiers.revocations import RevocationCache
from verifiers.scan import Checkpoint, ScanAnswer
from verifiers.trustsource import LocalTrustSource


def generic_json(answer: ScanAnswer) -> dict[str, Any]:
    """The answer as it was built before the direct version: from `result.to_json()`, without
    the private members, then the screen's members (the same code adds them either way)."""
    out = answer.result.to_json()
    for private in ("subject", "kid", "jti", "source"):
        out.pop(private, None)
    answer.add_screen_members(out)
    return out


@pytest.fixture
def checkpoint(tmp_path: Path, trust: TrustStore, issuer_key: SigningKey) -> Checkpoint:
    cache = RevocationCache(tmp_path, max_age_s=900)
    payload = {"iss": "cn-sc", "seq": 0, "issued_at": NOW, "since": 0, "entries": []}
    cache.apply(
        trust.issuers["cn-sc"],
        sign_compact(orjson.dumps(payload), issuer_key, compress=False),
        now=NOW,
    )
    return Checkpoint(LocalTrustSource(trust), cache)


@pytest.mark.parametrize(
    ("overrides", "at", "mode"),
    [
        ({}, NOW, "qr"),
        ({"kind": CodeKind.OFFLINE}, NOW + 600, "batch"),
        ({"status": StatusColour.RED, "reason": ReasonCode.POSITIVE_TEST}, NOW, "image"),
        ({"status": StatusColour.YELLOW, "reason": ReasonCode.RISK_AREA}, NOW, "qr"),
        ({}, NOW + 901, "qr"),  # stale revocation data: status_unconfirmed
        ({}, NOW + 30 * 86400, "qr"),  # expired
    ],
)
def test_answer_json_is_the_generic_json(
    checkpoint: Checkpoint,
    make_token: Callable[..., str],
    overrides: dict[str, Any],
    at: int,
    mode: str,
) -> None:
    answer = checkpoint.verify_text(make_token(**overrides), now=at, mode=mode)
    # Byte for byte: the same members in the same order.
    assert orjson.dumps(answer.to_json()) == orjson.dumps(generic_json(answer))
    # Each answer owns its `checks` (the combinations are cached).
    answer.to_json()["checks"].clear()
    assert answer.to_json()["checks"] == generic_json(answer)["checks"]


@pytest.mark.parametrize("text", ["hc:/1234", "", "not a code"])
def test_error_answer_json_is_the_generic_json(checkpoint: Checkpoint, text: str) -> None:
    answer = checkpoint.verify_text(text, now=NOW)
    assert orjson.dumps(answer.to_json()) == orjson.dumps(generic_json(answer))


def test_answer_with_extra_members(checkpoint: Checkpoint, make_token: Callable[..., str]) -> None:
    answer = checkpoint.verify_text(make_token(), now=NOW)
    answer.extra["home_region"] = "510000"
    assert orjson.dumps(answer.to_json()) == orjson.dumps(generic_json(answer))


def test_smart_health_card_json_is_the_generic_json(tmp_path: Path) -> None:
    shc = VECTORS / "shc"
    issuer = "https://spec.smarthealth.cards/examples/issuer"
    trust = TrustStore.from_jwks([(issuer, (shc / "issuer" / "jwks.json").read_bytes())])
    checkpoint = Checkpoint(LocalTrustSource(trust), RevocationCache(tmp_path))
    qr_text = (shc / "example-00-f-qr-code-numeric-value-0.txt").read_text().strip()
    answer = checkpoint.verify_text(qr_text, now=datetime(2024, 1, 1, tzinfo=UTC).timestamp())
    assert answer.display == "card"
    assert orjson.dumps(answer.to_json()) == orjson.dumps(generic_json(answer))
