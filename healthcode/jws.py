"""Compact ES256 JWS with `zip: DEF`: low-S signing and strict parsing (standard §2.1).

Two kinds of compact JWS cross process boundaries. Credentials (`parse_compact`) carry a
compressed payload and are verified by `healthcode.verify`. Signed documents (trust lists,
timestamps and their cosignatures, key-change proofs, revocation lists, partner assertions)
are verified by `verify_document` alone: one header policy with a required `typ`, one key set
chosen by the caller, one signature check.

Parsing here is deliberately stricter than a general JOSE library: exact base64url without
padding or stray bits, one JSON object header with exactly the members we understand, a
64-byte r||s signature, and a bounded inflate. Everything parsed here is *unauthenticated*;
only `healthcode.verify` turns it into something a checkpoint may show.
"""

from __future__ import annotations

import binascii
import json
import zlib
from binascii import a2b_base64
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.hashes import SHA256

from healthcode.config import DEFAULT_LIMITS, Limits
from healthcode.credential import Credential
from healthcode.errors import ErrorCode, VerificationError
from healthcode.keys import SigningKey, VerifyingKey, b64url_encode

__all__ = [
    "MAX_DOCUMENT_JWS_CHARS",
    "ParsedJws",
    "SignedDocument",
    "check_document_signature",
    "deflate",
    "inflate",
    "loads_unique",
    "parse_compact",
    "parse_document",
    "raw_signature_to_der",
    "sign_compact",
    "sign_credential",
    "verify_document",
]

ALGORITHM = "ES256"
COMPRESSION = "DEF"
SIGNATURE_BYTES = 64  # r||s, 32 bytes each for P-256 (RFC 7518 §3.4)

_B64_INDEX = {
    c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
}
_FORBIDDEN_ALGORITHMS = {"none", "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256"}


