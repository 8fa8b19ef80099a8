"""The signed trust list and root (§7): format, signatures, thresholds and update rules.

Attack names are in the test names, as in python-tuf's updater tests.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from healthcode import (
    Check,
    CheckOutcome,
    ErrorCode,
    IssuerEntry,
    IssuerStatus,
    KeyStatus,
    Limits,
    Profile,
    SigningKey,
    TrustedKey,
    TrustListError,
    TrustUnavailable,
    verify_credential,
)
from healthcode.keys import b64url_encode
from healthcode.trustlist import (
    MAX_TIMESTAMP_VALIDITY_S,
    ROOT_TYP,
    TIMESTAMP_TYP,
    TRUST_LIST_TYP,
    TrustListState,
    format_time,
    issuer_entry_payload,
    load_root,
    make_root,
    parse_time,
    sign_document,
    timestamp_payload,
    trust_list_payload,
    verify_root_update,
    verify_trust_list,
)
from tests.conftest import NOW
from tests.simulators import SIM_NOW, TrustRegistrySimulator, encode, issuer_entry

MakeToken = Callable[..., str]
DAY = timedelta(days=1)


@pytest.fixture
def registry(issuer_key: SigningKey) -> TrustRegistrySimulator:
    """A registry (3 root keys, threshold 2) listing cn-sc with the session issuer key."""
    sim = TrustRegistrySimulator()
    sim.issuers = [issuer_entry("cn-sc", "510000", issuer_key)]
    return sim


@pytest.fixture
def state(registry: TrustRegistrySimulator) -> TrustListState:
    return TrustListState(load_root(registry.pinned_root))


def _code(excinfo: pytest.ExceptionInfo[TrustListError]) -> ErrorCode:
    return excinfo.value.code


def _payload(document: bytes) -> dict[str, Any]:
    envelope = json.loads(document)
    payload: dict[str, Any] = json.loads(base64.urlsafe_b64decode(envelope["payload"] + "=="))
    return payload


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
        assert _code(excinfo) is ErrorCode.TRUST_LIST_MALFORMED


def _relist(registry: TrustRegistrySimulator, mutate: Callable[[dict[str, Any]], None]) -> bytes:
    """The current issuers, changed by `mutate` on the first entry's JSON, signed properly."""
    entries: list[dict[str, Any]] = [
        issuer_entry_payload(item) if isinstance(item, IssuerEntry) else dict(item)
        for item in registry.issuers
    ]
    mutate(entries[0])
    registry.issuers = list(entries)
    return registry.publish()


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
        verify_trust_list(_relist(registry, mutate), state.root)
    assert _code(excinfo) is ErrorCode.TRUST_LIST_MALFORMED, case


def test_duplicate_kid_across_issuers_is_malformed(
    registry: TrustRegistrySimulator, state: TrustListState, issuer_key: SigningKey
) -> None:
    # Key of cn-sc also listed for cn-gd: a cn-gd code could be signed by Sichuan's key.
    registry.issuers.append(issuer_entry("cn-gd", "440000", issuer_key))
    with pytest.raises(TrustListError) as excinfo:
        verify_trust_list(registry.publish(), state.root)
    assert _code(excinfo) is ErrorCode.TRUST_LIST_MALFORMED
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
    assert _code(excinfo) is ErrorCode.TRUST_LIST_MALFORMED


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
    assert _code(excinfo) is ErrorCode.TRUST_LIST_MALFORMED


def test_missing_member_is_malformed(
    registry: TrustRegistrySimulator, state: TrustListState
) -> None:
    payload = _payload(registry.publish())
    for member in ["_type", "version", "root_version", "signed_at", "expires", "issuers"]:
        broken = {name: value for name, value in payload.items() if name != member}
        document = encode(sign_document(broken, registry.root_keys, TRUST_LIST_TYP))
        with pytest.raises(TrustListError) as excinfo:
            verify_trust_list(document, state.root)
        assert _code(excinfo) is ErrorCode.TRUST_LIST_MALFORMED, member


