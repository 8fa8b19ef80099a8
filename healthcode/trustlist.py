"""The signed trust list and its root: format, signing, verification and update rules (§7).

Two documents, modelled on TUF's root and targets metadata, both JWS JSON General
Serialization (RFC 7515 §7.2.1) with ES256 signatures over P-256 keys:

* the **root** (`hc-root`) names the registry keys and how many of them must sign (threshold);
* the **trust list** (`hc-trustlist`) names the issuers, their keys and endpoints;
* the **timestamp** (`hc-timestamp`) is a short-lived freshness document signed by the root's
  online timestamp key (§7.7): it names the newest trust-list version, carries the registry's
  time and emergency revocations published while the root keys are offline.

`verify_root_update`, `verify_trust_list` and `verify_timestamp` check one document each (§7.1,
§7.2 items 1-6, §7.7); signatures are checked over the payload bytes before any member of the
payload is parsed. `TrustListState` holds the verified root, list and timestamp, the trusted
time (a high-water mark that never goes backwards, unless a new root replaces the timestamp
keys) and applies the client update rules (§7.6: rollback, equal version, freeze). Every
refusal raises `TrustListError` with a stable code. Nothing here touches the network or the
disk: `healthcode.trustclient` does that.
"""

from __future__ import annotations

import binascii
import copy
import dataclasses
import json
import math
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from healthcode.boundedjson import loads as bounded_json
from healthcode.config import DEFAULT_LIMITS, Limits
from healthcode.errors import ErrorCode, TrustListError, TrustUnavailable, VerificationError
from healthcode.jws import ParsedJws, Typ, check_document_signature, parse_document
from healthcode.keys import SigningKey, VerifyingKey, b64url_encode
from healthcode.trust import IssuerEntry, IssuerStatus, KeyStatus, Profile, TrustedKey, TrustStore

__all__ = [
    "DEFAULT_STALE_GRACE_S",
    "MAX_DOCUMENT_BYTES",
    "MAX_TIMESTAMP_VALIDITY_S",
    "ROOT_TYP",
    "ROOT_TYPE",
    "SPEC",
    "TIMESTAMP_TYP",
    "TIMESTAMP_TYPE",
    "TRUST_LIST_TYP",
    "TRUST_LIST_TYPE",
    "RootMetadata",
    "TimestampDocument",
    "TrustListDocument",
    "TrustListState",
    "decode_unsigned_trust_list",
    "format_time",
    "issuer_entry_payload",
    "load_root",
    "make_root",
    "parse_time",
    "peek_payload",
    "sign_document",
    "strict_b64url_decode",
    "timestamp_payload",
    "trust_list_payload",
    "verify_root_update",
    "verify_timestamp",
    "verify_trust_list",
]

SPEC = "1"
ROOT_TYPE = "hc-root"
TRUST_LIST_TYPE = "hc-trustlist"
ROOT_TYP = "hc-root+jws"
TRUST_LIST_TYP = "hc-trustlist+jws"
TIMESTAMP_TYPE = "hc-timestamp"
TIMESTAMP_TYP = "hc-timestamp+jws"
ALGORITHM = "ES256"
SIGNATURE_BYTES = 64  # r||s, 32 bytes each for P-256
#: A held list past `expires` keeps verifying this long, reported stale (§7.6: 24 h).
DEFAULT_STALE_GRACE_S = 24 * 3600
#: Longest a timestamp may be valid, `expires - signed_at` (§7.7). The online key signs it, so
#: this bounds how far ahead a stolen key can pin the trusted time, and for how long.
MAX_TIMESTAMP_VALIDITY_S = 7 * 24 * 3600
#: Largest root or trust-list document accepted (34 provinces with 16 keys each fit in ~1 MB).
MAX_DOCUMENT_BYTES = 4 * 1024 * 1024

_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_TIME_PATTERN = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
_B64URL_PATTERN = re.compile(r"[A-Za-z0-9_-]*")
_REGION_PATTERN = re.compile(r"\d{6}")
_TRUST_LIST_MEMBERS = frozenset(
    {"_type", "spec", "version", "root_version", "signed_at", "expires", "issuers"}
)


# -- time -------------------------------------------------------------------------------------


def format_time(moment: datetime | float) -> str:
    """RFC 3339 UTC of the exact form `YYYY-MM-DDTHH:MM:SSZ` (§1), from a datetime or epoch."""
    if isinstance(moment, datetime):
        if moment.tzinfo is None:
            raise ValueError("trust-list times must be timezone-aware (UTC)")
        moment = moment.timestamp()
    return datetime.fromtimestamp(int(moment), UTC).strftime(_TIME_FORMAT)


