"""Trust-list format (§7): members, issuer entries, time format, and the order of checks.

Attack names are in the test names, as in python-tuf's updater tests.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from healthcode import (
    ErrorCode,
    IssuerStatus,
    KeyStatus,
    Limits,
    Profile,
    SigningKey,
    TrustedKey,
    TrustListError,
)
from healthcode.keys import b64url_encode
from healthcode.trustlist import (
    TRUST_LIST_TYP,
    TrustListState,
    format_time,
    issuer_entry_payload,
    parse_time,
    sign_document,
    trust_list_payload,
    verify_trust_list,
)
from tests.conftest import NOW
from tests.healthcode.trustlist.documents import DAY, error_code, payload_of, relist
from tests.simulators import SIM_NOW, TrustRegistrySimulator, encode, issuer_entry

# -- format -----------------------------------------------------------------------------------


def test_signed_list_verifies_and_maps_issuer_entries(
    registry: TrustRegistrySimulator, state: TrustListState, issuer_key: SigningKey
) -> None:
    partner = SigningKey.generate()
    old = SigningKey.generate()
    registry.issuers = [
        issuer_entry(
            "cn-sc",
            "510000",
            issuer_key,
            keys=(
                TrustedKey(issuer_key.verifying_key, KeyStatus.ACTIVE, NOW - 100, None),
                TrustedKey(old.verifying_key, KeyStatus.RETIRED, NOW - 1000, NOW - 100),
            ),
            partner_keys=(partner.verifying_key,),
            endpoints={"partner_api": "https://sc.example.cn/partner/v1", "jwks": "https://j"},
        ),
        issuer_entry(
            "https://spec.smarthealth.cards/examples/issuer",
            None,
            SigningKey.generate(),
            profile=Profile.SHC,
            status=IssuerStatus.SUSPENDED,
        ),
    ]
    trust_list = verify_trust_list(registry.publish(), state.root)

    assert trust_list.version == 1
    assert trust_list.root_version == 1
    assert trust_list.signed_at == SIM_NOW
    sc, shc = trust_list.issuers
    assert sc == registry.issuers[0]  # every member survives the trip through JSON
    assert shc.profile is Profile.SHC
    assert shc.region is None
    assert shc.status is IssuerStatus.SUSPENDED


def test_unknown_members_preserved_on_round_trip(
    registry: TrustRegistrySimulator, state: TrustListState, issuer_key: SigningKey
) -> None:
    entry = issuer_entry_payload(issuer_entry("cn-sc", "510000", issuer_key))
    entry["x_contact"] = {"phone": "028-12345678"}
    registry.issuers = [entry]
    first = verify_trust_list(registry.publish(extra={"x_notice": "演练"}), state.root)
    assert first.extra == {"x_notice": "演练"}
    assert first.payload["issuers"][0]["x_contact"] == {"phone": "028-12345678"}

    # A registry re-publishing from the verified payload keeps what it does not understand.
    registry.issuers = list(first.payload["issuers"])
    second = verify_trust_list(registry.publish(version=2, extra=first.extra), state.root)
    assert second.payload["issuers"] == first.payload["issuers"]
    assert second.extra == first.extra


def test_time_format_is_exact() -> None:
    assert format_time(NOW) == "2026-09-21T14:13:20Z"
    assert parse_time("2026-09-21T14:13:20Z", "t") == SIM_NOW
    for bad in ["2026-09-21T08:53:20+00:00", "2026-9-21T08:53:20Z", "2026-02-30T00:00:00Z", 5]:
        with pytest.raises(TrustListError) as excinfo:
            parse_time(bad, "t")
        assert error_code(excinfo) is ErrorCode.TRUST_LIST_MALFORMED


@pytest.mark.parametrize(
    ("case", "mutate"),
    [
        ("no region for hc", lambda e: e.update(region=None)),
        ("region not 6 digits", lambda e: e.update(region="51")),
        ("unknown status", lambda e: e.update(status="paused")),
        ("unknown profile", lambda e: e.update(profile="x")),
        ("no keys", lambda e: e.update(keys=[])),
        ("kid not thumbprint", lambda e: e["keys"][0]["jwk"].update(kid="abc")),
        ("private key member", lambda e: e["keys"][0]["jwk"].update(d="AAAA")),
        ("retired without not_after", lambda e: e["keys"][0].update(status="retired")),
        ("bad not_before", lambda e: e["keys"][0].update(not_before="yesterday")),
        ("same key twice", lambda e: e["keys"].append(e["keys"][0])),
        ("partner key = credential key", lambda e: e.update(partner_keys=[e["keys"][0]["jwk"]])),
        ("endpoints not strings", lambda e: e.update(endpoints={"jwks": 5})),
    ],
)
def test_bad_issuer_entry_is_malformed(
    registry: TrustRegistrySimulator,
    state: TrustListState,
    case: str,
    mutate: Callable[[dict[str, Any]], None],
) -> None:
    with pytest.raises(TrustListError) as excinfo:
        verify_trust_list(relist(registry, mutate), state.root)
    assert error_code(excinfo) is ErrorCode.TRUST_LIST_MALFORMED, case


def test_duplicate_kid_across_issuers_is_malformed(
    registry: TrustRegistrySimulator, state: TrustListState, issuer_key: SigningKey
) -> None:
    # Key of cn-sc also listed for cn-gd: a cn-gd code could be signed by Sichuan's key.
    registry.issuers.append(issuer_entry("cn-gd", "440000", issuer_key))
    with pytest.raises(TrustListError) as excinfo:
        verify_trust_list(registry.publish(), state.root)
    assert error_code(excinfo) is ErrorCode.TRUST_LIST_MALFORMED
    assert "cn-gd" in excinfo.value.message


def test_more_keys_than_limit_is_malformed(
    registry: TrustRegistrySimulator, state: TrustListState, issuer_key: SigningKey
) -> None:
    keys = tuple(TrustedKey(SigningKey.generate().verifying_key) for _ in range(3))
    registry.issuers = [issuer_entry("cn-sc", "510000", issuer_key, keys=keys)]
    document = registry.publish()
    assert verify_trust_list(document, state.root, limits=Limits(max_keys_per_issuer=3))
    with pytest.raises(TrustListError) as excinfo:
        verify_trust_list(document, state.root, limits=Limits(max_keys_per_issuer=2))
    assert error_code(excinfo) is ErrorCode.TRUST_LIST_MALFORMED


@pytest.mark.parametrize(
    "document",
    [
        b"",
        b"[]",
        b'{"payload": 5, "signatures": []}',
        b'{"payload": "e30", "signatures": []}',
        b"\xff\xfe",
    ],
)
def test_unparseable_document_is_malformed(state: TrustListState, document: bytes) -> None:
    with pytest.raises(TrustListError) as excinfo:
        verify_trust_list(document, state.root)
    assert error_code(excinfo) is ErrorCode.TRUST_LIST_MALFORMED


def test_missing_member_is_malformed(
    registry: TrustRegistrySimulator, state: TrustListState
) -> None:
    payload = payload_of(registry.publish())
    for member in ["_type", "version", "root_version", "signed_at", "expires", "issuers"]:
        broken = {name: value for name, value in payload.items() if name != member}
        document = encode(sign_document(broken, registry.root_keys, TRUST_LIST_TYP))
        with pytest.raises(TrustListError) as excinfo:
            verify_trust_list(document, state.root)
        assert error_code(excinfo) is ErrorCode.TRUST_LIST_MALFORMED, member


def test_root_offered_as_trust_list_is_malformed(
    registry: TrustRegistrySimulator, state: TrustListState
) -> None:
    # Type confusion: a validly signed root must not pass as a trust list.
    with pytest.raises(TrustListError) as excinfo:
        verify_trust_list(registry.roots[1], state.root)
    assert error_code(excinfo) is ErrorCode.TRUST_LIST_MALFORMED


def test_protected_header_with_extra_member_is_malformed(
    registry: TrustRegistrySimulator, state: TrustListState
) -> None:
    envelope = json.loads(registry.publish())
    key = registry.root_keys[0]
    header = {"alg": "ES256", "kid": key.kid, "typ": TRUST_LIST_TYP, "x5u": "https://evil"}
    protected = b64url_encode(json.dumps(header).encode())
    signed = sign_document({}, [key], TRUST_LIST_TYP)  # only to get a real signature shape
    envelope["signatures"][0] = {
        "protected": protected,
        "signature": signed["signatures"][0]["signature"],
    }
    with pytest.raises(TrustListError) as excinfo:
        verify_trust_list(encode(envelope), state.root)
    assert error_code(excinfo) is ErrorCode.TRUST_LIST_MALFORMED


# -- order of checks and key uniqueness (§7.2, §7.3) -------------------------------------------


def test_unsigned_members_are_never_parsed(
    registry: TrustRegistrySimulator, state: TrustListState, issuer_key: SigningKey
) -> None:
    # A forger's list with a broken issuer JWK: refused for its signer, before any JWK work.
    bad_entry = issuer_entry_payload(issuer_entry("cn-sc", "510000", issuer_key))
    bad_entry["keys"][0]["jwk"] = {"kty": "EC", "crv": "P-256", "x": "!", "y": "!", "kid": "k"}
    payload = trust_list_payload(1, 1, SIM_NOW, SIM_NOW + DAY, [bad_entry])
    forged = encode(sign_document(payload, [SigningKey.generate()], TRUST_LIST_TYP))
    with pytest.raises(TrustListError) as excinfo:
        state.update(forged, NOW)
    assert error_code(excinfo) is ErrorCode.TRUST_LIST_UNKNOWN_ROOT_KEY
    # Signed by one root key only (threshold 2): refused for the threshold, not the JWK.
    below = encode(sign_document(payload, registry.root_keys[:1], TRUST_LIST_TYP))
    with pytest.raises(TrustListError) as excinfo:
        state.update(below, NOW)
    assert error_code(excinfo) is ErrorCode.TRUST_LIST_THRESHOLD
    # Jointly signed: only then is the JWK read, and found malformed.
    signed = encode(sign_document(payload, registry.root_keys, TRUST_LIST_TYP))
    with pytest.raises(TrustListError) as excinfo:
        state.update(signed, NOW)
    assert error_code(excinfo) is ErrorCode.TRUST_LIST_MALFORMED


def test_partner_kid_shared_across_issuers_is_malformed(
    registry: TrustRegistrySimulator, state: TrustListState, issuer_key: SigningKey
) -> None:
    partner = SigningKey.generate()
    other_key = SigningKey.generate()
    same_partner_key = [
        issuer_entry("cn-sc", "510000", issuer_key, partner_keys=(partner.verifying_key,)),
        issuer_entry("cn-gd", "440000", other_key, partner_keys=(partner.verifying_key,)),
    ]
    partner_is_other_credential_key = [
        issuer_entry("cn-sc", "510000", issuer_key, partner_keys=(other_key.verifying_key,)),
        issuer_entry("cn-gd", "440000", other_key),
    ]
    for issuers in (same_partner_key, partner_is_other_credential_key):
        registry.issuers = list(issuers)
        with pytest.raises(TrustListError) as excinfo:
            state.update(registry.publish(), NOW)
        assert error_code(excinfo) is ErrorCode.TRUST_LIST_MALFORMED
        assert "belongs to one issuer" in excinfo.value.message


def test_list_naming_a_newer_root_than_held_is_refused(
    registry: TrustRegistrySimulator, state: TrustListState
) -> None:
    # Signed by the held root's keys but claiming a root the verifier has not seen: it must
    # fetch that root first (§7.2 item 6), not take the list on the old root's word.
    with pytest.raises(TrustListError) as excinfo:
        verify_trust_list(registry.publish(root_version=state.root.version + 1), state.root)
    assert error_code(excinfo) is ErrorCode.TRUST_LIST_UNKNOWN_ROOT_KEY
    assert "update the root" in str(excinfo.value)