def test_root_offered_as_trust_list_is_malformed(
    registry: TrustRegistrySimulator, state: TrustListState
) -> None:
    # Type confusion: a validly signed root must not pass as a trust list.
    with pytest.raises(TrustListError) as excinfo:
        verify_trust_list(registry.roots[1], state.root)
    assert _code(excinfo) is ErrorCode.TRUST_LIST_MALFORMED


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
    assert _code(excinfo) is ErrorCode.TRUST_LIST_MALFORMED


# -- signatures -------------------------------------------------------------------------------


def test_trust_list_one_byte_changed_refused(
    registry: TrustRegistrySimulator, state: TrustListState
) -> None:
    document = registry.publish()
    # A meaningful edit: the payload still parses, only the signatures no longer match.
    envelope = json.loads(document)
    payload = _payload(document)
    payload["issuers"][0]["status"] = "suspended"
    envelope["payload"] = b64url_encode(json.dumps(payload).encode())
    with pytest.raises(TrustListError) as excinfo:
        verify_trust_list(encode(envelope), state.root)
    assert _code(excinfo) is ErrorCode.TRUST_LIST_BAD_SIGNATURE

    # Every single byte flipped: never accepted; refused as altered, or as no longer parsing.
    outcomes = set()
    for index in range(len(document)):
        altered = bytearray(document)
        altered[index] ^= 0x01
        with pytest.raises(TrustListError) as excinfo:
            verify_trust_list(bytes(altered), state.root)
        outcomes.add(_code(excinfo))
    assert ErrorCode.TRUST_LIST_BAD_SIGNATURE in outcomes
    assert outcomes <= {
        ErrorCode.TRUST_LIST_BAD_SIGNATURE,
        ErrorCode.TRUST_LIST_MALFORMED,
        ErrorCode.TRUST_LIST_UNKNOWN_ROOT_KEY,  # the flip landed in a signature's kid
    }


def test_trust_list_signed_by_unknown_root_refused(
    registry: TrustRegistrySimulator, state: TrustListState
) -> None:
    strangers = [SigningKey.generate(), SigningKey.generate()]
    with pytest.raises(TrustListError) as excinfo:
        verify_trust_list(registry.publish(signers=strangers), state.root)
    assert _code(excinfo) is ErrorCode.TRUST_LIST_UNKNOWN_ROOT_KEY

    # Enough genuine signatures do not excuse an extra one by an unknown key.
    mixed = [*registry.root_keys, strangers[0]]
    with pytest.raises(TrustListError) as excinfo:
        verify_trust_list(registry.publish(signers=mixed), state.root)
    assert _code(excinfo) is ErrorCode.TRUST_LIST_UNKNOWN_ROOT_KEY


def test_below_threshold_refused(registry: TrustRegistrySimulator, state: TrustListState) -> None:
    with pytest.raises(TrustListError) as excinfo:
        verify_trust_list(registry.publish(signers=registry.root_keys[:1]), state.root)
    assert _code(excinfo) is ErrorCode.TRUST_LIST_THRESHOLD
    assert verify_trust_list(registry.publish(signers=registry.root_keys[:2]), state.root)


def test_same_key_twice_counts_once(
    registry: TrustRegistrySimulator, state: TrustListState
) -> None:
    first, second, _ = registry.root_keys
    with pytest.raises(TrustListError) as excinfo:
        verify_trust_list(registry.publish(signers=[first, first]), state.root)
    assert _code(excinfo) is ErrorCode.TRUST_LIST_THRESHOLD
    assert verify_trust_list(registry.publish(signers=[first, first, second]), state.root)


def test_one_bad_signature_among_good_ones_refused(
    registry: TrustRegistrySimulator, state: TrustListState
) -> None:
    envelope = json.loads(registry.publish())
    forged = bytearray(base64.urlsafe_b64decode(envelope["signatures"][2]["signature"] + "=="))
    forged[10] ^= 0xFF
    envelope["signatures"][2]["signature"] = b64url_encode(bytes(forged))
    with pytest.raises(TrustListError) as excinfo:
        verify_trust_list(encode(envelope), state.root)
    assert _code(excinfo) is ErrorCode.TRUST_LIST_BAD_SIGNATURE


