"""Verifying one document each: root update, trust list, timestamp (§7.1, §7.2, §7.7).

Signatures are checked over the payload bytes before any member of the payload is parsed.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from healthcode.config import DEFAULT_LIMITS, Limits
from healthcode.errors import ErrorCode, TrustListError
from healthcode.trustlist.documents import (
    MAX_TIMESTAMP_VALIDITY_S,
    ROOT_TYP,
    TIMESTAMP_TYP,
    TIMESTAMP_TYPE,
    TRUST_LIST_TYP,
    RootMetadata,
    TimestampDocument,
    TrustListDocument,
    format_time,
    malformed,
    parse_time,
)
from healthcode.trustlist.parse import root_from_payload, trust_list_from_payload
from healthcode.trustlist.signatures import (
    check_signatures,
    check_threshold,
    check_type,
    decode_envelope,
    json_object,
    parse_envelope,
    require_int,
    strict_b64url_decode,
    string_set,
    verify_each,
)

# -- verification -----------------------------------------------------------------------------


def load_root(document: Mapping[str, Any] | bytes | str) -> RootMetadata:
    """Load a pinned (initial) root shipped with the software.

    It is checked out of band; here it must still be well formed and signed by a threshold of
    its own keys, so a damaged or hand-edited file is refused rather than trusted.
    """
    envelope = parse_envelope(document)
    payload_bytes, signatures = decode_envelope(envelope, ROOT_TYP)
    # A pinned root names its own keys, so its payload must be read before its signatures.
    root = root_from_payload(json_object(payload_bytes), envelope)
    where = f"root version {root.version}"
    check_signatures(signatures, root.keys, where)
    check_threshold(signatures, root.keys, root.threshold, where)
    return root


def verify_root_update(trusted: RootMetadata, document: Mapping[str, Any] | bytes) -> RootMetadata:
    """Verify root N+1 against the held root N (§7.1) and return it.

    It must be version N+1 exactly, signed by `threshold(N)` distinct keys of N **and**
    `threshold(N+1)` distinct keys of N+1. The signatures by keys of N are checked before
    anything of the offered payload is parsed. Expiry is not checked here: intermediate roots
    may have expired; the caller checks the final one (`TrustListState.update_roots`).
    """
    envelope = parse_envelope(document)
    payload_bytes, signatures = decode_envelope(envelope, ROOT_TYP)
    where = f"root after version {trusted.version}"
    by_old = [signature for signature in signatures if signature.kid in trusted.keys]
    verify_each(by_old, trusted.keys, where)
    check_threshold(signatures, trusted.keys, trusted.threshold, f"old root {trusted.version}")
    new = root_from_payload(json_object(payload_bytes), envelope)
    if new.version <= trusted.version:
        raise TrustListError(
            ErrorCode.TRUST_LIST_ROLLBACK,
            f"root version {new.version} is not newer than the held root {trusted.version}",
        )
    if new.version != trusted.version + 1:
        raise malformed(
            f"root version {new.version} skips versions: after root {trusted.version} "
            f"only {trusted.version + 1} is accepted (walk one version at a time)"
        )
    known = {**trusted.keys, **new.keys}
    check_signatures(signatures, known, f"root version {new.version}")
    check_threshold(signatures, new.keys, new.threshold, f"new root {new.version}")
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
    envelope = parse_envelope(document)
    payload_bytes, signatures = decode_envelope(envelope, TRUST_LIST_TYP)
    where = f"trust list signed under root {root.version}"
    # (2)-(3) every signature by a key of the held root, every signature valid; a list signed
    # under a newer root names keys we do not hold yet, hence "update the root first".
    check_signatures(
        signatures, root.keys, where, hint=" (signed under a newer root? update it first, §7.1)"
    )
    # (4) distinct root keys reach the threshold
    check_threshold(signatures, root.keys, root.threshold, where)
    # (5) only now the members: it parses and has them, `_type` = hc-trustlist
    trust_list = trust_list_from_payload(json_object(payload_bytes), envelope, limits)
    # (6) root_version is the held root's
    _require_root_version(trust_list, root)
    return trust_list


def verify_timestamp(document: Mapping[str, Any] | bytes, root: RootMetadata) -> TimestampDocument:
    """Verify a timestamp (§7.7) against the held root's timestamp keys and return it.

    Every signature must be by a timestamp key of the held root and verify (one suffices);
    `root_version` must be the held root's. Version and expiry rules need the held state
    (`TrustListState.update_timestamp`).
    """
    envelope = parse_envelope(document)
    payload_bytes, signatures = decode_envelope(envelope, TIMESTAMP_TYP)
    where = f"timestamp under root {root.version}"
    if not root.timestamp_keys:
        raise TrustListError(
            ErrorCode.TRUST_LIST_UNKNOWN_ROOT_KEY,
            f"root version {root.version} delegates no timestamp keys",
        )
    check_signatures(signatures, root.timestamp_keys, where)
    payload = json_object(payload_bytes)
    check_type(payload, TIMESTAMP_TYPE)
    version = require_int(payload, "version", 1)
    root_version = require_int(payload, "root_version", 1)
    signed_at = parse_time(payload.get("signed_at"), "timestamp 'signed_at'")
    expires = parse_time(payload.get("expires"), "timestamp 'expires'")
    if expires <= signed_at:
        raise malformed("timestamp 'expires' must be after 'signed_at'")
    if (expires - signed_at).total_seconds() > MAX_TIMESTAMP_VALIDITY_S:
        # Verifiers refuse what the registry never signs: a long-lived timestamp would let a
        # stolen online key pin the trusted time (and its removals) for that long (§7.7).
        raise malformed(
            f"timestamp version {version} is valid from {format_time(signed_at)} to "
            f"{format_time(expires)}; at most 7 days ({MAX_TIMESTAMP_VALIDITY_S} s) allowed"
        )
    named = payload.get("trust_list")
    if not isinstance(named, Mapping):
        raise malformed("timestamp 'trust_list' must be an object")
    trust_list_version = require_int(named, "version", 1)
    revoked_keys = string_set(payload.get("revoked_keys", []), "timestamp 'revoked_keys'")
    suspended = string_set(payload.get("suspended_issuers", []), "timestamp 'suspended_issuers'")
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
    payload = json_object(strict_b64url_decode(payload_b64, "payload"))
    envelope = {"payload": payload_b64, "signatures": []}
    trust_list = trust_list_from_payload(payload, envelope, limits)
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
    envelope = parse_envelope(document)
    payload_bytes, _ = decode_envelope(envelope, None)
    return json_object(payload_bytes)
