"""verify_credential's ES256 signatures: DER conversion, base64url, low-S, the expected subject."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from healthcode import Check, CheckOutcome, ErrorCode, SigningKey, TrustStore, verify_credential
from healthcode.verify import ExpectedSubject
from tests.builders import craft_token
from tests.conftest import NOW, MakeToken


@settings(max_examples=3000, deadline=None)
@given(
    signature=st.binary(min_size=64, max_size=64)
    | st.tuples(
        st.sampled_from([b"\x00", b"\x00\x00", b"\x80", b"\x7f", b"\x00\x80", b"\x00\x7f"]),
        st.binary(min_size=62, max_size=62),
        st.sampled_from([b"\x00", b"\x80", b"\x01", b"\x00\x00"]),
    ).map(lambda parts: (parts[0] + parts[1] + parts[2] * 32)[:64])
)
def test_fast_der_conversion_equals_the_reference(signature: bytes) -> None:
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    from healthcode.jws import raw_signature_to_der

    expected = encode_dss_signature(
        int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    )
    assert raw_signature_to_der(signature) == expected


@pytest.mark.parametrize("bad", ["!", "\n", " ", "*", "\x7f", "é"])
def test_any_character_outside_base64url_is_refused(
    bad: str, make_token: MakeToken, trust: TrustStore
) -> None:
    token = make_token()
    header, payload, signature = token.split(".")
    for part in ("payload", "signature"):
        for position in (0, 5, -3):
            if part == "payload":
                mutated = f"{header}.{payload[:position]}{bad}{payload[position:]}.{signature}"
            else:
                mutated = f"{header}.{payload}.{signature[:position]}{bad}{signature[position:]}"
            result = verify_credential(mutated, trust, now=NOW)
            assert result.error in {ErrorCode.MALFORMED_JWS, ErrorCode.MALFORMED_SIGNATURE}, (
                part,
                position,
                result.error,
            )


def test_issuers_sign_low_s_only(make_token: MakeToken, trust: TrustStore) -> None:
    from healthcode.keys import is_high_s

    # OpenSSL's raw s is high half the time: 40 signatures would all be low by chance 1 in 2^40.
    for _ in range(40):
        token = make_token()
        signature = base64.urlsafe_b64decode(token.rsplit(".", 1)[1] + "==")
        assert not is_high_s(signature)
        assert verify_credential(token, trust, now=NOW).valid


def test_the_high_s_twin_is_the_same_signature_mathematically(
    issuer_key: SigningKey, make_credential: Callable[..., Any], trust: TrustStore
) -> None:
    # The refusal is of the form, not of a forgery: the twin verifies as plain ECDSA.
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.hashes import SHA256

    from healthcode.jws import parse_compact, raw_signature_to_der

    twin = parse_compact(craft_token(issuer_key, claims=make_credential().to_claims(), high_s=True))
    issuer_key.verifying_key.public_key.verify(
        raw_signature_to_der(twin.signature), twin.signing_input, ec.ECDSA(SHA256())
    )


@pytest.mark.parametrize(
    ("expected", "valid"),
    [
        (("123X", "cn-sc"), True),
        (("0000", "cn-sc"), False),  # another person's code
        (("123X", "cn-gd"), False),  # not from the home issuer
    ],
)
def test_an_expected_subject_is_a_step_of_the_claims_check(
    make_token: MakeToken, trust: TrustStore, expected: tuple[str, str], valid: bool
) -> None:
    token = make_token(id_tail="123X", now=NOW - 7200)  # also expired: the mismatch comes first
    result = verify_credential(token, trust, now=NOW, expect=ExpectedSubject(*expected))
    if valid:
        assert result.error is ErrorCode.EXPIRED
        assert result.checks[Check.CLAIMS] is CheckOutcome.PASSED
        return
    assert (result.valid, result.error) == (False, ErrorCode.INVALID_CLAIMS)
    assert result.credential is None
    # `checks` tells the truth: the claims check refused it, later checks never ran.
    assert result.checks[Check.SIGNATURE] is CheckOutcome.PASSED
    assert result.checks[Check.CLAIMS] is CheckOutcome.FAILED
    assert Check.VALIDITY not in result.checks
    assert Check.REVOCATION not in result.checks