# -- update rules (§7.6) ----------------------------------------------------------------------


def test_trust_list_rollback_refused(
    registry: TrustRegistrySimulator, state: TrustListState
) -> None:
    old = registry.publish(version=1)
    assert state.update(old, NOW)
    assert state.update(registry.publish(version=2), NOW)
    with pytest.raises(TrustListError) as excinfo:
        state.update(old, NOW)
    assert _code(excinfo) is ErrorCode.TRUST_LIST_ROLLBACK
    assert state.trust_list is not None
    assert state.trust_list.version == 2
    assert state.trust_store(NOW).version == 2


def test_equal_version_keeps_held_list(
    registry: TrustRegistrySimulator, state: TrustListState, issuer_key: SigningKey
) -> None:
    assert state.update(registry.publish(version=3), NOW)
    # Same version, different content (a registry mistake or a mix-and-match): keep ours.
    registry.issuers.append(issuer_entry("cn-gd", "440000", SigningKey.generate()))
    assert state.update(registry.publish(version=3), NOW) is False
    assert state.trust_list is not None
    assert [issuer.id for issuer in state.trust_list.issuers] == ["cn-sc"]


def test_expired_trust_list_refused_freeze(
    registry: TrustRegistrySimulator, state: TrustListState
) -> None:
    assert state.update(registry.publish(version=1), NOW)
    # An attacker replays a genuinely signed, newer, but expired list to freeze updates.
    stale = registry.publish(version=2, signed_at=SIM_NOW - 8 * DAY, expires=SIM_NOW - DAY)
    with pytest.raises(TrustListError) as excinfo:
        state.update(stale, NOW)
    assert _code(excinfo) is ErrorCode.TRUST_LIST_EXPIRED
    assert state.trust_list is not None
    assert state.trust_list.version == 1


def test_expired_held_list_still_rollback_floor(
    registry: TrustRegistrySimulator,
    state: TrustListState,
    make_token: MakeToken,
) -> None:
    held = registry.publish(
        version=5, signed_at=SIM_NOW - 7 * DAY, expires=SIM_NOW - timedelta(seconds=600)
    )
    assert state.update(held, NOW - 3600)  # taken while it was current
    older_but_fresh = registry.publish(version=4, expires=SIM_NOW + 7 * DAY)
    with pytest.raises(TrustListError) as excinfo:
        state.update(older_but_fresh, NOW)
    assert _code(excinfo) is ErrorCode.TRUST_LIST_ROLLBACK

    # Past expiry the held list still verifies during the grace period, reported stale ...
    store = state.trust_store(NOW)
    assert store.version == 5
    result = verify_credential(make_token(), store, NOW)
    assert result.valid, result.message
    assert result.checks[Check.TRUST_LIST] is CheckOutcome.STALE
    # ... and after it, verification fails with trust_list_expired (§6 step 0).
    late = NOW + 86400
    result = verify_credential(make_token(now=late), store, late)
    assert result.error is ErrorCode.TRUST_LIST_EXPIRED


def test_list_signed_ahead_of_clock_is_taken_and_reports_clock_behind(
    registry: TrustRegistrySimulator, state: TrustListState, make_token: MakeToken
) -> None:
    # §7.5: never refuse a list because of our clock; verification says the clock is wrong.
    assert state.update(registry.publish(signed_at=SIM_NOW + DAY), NOW)
    result = verify_credential(make_token(), state.trust_store(NOW), NOW)
    assert result.error is ErrorCode.CLOCK_BEHIND


def test_no_list_held_is_unavailable(state: TrustListState) -> None:
    with pytest.raises(TrustUnavailable) as excinfo:
        state.trust_store(NOW)
    assert excinfo.value.code is ErrorCode.TRUST_LIST_UNAVAILABLE


