"""Verified payloads into models: root, trust list, issuer entries and their keys, strictly."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from healthcode.config import Limits
from healthcode.keys import VerifyingKey
from healthcode.trust import IssuerEntry, IssuerStatus, KeyStatus, Profile, TrustedKey
from healthcode.trustlist.documents import (
    REGION_PATTERN,
    ROOT_TYPE,
    TRUST_LIST_MEMBERS,
    TRUST_LIST_TYPE,
    RootMetadata,
    TrustListDocument,
    malformed,
    parse_time,
)
from healthcode.trustlist.signatures import check_type, load_jwk, require_int


def root_from_payload(payload: Mapping[str, Any], envelope: Mapping[str, Any]) -> RootMetadata:
    check_type(payload, ROOT_TYPE)
    version = require_int(payload, "version", 1)
    expires = parse_time(payload.get("expires"), "root 'expires'")
    raw_keys = payload.get("keys")
    if not isinstance(raw_keys, list) or not raw_keys:
        raise malformed("root 'keys' must be a non-empty array")
    keys: dict[str, VerifyingKey] = {}
    for index, jwk in enumerate(raw_keys):
        key = load_jwk(jwk, f"root key {index}")
        if key.kid in keys:
            raise malformed(f"root key {key.kid!r} is listed twice")
        keys[key.kid] = key
    threshold = require_int(payload, "threshold", 1)
    if threshold > len(keys):
        raise malformed(f"root threshold {threshold} exceeds its {len(keys)} keys")
    raw_timestamp_keys = payload.get("timestamp_keys", [])
    if not isinstance(raw_timestamp_keys, list):
        raise malformed("root 'timestamp_keys' must be an array")
    timestamp_keys: dict[str, VerifyingKey] = {}
    for index, jwk in enumerate(raw_timestamp_keys):
        key = load_jwk(jwk, f"root timestamp key {index}")
        if key.kid in keys or key.kid in timestamp_keys:
            # The online key must never count toward the root threshold.
            raise malformed(f"root timestamp key {key.kid!r} is listed twice or is a root key")
        timestamp_keys[key.kid] = key
    return RootMetadata(
        version, expires, threshold, keys, copy.deepcopy(dict(envelope)), timestamp_keys
    )


def trust_list_from_payload(
    payload: Mapping[str, Any], envelope: Mapping[str, Any], limits: Limits
) -> TrustListDocument:
    check_type(payload, TRUST_LIST_TYPE)
    version = require_int(payload, "version", 1)
    root_version = require_int(payload, "root_version", 1)
    signed_at = parse_time(payload.get("signed_at"), "'signed_at'")
    expires = parse_time(payload.get("expires"), "'expires'")
    if expires <= signed_at:
        raise malformed("'expires' must be after 'signed_at'")
    raw_issuers = payload.get("issuers")
    if not isinstance(raw_issuers, list):
        raise malformed("'issuers' must be an array")
    issuers: list[IssuerEntry] = []
    seen_ids: set[str] = set()
    seen_kids: dict[str, str] = {}
    for index, raw in enumerate(raw_issuers):
        entry = _issuer_from_payload(raw, index, limits)
        if entry.id in seen_ids:
            raise malformed(f"issuer {entry.id!r} is listed twice")
        seen_ids.add(entry.id)
        for trusted in entry.keys:
            # One kid, one issuer: otherwise a key of A could sign codes as B (§7.3).
            if trusted.kid in seen_kids:
                raise malformed(
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
                raise malformed(
                    f"partner key {key.kid!r} of {entry.id!r} is also a key of {owner!r}; "
                    "a kid belongs to one issuer, once"
                )
            partner_owner[key.kid] = entry.id
    extra = {name: value for name, value in payload.items() if name not in TRUST_LIST_MEMBERS}
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
        raise malformed(f"issuer entry {index} is not a JSON object")
    issuer_id = raw.get("id")
    if not isinstance(issuer_id, str) or not issuer_id:
        raise malformed(f"issuer entry {index} has no string 'id'")
    what = f"issuer {issuer_id!r}"
    name = raw.get("name")
    if not isinstance(name, str):
        raise malformed(f"{what} has no string 'name'")
    try:
        status = IssuerStatus(str(raw.get("status")))
        profile = Profile(str(raw.get("profile")))
    except ValueError as exc:
        raise malformed(f"{what}: status or profile not allowed ({exc})") from exc
    region = raw.get("region")
    if region is None:
        if profile is Profile.HC:
            raise malformed(f"{what} is an 'hc' issuer and needs a 6-digit 'region'")
    elif not isinstance(region, str) or not REGION_PATTERN.fullmatch(region):
        raise malformed(f"{what} 'region' must be a 6-digit GB/T 2260 code")
    raw_keys = raw.get("keys")
    if not isinstance(raw_keys, list) or not raw_keys:
        raise malformed(f"{what} needs a non-empty 'keys' array")
    if len(raw_keys) > limits.max_keys_per_issuer:
        raise malformed(
            f"{what} lists {len(raw_keys)} keys; at most {limits.max_keys_per_issuer} allowed"
        )
    keys = tuple(_trusted_key(item, f"{what} key {n}") for n, item in enumerate(raw_keys))
    kids = [trusted.kid for trusted in keys]
    if len(set(kids)) != len(kids):
        raise malformed(f"{what} lists the same key twice")
    raw_partner_keys = raw.get("partner_keys", [])
    if not isinstance(raw_partner_keys, list):
        raise malformed(f"{what} 'partner_keys' must be an array")
    partner_keys = tuple(
        load_jwk(jwk, f"{what} partner key {n}") for n, jwk in enumerate(raw_partner_keys)
    )
    if {key.kid for key in partner_keys} & set(kids):
        raise malformed(f"{what} uses a credential key as a partner key; they must differ")
    raw_endpoints = raw.get("endpoints", {})
    if not isinstance(raw_endpoints, Mapping) or not all(
        isinstance(value, str | None) for value in raw_endpoints.values()
    ):
        raise malformed(f"{what} 'endpoints' must map names to URL strings")
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
        raise malformed(f"{what} is not a JSON object")
    key = load_jwk(raw.get("jwk"), f"{what} jwk")
    try:
        status = KeyStatus(str(raw.get("status")))
    except ValueError as exc:
        raise malformed(f"{what} status not allowed ({exc})") from exc

    def when(name: str) -> int | None:
        value = raw.get(name)
        return None if value is None else int(parse_time(value, f"{what} {name!r}").timestamp())

    not_before, not_after = when("not_before"), when("not_after")
    if status is KeyStatus.RETIRED and not_after is None:
        raise malformed(f"{what} is retired and needs 'not_after'")
    if not_before is not None and not_after is not None and not_after < not_before:
        raise malformed(f"{what} has 'not_after' before 'not_before'")
    return TrustedKey(key, status, not_before, not_after)
