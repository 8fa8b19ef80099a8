"""Each source syncs on its own: a hostile province never holds up another (issue 13)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest

from healthcode.trust import TrustStore
from tests.hostile import HostilePeer, dripping, nested_json, raw_json_answer, wait_until
from tests.verifiers.conftest import MakeSettings, Province, entry
from verifiers.app import CheckpointService
from verifiers.trustsource import LocalTrustSource

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