def test_trust_store_carries_keys_status_and_signed_time(
    registry: TrustRegistrySimulator,
    state: TrustListState,
    issuer_key: SigningKey,
    make_token: MakeToken,
) -> None:
    assert state.update(registry.publish(), NOW)
    store = state.trust_store(NOW)
    assert (store.version, store.signed_at) == (1, NOW)
    assert store.expires_at == NOW + 7 * 86400
    assert store.stale_grace_s == 86400
    assert verify_credential(make_token(), store, NOW).valid

    # Compromise (§7.4): the registry revokes the key; every code it signed now fails.
    registry.issuers = [
        issuer_entry(
            "cn-sc",
            "510000",
            issuer_key,
            keys=(TrustedKey(issuer_key.verifying_key, KeyStatus.REVOKED),),
        )
    ]
    assert state.update(registry.publish(), NOW)
    result = verify_credential(make_token(), state.trust_store(NOW), NOW)
    assert result.error is ErrorCode.KEY_REVOKED


# -- root -------------------------------------------------------------------------------------


def test_pinned_root_must_meet_its_own_threshold(registry: TrustRegistrySimulator) -> None:
    payload = make_root([key.verifying_key for key in registry.root_keys], 2, 1, SIM_NOW + DAY)
    with pytest.raises(TrustListError) as excinfo:
        load_root(sign_document(payload, registry.root_keys[:1], ROOT_TYP))
    assert _code(excinfo) is ErrorCode.TRUST_LIST_THRESHOLD
    with pytest.raises(ValueError, match="threshold"):
        make_root([key.verifying_key for key in registry.root_keys], 4, 1, SIM_NOW + DAY)


def test_root_rotation_requires_old_and_new_threshold(
    registry: TrustRegistrySimulator, state: TrustListState
) -> None:
    old_keys = list(registry.root_keys)
    new_keys = [SigningKey.generate() for _ in range(3)]
    payload = make_root([key.verifying_key for key in new_keys], 2, 2, SIM_NOW + 365 * DAY)

    def attempt(signers: list[SigningKey]) -> ErrorCode | None:
        try:
            verify_root_update(state.root, sign_document(payload, signers, ROOT_TYP))
        except TrustListError as error:
            return error.code
        return None

    # Stolen new keys alone cannot take over; old keys alone cannot install keys nobody holds.
    assert attempt(new_keys) is ErrorCode.TRUST_LIST_THRESHOLD
    assert attempt(old_keys) is ErrorCode.TRUST_LIST_THRESHOLD
    assert attempt([old_keys[0], *new_keys]) is ErrorCode.TRUST_LIST_THRESHOLD
    assert attempt([*old_keys[:2], new_keys[0]]) is ErrorCode.TRUST_LIST_THRESHOLD
    assert attempt([*old_keys[:2], SigningKey.generate()]) is (
        ErrorCode.TRUST_LIST_UNKNOWN_ROOT_KEY
    )
    assert attempt([*old_keys[:2], *new_keys[:2]]) is None


def test_root_rotation_walks_one_version_at_a_time(
    registry: TrustRegistrySimulator, state: TrustListState
) -> None:
    root2 = registry.rotate_root([SigningKey.generate() for _ in range(3)], 2)
    root3 = registry.rotate_root([SigningKey.generate() for _ in range(2)], 1)
    with pytest.raises(TrustListError) as excinfo:
        verify_root_update(state.root, root3)  # skipping root 2
    # Root 3 carries no signature by the keys of root 1, and those are checked first (§7.1).
    assert _code(excinfo) is ErrorCode.TRUST_LIST_THRESHOLD

    taken = state.update_roots([root2, root3], NOW)
    assert [root.version for root in taken] == [2, 3]
    assert state.root.version == 3
    with pytest.raises(TrustListError) as excinfo:
        verify_root_update(state.root, root2)
    # An old root is refused before its version is read: root 3's keys never signed it.
    assert _code(excinfo) is ErrorCode.TRUST_LIST_THRESHOLD

    # Lists must now be signed by root 3's keys and name root 3.
    assert state.update(registry.publish(), NOW)
    with pytest.raises(TrustListError) as excinfo:
        state.update(registry.publish(version=5, root_version=2), NOW)
    assert _code(excinfo) is ErrorCode.TRUST_LIST_ROLLBACK


