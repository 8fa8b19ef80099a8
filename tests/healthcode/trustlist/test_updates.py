"""Trust-list update rules (§7.6) and the timestamp role (§7.7).

Attack names are in the test names, as in python-tuf's updater tests.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from healthcode import (
    Check,
    CheckOutcome,
    ErrorCode,
    KeyStatus,
    SigningKey,
    TrustedKey,
    TrustListError,
    TrustUnavailable,
    verify_credential,
)
from healthcode.trustlist import (
    MAX_TIMESTAMP_VALIDITY_S,
    TIMESTAMP_TYP,
    TrustListState,
    format_time,
    load_root,
    sign_document,
    timestamp_payload,
)
from tests.conftest import NOW, MakeToken
from tests.healthcode.trustlist.documents import DAY, error_code
from tests.simulators import SIM_NOW, TrustRegistrySimulator, encode, issuer_entry

# -- update rules (§7.6) ----------------------------------------------------------------------


def test_trust_list_rollback_refused(
    registry: TrustRegistrySimulator, state: TrustListState
) -> None:
    old = registry.publish(version=1)
    assert state.update(old, NOW)
    assert state.update(registry.publish(version=2), NOW)
    with pytest.raises(TrustListError) as excinfo:
        state.update(old, NOW)
    assert error_code(excinfo) is ErrorCode.TRUST_LIST_ROLLBACK
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
    assert error_code(excinfo) is ErrorCode.TRUST_LIST_EXPIRED
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
    assert error_code(excinfo) is ErrorCode.TRUST_LIST_ROLLBACK

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
    assert error_code(excinfo) is ErrorCode.TRUST_LIST_UNKNOWN_ROOT_KEY
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
    too_long = sign_timestamp(stamped, expires=SIM_NOW + week + timedelta(seconds=1))
    with pytest.raises(TrustListError) as excinfo:
        state.update_timestamp(too_long, NOW)
    assert error_code(excinfo) is ErrorCode.TRUST_LIST_MALFORMED
    assert "7 days" in excinfo.value.message
    with pytest.raises(ValueError, match="at most"):
        timestamp_payload(1, 1, SIM_NOW, SIM_NOW + week + timedelta(seconds=1), 1)


def sign_timestamp(stamped: TrustRegistrySimulator, *, expires: Any) -> bytes:
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
