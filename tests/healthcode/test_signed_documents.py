"""`verify_document`: the one verifier of signed documents (header policy, keys, signature)."""

from __future__ import annotations

import jwt
import pytest

from healthcode.errors import ErrorCode, VerificationError
from healthcode.jws import sign_compact, verify_document
from healthcode.keys import SigningKey, b64url_encode


def _signed(key: SigningKey, headers: dict[str, object], payload: bytes = b'{"a":1}') -> str:
    return jwt.PyJWS().encode(payload, key.private_key, algorithm="ES256", headers=headers)


def test_a_document_verifies_with_its_key_and_typ() -> None:
    key = SigningKey.generate()
    token = _signed(key, {"kid": key.kid, "typ": "hc-test"})
    document = verify_document(token, {key.kid: key.verifying_key}, typ="hc-test")
    assert (document.kid, document.payload, document.header["typ"]) == (
        key.kid,
        b'{"a":1}',
        "hc-test",
    )


@pytest.mark.parametrize(
    ("typ", "expected", "accepted"),
    [
        ("JWT", "hc-test", False),
        (None, "hc-test", False),
        ("hc-test", None, False),
        (None, None, True),
        ("JWT", ("JWT", None), True),
        (None, ("JWT", None), True),
    ],
)
def test_typ_is_required_as_the_caller_says(
    typ: str | None, expected: str | tuple[str | None, ...] | None, accepted: bool
) -> None:
    key = SigningKey.generate()
    token = _signed(key, {"kid": key.kid, "typ": typ})
    keys = {key.kid: key.verifying_key}
    if accepted:
        assert verify_document(token, keys, typ=expected).kid == key.kid
    else:
        with pytest.raises(VerificationError) as caught:
            verify_document(token, keys, typ=expected)
        assert caught.value.code is ErrorCode.MALFORMED_HEADER


def test_unknown_key_tampering_and_header_extras_are_refused() -> None:
    key, other = SigningKey.generate(), SigningKey.generate()
    keys = {key.kid: key.verifying_key}
    cases = {
        ErrorCode.UNKNOWN_KEY: _signed(other, {"kid": other.kid, "typ": None}),
        ErrorCode.MALFORMED_HEADER: _signed(key, {"kid": key.kid, "typ": None, "crit": ["x"]}),
        ErrorCode.UNSUPPORTED_COMPRESSION: sign_compact(b"{}", key, compress=True),
        ErrorCode.MALFORMED_JWS: "not a jws",
        ErrorCode.INPUT_TOO_LARGE: "a" * 70,
    }
    header, _, signature = _signed(key, {"kid": key.kid, "typ": None}).split(".")
    cases[ErrorCode.BAD_SIGNATURE] = f"{header}.{b64url_encode(b'{}')}.{signature}"
    for code, token in cases.items():
        with pytest.raises(VerificationError) as caught:
            verify_document(token, keys, typ=None, max_chars=64 if len(token) == 70 else 8192)
        assert caught.value.code is code, (code, caught.value.message)


def test_hs256_and_none_are_refused_before_any_key_is_used() -> None:
    key = SigningKey.generate()
    forged = jwt.encode({"a": 1}, "s" * 32, algorithm="HS256", headers={"kid": key.kid})
    with pytest.raises(VerificationError) as caught:
        verify_document(forged, {key.kid: key.verifying_key}, typ=("JWT", None))
    assert caught.value.code is ErrorCode.UNSUPPORTED_ALGORITHM