def deflate(data: bytes) -> bytes:
    """Raw DEFLATE (RFC 1951, no zlib header), as `zip: DEF` requires."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15, 9)
    return compressor.compress(data) + compressor.flush()


def inflate(data: bytes, max_bytes: int) -> bytes:
    """Inflate raw DEFLATE, refusing output past `max_bytes` without allocating it."""
    decompressor = zlib.decompressobj(-15)
    try:
        # Asking for one byte more than allowed is how a bomb is detected without inflating it.
        out = decompressor.decompress(data, max_bytes + 1)
    except zlib.error as exc:
        raise VerificationError(
            ErrorCode.MALFORMED_PAYLOAD, f"payload is not valid raw DEFLATE ({exc})"
        ) from exc
    if len(out) > max_bytes:
        raise VerificationError(
            ErrorCode.PAYLOAD_TOO_LARGE,
            f"payload inflates past the limit of {max_bytes} bytes (possible DEFLATE bomb)",
        )
    if not decompressor.eof or decompressor.unused_data or decompressor.unconsumed_tail:
        raise VerificationError(
            ErrorCode.MALFORMED_PAYLOAD,
            "payload DEFLATE stream is truncated or followed by extra bytes",
        )
    return out


def sign_compact(
    payload: bytes, key: SigningKey, *, compress: bool = True, typ: str | None = None
) -> str:
    """Sign `payload` as a compact ES256 JWS with header {alg, kid[, typ][, zip]}.

    The header is minified JSON with sorted members; the signature is low-S r||s (§2.1).
    """
    header: dict[str, str] = {"alg": ALGORITHM, "kid": key.kid}
    if typ is not None:
        header["typ"] = typ
    if compress:
        payload = deflate(payload)
        header["zip"] = COMPRESSION
    header_json = json.dumps(header, separators=(",", ":"), sort_keys=True).encode("ascii")
    signing_input = f"{b64url_encode(header_json)}.{b64url_encode(payload)}"
    signature = key.sign_raw(signing_input.encode("ascii"))
    return f"{signing_input}.{b64url_encode(signature)}"


def sign_credential(credential: Credential, key: SigningKey) -> str:
    """Sign a credential: minified UTF-8 JSON claims, raw DEFLATE, ES256 with kid = thumbprint."""
    credential.validate()
    return sign_compact(orjson.dumps(credential.to_claims()), key)


def _strict_b64decode(part: str, what: str) -> bytes:
    # (a) only the base64url alphabet: '+', '/' and '=' would survive the translation below and
    # anything else (non-ASCII aside) is dropped by the lenient decoder, which is caught by (c);
    # (b) no impossible length; (c) exactly the number of bytes the length implies, so no
    # character was dropped (lenient decoding is faster than strict_mode and, with this length
    # check, accepts the same strings); (d) unused low bits zero, so every byte string has
    # exactly one accepted encoding (no malleable tokens).
    if not part or "+" in part or "/" in part or "=" in part or not part.isascii():
        raise VerificationError(
            ErrorCode.MALFORMED_JWS, f"{what} is empty or not unpadded base64url"
        )
    size = len(part)
    remainder = size & 3
    if remainder == 1:
        raise VerificationError(ErrorCode.MALFORMED_JWS, f"{what} has an impossible length")
    try:
        data = a2b_base64(
            part.encode("ascii").translate(_TO_STANDARD_ALPHABET) + _PADDING[remainder]
        )
    except binascii.Error as exc:
        raise VerificationError(
            ErrorCode.MALFORMED_JWS, f"{what} is not unpadded base64url ({exc})"
        ) from exc
    if len(data) != (size * 3) >> 2:
        raise VerificationError(
            ErrorCode.MALFORMED_JWS, f"{what} holds characters outside base64url"
        )
    if remainder and _B64_INDEX[part[-1]] & (0x0F if remainder == 2 else 0x03):
        raise VerificationError(ErrorCode.MALFORMED_JWS, f"{what} has non-canonical base64url")
    return data


def raw_signature_to_der(signature: bytes) -> bytes:
    """The DER `ECDSA-Sig-Value` of a 64-byte P-256 r||s signature (what OpenSSL verifies).

    Equal to `encode_dss_signature` of the two integers, at a third of its cost: in all but
    1 in 128 signatures neither half starts with a zero byte, and then only a prefix depends
    on the top bits (a set top bit needs a leading 0x00 to keep the INTEGER positive).
    """
    r_top, s_top = signature[0], signature[32]
    if r_top and s_top:
        s_high = s_top >> 7
        return (
            _DER_HEADS[(r_top >> 7) | (s_high << 1)]
            + signature[:32]
            + _DER_MIDDLES[s_high]
            + signature[32:]
        )
    return encode_dss_signature(
        int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    )


def _der_head(r_high: int, s_high: int) -> bytes:
    r_len, s_len = 32 + r_high, 32 + s_high
    return bytes((0x30, 4 + r_len + s_len, 0x02, r_len)) + b"\x00" * r_high


#: DER prefixes by (r top bit | s top bit << 1), and the s INTEGER header by s's top bit.
_DER_HEADS = tuple(_der_head(index & 1, index >> 1) for index in range(4))
_DER_MIDDLES = (b"\x02\x20", b"\x02\x21\x00")


_PADDING = (b"", b"", b"==", b"=")
_TO_STANDARD_ALPHABET = bytes.maketrans(b"-_", b"+/")
#: Parsed headers by their base64url text. Tokens of one issuer key share one header, so the
#: hot path decodes each distinct header once; the cache is bounded against hostile variety.
_HEADER_CACHE: dict[str, tuple[Mapping[str, Any], str]] = {}
_HEADER_CACHE_SIZE = 1024


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    members = dict(pairs)
    if len(members) != len(pairs):
        names = [name for name, _ in pairs]
        repeated = sorted({name for name in names if names.count(name) > 1})
        raise ValueError(f"duplicate member names {repeated[:3]}")
    return members


_UNIQUE_DECODER = json.JSONDecoder(object_pairs_hook=_unique_members)


def loads_unique(data: bytes) -> Any:
    """Parse UTF-8 JSON, refusing duplicate member names in any object (§2.1).

    Raises ValueError (JSON errors, bad UTF-8 and duplicates alike). Issuers emit minified
    JSON, which orjson writes back byte for byte when it has no duplicates: that case costs one
    parse and one serialisation; anything else is re-read by a decoder that sees every member.
    """
    value = orjson.loads(data)
    if orjson.dumps(value) == data:
        return value
    return _UNIQUE_DECODER.decode(data.decode("utf-8"))


class ParsedJws(NamedTuple):
    """The parts of a compact JWS after strict parsing. Nothing here is verified yet."""

    header: Mapping[str, Any]
    kid: str
    signing_input: bytes
    payload: bytes  # still compressed when header zip == DEF
    signature: bytes  # 64-byte r||s

    def claims(self, limits: Limits = DEFAULT_LIMITS) -> dict[str, Any]:
        """Inflate and parse the payload as a JSON object (bounded)."""
        data = inflate(self.payload, limits.max_inflated_bytes)
        try:
            claims = loads_unique(data)
        except ValueError as exc:  # orjson's JSONDecodeError and UnicodeDecodeError included
            raise VerificationError(
                ErrorCode.MALFORMED_PAYLOAD, f"payload is not UTF-8 JSON with unique names ({exc})"
            ) from exc
        if not isinstance(claims, dict):
            raise VerificationError(ErrorCode.MALFORMED_PAYLOAD, "payload is not a JSON object")
        return claims


def parse_compact(token: str, limits: Limits = DEFAULT_LIMITS) -> ParsedJws:
    """Split and check a compact JWS (standard §2.1). Raises VerificationError."""
    header_b64, payload_b64, signature_b64 = _split(token, limits.max_jws_chars, "token")
    cached = _HEADER_CACHE.get(header_b64)
    if cached is None:
        cached = _parse_header(header_b64)
        if len(_HEADER_CACHE) >= _HEADER_CACHE_SIZE:
            _HEADER_CACHE.clear()
        _HEADER_CACHE[header_b64] = cached
    header, kid = cached
    signature = _signature(signature_b64)
    payload = _strict_b64decode(payload_b64, "payload")
    signing_input = token[: len(header_b64) + 1 + len(payload_b64)].encode("ascii")
    return ParsedJws(header, kid, signing_input, payload, signature)


def _split(token: str, max_chars: int, what: str) -> list[str]:
    """The three parts of a compact JWS of at most `max_chars` characters."""
    if len(token) > max_chars:
        raise VerificationError(
            ErrorCode.INPUT_TOO_LARGE,
            f"{what} is {len(token)} characters, the limit is {max_chars}",
        )
    parts = token.split(".")
    if len(parts) != 3:
        raise VerificationError(
            ErrorCode.MALFORMED_JWS,
            f"a compact JWS has 3 dot-separated parts, this has {len(parts)}",
        )
    return parts


def _signature(signature_b64: str) -> bytes:
    signature = _strict_b64decode(signature_b64, "signature")
    if len(signature) != SIGNATURE_BYTES:
        der_hint = " (looks DER-encoded)" if signature[:1] == b"\x30" else ""
        raise VerificationError(
            ErrorCode.MALFORMED_SIGNATURE,
            f"signature is {len(signature)} bytes{der_hint}; ES256 JWS needs 64-byte r||s",
        )
    return signature


def _header_object(header_b64: str) -> dict[str, Any]:
    try:
        header = loads_unique(_strict_b64decode(header_b64, "header"))
    except (ValueError, RecursionError) as exc:
        raise VerificationError(
            ErrorCode.MALFORMED_HEADER, f"header is not UTF-8 JSON with unique names ({exc})"
        ) from exc
    if not isinstance(header, dict):
        raise VerificationError(ErrorCode.MALFORMED_HEADER, "header is not a JSON object")
    return header


def _parse_header(header_b64: str) -> tuple[Mapping[str, Any], str]:
    header = _header_object(header_b64)
    alg = header.get("alg")
    if alg != ALGORITHM:
        if alg is None:
            raise VerificationError(ErrorCode.MALFORMED_HEADER, "header has no 'alg'")
        # alg may be any JSON value here (a list or an object is unhashable): test the type first.
        named = isinstance(alg, str)
        shown = alg if named and len(alg) < 16 else "(invalid)"
        kind = "forbidden" if named and alg in _FORBIDDEN_ALGORITHMS else "unsupported"
        raise VerificationError(
            ErrorCode.UNSUPPORTED_ALGORITHM,
            f"header alg {shown!r} is {kind}; only ES256 is accepted",
        )
    if "crit" in header:
        raise VerificationError(
            ErrorCode.MALFORMED_HEADER, "header 'crit' names extensions this verifier lacks"
        )
    kid = header.get("kid")
    if not isinstance(kid, str) or not 0 < len(kid) <= 128:
        raise VerificationError(ErrorCode.MALFORMED_HEADER, "header has no string 'kid'")
    zip_ = header.get("zip")
    if zip_ != COMPRESSION:
        if zip_ is None:
            raise VerificationError(
                ErrorCode.MALFORMED_HEADER, "header has no 'zip' (payload must be zip DEF)"
            )
        raise VerificationError(
            ErrorCode.UNSUPPORTED_COMPRESSION, "header zip must be 'DEF' (raw DEFLATE)"
        )
    return MappingProxyType(header), kid


# -- signed documents -------------------------------------------------------------------------

#: The longest signed document accepted as compact JWS text (a revocation list of ~100 000
#: entries); callers with a smaller bound (assertions, proofs) pass their own.
MAX_DOCUMENT_JWS_CHARS = 8 * 1024 * 1024
_DOCUMENT_HEADER_MEMBERS = frozenset({"alg", "kid", "typ"})
_ECDSA_SHA256 = ec.ECDSA(SHA256())

#: What a document's header `typ` may be: one value (None: the header carries no `typ`), or
#: a tuple of the values accepted (e.g. `("JWT", None)` where `typ` is optional).
Typ = str | None | tuple[str | None, ...]


class SignedDocument(NamedTuple):
    """A signed document whose header, key and signature were checked; payload not parsed."""

    header: Mapping[str, Any]
    kid: str
    payload: bytes


def parse_document(token: str, *, typ: Typ, max_chars: int = MAX_DOCUMENT_JWS_CHARS) -> ParsedJws:
    """Split and check a signed document's compact JWS: the header is a JSON object of exactly
    `alg` (ES256), `kid` and, as `typ` says, `typ`; no `zip`, no `crit`; the signature is
    64-byte r||s. Nothing is verified yet. Raises VerificationError."""
    header_b64, payload_b64, signature_b64 = _split(token, max_chars, "signed document")
    header = _document_header(header_b64, typ)
    signature = _signature(signature_b64)
    payload = _strict_b64decode(payload_b64, "payload")
    signing_input = f"{header_b64}.{payload_b64}".encode("ascii")
    return ParsedJws(MappingProxyType(header), header["kid"], signing_input, payload, signature)


def _document_header(header_b64: str, typ: Typ) -> dict[str, Any]:
    header = _header_object(header_b64)
    if header.get("alg") != ALGORITHM:
        raise VerificationError(
            ErrorCode.UNSUPPORTED_ALGORITHM, "a signed document's header alg must be ES256"
        )
    if "zip" in header:
        raise VerificationError(
            ErrorCode.UNSUPPORTED_COMPRESSION, "a signed document's payload is not compressed"
        )
    extra = set(header) - _DOCUMENT_HEADER_MEMBERS
    if extra:
        # crit and anything else: a signed document is plain JSON under alg, kid, typ.
        raise VerificationError(
            ErrorCode.MALFORMED_HEADER,
            f"a signed document's header holds only alg, kid and typ, not {sorted(extra)}",
        )
    kid = header.get("kid")
    if not isinstance(kid, str) or not 0 < len(kid) <= 128:
        raise VerificationError(ErrorCode.MALFORMED_HEADER, "header has no string 'kid'")
    accepted = typ if isinstance(typ, tuple) else (typ,)
    if header.get("typ") not in accepted:
        wanted = " or ".join("no typ" if t is None else repr(t) for t in accepted)
        raise VerificationError(
            ErrorCode.MALFORMED_HEADER,
            f"header typ must be {wanted}, got {header.get('typ')!r}",
        )
    return header


def check_document_signature(parsed: ParsedJws, key: VerifyingKey) -> None:
    """Verify a parsed document's ES256 signature with `key`; raises bad_signature."""
    try:
        key.public_key.verify(
            raw_signature_to_der(parsed.signature), parsed.signing_input, _ECDSA_SHA256
        )
    except InvalidSignature:
        raise VerificationError(
            ErrorCode.BAD_SIGNATURE,
            f"the signature by key {parsed.kid!r} does not verify (altered or forged document)",
        ) from None


def verify_document(
    token: str,
    keys: Mapping[str, VerifyingKey],
    *,
    typ: Typ,
    max_chars: int = MAX_DOCUMENT_JWS_CHARS,
) -> SignedDocument:
    """The one verifier of signed documents: parse (`parse_document`), find the header's `kid`
    in `keys` (the caller's choice: an issuer's active keys, partner keys, root keys) and
    check the signature. Raises VerificationError: malformed_*, unsupported_algorithm,
    input_too_large, unknown_key or bad_signature; callers map these to their own codes."""
    parsed = parse_document(token, typ=typ, max_chars=max_chars)
    key = keys.get(parsed.kid)
    if key is None:
        raise VerificationError(
            ErrorCode.UNKNOWN_KEY, f"signed by key {parsed.kid!r}, which is not one of its keys"
        )
    check_document_signature(parsed, key)
    return SignedDocument(parsed.header, parsed.kid, parsed.payload)
