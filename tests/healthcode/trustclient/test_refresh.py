"""TrustListClient fetching from a real registry simulator: refresh, outage, refusals."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from healthcode import (
    Check,
    CheckOutcome,
    ErrorCode,
    SigningKey,
    TrustListError,
    TrustUnavailable,
    verify_credential,
)
from healthcode.keys import b64url_encode
from healthcode.trustclient import TRUST_LIST_FILE, TrustListClient
from healthcode.trustlist import MAX_DOCUMENT_BYTES
from tests.conftest import NOW, MakeToken
from tests.healthcode.trustclient.clock import Clock
from tests.servers import AppServer
from tests.simulators import SIM_NOW, TrustRegistrySimulator


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


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
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
    wait_for(lambda: (client.status()["last_error"] or {}).get("code") == "upstream_unavailable")

    registry.available = True
    wait_for(lambda: client.status()["version"] == 1)
    registry.publish()
    wait_for(lambda: client.status()["version"] == 2)
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
