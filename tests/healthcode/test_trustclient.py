"""TrustListClient against a real registry simulator served by uvicorn on a free port."""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from healthcode import (
    Check,
    CheckOutcome,
    CodeKind,
    ErrorCode,
    SigningKey,
    TrustListError,
    TrustUnavailable,
    verify_credential,
)
from healthcode.keys import b64url_encode
from healthcode.trustclient import (
    TIMESTAMP_FILE,
    TRUST_LIST_FILE,
    TRUSTED_TIME_FILE,
    TrustListClient,
    write_atomic,
)
from healthcode.trustlist import MAX_DOCUMENT_BYTES, format_time
from tests.conftest import NOW
from tests.servers import AppServer
from tests.simulators import SIM_NOW, TrustRegistrySimulator, issuer_entry

MakeToken = Callable[..., str]


class Clock:
    """A settable clock for the client (no sleeping to make time pass)."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def registry(issuer_key: SigningKey) -> TrustRegistrySimulator:
    sim = TrustRegistrySimulator()
    sim.issuers = [issuer_entry("cn-sc", "510000", issuer_key)]
    sim.publish()
    return sim


@pytest.fixture
def server(registry: TrustRegistrySimulator) -> Iterator[AppServer]:
    app_server = AppServer(registry.app())
    yield app_server
    app_server.stop()


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def make_client(
    registry: TrustRegistrySimulator, server: AppServer, tmp_path: Path, clock: Clock
) -> Iterator[Callable[..., TrustListClient]]:
    clients: list[TrustListClient] = []

    def build(url: str | None = None, **options: object) -> TrustListClient:
        client = TrustListClient(
            url or server.url,
            registry.pinned_root,
            tmp_path / "cache",
            clock=clock,
            **options,  # type: ignore[arg-type]
        )
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.stop()


def test_code_verifies_end_to_end_through_client(
    make_client: Callable[..., TrustListClient], make_token: MakeToken
) -> None:
    client = make_client()
    assert client.refresh() is True
    result = verify_credential(make_token(), client.current(), NOW)
    assert result.valid, result.message
    assert result.issuer_name == "cn-sc 省"
    status = client.status()
    assert status["version"] == 1
    assert status["root_version"] == 1
    assert status["signed_at"] == "2026-09-21T14:13:20Z"
    assert status["fetched_at"] == "2026-09-21T14:13:20Z"
    assert status["stale"] is False
    assert status["last_error"] is None


def test_not_modified_answer_keeps_list(
    make_client: Callable[..., TrustListClient], registry: TrustRegistrySimulator
) -> None:
    client = make_client()
    assert client.refresh() is True
    assert client.refresh() is False
    assert registry.count("/v1/trust-list", 304) == 1
    registry.publish()
    assert client.refresh() is True
    assert client.current().version == 2


def test_no_list_anywhere_is_unavailable(
    make_client: Callable[..., TrustListClient], registry: TrustRegistrySimulator
) -> None:
    client = make_client()
    with pytest.raises(TrustUnavailable) as excinfo:
        client.current()
    assert excinfo.value.code is ErrorCode.TRUST_LIST_UNAVAILABLE
    registry.available = False
    with pytest.raises(TrustUnavailable) as excinfo:
        client.refresh()
    assert excinfo.value.code is ErrorCode.UPSTREAM_UNAVAILABLE


def test_offline_start_from_disk_after_registry_stopped(
    make_client: Callable[..., TrustListClient],
    server: AppServer,
    make_token: MakeToken,
    issuer_key: SigningKey,
) -> None:
    assert make_client().refresh()
    url = server.url
    server.stop()

    checkpoint = make_client(url)  # a restart with the network down
    result = verify_credential(make_token(), checkpoint.current(), NOW)
    assert result.valid, result.message
    with pytest.raises(TrustUnavailable) as excinfo:
        checkpoint.refresh()
    assert excinfo.value.code is ErrorCode.UPSTREAM_UNAVAILABLE
    assert checkpoint.status()["last_error"]["code"] == "upstream_unavailable"
    assert checkpoint.current().version == 1


def test_stale_list_keeps_verifying_during_grace(
    make_client: Callable[..., TrustListClient], clock: Clock, make_token: MakeToken
) -> None:
    client = make_client()
    client.refresh()
    clock.now = NOW + 7 * 86400 + 60  # a week offline: past `expires`
    status = client.status()
    assert (status["stale"], status["expired"]) == (True, False)
    result = verify_credential(make_token(now=clock.now), client.current(), clock.now)
    assert result.valid, result.message
    assert result.checks[Check.TRUST_LIST] is CheckOutcome.STALE
    clock.now += 86400
    assert client.status()["expired"] is True
    result = verify_credential(make_token(now=clock.now), client.current(), clock.now)
    assert result.error is ErrorCode.TRUST_LIST_EXPIRED


def test_registry_rollback_refused_held_list_kept(
    make_client: Callable[..., TrustListClient], registry: TrustRegistrySimulator
) -> None:
    client = make_client()
    first = registry.lists[1]
    registry.publish()
    assert client.refresh()
    registry.stage(first)
    with pytest.raises(TrustListError) as excinfo:
        client.refresh()
    assert excinfo.value.code is ErrorCode.TRUST_LIST_ROLLBACK
    assert client.current().version == 2
    assert client.status()["last_error"]["code"] == "trust_list_rollback"


def test_registry_tampered_list_refused(
    make_client: Callable[..., TrustListClient],
    registry: TrustRegistrySimulator,
    tmp_path: Path,
) -> None:
    client = make_client()
    assert client.refresh()
    envelope = json.loads(registry.publish())
    # A man in the middle re-points cn-sc's partner API at itself; signatures left as they were.
    payload = json.loads(base64.urlsafe_b64decode(envelope["payload"] + "=="))
    payload["issuers"][0]["endpoints"]["partner_api"] = "https://evil.example/partner/v1"
    envelope["payload"] = b64url_encode(json.dumps(payload).encode())
    registry.stage(json.dumps(envelope).encode())
    with pytest.raises(TrustListError) as excinfo:
        client.refresh()
    assert excinfo.value.code is ErrorCode.TRUST_LIST_BAD_SIGNATURE
    assert client.current().version == 1
    assert (tmp_path / "cache" / TRUST_LIST_FILE).read_bytes() == registry.lists[1]


def test_client_follows_root_rotation_and_persists_it(
    make_client: Callable[..., TrustListClient],
    registry: TrustRegistrySimulator,
    tmp_path: Path,
) -> None:
    client = make_client()
    assert client.refresh()
    registry.rotate_root([SigningKey.generate() for _ in range(3)], 2)
    registry.rotate_root([SigningKey.generate() for _ in range(3)], 2)
    registry.publish()
    assert client.refresh()
    assert (client.root.version, client.current().version) == (3, 2)
    assert registry.count("/v1/root/2", 200) == registry.count("/v1/root/3", 200) == 1
    # Each refresh probed for the next root until 404 (§7.6 step 1, TUF 5.3).
    assert registry.count("/v1/root/2", 404) == registry.count("/v1/root/4", 404) == 1
    assert sorted(os.listdir(tmp_path / "cache" / "roots")) == ["2.json", "3.json"]

    restarted = make_client()  # pinned root 1 + cached roots 2, 3 + list signed by root 3
    assert (restarted.root.version, restarted.current().version) == (3, 2)


def test_client_refuses_root_signed_by_new_keys_only(
    make_client: Callable[..., TrustListClient], registry: TrustRegistrySimulator
) -> None:
    client = make_client()
    assert client.refresh()
    takeover = [SigningKey.generate() for _ in range(2)]
    registry.rotate_root(takeover, 2, signers=takeover)
    registry.publish()
    with pytest.raises(TrustListError) as excinfo:
        client.refresh()
    assert excinfo.value.code is ErrorCode.TRUST_LIST_THRESHOLD
    assert (client.root.version, client.current().version) == (1, 1)


def test_persistence_is_atomic_when_write_fails(
    make_client: Callable[..., TrustListClient],
    registry: TrustRegistrySimulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = make_client()
    assert client.refresh()
    cache = tmp_path / "cache"
    on_disk = (cache / TRUST_LIST_FILE).read_bytes()
    assert on_disk == registry.lists[1]  # the exact signed bytes

    def crash(src: str, dst: str) -> None:
        raise OSError("disk full")

    # The rename never happens (crash or full disk): the old file must be whole.
    monkeypatch.setattr("healthcode.trustclient.os.replace", crash)
    registry.publish()
    assert client.refresh()  # taken in memory: it may carry a key revocation
    assert client.current().version == 2
    monkeypatch.undo()
    assert (cache / TRUST_LIST_FILE).read_bytes() == on_disk
    assert [name for name in os.listdir(cache) if name.endswith(".tmp")] == []
    assert make_client().current().version == 1  # a restart starts from the last good file


def test_write_atomic_replaces_whole_file(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "file.json"
    write_atomic(target, b"old")
    write_atomic(target, b"new contents")
    assert target.read_bytes() == b"new contents"
    assert os.listdir(target.parent) == ["file.json"]


def test_tampered_cache_file_is_not_trusted(
    make_client: Callable[..., TrustListClient], tmp_path: Path
) -> None:
    assert make_client().refresh()
    path = tmp_path / "cache" / TRUST_LIST_FILE
    document = json.loads(path.read_bytes())
    document["signatures"] = document["signatures"][:1]  # below threshold
    path.write_text(json.dumps(document))

    restarted = make_client()
    with pytest.raises(TrustUnavailable):
        restarted.current()
    assert restarted.status()["last_error"]["code"] == "trust_list_threshold"
    assert restarted.refresh()  # the registry's copy is fine and replaces it
    assert restarted.current().version == 1


def test_expired_offer_from_registry_refused(
    make_client: Callable[..., TrustListClient], registry: TrustRegistrySimulator
) -> None:
    client = make_client()
    assert client.refresh()
    registry.publish(signed_at=SIM_NOW - timedelta(days=9), expires=SIM_NOW - timedelta(days=2))
    with pytest.raises(TrustListError) as excinfo:
        client.refresh()
    assert excinfo.value.code is ErrorCode.TRUST_LIST_EXPIRED
    assert client.current().version == 1


def _wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    event = threading.Event()
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        event.wait(0.02)


def test_background_refresh_survives_outage_and_takes_new_version(
    make_client: Callable[..., TrustListClient], registry: TrustRegistrySimulator
) -> None:
    client = make_client(refresh_interval_s=0.05)
    registry.available = False
    client.start_background_refresh()
    _wait_for(lambda: (client.status()["last_error"] or {}).get("code") == "upstream_unavailable")

    registry.available = True
    _wait_for(lambda: client.status()["version"] == 1)
    registry.publish()
    _wait_for(lambda: client.status()["version"] == 2)
    assert client.status()["last_error"] is None
    client.stop()
    assert not any(thread.name == "trust-list-refresh" for thread in threading.enumerate())


def test_oversized_or_garbage_answer_refused(
    make_client: Callable[..., TrustListClient], registry: TrustRegistrySimulator
) -> None:
    client = make_client()
    assert client.refresh()
    for body in [b"<html>gateway error</html>", b" " * (MAX_DOCUMENT_BYTES + 1)]:
        registry.stage(body)
        with pytest.raises(TrustListError) as excinfo:
            client.refresh()
        assert excinfo.value.code is ErrorCode.TRUST_LIST_MALFORMED
    assert client.current().version == 1


def test_pinned_root_file_loaded_and_damaged_one_refused(
    registry: TrustRegistrySimulator, server: AppServer, tmp_path: Path, clock: Clock
) -> None:
    pinned = tmp_path / "root.json"
    pinned.write_bytes(registry.roots[1])
    with TrustListClient(server.url, pinned, tmp_path / "cache", clock=clock) as client:
        assert client.refresh()
        assert client.root.version == 1

    document = json.loads(registry.roots[1])
    document["signatures"] = document["signatures"][:1]  # root 1 has threshold 2
    pinned.write_text(json.dumps(document))
    with pytest.raises(TrustListError) as excinfo:
        TrustListClient(server.url, pinned, tmp_path / "cache", clock=clock)
    assert excinfo.value.code is ErrorCode.TRUST_LIST_THRESHOLD


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
