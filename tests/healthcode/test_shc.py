"""SMART Health Cards compatibility: the published examples verify with their issuer's JWKS."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from healthcode import ErrorCode, Profile, SigningKey, TrustStore, verify_credential
from healthcode.keys import jwks_document
from healthcode.qr import reassemble_chunks
from healthcode.shc import extract_file_tokens
from tests.builders import craft_token
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


SHARED_CONFORMANCE = Path(__file__).parents[3] / "shared" / "conformance" / "shc"


def test_vectors_are_verbatim_copies_inside_the_repo() -> None:
    # The project reads its own copies at run time; where the shared corpus is at hand (this
    # workspace, CI) every copied file must still be byte-identical to it.
    assert SHC.is_relative_to(Path(__file__).parents[1])
    copied = sorted(p.relative_to(SHC) for p in SHC.rglob("*") if p.is_file())
    # 14 signed artifacts of the four examples and the 6 PNG rasterisations of their QR SVGs.
    assert len([p for p in copied if p.name.startswith("example-")]) == 20
    if SHARED_CONFORMANCE.is_dir():
        for relative in copied:
            if relative.name != "ORIGIN.txt":
                assert (SHC / relative).read_bytes() == (SHARED_CONFORMANCE / relative).read_bytes()
        shared = {
            p.relative_to(SHARED_CONFORMANCE)
            for p in SHARED_CONFORMANCE.rglob("*")
            if p.is_file() and p.suffix != ".svg"
        }
        assert shared <= set(copied), shared - set(copied)


# -- §8.3 claim rules, with a test key registered as an SHC issuer -----------------------------

TEST_SHC_ISSUER = "https://issuer.example/shc"
NOW_SHC = 1_790_000_000


def _card(**changes: object) -> dict[str, object]:
    claims: dict[str, object] = {
        "iss": TEST_SHC_ISSUER,
        "nbf": NOW_SHC - 60,
        "vc": {
            "type": ["https://smarthealth.cards#health-card"],
            "credentialSubject": {
                "fhirVersion": "4.0.1",
                "fhirBundle": {
                    "resourceType": "Bundle",
                    "entry": [
                        {"resource": {"resourceType": "Patient", "name": [{"given": ["Ann"]}]}}
                    ],
                },
            },
        },
    }
    for name, value in changes.items():
        if value is None:
            claims.pop(name, None)
        else:
            claims[name] = value
    return claims


@pytest.fixture(scope="module")
def shc_test_key() -> SigningKey:
    return SigningKey.generate()


@pytest.fixture(scope="module")
def test_shc_trust(shc_test_key: SigningKey) -> TrustStore:
    return TrustStore.from_jwks([(TEST_SHC_ISSUER, jwks_document([shc_test_key.verifying_key]))])


_VC_NO_TYPE: dict[str, object] = {"credentialSubject": {"fhirBundle": {}}}
_VC_WRONG_TYPE = {
    "type": ["https://smarthealth.cards#covid19"],
    "credentialSubject": {"fhirBundle": {}},
}
_VC_BUNDLE_LIST = {
    "type": ["https://smarthealth.cards#health-card"],
    "credentialSubject": {"fhirBundle": []},
}


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({}, None),
        ({"exp": NOW_SHC + 3600, "iat": NOW_SHC - 60.5}, None),  # fractional times are allowed
        ({"nbf": None}, ErrorCode.INVALID_CLAIMS),
        ({"nbf": True}, ErrorCode.INVALID_CLAIMS),
        ({"nbf": "yesterday"}, ErrorCode.INVALID_CLAIMS),
        ({"nbf": 2**40}, ErrorCode.INVALID_CLAIMS),
        ({"exp": False}, ErrorCode.INVALID_CLAIMS),
        ({"vc": None}, ErrorCode.INVALID_CLAIMS),
        ({"vc": "card"}, ErrorCode.INVALID_CLAIMS),
        ({"vc": _VC_NO_TYPE}, ErrorCode.INVALID_CLAIMS),
        ({"vc": _VC_WRONG_TYPE}, ErrorCode.INVALID_CLAIMS),
        ({"vc": _VC_BUNDLE_LIST}, ErrorCode.INVALID_CLAIMS),
        ({"iss": "https://other.example/shc"}, ErrorCode.UNKNOWN_KEY),  # key of another issuer
        ({"exp": NOW_SHC - 200}, ErrorCode.EXPIRED),
        ({"nbf": NOW_SHC + 200}, ErrorCode.NOT_YET_VALID),
    ],
)
def test_shc_claim_rules(
    changes: dict[str, object],
    error: ErrorCode | None,
    shc_test_key: SigningKey,
    test_shc_trust: TrustStore,
) -> None:
    token = craft_token(shc_test_key, claims=_card(**changes))
    result = verify_credential(token, test_shc_trust, now=NOW_SHC)
    assert result.error is error, result.message
    assert result.valid is (error is None)
    if error is None:
        assert result.profile is Profile.SHC
        assert result.to_json()["shc"]["masked_name"] == "A*n"


def test_blank_patient_name_is_no_name(
    shc_test_key: SigningKey, test_shc_trust: TrustStore
) -> None:
    card = _card()
    bundle = card["vc"]["credentialSubject"]["fhirBundle"]  # type: ignore[index]
    bundle["entry"][0]["resource"]["name"] = [{"given": [" "], "family": ""}]
    result = verify_credential(craft_token(shc_test_key, claims=card), test_shc_trust, now=NOW_SHC)
    assert result.valid, result.message
    assert result.to_json()["shc"]["masked_name"] is None


@pytest.mark.parametrize(
    "text",
    [
        "{not json",
        '{"verifiableCredential": []}',
        '{"verifiableCredential": [7]}',
        '{"verifiableCredential": "eyJ..."}',
        "{}",
    ],
)
def test_bad_health_card_files_are_malformed_input(text: str, shc_trust: TrustStore) -> None:
    assert verify_credential(text, shc_trust).error is ErrorCode.MALFORMED_INPUT
