"""Freeze detection at the timestamp's expiry (issue 13, defect 5; TUF client workflow 5.4.4).

A registry (or whoever answers for it) that keeps replaying the last list and an expired
timestamp must make the list stale the moment the timestamp expires, not when the list itself
does days later. Time is injected (the client's clock), never slept.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
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
from healthcode.trustclient import TrustListClient
from tests.conftest import NOW
from tests.servers import AppServer
from tests.simulators import SIM_NOW, TrustRegistrySimulator, issuer_entry

DAY = 86400
MakeToken = Callable[..., str]


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def registry(issuer_key: SigningKey) -> TrustRegistrySimulator:
    """A list valid 7 days and a timestamp valid 1 day, both signed at NOW."""
    sim = TrustRegistrySimulator(with_timestamp=True)
    sim.issuers = [issuer_entry("cn-sc", "510000", issuer_key)]
    sim.publish(signed_at=SIM_NOW, expires=SIM_NOW + timedelta(days=7))
    sim.publish_timestamp(signed_at=SIM_NOW, expires=SIM_NOW + timedelta(days=1))
    return sim


@pytest.fixture
def client(registry: TrustRegistrySimulator, tmp_path: Path) -> Iterator[TrustListClient]:
    server = AppServer(registry.app())
    clock = Clock(NOW)
    trust = TrustListClient(server.url, registry.pinned_root, tmp_path / "cache", clock=clock)
    yield trust
    trust.stop()
    server.stop()


def _at(client: TrustListClient, moment: float) -> None:
    client._clock.now = moment  # type: ignore[attr-defined]


def test_an_expired_timestamp_makes_the_list_stale_at_once(
    client: TrustListClient, registry: TrustRegistrySimulator, make_token: MakeToken
) -> None:
    assert client.refresh() is True
    status = client.status()
    assert (status["stale"], status["frozen"]) == (False, False)
    assert status["expires"] == "2026-09-28T14:13:20Z"  # the list itself: 7 days
    assert status["timestamp_expires"] == "2026-09-22T14:13:20Z"  # the timestamp: 1 day

    # A day and a second later the registry still serves the same list and timestamp.
    _at(client, NOW + DAY + 1)
    with pytest.raises(TrustListError) as refused:
        client.refresh()
    assert refused.value.code is ErrorCode.TRUST_LIST_EXPIRED
    assert "freeze" in refused.value.message
    status = client.status()
    assert (status["stale"], status["frozen"]) == (True, True)
    assert status["last_error"]["code"] == "trust_list_expired"

    # Verification says so at once (grace period), then fails closed after the grace.
    token = make_token(now=NOW + DAY)
    stale = verify_credential(token, client.current(), NOW + DAY + 1)
    assert stale.valid
    assert stale.checks[Check.TRUST_LIST] is CheckOutcome.STALE
    late = NOW + 2 * DAY + 2  # past the timestamp's expiry + the 24 h grace; list still "valid"
    expired = verify_credential(make_token(now=late - 60), client.current(), late)
    assert expired.error is ErrorCode.TRUST_LIST_EXPIRED


def test_a_fresh_timestamp_ends_the_freeze(
    client: TrustListClient, registry: TrustRegistrySimulator
) -> None:
    client.refresh()
    _at(client, NOW + DAY + 1)
    with pytest.raises(TrustListError):
        client.refresh()
    registry.publish_timestamp(signed_at=SIM_NOW + timedelta(days=1))
    assert client.refresh() is False  # the list is unchanged; the timestamp is new
    status = client.status()
    assert (status["stale"], status["frozen"], status["last_error"]) == (False, False, None)


def test_the_held_timestamp_alone_detects_a_freeze_when_the_registry_is_unreachable(
    client: TrustListClient, registry: TrustRegistrySimulator
) -> None:
    client.refresh()
    registry.available = False
    _at(client, NOW + DAY + 1)
    with pytest.raises(TrustUnavailable) as unreachable:
        client.refresh()
    assert unreachable.value.code is ErrorCode.UPSTREAM_UNAVAILABLE
    assert client.status()["stale"] is True
    assert client.current().expires_at == NOW + DAY
