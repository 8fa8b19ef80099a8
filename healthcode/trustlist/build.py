"""Building and signing the documents (registry side): root, trust list, timestamp payloads."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from healthcode.keys import SigningKey, VerifyingKey, b64url_encode
from healthcode.trust import IssuerEntry
from healthcode.trustlist.documents import (
    ALGORITHM,
    MAX_TIMESTAMP_VALIDITY_S,
    ROOT_TYPE,
    SPEC,
    TIMESTAMP_TYPE,
    TRUST_LIST_MEMBERS,
    TRUST_LIST_TYPE,
    format_time,
)
from healthcode.trustlist.signatures import public_jwk


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
        "keys": [public_jwk(key) for key in keys],
        **(
            {"timestamp_keys": [public_jwk(key) for key in timestamp_keys]}
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
                "jwk": public_jwk(trusted.key),
                "status": trusted.status.value,
                "not_before": when(trusted.not_before),
                "not_after": when(trusted.not_after),
            }
            for trusted in entry.keys
        ],
        "partner_keys": [public_jwk(key) for key in entry.partner_keys],
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
    clashes = TRUST_LIST_MEMBERS.intersection(extra or {})
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