def test_compromised_root_key_is_replaced_by_remaining_threshold(
    registry: TrustRegistrySimulator, state: TrustListState
) -> None:
    stolen, *remaining = registry.root_keys
    new_keys = [*remaining, SigningKey.generate()]
    state.update_roots([registry.rotate_root(new_keys, 2, signers=new_keys)], NOW)
    with pytest.raises(TrustListError) as excinfo:
        state.update(registry.publish(signers=[stolen, remaining[0]]), NOW)
    assert _code(excinfo) is ErrorCode.TRUST_LIST_UNKNOWN_ROOT_KEY


def test_final_root_expired_refused_intermediate_allowed(
    registry: TrustRegistrySimulator, state: TrustListState
) -> None:
    expired_root = registry.rotate_root(
        [SigningKey.generate() for _ in range(2)], 2, expires=SIM_NOW - DAY
    )
    with pytest.raises(TrustListError) as excinfo:
        state.update_roots([expired_root], NOW)
    assert _code(excinfo) is ErrorCode.TRUST_LIST_EXPIRED
    assert state.root.version == 1  # all or nothing

    fresh_root = registry.rotate_root([SigningKey.generate() for _ in range(2)], 1)
    state.update_roots([expired_root, fresh_root], NOW)
    assert state.root.version == 3


def test_payload_builder_refuses_misuse(issuer_key: SigningKey) -> None:
    entries = [issuer_entry("cn-sc", "510000", issuer_key)]
    with pytest.raises(ValueError, match="expires"):
        trust_list_payload(1, 1, SIM_NOW, SIM_NOW, entries)
    with pytest.raises(ValueError, match="clash"):
        trust_list_payload(1, 1, SIM_NOW, SIM_NOW + DAY, entries, extra={"version": 9})


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
    assert _code(excinfo) is ErrorCode.TRUST_LIST_UNKNOWN_ROOT_KEY
    # Signed by one root key only (threshold 2): refused for the threshold, not the JWK.
    below = encode(sign_document(payload, registry.root_keys[:1], TRUST_LIST_TYP))
    with pytest.raises(TrustListError) as excinfo:
        state.update(below, NOW)
    assert _code(excinfo) is ErrorCode.TRUST_LIST_THRESHOLD
    # Jointly signed: only then is the JWK read, and found malformed.
    signed = encode(sign_document(payload, registry.root_keys, TRUST_LIST_TYP))
    with pytest.raises(TrustListError) as excinfo:
        state.update(signed, NOW)
    assert _code(excinfo) is ErrorCode.TRUST_LIST_MALFORMED


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
        assert _code(excinfo) is ErrorCode.TRUST_LIST_MALFORMED
        assert "belongs to one issuer" in excinfo.value.message


def test_list_naming_a_newer_root_than_held_is_refused(
    registry: TrustRegistrySimulator, state: TrustListState
) -> None:
    # Signed by the held root's keys but claiming a root the verifier has not seen: it must
    # fetch that root first (§7.2 item 6), not take the list on the old root's word.
    with pytest.raises(TrustListError) as excinfo:
        verify_trust_list(registry.publish(root_version=state.root.version + 1), state.root)
    assert _code(excinfo) is ErrorCode.TRUST_LIST_UNKNOWN_ROOT_KEY
    assert "update the root" in str(excinfo.value)


# -- timestamp role (§7.7) --------------------------------------------------------------------


@pytest.fixture
def stamped(issuer_key: SigningKey) -> TrustRegistrySimulator:
    """A registry whose root delegates an online timestamp key, with a list signed at NOW."""
    sim = TrustRegistrySimulator(with_timestamp=True)
    sim.issuers = [issuer_entry("cn-sc", "510000", issuer_key)]
    sim.publish()
    return sim