def parse_time(text: object, what: str) -> datetime:
    """Parse a `YYYY-MM-DDTHH:MM:SSZ` string; anything else is `trust_list_malformed`."""
    if not isinstance(text, str) or not _TIME_PATTERN.fullmatch(text):
        raise _malformed(f"{what} must be a string of the form YYYY-MM-DDTHH:MM:SSZ")
    try:
        return datetime.strptime(text, _TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError as exc:
        raise _malformed(f"{what} is not a valid date and time ({exc})") from exc


def _epoch(moment: datetime | float) -> float:
    return moment.timestamp() if isinstance(moment, datetime) else float(moment)


# -- documents --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RootMetadata:
    """A verified root: the registry keys and how many distinct ones must sign (§7.1)."""

    version: int
    expires: datetime
    threshold: int
    keys: Mapping[str, VerifyingKey]
    #: the signed document as received (kept to persist it and to serve it again)
    document: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
    #: keys of the online timestamp role (§7.7); one signature by one of them suffices
    timestamp_keys: Mapping[str, VerifyingKey] = field(default_factory=dict)

    def is_expired(self, now: datetime | float) -> bool:
        return _epoch(now) > self.expires.timestamp()


@dataclass(frozen=True, slots=True)
class TimestampDocument:
    """A verified timestamp (§7.7): the registry's recent time and the newest list version.

    `revoked_keys` and `suspended_issuers` only ever remove trust: emergency changes the
    registry published with its online key while the trust list awaits the root holders.
    """

    version: int
    root_version: int
    signed_at: datetime
    expires: datetime
    trust_list_version: int
    revoked_keys: frozenset[str] = frozenset()
    suspended_issuers: frozenset[str] = frozenset()
    document: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def is_expired(self, now: datetime | float) -> bool:
        return _epoch(now) > self.expires.timestamp()


@dataclass(frozen=True, slots=True)
class TrustListDocument:
    """A verified trust list (§7.2). Unknown members stay in `payload` (and `extra`)."""

    version: int
    root_version: int
    signed_at: datetime
    expires: datetime
    issuers: tuple[IssuerEntry, ...]
    #: top-level members this version of the standard does not define, preserved verbatim
    extra: Mapping[str, Any] = field(default_factory=dict)
    #: the whole payload, unknown members of issuer entries included (re-serialise from this)
    payload: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
    #: the signed document as received
    document: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def is_expired(self, now: datetime | float) -> bool:
        return _epoch(now) > self.expires.timestamp()


def make_root(
    keys: Sequence[VerifyingKey],
    threshold: int,
    version: int,
    expires: datetime,
    *,
    timestamp_keys: Sequence[VerifyingKey] = (),
) -> dict[str, Any]:
    """The payload of root `version`: `threshold` of `keys` must sign what it governs, and any
    one of `timestamp_keys` (the online role, §7.7) may sign timestamps."""
    kids = [key.kid for key in keys]
    if len(set(kids)) != len(kids):
        raise ValueError("root keys must be distinct")
    if {key.kid for key in timestamp_keys} & set(kids):
        raise ValueError("timestamp keys must differ from the root keys")
    if not 1 <= threshold <= len(kids):
        raise ValueError(f"threshold must be within 1..{len(kids)}, got {threshold}")
    if version < 1:
        raise ValueError(f"version must be >= 1, got {version}")
    return {
        "_type": ROOT_TYPE,
        "spec": SPEC,
        "version": version,
        "expires": format_time(expires),
        "threshold": threshold,
        "keys": [_public_jwk(key) for key in keys],
        **(
            {"timestamp_keys": [_public_jwk(key) for key in timestamp_keys]}
            if timestamp_keys
            else {}
        ),
    }


def timestamp_payload(
    version: int,
    root_version: int,
    signed_at: datetime,
    expires: datetime,
    trust_list_version: int,
    *,
    revoked_keys: Sequence[str] = (),
    suspended_issuers: Sequence[str] = (),
) -> dict[str, Any]:
    """The payload of timestamp `version` (§7.7), naming the newest trust-list version."""
    if version < 1 or root_version < 1 or trust_list_version < 1:
        raise ValueError("versions must be >= 1")
    if expires <= signed_at:
        raise ValueError("expires must be after signed_at")
    if (expires - signed_at).total_seconds() > MAX_TIMESTAMP_VALIDITY_S:
        raise ValueError(
            f"a timestamp is valid for at most {MAX_TIMESTAMP_VALIDITY_S} s (7 days, §7.7)"
        )
    return {
        "_type": TIMESTAMP_TYPE,
        "spec": SPEC,
        "version": version,
        "root_version": root_version,
        "signed_at": format_time(signed_at),
        "expires": format_time(expires),
        "trust_list": {"version": trust_list_version},
        "revoked_keys": sorted(revoked_keys),
        "suspended_issuers": sorted(suspended_issuers),
    }


def issuer_entry_payload(entry: IssuerEntry) -> dict[str, Any]:
    """An issuer entry (§7.3) as JSON members."""

    def when(epoch: int | None) -> str | None:
        return None if epoch is None else format_time(epoch)

    return {
        "id": entry.id,
        "name": entry.name,
        "region": entry.region,
        "status": entry.status.value,
        "profile": entry.profile.value,
        "keys": [
            {
                "jwk": _public_jwk(trusted.key),
                "status": trusted.status.value,
                "not_before": when(trusted.not_before),
                "not_after": when(trusted.not_after),
            }
            for trusted in entry.keys
        ],
        "partner_keys": [_public_jwk(key) for key in entry.partner_keys],
        "endpoints": dict(entry.endpoints),
    }


def trust_list_payload(
    version: int,
    root_version: int,
    signed_at: datetime,
    expires: datetime,
    issuers: Sequence[IssuerEntry | Mapping[str, Any]],
    *,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The payload of trust list `version`. Issuers given as mappings are copied verbatim,
    so a registry re-publishing a list keeps members it does not understand."""
    if version < 1 or root_version < 1:
        raise ValueError("version and root_version must be >= 1")
    if expires <= signed_at:
        raise ValueError("expires must be after signed_at")
    clashes = _TRUST_LIST_MEMBERS.intersection(extra or {})
    if clashes:
        raise ValueError(f"extra members clash with defined ones: {sorted(clashes)}")
    return {
        **dict(extra or {}),
        "_type": TRUST_LIST_TYPE,
        "spec": SPEC,
        "version": version,
        "root_version": root_version,
        "signed_at": format_time(signed_at),
        "expires": format_time(expires),
        "issuers": [
            issuer_entry_payload(item) if isinstance(item, IssuerEntry) else dict(item)
            for item in issuers
        ],
    }


def sign_document(
    payload: Mapping[str, Any], signing_keys: Sequence[SigningKey], typ: str
) -> dict[str, Any]:
    """Sign `payload` by every key, as JWS JSON General Serialization (RFC 7515 §7.2.1)."""
    if not signing_keys:
        raise ValueError("a document needs at least one signature")
    payload_b64 = b64url_encode(
        json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    )
    signatures = []
    for key in signing_keys:
        header = {"alg": ALGORITHM, "kid": key.kid, "typ": typ}
        protected = b64url_encode(json.dumps(header, separators=(",", ":")).encode("ascii"))
        signature = key.sign_raw(f"{protected}.{payload_b64}".encode("ascii"))
        signatures.append({"protected": protected, "signature": b64url_encode(signature)})
    return {"payload": payload_b64, "signatures": signatures}


# -- verification -----------------------------------------------------------------------------


def load_root(document: Mapping[str, Any] | bytes | str) -> RootMetadata:
    """Load a pinned (initial) root shipped with the software.

    It is checked out of band; here it must still be well formed and signed by a threshold of
    its own keys, so a damaged or hand-edited file is refused rather than trusted.
    """
    envelope = _parse_envelope(document)
    payload_bytes, signatures = _decode_envelope(envelope, ROOT_TYP)
    # A pinned root names its own keys, so its payload must be read before its signatures.
    root = _root_from_payload(_json_object(payload_bytes), envelope)
    where = f"root version {root.version}"
    _check_signatures(signatures, root.keys, where)
    _check_threshold(signatures, root.keys, root.threshold, where)
    return root


def verify_root_update(trusted: RootMetadata, document: Mapping[str, Any] | bytes) -> RootMetadata:
    """Verify root N+1 against the held root N (§7.1) and return it.

    It must be version N+1 exactly, signed by `threshold(N)` distinct keys of N **and**
    `threshold(N+1)` distinct keys of N+1. The signatures by keys of N are checked before
    anything of the offered payload is parsed. Expiry is not checked here: intermediate roots
    may have expired; the caller checks the final one (`TrustListState.update_roots`).
    """
    envelope = _parse_envelope(document)
    payload_bytes, signatures = _decode_envelope(envelope, ROOT_TYP)
    where = f"root after version {trusted.version}"
    by_old = [signature for signature in signatures if signature.kid in trusted.keys]
    _verify_each(by_old, trusted.keys, where)
    _check_threshold(signatures, trusted.keys, trusted.threshold, f"old root {trusted.version}")
    new = _root_from_payload(_json_object(payload_bytes), envelope)
    if new.version <= trusted.version:
        raise TrustListError(
            ErrorCode.TRUST_LIST_ROLLBACK,
            f"root version {new.version} is not newer than the held root {trusted.version}",
        )
    if new.version != trusted.version + 1:
        raise _malformed(
            f"root version {new.version} skips versions: after root {trusted.version} "
            f"only {trusted.version + 1} is accepted (walk one version at a time)"
        )
    known = {**trusted.keys, **new.keys}
    _check_signatures(signatures, known, f"root version {new.version}")
    _check_threshold(signatures, new.keys, new.threshold, f"new root {new.version}")
    return new


def verify_trust_list(
    document: Mapping[str, Any] | bytes,
    root: RootMetadata,
    *,
    limits: Limits = DEFAULT_LIMITS,
) -> TrustListDocument:
    """Verify a trust list against the held root: §7.2 items 1-6, in that order.

    Only the envelope is decoded before the signatures and the threshold are checked; issuer
    entries and their JWKs are parsed only from a payload the root vouched for. The update
    rules of item 7 (rollback, equal version, expiry) need the held list and the clock;
    `TrustListState.update` applies them.
    """
    # (1) the envelope: JWS JSON General Serialization, protected headers of typ hc-trustlist
    envelope = _parse_envelope(document)
    payload_bytes, signatures = _decode_envelope(envelope, TRUST_LIST_TYP)
    where = f"trust list signed under root {root.version}"
    # (2)-(3) every signature by a key of the held root, every signature valid; a list signed
    # under a newer root names keys we do not hold yet, hence "update the root first".
    _check_signatures(
        signatures, root.keys, where, hint=" (signed under a newer root? update it first, §7.1)"
    )
    # (4) distinct root keys reach the threshold
    _check_threshold(signatures, root.keys, root.threshold, where)
    # (5) only now the members: it parses and has them, `_type` = hc-trustlist
    trust_list = _trust_list_from_payload(_json_object(payload_bytes), envelope, limits)
    # (6) root_version is the held root's
    _require_root_version(trust_list, root)
    return trust_list


def verify_timestamp(document: Mapping[str, Any] | bytes, root: RootMetadata) -> TimestampDocument:
    """Verify a timestamp (§7.7) against the held root's timestamp keys and return it.

    Every signature must be by a timestamp key of the held root and verify (one suffices);
    `root_version` must be the held root's. Version and expiry rules need the held state
    (`TrustListState.update_timestamp`).
    """
    envelope = _parse_envelope(document)
    payload_bytes, signatures = _decode_envelope(envelope, TIMESTAMP_TYP)
    where = f"timestamp under root {root.version}"
    if not root.timestamp_keys:
        raise TrustListError(
            ErrorCode.TRUST_LIST_UNKNOWN_ROOT_KEY,
            f"root version {root.version} delegates no timestamp keys",
        )
    _check_signatures(signatures, root.timestamp_keys, where)
    payload = _json_object(payload_bytes)
    _check_type(payload, TIMESTAMP_TYPE)
    version = _require_int(payload, "version", 1)
    root_version = _require_int(payload, "root_version", 1)
    signed_at = parse_time(payload.get("signed_at"), "timestamp 'signed_at'")
    expires = parse_time(payload.get("expires"), "timestamp 'expires'")
    if expires <= signed_at:
        raise _malformed("timestamp 'expires' must be after 'signed_at'")
    if (expires - signed_at).total_seconds() > MAX_TIMESTAMP_VALIDITY_S:
        # Verifiers refuse what the registry never signs: a long-lived timestamp would let a
        # stolen online key pin the trusted time (and its removals) for that long (§7.7).
        raise _malformed(
            f"timestamp version {version} is valid from {format_time(signed_at)} to "
            f"{format_time(expires)}; at most 7 days ({MAX_TIMESTAMP_VALIDITY_S} s) allowed"
        )
    named = payload.get("trust_list")
    if not isinstance(named, Mapping):
        raise _malformed("timestamp 'trust_list' must be an object")
    trust_list_version = _require_int(named, "version", 1)
    revoked_keys = _string_set(payload.get("revoked_keys", []), "timestamp 'revoked_keys'")
    suspended = _string_set(payload.get("suspended_issuers", []), "timestamp 'suspended_issuers'")
    if root_version < root.version:
        raise TrustListError(
            ErrorCode.TRUST_LIST_ROLLBACK,
            f"timestamp version {version} names root {root_version}, older than the held root "
            f"{root.version}",
        )
    if root_version > root.version:
        raise TrustListError(
            ErrorCode.TRUST_LIST_UNKNOWN_ROOT_KEY,
            f"timestamp version {version} names root {root_version} but root {root.version} "
            "is held; update the root first (§7.1)",
        )
    return TimestampDocument(
        version=version,
        root_version=root_version,
        signed_at=signed_at,
        expires=expires,
        trust_list_version=trust_list_version,
        revoked_keys=revoked_keys,
        suspended_issuers=suspended,
        document=copy.deepcopy(dict(envelope)),
    )


def decode_unsigned_trust_list(
    payload_b64: str, root: RootMetadata, *, limits: Limits = DEFAULT_LIMITS
) -> TrustListDocument:
    """Decode and check a trust-list payload **before** it is signed, as a cosigner reviews
    the bytes it is about to sign (§7.7): strict base64url, the members of §7.2 item 5
    (`_type`, spec, issuer entries) and `root_version` equal to `root`'s (item 6).

    No signature is checked: `root` is the root the cosigner trusts (walked from its pinned
    root), and the result is exactly what `payload_b64` says, for display and review.

    Raises:
        TrustListError: malformed, or naming another root version (rollback / unknown root).
    """
    payload = _json_object(strict_b64url_decode(payload_b64, "payload"))
    envelope = {"payload": payload_b64, "signatures": []}
    trust_list = _trust_list_from_payload(payload, envelope, limits)
    _require_root_version(trust_list, root)
    return trust_list


def _require_root_version(trust_list: TrustListDocument, root: RootMetadata) -> None:
    """§7.2 item 6: a trust list names the root it was signed under, which must be `root`."""
    if trust_list.root_version < root.version:
        raise TrustListError(
            ErrorCode.TRUST_LIST_ROLLBACK,
            f"trust list version {trust_list.version} was signed under root "
            f"{trust_list.root_version}, older than the held root {root.version}",
        )
    if trust_list.root_version > root.version:
        raise TrustListError(
            ErrorCode.TRUST_LIST_UNKNOWN_ROOT_KEY,
            f"trust list version {trust_list.version} names root version "
            f"{trust_list.root_version} but root {root.version} is held; update the root "
            "first (§7.1)",
        )


def peek_payload(document: Mapping[str, Any] | bytes) -> Mapping[str, Any]:
    """The payload of a signed document, **unverified**: for routing only (e.g. the registry
    reading a field of a document it stored). A cosigner reviews with
    `decode_unsigned_trust_list` instead."""
    envelope = _parse_envelope(document)
    payload_bytes, _ = _decode_envelope(envelope, None)
    return _json_object(payload_bytes)


def _malformed(message: str) -> TrustListError:
    return TrustListError(ErrorCode.TRUST_LIST_MALFORMED, message)


def _public_jwk(key: VerifyingKey) -> dict[str, str]:
    jwk = key.to_jwk()
    jwk.pop("use", None)
    return jwk


def strict_b64url_decode(text: object, what: str) -> bytes:
    """Decode unpadded base64url with exactly one accepted encoding per byte string (§2.1:
    the alphabet only, no padding, zero unused bits); anything else is
    `trust_list_malformed` naming `what`. For every base64url member of trust-list
    documents and their signatures, so no two encodings of one signature are stored."""
    if not isinstance(text, str) or not _B64URL_PATTERN.fullmatch(text) or len(text) % 4 == 1:
        raise _malformed(f"{what} is not unpadded base64url")
    try:
        data = binascii.a2b_base64(
            text.translate(_TO_STANDARD).encode("ascii") + b"=" * (-len(text) % 4),
            strict_mode=True,
        )
    except binascii.Error as exc:
        raise _malformed(f"{what} is not unpadded base64url ({exc})") from exc
    if b64url_encode(data) != text:
        raise _malformed(f"{what} has non-canonical base64url")
    return data


_TO_STANDARD = str.maketrans("-_", "+/")


def _parse_envelope(document: Mapping[str, Any] | bytes | str) -> Mapping[str, Any]:
    if isinstance(document, bytes | str):
        if len(document) > MAX_DOCUMENT_BYTES:
            raise _malformed(f"document is over {MAX_DOCUMENT_BYTES} bytes")
        try:
            document = bounded_json(document)
        except (ValueError, UnicodeDecodeError) as exc:
            raise _malformed(f"document is not UTF-8 JSON ({exc})") from exc
    if not isinstance(document, Mapping):
        raise _malformed("document is not a JSON object")
    return document


#: One signature of a document, its header checked by the one signed-document parser.
_Signature = ParsedJws
#: A JWS JSON signature as a compact JWS: the protected header, the payload and the value.
_MAX_COMPACT_CHARS = 2 * MAX_DOCUMENT_BYTES


def _decode_envelope(
    envelope: Mapping[str, Any], typ: str | None
) -> tuple[bytes, list[_Signature]]:
    """The payload bytes and the decoded signatures; nothing of the payload is parsed here."""
    payload_b64 = envelope.get("payload")
    raw_signatures = envelope.get("signatures")
    if not isinstance(payload_b64, str):
        raise _malformed("document has no string 'payload' (JWS JSON General Serialization)")
    if not isinstance(raw_signatures, list) or not raw_signatures:
        raise _malformed("document has no non-empty 'signatures' array")
    payload = strict_b64url_decode(payload_b64, "payload")
    signatures: list[_Signature] = []
    for index, item in enumerate(raw_signatures):
        what = f"signature {index}"
        if not isinstance(item, Mapping):
            raise _malformed(f"{what} is not a JSON object")
        protected, value = item.get("protected"), item.get("signature")
        if not isinstance(protected, str) or not isinstance(value, str):
            raise _malformed(f"{what} needs string 'protected' and 'signature' members")
        # The one signed-document parser: header exactly {alg: ES256, kid, typ}, r||s value.
        expected: Typ = typ if typ is not None else (ROOT_TYP, TRUST_LIST_TYP, TIMESTAMP_TYP)
        try:
            parsed = parse_document(
                f"{protected}.{payload_b64}.{value}", typ=expected, max_chars=_MAX_COMPACT_CHARS
            )
        except VerificationError as exc:
            raise _malformed(f"{what}: {exc.message}") from exc
        signatures.append(parsed)
    return payload, signatures


def _json_object(payload: bytes) -> Mapping[str, Any]:
    try:
        value = bounded_json(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _malformed(f"payload is not UTF-8 JSON ({exc})") from exc
    if not isinstance(value, dict):
        raise _malformed("payload is not a JSON object")
    return value


def _string_set(value: object, what: str) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _malformed(f"{what} must be an array of strings")
    return frozenset(value)


def _check_signatures(
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
    _verify_each(signatures, keys, what)


def _verify_each(
    signatures: Sequence[_Signature], keys: Mapping[str, VerifyingKey], what: str
) -> None:
    for signature in signatures:
        try:
            check_document_signature(signature, keys[signature.kid])
        except VerificationError as exc:
            raise TrustListError(
                ErrorCode.TRUST_LIST_BAD_SIGNATURE, f"{what}: {exc.message}"
            ) from exc


def _check_threshold(
    signatures: Sequence[_Signature], keys: Mapping[str, VerifyingKey], threshold: int, what: str
) -> None:
    # A set: one key signing twice is one signer (§7.2 item 4).
    signers = {signature.kid for signature in signatures if signature.kid in keys}
    if len(signers) < threshold:
        raise TrustListError(
            ErrorCode.TRUST_LIST_THRESHOLD,
            f"{what} needs {threshold} distinct root keys to sign, has {len(signers)}",
        )


def _require_int(payload: Mapping[str, Any], name: str, minimum: int) -> int:
    value = payload.get(name)
    # bool is an int in Python; JSON true is not a version.
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise _malformed(f"{name!r} must be an integer >= {minimum}")
    return value


def _check_type(payload: Mapping[str, Any], expected: str) -> None:
    if payload.get("_type") != expected:
        raise _malformed(f"payload _type must be {expected!r}, got {payload.get('_type')!r}")
    if payload.get("spec") != SPEC:
        raise _malformed(f"payload spec must be {SPEC!r}, got {payload.get('spec')!r}")


def _load_jwk(jwk: object, what: str) -> VerifyingKey:
    if not isinstance(jwk, Mapping):
        raise _malformed(f"{what} is not a JWK object")
    if "kid" not in jwk:
        raise _malformed(f"{what} has no 'kid'")
    try:
        return VerifyingKey.from_jwk(jwk)
    except (ValueError, TypeError) as exc:
        raise _malformed(f"{what}: {exc}") from exc


def _root_from_payload(payload: Mapping[str, Any], envelope: Mapping[str, Any]) -> RootMetadata:
    _check_type(payload, ROOT_TYPE)
    version = _require_int(payload, "version", 1)
    expires = parse_time(payload.get("expires"), "root 'expires'")
    raw_keys = payload.get("keys")
    if not isinstance(raw_keys, list) or not raw_keys:
        raise _malformed("root 'keys' must be a non-empty array")
    keys: dict[str, VerifyingKey] = {}
    for index, jwk in enumerate(raw_keys):
        key = _load_jwk(jwk, f"root key {index}")
        if key.kid in keys:
            raise _malformed(f"root key {key.kid!r} is listed twice")
        keys[key.kid] = key
    threshold = _require_int(payload, "threshold", 1)
    if threshold > len(keys):
        raise _malformed(f"root threshold {threshold} exceeds its {len(keys)} keys")
    raw_timestamp_keys = payload.get("timestamp_keys", [])
    if not isinstance(raw_timestamp_keys, list):
        raise _malformed("root 'timestamp_keys' must be an array")
    timestamp_keys: dict[str, VerifyingKey] = {}
    for index, jwk in enumerate(raw_timestamp_keys):
        key = _load_jwk(jwk, f"root timestamp key {index}")
        if key.kid in keys or key.kid in timestamp_keys:
            # The online key must never count toward the root threshold.
            raise _malformed(f"root timestamp key {key.kid!r} is listed twice or is a root key")
        timestamp_keys[key.kid] = key
    return RootMetadata(
        version, expires, threshold, keys, copy.deepcopy(dict(envelope)), timestamp_keys
    )


def _trust_list_from_payload(
    payload: Mapping[str, Any], envelope: Mapping[str, Any], limits: Limits
) -> TrustListDocument:
    _check_type(payload, TRUST_LIST_TYPE)
    version = _require_int(payload, "version", 1)
    root_version = _require_int(payload, "root_version", 1)
    signed_at = parse_time(payload.get("signed_at"), "'signed_at'")
    expires = parse_time(payload.get("expires"), "'expires'")
    if expires <= signed_at:
        raise _malformed("'expires' must be after 'signed_at'")
    raw_issuers = payload.get("issuers")
    if not isinstance(raw_issuers, list):
        raise _malformed("'issuers' must be an array")
    issuers: list[IssuerEntry] = []
    seen_ids: set[str] = set()
    seen_kids: dict[str, str] = {}
    for index, raw in enumerate(raw_issuers):
        entry = _issuer_from_payload(raw, index, limits)
        if entry.id in seen_ids:
            raise _malformed(f"issuer {entry.id!r} is listed twice")
        seen_ids.add(entry.id)
        for trusted in entry.keys:
            # One kid, one issuer: otherwise a key of A could sign codes as B (§7.3).
            if trusted.kid in seen_kids:
                raise _malformed(
                    f"key {trusted.kid!r} is listed under {seen_kids[trusted.kid]!r} and "
                    f"{entry.id!r}; a kid belongs to one issuer, once"
                )
            seen_kids[trusted.kid] = entry.id
        issuers.append(entry)
    # Partner keys authenticate partner calls (§10.1): the callee finds the caller by kid, so
    # a partner kid must also name one key of one issuer, and never a credential key.
    partner_owner: dict[str, str] = {}
    for entry in issuers:
        for key in entry.partner_keys:
            owner = partner_owner.get(key.kid) or seen_kids.get(key.kid)
            if owner is not None:
                raise _malformed(
                    f"partner key {key.kid!r} of {entry.id!r} is also a key of {owner!r}; "
                    "a kid belongs to one issuer, once"
                )
            partner_owner[key.kid] = entry.id
    extra = {name: value for name, value in payload.items() if name not in _TRUST_LIST_MEMBERS}
    return TrustListDocument(
        version=version,
        root_version=root_version,
        signed_at=signed_at,
        expires=expires,
        issuers=tuple(issuers),
        extra=copy.deepcopy(extra),
        payload=copy.deepcopy(dict(payload)),
        document=copy.deepcopy(dict(envelope)),
    )


def _issuer_from_payload(raw: object, index: int, limits: Limits) -> IssuerEntry:
    if not isinstance(raw, Mapping):
        raise _malformed(f"issuer entry {index} is not a JSON object")
    issuer_id = raw.get("id")
    if not isinstance(issuer_id, str) or not issuer_id:
        raise _malformed(f"issuer entry {index} has no string 'id'")
    what = f"issuer {issuer_id!r}"
    name = raw.get("name")
    if not isinstance(name, str):
        raise _malformed(f"{what} has no string 'name'")
    try:
        status = IssuerStatus(str(raw.get("status")))
        profile = Profile(str(raw.get("profile")))
    except ValueError as exc:
        raise _malformed(f"{what}: status or profile not allowed ({exc})") from exc
    region = raw.get("region")
    if region is None:
        if profile is Profile.HC:
            raise _malformed(f"{what} is an 'hc' issuer and needs a 6-digit 'region'")
    elif not isinstance(region, str) or not _REGION_PATTERN.fullmatch(region):
        raise _malformed(f"{what} 'region' must be a 6-digit GB/T 2260 code")
    raw_keys = raw.get("keys")
    if not isinstance(raw_keys, list) or not raw_keys:
        raise _malformed(f"{what} needs a non-empty 'keys' array")
    if len(raw_keys) > limits.max_keys_per_issuer:
        raise _malformed(
            f"{what} lists {len(raw_keys)} keys; at most {limits.max_keys_per_issuer} allowed"
        )
    keys = tuple(_trusted_key(item, f"{what} key {n}") for n, item in enumerate(raw_keys))
    kids = [trusted.kid for trusted in keys]
    if len(set(kids)) != len(kids):
        raise _malformed(f"{what} lists the same key twice")
    raw_partner_keys = raw.get("partner_keys", [])
    if not isinstance(raw_partner_keys, list):
        raise _malformed(f"{what} 'partner_keys' must be an array")
    partner_keys = tuple(
        _load_jwk(jwk, f"{what} partner key {n}") for n, jwk in enumerate(raw_partner_keys)
    )
    if {key.kid for key in partner_keys} & set(kids):
        raise _malformed(f"{what} uses a credential key as a partner key; they must differ")
    raw_endpoints = raw.get("endpoints", {})
    if not isinstance(raw_endpoints, Mapping) or not all(
        isinstance(value, str | None) for value in raw_endpoints.values()
    ):
        raise _malformed(f"{what} 'endpoints' must map names to URL strings")
    endpoints = {name: url for name, url in raw_endpoints.items() if url is not None}
    return IssuerEntry(
        id=issuer_id,
        name=name,
        keys=keys,
        region=region,
        status=status,
        profile=profile,
        endpoints=endpoints,
        partner_keys=partner_keys,
    )


def _trusted_key(raw: object, what: str) -> TrustedKey:
    if not isinstance(raw, Mapping):
        raise _malformed(f"{what} is not a JSON object")
    key = _load_jwk(raw.get("jwk"), f"{what} jwk")
    try:
        status = KeyStatus(str(raw.get("status")))
    except ValueError as exc:
        raise _malformed(f"{what} status not allowed ({exc})") from exc

    def when(name: str) -> int | None:
        value = raw.get(name)
        return None if value is None else int(parse_time(value, f"{what} {name!r}").timestamp())

    not_before, not_after = when("not_before"), when("not_after")
    if status is KeyStatus.RETIRED and not_after is None:
        raise _malformed(f"{what} is retired and needs 'not_after'")
    if not_before is not None and not_after is not None and not_after < not_before:
        raise _malformed(f"{what} has 'not_after' before 'not_before'")
    return TrustedKey(key, status, not_before, not_after)


# -- update rules -----------------------------------------------------------------------------


def _newer_and_fresh(
    what: str, offered: int, held: int | None, expires: datetime, expired: bool
) -> bool:
    """§7.6 for a signed document offered to a holder: False if it is the held version.

    Raises TrustListError: rollback (an older version than held), expired (a freeze).
    """
    if held is not None and offered < held:
        raise TrustListError(
            ErrorCode.TRUST_LIST_ROLLBACK,
            f"{what} version {offered} is older than the held version {held}",
        )
    if held is not None and offered == held:
        return False
    if expired:
        raise TrustListError(
            ErrorCode.TRUST_LIST_EXPIRED,
            f"{what} version {offered} expired at {format_time(expires)} (possible freeze attack)",
        )
    return True


class TrustListState:
    """The verified root and trust list a client holds, and the rules to change them (§7.6).

    All update rules live here, like python-tuf's trusted metadata set: the root is updated
    one version at a time, a trust list must be signed by the held root, a lower version is a
    rollback, an equal version keeps the held list, an expired offer is a freeze. A refused
    update leaves the state unchanged. Thread-safe: updates are serialised by a lock and
    readers see either the old or the new list.
    """

    def __init__(
        self,
        root: RootMetadata,
        trust_list: TrustListDocument | None = None,
        *,
        stale_grace_s: int = DEFAULT_STALE_GRACE_S,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        if stale_grace_s < 0:
            raise ValueError(f"stale_grace_s must be >= 0, got {stale_grace_s}")
        self.stale_grace_s = stale_grace_s
        self.limits = limits
        self._lock = threading.Lock()
        self._root = root
        self._trust_list = trust_list
        self._timestamp: TimestampDocument | None = None
        # High-water mark of the registry's signed time seen so far (epoch seconds); the
        # client persists it, so a restart cannot take it back (§7.5).
        self._trusted_time = 0.0
        self._store: TrustStore | None = None
        self._store_key: tuple[int, int | None, int] | None = None

    @property
    def root(self) -> RootMetadata:
        return self._root

    @property
    def trust_list(self) -> TrustListDocument | None:
        """The held list (possibly expired: it still is the rollback floor)."""
        return self._trust_list

    @property
    def timestamp(self) -> TimestampDocument | None:
        """The held timestamp (§7.7), if the root delegates one and one was taken."""
        return self._timestamp

    @property
    def trusted_time(self) -> float:
        """The latest registry-signed time seen (list, timestamp or persisted high-water mark);
        a device clock earlier than this minus the skew is wrong (§7.5). Never decreases,
        except when a root update replaces the timestamp keys (`update_roots`)."""
        held, stamp = self._trust_list, self._timestamp
        return max(
            self._trusted_time,
            held.signed_at.timestamp() if held is not None else 0.0,
            stamp.signed_at.timestamp() if stamp is not None else 0.0,
        )

    def note_trusted_time(self, moment: float) -> None:
        """Raise the high-water mark (e.g. to the value persisted before a restart).

        Raises:
            ValueError: `moment` is NaN or infinite (a damaged file, not a time): NaN would
                compare false and silently stop the mark, infinity would refuse every clock.
        """
        moment = float(moment)
        if not math.isfinite(moment):
            raise ValueError(f"trusted time must be a finite epoch, got {moment!r}")
        with self._lock:
            self._trusted_time = max(self._trusted_time, moment)

    def update_timestamp(self, document: Mapping[str, Any] | bytes, now: datetime | float) -> bool:
        """Offer a timestamp (§7.7); returns True if it replaced the held one.

        Raises:
            TrustListError: malformed, unknown key, bad signature, rollback (lower version)
                or expired (freeze).
        """
        with self._lock:
            offered = verify_timestamp(document, self._root)
            held = self._timestamp
            # A timestamp naming an older list than the held one is the registry's schedule
            # lagging a publication by a tick: it still vouches for the time, and its removals
            # do not apply to the newer list (trust_store). The held list is never replaced by
            # it, so this is no rollback.
            if not _newer_and_fresh(
                "timestamp",
                offered.version,
                held.version if held is not None else None,
                offered.expires,
                offered.is_expired(now),
            ):
                if held is not None and held.is_expired(now):
                    # TUF 5.4.4: the registry offers nothing newer than an expired timestamp,
                    # so it (or whoever answers for it) is frozen: abort, and say so.
                    raise TrustListError(
                        ErrorCode.TRUST_LIST_EXPIRED,
                        f"timestamp version {held.version} expired at "
                        f"{format_time(held.expires)} and the registry offers no newer one "
                        "(possible freeze attack); the trust list is stale",
                    )
                return False
            self._timestamp = offered
            self._store = None
            return True

    def update_roots(
        self, documents: Sequence[Mapping[str, Any] | bytes], now: datetime | float
    ) -> list[RootMetadata]:
        """Walk root N -> N+1 -> ... through `documents` (in order); all or nothing.

        Returns the roots taken. The final root must not be expired (`trust_list_expired`).

        When the walk changes the timestamp keys (§7.7) the held timestamp is dropped and the
        trusted-time high-water mark falls back to the held list's `signed_at`: the online key
        is replaced because it may have been stolen, and a timestamp it signed far ahead must
        not keep pinning the clock forward (every verification `clock_behind`) after that.
        """
        with self._lock:
            root = self._root
            taken = []
            for document in documents:
                root = verify_root_update(root, document)
                taken.append(root)
            if taken and root.is_expired(now):
                raise TrustListError(
                    ErrorCode.TRUST_LIST_EXPIRED,
                    f"root version {root.version} expired at {format_time(root.expires)}",
                )
            # kid is the key's RFC 7638 thumbprint, so equal kid sets are equal keys.
            if set(root.timestamp_keys) != set(self._root.timestamp_keys):
                self._timestamp = None
                self._trusted_time = 0.0
                self._store = None
            self._root = root
            return taken

    def update(self, document: Mapping[str, Any] | bytes, now: datetime | float) -> bool:
        """Offer a trust list; returns True if it replaced the held one (§7.2, §7.6).

        Raises:
            TrustListError: malformed, unknown root key, bad signature, threshold, rollback
                (lower version, or signed under an older root) or expired (freeze).
        """
        with self._lock:
            offered = verify_trust_list(document, self._root, limits=self.limits)
            held = self._trust_list
            if not _newer_and_fresh(
                "trust list",
                offered.version,
                held.version if held is not None else None,
                offered.expires,
                offered.is_expired(now),
            ):
                return False
            if self._root.is_expired(now):
                raise TrustListError(
                    ErrorCode.TRUST_LIST_EXPIRED,
                    f"root version {self._root.version} expired at "
                    f"{format_time(self._root.expires)}; a newer root is needed",
                )
            self._trust_list = offered
            self._store = None
            return True

    def expires_at(self) -> float | None:
        """When the held list stops being current: its own `expires`, or sooner the held
        timestamp's when the root delegates one (§7.7): a list no timestamp vouches for any
        more is stale at once, not only when the list itself expires (a freeze)."""
        held, stamp = self._trust_list, self._timestamp
        if held is None:
            return None
        expires = held.expires.timestamp()
        if stamp is not None and self._root.timestamp_keys:
            expires = min(expires, stamp.expires.timestamp())
        return expires

    def frozen(self, now: datetime | float) -> bool:
        """The held timestamp has expired: nothing vouches for the list being current."""
        stamp = self._timestamp
        return stamp is not None and bool(self._root.timestamp_keys) and stamp.is_expired(now)

    def trust_store(self, now: datetime | float | None = None) -> TrustStore:
        """The held list as a `TrustStore` for `verify_credential`.

        An expired held list is still returned: verification reports it stale during the grace
        period and fails with `trust_list_expired` after it (§6 step 0), so the answer is a
        verification result with a code rather than an exception. `now` is accepted for
        symmetry with the other calls; the clock is judged per verification.

        Raises:
            TrustUnavailable: `trust_list_unavailable` when no verified list is held.
        """
        del now  # judged by verify_credential, see above
        held, stamp = self._trust_list, self._timestamp
        if held is None:
            raise TrustUnavailable(
                ErrorCode.TRUST_LIST_UNAVAILABLE,
                "no verified trust list is held; fetch one from the registry",
            )
        # signed_at is the trusted time, not the list's: a list signed days ago but vouched
        # for by an hour-old timestamp bounds the clock to that hour (§7.5, §7.7).
        key = (held.version, stamp.version if stamp else None, int(self.trusted_time))
        store = self._store
        if store is not None and self._store_key == key:
            return store
        issuers = held.issuers
        if stamp is not None and stamp.trust_list_version >= held.version:
            issuers = _remove_trust(issuers, stamp.revoked_keys, stamp.suspended_issuers)
        store = TrustStore(
            issuers,
            source="trust-list",
            version=held.version,
            signed_at=key[2],
            expires_at=int(self.expires_at() or held.expires.timestamp()),
            stale_grace_s=self.stale_grace_s,
        )
        self._store, self._store_key = store, key
        return store


def _remove_trust(
    issuers: Sequence[IssuerEntry], revoked_keys: frozenset[str], suspended: frozenset[str]
) -> tuple[IssuerEntry, ...]:
    """The issuers with the timestamp's emergency changes applied: they only remove trust."""
    if not revoked_keys and not suspended:
        return tuple(issuers)
    changed = []
    for entry in issuers:
        keys = tuple(
            dataclasses.replace(trusted, status=KeyStatus.REVOKED)
            if trusted.kid in revoked_keys
            else trusted
            for trusted in entry.keys
        )
        status = IssuerStatus.SUSPENDED if entry.id in suspended else entry.status
        changed.append(dataclasses.replace(entry, keys=keys, status=status))
    return tuple(changed)
