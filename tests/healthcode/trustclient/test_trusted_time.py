"""TrustListClient's trusted time and the timestamp document (§7.5, §7.7)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from healthcode import (
    CodeKind,
    ErrorCode,
    SigningKey,
    TrustListError,
    TrustUnavailable,
    verify_credential,
)
from healthcode.trustclient import TIMESTAMP_FILE, TRUSTED_TIME_FILE, TrustListClient
from healthcode.trustlist import format_time
from tests.conftest import NOW, MakeToken
from tests.healthcode.trustclient.clock import Clock
from tests.servers import AppServer
from tests.simulators import SIM_NOW, TrustRegistrySimulator, issuer_entry

# -- trusted time and the timestamp document (§7.5, §7.7) -------------------------------------

DAY = 86400


@pytest.fixture
def stamped(issuer_key: SigningKey) -> TrustRegistrySimulator:
    """A registry whose root delegates an online timestamp key; its list was signed 2 days
    before NOW and has not changed since (nothing re-published it)."""
    sim = TrustRegistrySimulator(with_timestamp=True)
    sim.issuers = [issuer_entry("cn-sc", "510000", issuer_key)]
    sim.publish(signed_at=SIM_NOW - timedelta(days=2))
    sim.publish_timestamp(signed_at=SIM_NOW)
    return sim


@pytest.fixture
def stamped_client(
    stamped: TrustRegistrySimulator, tmp_path: Path, clock: Clock
) -> Iterator[Callable[..., TrustListClient]]:
    server = AppServer(stamped.app())
    clients: list[TrustListClient] = []

    def build(**options: object) -> TrustListClient:
        client = TrustListClient(
            server.url,
            stamped.pinned_root,
            tmp_path / "stamped-cache",
            clock=clock,
            **options,  # type: ignore[arg-type]
        )
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.stop()
    server.stop()


def test_clock_set_back_a_day_cannot_revive_expired_offline_code(
    stamped_client: Callable[..., TrustListClient], clock: Clock, make_token: MakeToken
) -> None:
    # The audit's reproduction: an offline code expired a day ago, the list signed 2 days ago,
    # the device clock set back 25 h. The fresh timestamp is what bounds the clock.
    expired = make_token(kind=CodeKind.OFFLINE, now=NOW - 8 * DAY, lifetime_s=7 * DAY)
    client = stamped_client()
    assert client.refresh() is True
    assert verify_credential(expired, client.current(), NOW).error is ErrorCode.EXPIRED
    set_back = NOW - 25 * 3600
    clock.now = set_back
    result = verify_credential(expired, client.current(), set_back)
    assert result.error is ErrorCode.CLOCK_BEHIND, result.message
    assert client.status()["trusted_time"] == "2026-09-21T14:13:20Z"


def test_unchanged_list_answered_304_still_moves_trusted_time(
    stamped_client: Callable[..., TrustListClient],
    stamped: TrustRegistrySimulator,
    clock: Clock,
) -> None:
    client = stamped_client()
    assert client.refresh() is True
    clock.now = NOW + 3600
    stamped.publish_timestamp(signed_at=SIM_NOW + timedelta(hours=1))
    assert client.refresh() is False  # the list itself is unchanged
    assert stamped.count("/v1/trust-list", 304) == 1
    assert client.current().signed_at == NOW + 3600
    status = client.status()
    assert status["timestamp_version"] == 2
    # A 304 is a successful contact: fetched_at moves with it (it did not before).
    assert status["fetched_at"] == "2026-09-21T15:13:20Z"


def test_trusted_time_survives_restart_offline(
    stamped_client: Callable[..., TrustListClient],
    stamped: TrustRegistrySimulator,
    clock: Clock,
    make_token: MakeToken,
) -> None:
    client = stamped_client()
    client.refresh()
    clock.now = NOW + 7200
    stamped.publish_timestamp(signed_at=SIM_NOW + timedelta(hours=2))
    client.refresh()
    client.stop()
    stamped.available = False
    clock.now = NOW - 25 * 3600  # the device restarts with its clock set back, offline
    restarted = stamped_client()
    assert restarted.current().signed_at == NOW + 7200  # high-water mark, from disk
    result = verify_credential(make_token(now=clock.now), restarted.current(), clock.now)
    assert result.error is ErrorCode.CLOCK_BEHIND


def test_timestamp_rollback_freeze_and_wrong_signer_refused(
    stamped_client: Callable[..., TrustListClient],
    stamped: TrustRegistrySimulator,
    clock: Clock,
) -> None:
    client = stamped_client()
    old = stamped.served_timestamp
    assert old is not None
    stamped.publish_timestamp(signed_at=SIM_NOW + timedelta(minutes=10))
    client.refresh()
    cases: list[tuple[bytes, ErrorCode]] = [
        (old, ErrorCode.TRUST_LIST_ROLLBACK),
        (
            stamped.publish_timestamp(
                expires=SIM_NOW - timedelta(seconds=1), signed_at=SIM_NOW - timedelta(days=1)
            ),
            ErrorCode.TRUST_LIST_EXPIRED,
        ),
        # A root key is not the timestamp role: the online key is a separate delegation.
        (
            stamped.publish_timestamp(signer=stamped.root_keys[0]),
            ErrorCode.TRUST_LIST_UNKNOWN_ROOT_KEY,
        ),
    ]
    for document, code in cases:
        stamped.served_timestamp = document
        with pytest.raises(TrustListError) as excinfo:
            client.refresh()
        assert excinfo.value.code is code
        assert client.status()["timestamp_version"] == 2  # the held timestamp stays


def test_emergency_revocation_in_timestamp_applies_until_the_next_list(
    stamped_client: Callable[..., TrustListClient],
    stamped: TrustRegistrySimulator,
    issuer_key: SigningKey,
    make_token: MakeToken,
) -> None:
    client = stamped_client()
    client.refresh()
    token = make_token()
    assert verify_credential(token, client.current(), NOW).valid
    # Root keys offline: the registry revokes with its online key, in the timestamp.
    stamped.publish_timestamp(revoked_keys=[issuer_key.kid], suspended_issuers=["cn-xx"])
    client.refresh()
    assert verify_credential(token, client.current(), NOW).error is ErrorCode.KEY_REVOKED
    # The cosigned list that follows decides from then on (here it keeps the key active).
    stamped.publish()
    client.refresh()
    assert verify_credential(token, client.current(), NOW).valid


def test_client_probes_for_a_newer_root_the_list_does_not_name(
    make_client: Callable[..., TrustListClient], registry: TrustRegistrySimulator
) -> None:
    client = make_client()
    client.refresh()
    old_list, old_keys = registry.served, registry.root_keys
    # The registry replaced its root (say, a key was compromised); a stale mirror keeps
    # serving the list signed under root 1. Only probing /v1/root/2 reveals the new root.
    registry.rotate_root([SigningKey.generate() for _ in range(3)], 2)
    assert old_list is not None
    registry.stage(old_list)
    assert registry.root_keys != old_keys
    with pytest.raises(TrustListError) as excinfo:
        client.refresh()
    # The replaced root keys are no longer root keys: the stale list is refused.
    assert excinfo.value.code is ErrorCode.TRUST_LIST_UNKNOWN_ROOT_KEY
    assert client.root.version == 2


def test_refused_list_still_fetches_the_timestamp(
    stamped_client: Callable[..., TrustListClient],
    stamped: TrustRegistrySimulator,
    clock: Clock,
) -> None:
    client = stamped_client()
    assert client.refresh() is True
    # The registry (or a man in the middle) now offers a list the client refuses ...
    first = stamped.lists[1]
    stamped.publish(signed_at=SIM_NOW - timedelta(days=1))
    assert client.refresh() is True
    stamped.stage(first)
    # ... while the online key keeps vouching for the time.
    clock.now = NOW + 3600
    stamped.publish_timestamp(signed_at=SIM_NOW + timedelta(hours=1))
    stamps = stamped.count("/v1/timestamp")
    with pytest.raises(TrustListError) as excinfo:
        client.refresh()
    assert excinfo.value.code is ErrorCode.TRUST_LIST_ROLLBACK  # the list's refusal is reported
    assert stamped.count("/v1/timestamp") == stamps + 1
    status = client.status()
    assert status["timestamp_version"] == 2
    assert status["trusted_time"] == format_time(NOW + 3600)
    assert status["last_error"]["code"] == "trust_list_rollback"


def test_rotated_timestamp_key_resets_the_persisted_trusted_time(
    stamped_client: Callable[..., TrustListClient],
    stamped: TrustRegistrySimulator,
    tmp_path: Path,
    make_token: MakeToken,
) -> None:
    client = stamped_client()
    client.refresh()
    # The online key is stolen; the thief pushes the trusted time a month ahead.
    stamped.publish_timestamp(signed_at=SIM_NOW + timedelta(days=30))
    client.refresh()
    token = make_token(now=NOW)
    assert verify_credential(token, client.current(), NOW).error is ErrorCode.CLOCK_BEHIND
    # The officers replace the online key in root 2 and re-sign the list under it.
    stamped.timestamp_key = SigningKey.generate()
    stamped.rotate_root(stamped.root_keys, 2)
    stamped.publish()
    stamped.publish_timestamp(signed_at=SIM_NOW)
    assert client.refresh() is True
    assert client.status()["trusted_time"] == format_time(NOW)
    assert verify_credential(token, client.current(), NOW).valid
    cache = tmp_path / "stamped-cache"
    assert json.loads((cache / TRUSTED_TIME_FILE).read_bytes()) == {"trusted_time": NOW}
    # Nor does the stolen mark come back from disk after a restart, offline.
    client.stop()
    stamped.available = False
    restarted = stamped_client()
    assert restarted.status()["trusted_time"] == format_time(NOW)
    assert verify_credential(token, restarted.current(), NOW).valid


def test_rotated_timestamp_key_drops_the_cached_timestamp_file(
    stamped_client: Callable[..., TrustListClient],
    stamped: TrustRegistrySimulator,
    tmp_path: Path,
) -> None:
    client = stamped_client()
    client.refresh()
    cache = tmp_path / "stamped-cache"
    assert (cache / TIMESTAMP_FILE).is_file()
    stamped.timestamp_key = SigningKey.generate()
    stamped.rotate_root(stamped.root_keys, 2)
    stamped.publish()
    stamped.served_timestamp = None  # the new key has signed nothing yet
    with pytest.raises(TrustUnavailable):
        client.refresh()  # /v1/timestamp answers 404
    assert client.root.version == 2
    assert client.status()["timestamp_version"] is None
    # A timestamp signed by the old key is not left behind to be refused on every start.
    assert not (cache / TIMESTAMP_FILE).exists()


@pytest.mark.parametrize("saved", ["NaN", "Infinity", "-Infinity", "1e400", "1e20", "-5"])
def test_corrupt_trusted_time_file_is_ignored_not_fatal(
    stamped_client: Callable[..., TrustListClient],
    tmp_path: Path,
    make_token: MakeToken,
    caplog: pytest.LogCaptureFixture,
    saved: str,
) -> None:
    client = stamped_client()
    client.refresh()
    client.stop()
    path = tmp_path / "stamped-cache" / TRUSTED_TIME_FILE
    path.write_text('{"trusted_time": ' + saved + "}")
    with caplog.at_level("ERROR", logger="healthcode.trustclient"):
        restarted = stamped_client()
    assert any(TRUSTED_TIME_FILE in record.getMessage() for record in caplog.records)
    # The held documents still bound the clock; the status screen and verification work.
    assert restarted.status()["trusted_time"] == format_time(NOW)
    assert verify_credential(make_token(now=NOW), restarted.current(), NOW).valid
    # The next refresh writes a good value over the damaged one.
    restarted.refresh()
    assert json.loads(path.read_bytes()) == {"trusted_time": NOW}
