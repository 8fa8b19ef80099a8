"""Trust-list signatures and thresholds, and root rotation (§7).

Attack names are in the test names, as in python-tuf's updater tests.
"""

from __future__ import annotations

import base64
import json

import pytest

from healthcode import ErrorCode, SigningKey, TrustListError
from healthcode.keys import b64url_encode
from healthcode.trustlist import (
    ROOT_TYP,
    TrustListState,
    load_root,
    make_root,
    sign_document,
    trust_list_payload,
    verify_root_update,
    verify_trust_list,
)
from tests.conftest import NOW
from tests.healthcode.trustlist.documents import DAY, error_code, payload_of
from tests.simulators import SIM_NOW, TrustRegistrySimulator, encode, issuer_entry

# -- signatures -------------------------------------------------------------------------------


def test_trust_list_one_byte_changed_refused(
    registry: TrustRegistrySimulator, state: TrustListState
) -> None:
    document = registry.publish()
    # A meaningful edit: the payload still parses, only the signatures no longer match.
    envelope = json.loads(document)
    payload = payload_of(document)
    payload["issuers"][0]["status"] = "suspended"
    envelope["payload"] = b64url_encode(json.dumps(payload).encode())
    with pytest.raises(TrustListError) as excinfo:
        verify_trust_list(encode(envelope), state.root)
    assert error_code(excinfo) is ErrorCode.TRUST_LIST_BAD_SIGNATURE

    # Every single byte flipped: never accepted; refused as altered, or as no longer parsing.
    outcomes = set()
    for index in range(len(document)):
        altered = bytearray(document)
        altered[index] ^= 0x01
        with pytest.raises(TrustListError) as excinfo:
            verify_trust_list(bytes(altered), state.root)
        outcomes.add(error_code(excinfo))
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
    assert error_code(excinfo) is ErrorCode.TRUST_LIST_UNKNOWN_ROOT_KEY

    # Enough genuine signatures do not excuse an extra one by an unknown key.
    mixed = [*registry.root_keys, strangers[0]]
    with pytest.raises(TrustListError) as excinfo:
        verify_trust_list(registry.publish(signers=mixed), state.root)
    assert error_code(excinfo) is ErrorCode.TRUST_LIST_UNKNOWN_ROOT_KEY


def test_below_threshold_refused(registry: TrustRegistrySimulator, state: TrustListState) -> None:
    with pytest.raises(TrustListError) as excinfo:
        verify_trust_list(registry.publish(signers=registry.root_keys[:1]), state.root)
    assert error_code(excinfo) is ErrorCode.TRUST_LIST_THRESHOLD
    assert verify_trust_list(registry.publish(signers=registry.root_keys[:2]), state.root)


def test_same_key_twice_counts_once(
    registry: TrustRegistrySimulator, state: TrustListState
) -> None:
    first, second, _ = registry.root_keys
    with pytest.raises(TrustListError) as excinfo:
        verify_trust_list(registry.publish(signers=[first, first]), state.root)
    assert error_code(excinfo) is ErrorCode.TRUST_LIST_THRESHOLD
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
    assert error_code(excinfo) is ErrorCode.TRUST_LIST_BAD_SIGNATURE


# -- root -------------------------------------------------------------------------------------


def test_pinned_root_must_meet_its_own_threshold(registry: TrustRegistrySimulator) -> None:
    payload = make_root([key.verifying_key for key in registry.root_keys], 2, 1, SIM_NOW + DAY)
    with pytest.raises(TrustListError) as excinfo:
        load_root(sign_document(payload, registry.root_keys[:1], ROOT_TYP))
    assert error_code(excinfo) is ErrorCode.TRUST_LIST_THRESHOLD
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
    assert error_code(excinfo) is ErrorCode.TRUST_LIST_THRESHOLD

    taken = state.update_roots([root2, root3], NOW)
    assert [root.version for root in taken] == [2, 3]
    assert state.root.version == 3
    with pytest.raises(TrustListError) as excinfo:
        verify_root_update(state.root, root2)
    # An old root is refused before its version is read: root 3's keys never signed it.
    assert error_code(excinfo) is ErrorCode.TRUST_LIST_THRESHOLD

    # Lists must now be signed by root 3's keys and name root 3.
    assert state.update(registry.publish(), NOW)
    with pytest.raises(TrustListError) as excinfo:
        state.update(registry.publish(version=5, root_version=2), NOW)
    assert error_code(excinfo) is ErrorCode.TRUST_LIST_ROLLBACK


def test_compromised_root_key_is_replaced_by_remaining_threshold(
    registry: TrustRegistrySimulator, state: TrustListState
) -> None:
    stolen, *remaining = registry.root_keys
    new_keys = [*remaining, SigningKey.generate()]
    state.update_roots([registry.rotate_root(new_keys, 2, signers=new_keys)], NOW)
    with pytest.raises(TrustListError) as excinfo:
        state.update(registry.publish(signers=[stolen, remaining[0]]), NOW)
    assert error_code(excinfo) is ErrorCode.TRUST_LIST_UNKNOWN_ROOT_KEY


def test_final_root_expired_refused_intermediate_allowed(
    registry: TrustRegistrySimulator, state: TrustListState
) -> None:
    expired_root = registry.rotate_root(
        [SigningKey.generate() for _ in range(2)], 2, expires=SIM_NOW - DAY
    )
    with pytest.raises(TrustListError) as excinfo:
        state.update_roots([expired_root], NOW)
    assert error_code(excinfo) is ErrorCode.TRUST_LIST_EXPIRED
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
