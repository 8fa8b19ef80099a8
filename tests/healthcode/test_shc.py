"""SMART Health Cards compatibility: the published examples verify with their issuer's JWKS."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from healthcode import ErrorCode, Profile, TrustStore, verify_credential
from healthcode.qr import reassemble_chunks
from healthcode.shc import extract_file_tokens
from tests.conftest import VECTORS

SHC = VECTORS / "shc"
SHC_ISSUER = "https://spec.smarthealth.cards/examples/issuer"
BEFORE_EXAMPLE_03_EXPIRY = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def shc_trust() -> TrustStore:
    return TrustStore.from_jwks([(SHC_ISSUER, (SHC / "issuer" / "jwks.json").read_bytes())])


def _read(name: str) -> str:
    return (SHC / name).read_text().strip()


@pytest.mark.parametrize("example", ["00", "01", "02", "03"])
def test_example_jws_verifies(example: str, shc_trust: TrustStore) -> None:
    result = verify_credential(
        _read(f"example-{example}-d-jws.txt"), shc_trust, now=BEFORE_EXAMPLE_03_EXPIRY
    )
    assert result.valid, result.message
    assert result.profile is Profile.SHC
    assert result.issuer == SHC_ISSUER
    assert result.to_json()["shc"]["types"]


@pytest.mark.parametrize("example", ["00", "01", "03"])
def test_example_qr_text_verifies(example: str, shc_trust: TrustStore) -> None:
    text = _read(f"example-{example}-f-qr-code-numeric-value-0.txt")
    assert verify_credential(text, shc_trust, now=BEFORE_EXAMPLE_03_EXPIRY).valid


@pytest.mark.parametrize("example", ["00", "01", "02", "03"])
def test_example_file_verifies(example: str, shc_trust: TrustStore) -> None:
    text = _read(f"example-{example}-e-file.smart-health-card")
    result = verify_credential(text, shc_trust, now=BEFORE_EXAMPLE_03_EXPIRY)
    assert result.valid, result.message
    assert extract_file_tokens(text) == [_read(f"example-{example}-d-jws.txt")]


def test_example_01_is_signed_with_the_second_key(shc_trust: TrustStore) -> None:
    result = verify_credential(
        _read("example-01-d-jws.txt"), shc_trust, now=BEFORE_EXAMPLE_03_EXPIRY
    )
    assert result.kid == json.loads((SHC / "issuer" / "jwks.json").read_text())["keys"][1]["kid"]


def test_example_03_expires(shc_trust: TrustStore) -> None:
    result = verify_credential(
        _read("example-03-d-jws.txt"), shc_trust, now=datetime(2024, 7, 1, tzinfo=UTC)
    )
    assert result.error is ErrorCode.EXPIRED


def test_example_02_chunks_reassemble_and_verify(shc_trust: TrustStore) -> None:
    chunks = [_read(f"example-02-f-qr-code-numeric-value-{i}.txt") for i in (2, 0, 1)]
    token = reassemble_chunks(chunks)
    assert verify_credential(token, shc_trust, now=BEFORE_EXAMPLE_03_EXPIRY).valid
    single = verify_credential(chunks[0], shc_trust, now=BEFORE_EXAMPLE_03_EXPIRY)
    assert single.error is ErrorCode.CHUNKED_CODE


def test_shc_from_untrusted_issuer_is_refused() -> None:
    empty = TrustStore([])
    result = verify_credential(_read("example-00-d-jws.txt"), empty, now=BEFORE_EXAMPLE_03_EXPIRY)
    assert result.error is ErrorCode.UNKNOWN_ISSUER


def test_file_with_two_credentials_is_refused_by_single_verify(shc_trust: TrustStore) -> None:
    token = _read("example-00-d-jws.txt")
    text = json.dumps({"verifiableCredential": [token, token]})
    assert verify_credential(text, shc_trust).error is ErrorCode.MALFORMED_INPUT


def test_vectors_are_copies_inside_the_repo() -> None:
    assert Path(SHC).is_relative_to(Path(__file__).parents[1])
