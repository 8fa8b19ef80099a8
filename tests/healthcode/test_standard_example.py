"""Appendix A of docs/standard.md is checked against the library, so the example never drifts."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from healthcode import Check, CheckOutcome, ErrorCode, TrustStore, verify_credential
from healthcode.idnumber import pseudonymous_subject
from healthcode.jws import parse_compact
from healthcode.keys import SigningKey, VerifyingKey, b64url_decode
from healthcode.qr import encode_numeric

STANDARD = Path(__file__).parents[2] / "docs" / "standard.md"


@pytest.fixture(scope="module")
def appendix() -> str:
    text = STANDARD.read_text()
    return text.split("## Appendix A", 1)[1].split("\n## ", 1)[0]


def _json_block(appendix: str, after: str) -> dict[str, object]:
    block = appendix.split(after, 1)[1].split("```json\n", 1)[1].split("\n```", 1)[0]
    parsed: dict[str, object] = json.loads(block)
    return parsed


def _token(appendix: str) -> str:
    return appendix.split("**Token**", 1)[1].split("```\n", 1)[1].split("\n```", 1)[0].strip()


def test_example_token_verifies_then_expires(appendix: str) -> None:
    jwk = _json_block(appendix, "**Key**")
    public = {k: v for k, v in jwk.items() if k != "d"}
    trust = TrustStore.from_jwks([("cn-sc", {"keys": [public]})])
    token = _token(appendix)
    assert len(token) == int(re.search(r"\*\*Token\*\* \((\d+) characters", appendix)[1])  # type: ignore[index]
    result = verify_credential(token, trust, now=1767225660)
    assert result.valid, result.message
    assert result.checks[Check.REVOCATION] is CheckOutcome.NOT_CHECKED
    assert verify_credential(token, trust, now=1767229321).error is ErrorCode.EXPIRED
    assert verify_credential(token, trust, now=1767229320).valid  # exp + skew is inclusive


def test_example_claims_header_and_qr_text_match(appendix: str) -> None:
    token = _token(appendix)
    parsed = parse_compact(token)
    header = re.search(r"\*\*Header:\*\* `(\{.*?\})`", appendix)[1]  # type: ignore[index]
    assert dict(parsed.header) == json.loads(header)
    assert parsed.claims() == _json_block(appendix, "**Claims**")
    qr_text = encode_numeric(token)
    stated = re.search(r"\*\*QR text\*\* \((\d+) characters", appendix)[1]  # type: ignore[index]
    assert len(qr_text) == int(stated)
    assert qr_text.startswith("hc:/5676295953265460346029254077280433602870")


def test_example_key_thumbprint_and_subject(appendix: str) -> None:
    jwk = _json_block(appendix, "**Key**")
    key = VerifyingKey.from_jwk({k: v for k, v in jwk.items() if k != "d"})
    assert key.kid == jwk["kid"]
    secret = int.from_bytes(b64url_decode(str(jwk["d"])), "big")
    private = SigningKey.from_private_key(ec.derive_private_key(secret, ec.SECP256R1()))
    assert private.kid == jwk["kid"]
    sub = pseudonymous_subject("510104195803071237", b"example-province-secret-not-for-production")
    assert f"`sub` = `{sub}`" in appendix
