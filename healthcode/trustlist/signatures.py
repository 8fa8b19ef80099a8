"""The JWS envelope of a document: strict decoding, signatures checked by the one
signed-document verifier (`healthcode.jws`) and the root's threshold.
"""

from __future__ import annotations

import binascii
from collections.abc import Mapping, Sequence
from typing import Any

from healthcode.boundedjson import loads as bounded_json
from healthcode.errors import ErrorCode, TrustListError, VerificationError
from healthcode.jws import ParsedJws, Typ, check_document_signature, parse_document
from healthcode.keys import VerifyingKey, b64url_encode
from healthcode.trustlist.documents import (
    B64URL_PATTERN,
    MAX_DOCUMENT_BYTES,
    ROOT_TYP,
    SPEC,
    TIMESTAMP_TYP,
    TRUST_LIST_TYP,
    malformed,
)


def public_jwk(key: VerifyingKey) -> dict[str, str]:
    jwk = key.to_jwk()
    jwk.pop("use", None)
    return jwk


def strict_b64url_decode(text: object, what: str) -> bytes:
    """Decode unpadded base64url with exactly one accepted encoding per byte string (§2.1:
    the alphabet only, no padding, zero unused bits); anything else is
    `trust_list_malformed` naming `what`. For every base64url member of trust-list
    documents and their signatures, so no two encodings of one signature are stored."""
    if not isinstance(text, str) or not B64URL_PATTERN.fullmatch(text) or len(text) % 4 == 1:
        raise malformed(f"{what} is not unpadded base64url")
    try:
        data = binascii.a2b_base64(
            text.translate(_TO_STANDARD).encode("ascii") + b"=" * (-len(text) % 4),
            strict_mode=True,
        )
    except binascii.Error as exc:
        raise malformed(f"{what} is not unpadded base64url ({exc})") from exc
    if b64url_encode(data) != text:
        raise malformed(f"{what} has non-canonical base64url")
    return data


_TO_STANDARD = str.maketrans("-_", "+/")


def parse_envelope(document: Mapping[str, Any] | bytes | str) -> Mapping[str, Any]:
    if isinstance(document, bytes | str):
        if len(document) > MAX_DOCUMENT_BYTES:
            raise malformed(f"document is over {MAX_DOCUMENT_BYTES} bytes")
        try:
            document = bounded_json(document)
        except (ValueError, UnicodeDecodeError) as exc:
            raise malformed(f"document is not UTF-8 JSON ({exc})") from exc
    if not isinstance(document, Mapping):
        raise malformed("document is not a JSON object")
    return document


#: One signature of a document, its header checked by the one signed-document parser.
_Signature = ParsedJws
#: A JWS JSON signature as a compact JWS: the protected header, the payload and the value.
_MAX_COMPACT_CHARS = 2 * MAX_DOCUMENT_BYTES


def decode_envelope(envelope: Mapping[str, Any], typ: str | None) -> tuple[bytes, list[_Signature]]:
    """The payload bytes and the decoded signatures; nothing of the payload is parsed here."""
    payload_b64 = envelope.get("payload")
    raw_signatures = envelope.get("signatures")
    if not isinstance(payload_b64, str):
        raise malformed("document has no string 'payload' (JWS JSON General Serialization)")
    if not isinstance(raw_signatures, list) or not raw_signatures:
        raise malformed("document has no non-empty 'signatures' array")
    payload = strict_b64url_decode(payload_b64, "payload")
    signatures: list[_Signature] = []
    for index, item in enumerate(raw_signatures):
        what = f"signature {index}"
        if not isinstance(item, Mapping):
            raise malformed(f"{what} is not a JSON object")
        protected, value = item.get("protected"), item.get("signature")
        if not isinstance(protected, str) or not isinstance(value, str):
            raise malformed(f"{what} needs string 'protected' and 'signature' members")
        # The one signed-document parser: header exactly {alg: ES256, kid, typ}, r||s value.
        expected: Typ = typ if typ is not None else (ROOT_TYP, TRUST_LIST_TYP, TIMESTAMP_TYP)
        try:
            parsed = parse_document(
                f"{protected}.{payload_b64}.{value}", typ=expected, max_chars=_MAX_COMPACT_CHARS
            )
        except VerificationError as exc:
            raise malformed(f"{what}: {exc.message}") from exc
        signatures.append(parsed)
    return payload, signatures


def json_object(payload: bytes) -> Mapping[str, Any]:
    try:
        value = bounded_json(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise malformed(f"payload is not UTF-8 JSON ({exc})") from exc
    if not isinstance(value, dict):
        raise malformed("payload is not a JSON object")
    return value


def string_set(value: object, what: str) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise malformed(f"{what} must be an array of strings")
    return frozenset(value)


def check_signatures(
    signatures: Sequence[_Signature],
    keys: Mapping[str, VerifyingKey],
    what: str,
    *,
    hint: str = "",
) -> None:
    # (2) every kid known before (3) any signature is checked: an unknown signer is named as such.
    for kid in (signature.kid for signature in signatures):
        if kid not in keys:
            raise TrustListError(
                ErrorCode.TRUST_LIST_UNKNOWN_ROOT_KEY,
                f"{what} is signed by key {kid!r}, not one of its keys{hint}",
            )
    verify_each(signatures, keys, what)


def verify_each(
    signatures: Sequence[_Signature], keys: Mapping[str, VerifyingKey], what: str
) -> None:
    for signature in signatures:
        try:
            check_document_signature(signature, keys[signature.kid])
        except VerificationError as exc:
            raise TrustListError(
                ErrorCode.TRUST_LIST_BAD_SIGNATURE, f"{what}: {exc.message}"
            ) from exc


def check_threshold(
    signatures: Sequence[_Signature], keys: Mapping[str, VerifyingKey], threshold: int, what: str
) -> None:
    # A set: one key signing twice is one signer (§7.2 item 4).
    signers = {signature.kid for signature in signatures if signature.kid in keys}
    if len(signers) < threshold:
        raise TrustListError(
            ErrorCode.TRUST_LIST_THRESHOLD,
            f"{what} needs {threshold} distinct root keys to sign, has {len(signers)}",
        )


def require_int(payload: Mapping[str, Any], name: str, minimum: int) -> int:
    value = payload.get(name)
    # bool is an int in Python; JSON true is not a version.
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise malformed(f"{name!r} must be an integer >= {minimum}")
    return value


def check_type(payload: Mapping[str, Any], expected: str) -> None:
    if payload.get("_type") != expected:
        raise malformed(f"payload _type must be {expected!r}, got {payload.get('_type')!r}")
    if payload.get("spec") != SPEC:
        raise malformed(f"payload spec must be {SPEC!r}, got {payload.get('spec')!r}")


def load_jwk(jwk: object, what: str) -> VerifyingKey:
    if not isinstance(jwk, Mapping):
        raise malformed(f"{what} is not a JWK object")
    if "kid" not in jwk:
        raise malformed(f"{what} has no 'kid'")
    try:
        return VerifyingKey.from_jwk(jwk)
    except (ValueError, TypeError) as exc:
        raise malformed(f"{what}: {exc}") from exc
