"""Each source syncs on its own: a hostile province never holds up another (issue 13)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from healthcode.trust import TrustStore
from healthcode.trustclient import TrustListClient
from tests.hostile import HostilePeer, dripping, nested_json, raw_json_answer, wait_until
from tests.servers import AppServer
from tests.simulators import TrustRegistrySimulator
from tests.verifiers.conftest import MakeSettings, Province, entry
from verifiers.app import CheckpointService
from verifiers.trustsource import LocalTrustSource, RegistryTrustSource

#: A revocation answer dripped a byte every 0.25 s: 2,000 bytes would take over 8 minutes.
DRIP = dripping(b'{"revocation_list": "' + b"x" * 2000 + b'"}', 0.25)


@pytest.fixture
def hostile() -> Iterator[HostilePeer]:
    with HostilePeer({"/drip": DRIP, "/deep": raw_json_answer(nested_json(50_000))}) as peer:
        yield peer


def _store(sc: Province, bj: Province, hostile_url: str) -> TrustStore:
    """Beijing's revocations come from the hostile peer; it is listed first, before Sichuan."""
    beijing = entry(bj.issuer, bj.url, "北京市 Beijing")
    beijing = dataclasses.replace(beijing, endpoints={"revocations": hostile_url})
    return TrustStore([beijing, entry(sc.issuer, sc.url, "四川省 Sichuan")])


def _sources(service: CheckpointService) -> dict[str, dict[str, Any]]:
    return {source["name"]: source for source in service.status()["sources"]}


def test_a_dripping_province_delays_no_other_sync(
    make_settings: MakeSettings, sc: Province, bj: Province, hostile: HostilePeer
) -> None:
    # Beijing's deadline is generous (120 s) so its request is certainly still in flight
    # while Sichuan syncs, again and again, on its own schedule.
    settings = make_settings(revocation_sync_interval_s=0.05, revocation_sync_deadline_s=120)
    store = _store(sc, bj, hostile.url("/drip"))
    service = CheckpointService(settings, LocalTrustSource(store))
    try:
        service.syncs.start()
        assert wait_until(lambda: ("request", "/drip") in hostile.events)
        # Sichuan syncs twice (its interval is 0.05 s) while Beijing's one request drips.
        assert wait_until(lambda: _sources(service)["cn-sc"]["successes"] >= 2)
        sources = _sources(service)
        # Beijing is still being read: no answer, no error yet, its worker busy.
        assert ("done", "/drip") not in hostile.events
        assert sources["cn-bj"]["state"] == "syncing"
        assert sources["cn-bj"]["running_for_s"] is not None
        assert sources["cn-sc"]["state"] == "ok"
        assert sources["cn-sc"]["last_error"] is None
    finally:
        service.close()


def test_a_dripping_province_is_cut_at_its_own_deadline(
    make_settings: MakeSettings, sc: Province, bj: Province, hostile: HostilePeer
) -> None:
    settings = make_settings(revocation_sync_deadline_s=1.0)
    service = CheckpointService(settings, LocalTrustSource(_store(sc, bj, hostile.url("/drip"))))
    try:
        assert service.sync_revocations() == {"cn-bj": "failed", "cn-sc": "ok (+0)"}
        sources = _sources(service)
        assert sources["cn-bj"]["state"] == "failing"
        assert sources["cn-bj"]["last_error"]["code"] == "upstream_timeout"
        assert sources["cn-bj"]["deadline_s"] == 1.0
        assert ("done", "/drip") not in hostile.events
        assert service.status()["failing_sources"] == ["cn-bj"]
        assert service.revocations.status(0)["cn-bj"]["last_error"].startswith("upstream_timeout")
    finally:
        service.close()


def test_nested_json_from_a_province_fails_that_province_only(
    make_settings: MakeSettings, sc: Province, bj: Province, hostile: HostilePeer
) -> None:
    service = CheckpointService(
        make_settings(), LocalTrustSource(_store(sc, bj, hostile.url("/deep")))
    )
    try:
        assert service.sync_revocations() == {"cn-bj": "failed", "cn-sc": "ok (+0)"}
        error = _sources(service)["cn-bj"]["last_error"]
        assert error["code"] == "upstream_malformed"
        assert "deeper than 32" in error["message"]
    finally:
        service.close()


def _registry_source(
    sc: Province, bj: Province, hostile: HostilePeer, cache: Path
) -> RegistryTrustSource:
    """A registry source whose list (Sichuan, Beijing) is held from an earlier good refresh,
    and whose registry now drips its answer to the first root probe."""
    registry = TrustRegistrySimulator(now=datetime.now(UTC))
    registry.issuers = [entry(sc.issuer, sc.url, "四川省"), entry(bj.issuer, bj.url, "北京市")]
    registry.publish()
    good = AppServer(registry.app())
    try:
        with TrustListClient(good.url, registry.pinned_root, cache) as client:
            client.refresh()
    finally:
        good.stop()
    hostile.routes["/v1/root/2"] = dripping(b'{"error": "not_found"}' + b" " * 2000, 0.25)
    return RegistryTrustSource(TrustListClient(hostile.url(), registry.pinned_root, cache))


def test_a_dripping_registry_delays_no_revocation_sync(
    make_settings: MakeSettings, sc: Province, bj: Province, hostile: HostilePeer, tmp_path: Path
) -> None:
    source = _registry_source(sc, bj, hostile, tmp_path / "trust")
    settings = make_settings(revocation_sync_interval_s=0.05, registry_sync_deadline_s=120)
    service = CheckpointService(settings, source)
    try:
        service.syncs.start()
        assert wait_until(lambda: ("request", "/v1/root/2") in hostile.events)
        assert wait_until(lambda: _sources(service)["cn-bj"]["successes"] >= 2)
        sources = _sources(service)
        assert sources["cn-sc"]["successes"] >= 1
        assert sources["registry"]["state"] == "syncing"  # its one refresh still dripping
        assert ("done", "/v1/root/2") not in hostile.events
    finally:
        service.close()


def test_a_dripping_registry_is_cut_at_its_own_deadline(
    make_settings: MakeSettings, sc: Province, bj: Province, hostile: HostilePeer, tmp_path: Path
) -> None:
    source = _registry_source(sc, bj, hostile, tmp_path / "trust")
    service = CheckpointService(make_settings(registry_sync_deadline_s=1.0), source)
    try:
        assert service.sync_revocations() == {"cn-sc": "ok (+0)", "cn-bj": "ok (+0)"}
        registry = _sources(service)["registry"]
        assert registry["state"] == "failing"
        assert registry["last_error"]["code"] == "upstream_timeout"
        assert service.status()["failing_sources"] == ["registry"]
    finally:
        service.close()