def test_stolen_timestamp_key_rotated_out_stops_pinning_the_clock(
    stamped: TrustRegistrySimulator, make_token: MakeToken
) -> None:
    state = TrustListState(load_root(stamped.pinned_root))
    assert state.update(stamped.served or b"", NOW)
    stolen = stamped.timestamp_key
    assert stolen is not None
    # The thief signs a timestamp a month ahead: every verifier now says clock_behind.
    ahead = stamped.publish_timestamp(signed_at=SIM_NOW + 30 * DAY)
    assert state.update_timestamp(ahead, NOW)
    assert state.trusted_time == NOW + 30 * DAY.total_seconds()
    token = make_token(now=NOW)
    assert verify_credential(token, state.trust_store(), NOW).error is ErrorCode.CLOCK_BEHIND
    # The officers replace the online key in root 2 (same root keys).
    stamped.timestamp_key = SigningKey.generate()
    state.update_roots([stamped.rotate_root(stamped.root_keys, 2)], NOW)
    # The held timestamp was signed by a key no longer trusted: it and the mark it set go.
    assert state.timestamp is None
    assert state.trusted_time == NOW  # the held list's signed_at, signed by the root keys
    assert verify_credential(token, state.trust_store(), NOW).valid
    # A further timestamp by the stolen key is refused; the new key's is taken.
    with pytest.raises(TrustListError) as excinfo:
        state.update_timestamp(stamped.publish_timestamp(signer=stolen), NOW)
    assert _code(excinfo) is ErrorCode.TRUST_LIST_UNKNOWN_ROOT_KEY
    assert state.update_timestamp(stamped.publish_timestamp(signed_at=SIM_NOW), NOW)


def test_root_update_keeping_the_timestamp_key_keeps_the_timestamp_and_mark(
    stamped: TrustRegistrySimulator,
) -> None:
    state = TrustListState(load_root(stamped.pinned_root))
    state.update(stamped.served or b"", NOW)
    state.update_timestamp(stamped.publish_timestamp(signed_at=SIM_NOW + DAY / 2), NOW)
    state.note_trusted_time(NOW + 3 * 3600)
    state.update_roots([stamped.rotate_root([SigningKey.generate() for _ in range(3)], 2)], NOW)
    assert state.timestamp is not None
    assert state.trusted_time == NOW + DAY.total_seconds() / 2


def test_timestamp_valid_for_over_seven_days_is_refused(stamped: TrustRegistrySimulator) -> None:
    state = TrustListState(load_root(stamped.pinned_root))
    state.update(stamped.served or b"", NOW)
    assert MAX_TIMESTAMP_VALIDITY_S == 7 * 86400
    # Exactly the bound is allowed ...
    week = timedelta(seconds=MAX_TIMESTAMP_VALIDITY_S)
    assert state.update_timestamp(stamped.publish_timestamp(expires=SIM_NOW + week), NOW)
    # ... a second more is not: a stolen key must not sign a timestamp valid for a year.
    too_long = _sign_timestamp(stamped, expires=SIM_NOW + week + timedelta(seconds=1))
    with pytest.raises(TrustListError) as excinfo:
        state.update_timestamp(too_long, NOW)
    assert _code(excinfo) is ErrorCode.TRUST_LIST_MALFORMED
    assert "7 days" in excinfo.value.message
    with pytest.raises(ValueError, match="at most"):
        timestamp_payload(1, 1, SIM_NOW, SIM_NOW + week + timedelta(seconds=1), 1)


def _sign_timestamp(stamped: TrustRegistrySimulator, *, expires: Any) -> bytes:
    """A timestamp the payload builder would refuse to make (signed by the real online key)."""
    payload = timestamp_payload(9, 1, SIM_NOW, SIM_NOW + DAY, 1)
    payload["expires"] = format_time(expires)
    assert stamped.timestamp_key is not None
    return encode(sign_document(payload, [stamped.timestamp_key], TIMESTAMP_TYP))


def test_note_trusted_time_refuses_non_finite_values() -> None:
    state = TrustListState(load_root(TrustRegistrySimulator().pinned_root))
    for value in (float("nan"), float("inf"), float("-inf")):
        with pytest.raises(ValueError, match="finite"):
            state.note_trusted_time(value)
    assert state.trusted_time == 0.0
