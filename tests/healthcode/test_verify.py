"""verify_credential: the success path, and one test per way a token itself can fail."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest

from healthcode import (
    Check,
    CheckOutcome,
    CodeKind,
    ErrorCode,
    IssuerEntry,
    Limits,
    SigningKey,
    StatusColour,
    TrustedKey,
    TrustStore,
    verify_credential,
)
from healthcode.jws import deflate, sign_compact
from healthcode.qr import encode_numeric
from tests.builders import craft_token
from tests.conftest import NOW, MakeToken


def test_valid_token_verifies_with_all_checks(make_token: MakeToken, trust: TrustStore) -> None:
    result = verify_credential(make_token(), trust, now=NOW + 10)
    assert result.valid, result.message
    assert result.error is None
    assert result.credential is not None
    assert result.credential.status is StatusColour.GREEN
    assert result.issuer == "cn-sc"
    assert result.issuer_name == "四川省 Sichuan"
    assert result.checks[Check.SIGNATURE] is CheckOutcome.PASSED
    assert result.checks[Check.VALIDITY] is CheckOutcome.PASSED
    assert result.checks[Check.REVOCATION] is CheckOutcome.NOT_CHECKED


@pytest.mark.parametrize("colour", list(StatusColour))
@pytest.mark.parametrize("kind", list(CodeKind))
def test_hc_qr_text_verifies_for_each_colour_and_kind(
    make_token: MakeToken, trust: TrustStore, colour: StatusColour, kind: CodeKind
) -> None:
    text = encode_numeric(make_token(status=colour, kind=kind))
    result = verify_credential(text, trust, now=NOW)
    assert result.valid, result.message
    assert result.credential is not None
    assert (result.credential.status, result.credential.kind) == (colour, kind)


def test_bytes_input_is_accepted(make_token: MakeToken, trust: TrustStore) -> None:
    assert verify_credential(make_token().encode(), trust, now=NOW).valid


def test_result_json_carries_what_a_checkpoint_shows(
    make_token: MakeToken, trust: TrustStore
) -> None:
    out = verify_credential(make_token(status=StatusColour.RED), trust, now=NOW).to_json()
    assert out["valid"] is True
    assert out["error"] is None
    assert out["status"] == "red"
    assert out["masked_name"] == "张*丰"
    assert out["checks"]["signature"] == "passed"
    json.dumps(out)  # JSON-ready


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _header(token: str, **changes: Any) -> str:
    header_b64, payload, signature = token.split(".")
    header = json.loads(base64.urlsafe_b64decode(header_b64 + "=="))
    header.update(changes)
    header = {k: v for k, v in header.items() if v is not None}
    return ".".join([_b64(json.dumps(header).encode()), payload, signature])


def _claims(key: SigningKey, make_credential: Callable[..., Any], **changes: Any) -> str:
    claims = make_credential().to_claims()
    hc_changes = changes.pop("hc", {})
    claims.update(changes)
    claims["hc"].update(hc_changes)
    return craft_token(key, claims=claims)


def _flip_last_signature_char(token: str) -> str:
    head, _, signature = token.rpartition(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=="))
    raw[10] ^= 0x01
    return head + "." + _b64(bytes(raw))


CASES: dict[str, tuple[ErrorCode, Callable[..., str]]] = {
    "too_long": (ErrorCode.INPUT_TOO_LARGE, lambda t, **_: t + "A" * 20000),
    "jws_too_long": (ErrorCode.INPUT_TOO_LARGE, lambda t, **_: t[:20] + "A" * 9000),
    "bom": (ErrorCode.MALFORMED_INPUT, lambda t, **_: "\ufeff" + t),
    "empty": (ErrorCode.MALFORMED_INPUT, lambda t, **_: ""),
    "garbage": (ErrorCode.MALFORMED_INPUT, lambda t, **_: "http://evil.example/green.png"),
    "bad_numeric": (ErrorCode.MALFORMED_QR, lambda t, **_: "hc:/5678901"),
    "chunk": (ErrorCode.CHUNKED_CODE, lambda t, **_: "shc:/1/2/5676"),
    "two_parts": (ErrorCode.MALFORMED_JWS, lambda t, **_: t.rsplit(".", 1)[0]),
    "four_parts": (ErrorCode.MALFORMED_JWS, lambda t, **_: t + ".AAAA"),
    "trailing_chars": (ErrorCode.MALFORMED_JWS, lambda t, **_: t + "~~"),
    "trailing_newline": (ErrorCode.MALFORMED_JWS, lambda t, **_: t + "\n"),
    "padding": (ErrorCode.MALFORMED_JWS, lambda t, **_: t + "=="),
    "standard_base64": (
        ErrorCode.MALFORMED_JWS,
        lambda t, **_: t.replace("-", "+") if "-" in t else t.replace("_", "/"),
    ),
    "non_canonical_bits": (ErrorCode.MALFORMED_JWS, lambda t, **_: _non_canonical(t)),
    "header_not_json": (
        ErrorCode.MALFORMED_HEADER,
        lambda t, **_: _b64(b"not json") + t[t.index(".") :],
    ),
    "header_array": (ErrorCode.MALFORMED_HEADER, lambda t, **_: _b64(b"[]") + t[t.index(".") :]),
    "no_alg": (ErrorCode.MALFORMED_HEADER, lambda t, **_: _header(t, alg=None)),
    "no_kid": (ErrorCode.MALFORMED_HEADER, lambda t, **_: _header(t, kid=None)),
    "no_zip": (ErrorCode.MALFORMED_HEADER, lambda t, **_: _header(t, zip=None)),
    "crit": (ErrorCode.MALFORMED_HEADER, lambda t, **_: _header(t, crit=["exp"])),
    "kid_too_long": (ErrorCode.MALFORMED_HEADER, lambda t, **_: _header(t, kid="k" * 129)),
    "kid_number": (ErrorCode.MALFORMED_HEADER, lambda t, **_: _header(t, kid=7)),
    "alg_none": (ErrorCode.UNSUPPORTED_ALGORITHM, lambda t, **_: _header(t, alg="none")),
    # Any JSON value may stand where a string belongs; unhashable ones must not crash a lookup.
    "alg_list": (ErrorCode.UNSUPPORTED_ALGORITHM, lambda t, **_: _header(t, alg=["ES256"])),
    "alg_object": (ErrorCode.UNSUPPORTED_ALGORITHM, lambda t, **_: _header(t, alg={})),
    "zip_list": (ErrorCode.UNSUPPORTED_COMPRESSION, lambda t, **_: _header(t, zip=["DEF"])),
    "alg_hs256": (ErrorCode.UNSUPPORTED_ALGORITHM, lambda t, **_: _header(t, alg="HS256")),
    "alg_rs256": (ErrorCode.UNSUPPORTED_ALGORITHM, lambda t, **_: _header(t, alg="RS256")),
    "zip_gzip": (ErrorCode.UNSUPPORTED_COMPRESSION, lambda t, **_: _header(t, zip="GZIP")),
    "der_signature": (
        ErrorCode.MALFORMED_SIGNATURE,
        lambda t, key, mc, **_: craft_token(key, claims=mc().to_claims(), der_signature=True),
    ),
    "short_signature": (ErrorCode.MALFORMED_SIGNATURE, lambda t, **_: t[:-2]),
    "bad_signature": (ErrorCode.BAD_SIGNATURE, lambda t, **_: _flip_last_signature_char(t)),
    "kid_of_other_key": (
        ErrorCode.BAD_SIGNATURE,
        lambda t, key, other, mc, **_: craft_token(
            other, header={"alg": "ES256", "kid": key.kid, "zip": "DEF"}, claims=mc().to_claims()
        ),
    ),
    "unknown_kid": (ErrorCode.UNKNOWN_KEY, lambda t, other, make, **_: make(key=other)),
    "unknown_issuer": (
        ErrorCode.UNKNOWN_ISSUER,
        lambda t, other, make, **_: make(key=other, issuer="cn-xx"),
    ),
    "key_signs_for_other_issuer": (
        ErrorCode.UNKNOWN_KEY,
        lambda t, make, **_: make(issuer="cn-gd"),
    ),
    "bomb": (
        ErrorCode.PAYLOAD_TOO_LARGE,
        lambda t, key, **_: craft_token(key, payload=b"{" + b" " * 6_000_000 + b"}"),
    ),
    "not_deflate": (
        ErrorCode.MALFORMED_PAYLOAD,
        lambda t, key, **_: craft_token(key, payload=b"\xff\xfe junk", compress=False),
    ),
    "truncated_deflate": (ErrorCode.MALFORMED_PAYLOAD, lambda t, key, **_: _truncated_deflate(key)),
    "not_json": (
        ErrorCode.MALFORMED_PAYLOAD,
        lambda t, key, **_: craft_token(key, payload=b"green"),
    ),
    "json_array": (
        ErrorCode.MALFORMED_PAYLOAD,
        lambda t, key, **_: craft_token(key, payload=b"[1]"),
    ),
    "exp_string": (
        ErrorCode.INVALID_CLAIMS,
        lambda t, key, mc, **_: _claims(key, mc, exp="tomorrow"),
    ),
    "iat_bool": (ErrorCode.INVALID_CLAIMS, lambda t, key, mc, **_: _claims(key, mc, iat=True)),
    "colour_blue": (
        ErrorCode.INVALID_CLAIMS,
        lambda t, key, mc, **_: _claims(key, mc, hc={"st": "blue"}),
    ),
    "raw_id_as_sub": (
        ErrorCode.INVALID_CLAIMS,
        lambda t, key, mc, **_: _claims(key, mc, sub="51010419480301123X"),
    ),
    "time_past_bound": (
        ErrorCode.INVALID_CLAIMS,
        lambda t, key, mc, **_: _claims(key, mc, exp=2**40),
    ),
    "nbf_after_exp": (
        ErrorCode.INVALID_CLAIMS,
        lambda t, key, mc, **_: _claims(key, mc, nbf=NOW + 7200),
    ),
    "source_too_long": (
        ErrorCode.INVALID_CLAIMS,
        lambda t, key, mc, **_: _claims(key, mc, hc={"src": "cn-gd/" + "x" * 200}),
    ),
    "source_number": (
        ErrorCode.INVALID_CLAIMS,
        lambda t, key, mc, **_: _claims(key, mc, hc={"src": 5}),
    ),
    "tail_too_long": (
        ErrorCode.INVALID_CLAIMS,
        lambda t, key, mc, **_: _claims(key, mc, hc={"tl": "51010419480301123X"}),
    ),
    "tail_letters": (
        ErrorCode.INVALID_CLAIMS,
        lambda t, key, mc, **_: _claims(key, mc, hc={"tl": "12AB"}),
    ),
    "jti_short": (ErrorCode.INVALID_CLAIMS, lambda t, key, mc, **_: _claims(key, mc, jti="abc")),
    "reason_unknown": (
        ErrorCode.INVALID_CLAIMS,
        lambda t, key, mc, **_: _claims(key, mc, hc={"rs": "vip"}),
    ),
    "kind_unknown": (
        ErrorCode.INVALID_CLAIMS,
        lambda t, key, mc, **_: _claims(key, mc, hc={"k": "paper"}),
    ),
    "name_empty": (
        ErrorCode.INVALID_CLAIMS,
        lambda t, key, mc, **_: _claims(key, mc, hc={"nm": ""}),
    ),
    "hc_missing": (
        ErrorCode.INVALID_CLAIMS,
        lambda t, key, **_: craft_token(key, claims={"iss": "cn-sc"}),
    ),
    "iss_number": (
        ErrorCode.INVALID_CLAIMS,
        lambda t, other, **_: craft_token(other, claims={"iss": 7}),
    ),
    "version_2": (
        ErrorCode.UNSUPPORTED_VERSION,
        lambda t, key, mc, **_: _claims(key, mc, hc={"v": "2"}),
    ),
    "expired": (ErrorCode.EXPIRED, lambda t, make, **_: make(now=NOW - 3600 - 121)),
    "high_s": (
        ErrorCode.HIGH_S_SIGNATURE,
        lambda t, key, mc, **_: craft_token(key, claims=mc().to_claims(), high_s=True),
    ),
    "duplicate_header_member": (
        ErrorCode.MALFORMED_HEADER,
        lambda t, **_: _duplicate_header_member(t),
    ),
    "duplicate_claim": (
        ErrorCode.MALFORMED_PAYLOAD,
        lambda t, key, mc, **_: _duplicate_claim(key, mc),
    ),
    "not_yet_valid": (ErrorCode.NOT_YET_VALID, lambda t, make, **_: make(now=NOW + 121)),
}


def _duplicate_header_member(token: str) -> str:
    header_b64, payload, signature = token.split(".")
    header = base64.urlsafe_b64decode(header_b64 + "==").decode()
    # The first "alg" is what a last-wins parser would never look at.
    doubled = header.replace('{"alg":"ES256"', '{"alg":"none","alg":"ES256"', 1)
    assert doubled != header
    return ".".join([_b64(doubled.encode()), payload, signature])


def _duplicate_claim(key: SigningKey, make_credential: Callable[..., Any]) -> str:
    claims = json.dumps(make_credential().to_claims(), separators=(",", ":"), ensure_ascii=False)
    # A signed payload where one parser reads red and another green (last-wins).
    doubled = claims.replace('"st":"green"', '"st":"red","st":"green"', 1)
    assert doubled != claims
    return craft_token(key, payload=doubled.encode())


def _non_canonical(token: str) -> str:
    head, _, signature = token.rpartition(".")
    # 64 bytes encode to 86 chars (remainder 2): the last char carries 4 unused bits.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(signature[-1])
    return head + "." + signature[:-1] + alphabet[last | 0x01]


def _truncated_deflate(key: SigningKey) -> str:
    return craft_token(key, payload=deflate(b'{"iss":"cn-sc"}')[:-3], compress=False)


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_gets_its_error_code(
    case: str,
    make_token: MakeToken,
    make_credential: Callable[..., Any],
    issuer_key: SigningKey,
    other_key: SigningKey,
    trust: TrustStore,
) -> None:
    expected, mutate = CASES[case]
    text = mutate(
        make_token(), key=issuer_key, other=other_key, make=make_token, mc=make_credential
    )
    result = verify_credential(text, trust, now=NOW)
    assert not result.valid
    assert result.error is expected, (case, result.error, result.message)
    assert result.claims is None
    assert result.credential is None
    assert result.message


def test_skew_boundaries(make_token: MakeToken, trust: TrustStore) -> None:
    token = make_token()  # valid NOW .. NOW+3600
    skew = Limits().clock_skew_s
    assert verify_credential(token, trust, now=NOW - skew).valid
    assert verify_credential(token, trust, now=NOW - skew - 1).error is ErrorCode.NOT_YET_VALID
    assert verify_credential(token, trust, now=NOW + 3600 + skew).valid
    assert verify_credential(token, trust, now=NOW + 3600 + skew + 1).error is ErrorCode.EXPIRED


def test_inflate_bound_at_the_limit(issuer_key: SigningKey, make_credential: Any) -> None:
    claims = make_credential().to_claims()
    body = json.dumps(claims, separators=(",", ":")).encode()
    limits = Limits(max_inflated_bytes=len(body))
    trust = TrustStore([IssuerEntry("cn-sc", "SC", (TrustedKey(issuer_key.verifying_key),))])
    token = sign_compact(body, issuer_key)
    assert verify_credential(token, trust, now=NOW, limits=limits).valid
    tight = Limits(max_inflated_bytes=len(body) - 1)
    result = verify_credential(token, trust, now=NOW, limits=tight)
    assert result.error is ErrorCode.PAYLOAD_TOO_LARGE


def test_non_string_input_is_a_type_error(trust: TrustStore) -> None:
    with pytest.raises(TypeError):
        verify_credential(12345, trust)  # type: ignore[arg-type]


def test_invalid_utf8_bytes(trust: TrustStore) -> None:
    assert verify_credential(b"\xff\xfe", trust).error is ErrorCode.MALFORMED_INPUT


def test_oversized_bytes_are_refused_before_decoding(trust: TrustStore) -> None:
    # Bytes are capped before UTF-8 decoding (4 bytes per character at most).
    huge = b"\xff" * (Limits().max_input_chars * 4 + 1)
    assert verify_credential(huge, trust).error is ErrorCode.INPUT_TOO_LARGE
