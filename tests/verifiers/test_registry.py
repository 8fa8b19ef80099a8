"""The checkpoint on the signed trust list (TrustListClient against a real registry simulator)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from healthcode import StatusColour, encode_numeric, new_credential
from healthcode.jws import sign_credential
from tests.servers import AppServer
from tests.simulators import TrustRegistrySimulator
from tests.verifiers.conftest import SC_GREEN, MakeSettings, Province, entry
from verifiers.service import CheckpointService
from verifiers.trustsource import RegistryTrustSource


@pytest.fixture
def registry(sc: Province, bj: Province) -> Iterator[tuple[TrustRegistrySimulator, AppServer]]:
    simulator = TrustRegistrySimulator(now=datetime.now(UTC))
    simulator.issuers = [
        entry(sc.issuer, sc.url, "四川省 Sichuan"),
        entry(bj.issuer, bj.url, "北京市 Beijing"),
    ]
    simulator.publish()
    server = AppServer(simulator.app())
    yield simulator, server
    server.stop()


def _code(province: Province) -> str:
    credential = new_credential(
        issuer=province.issuer.issuer_id,
        subject="c3ViamVjdC1wc2V1ZG9ueW0tMDE",
        status=StatusColour.GREEN,
        masked_name="张*丰",
        id_tail=SC_GREEN[-4:],
    )
    return encode_numeric(sign_credential(credential, province.issuer.key))


def test_registry_trust_list_is_used_and_cached_for_offline_use(
    registry: tuple[TrustRegistrySimulator, AppServer],
    make_settings: MakeSettings,
    tmp_path: Path,
    sc: Province,
    bj: Province,
) -> None:
    simulator, server = registry
    pinned = tmp_path / "root.json"
    pinned.write_text(json.dumps(simulator.pinned_root))
    settings = make_settings(registry_url=server.url, pinned_root=pinned)

    service = CheckpointService(settings)
    try:
        assert isinstance(service.trust_source, RegistryTrustSource)
        assert service.sync_revocations() == {"cn-sc": "ok (+0)", "cn-bj": "ok (+0)"}
        answer = service.checkpoint.verify_text(_code(bj)).to_json()
        assert answer["display"] == "green"
        assert answer["issuer_name"] == "北京市 Beijing"
        status = service.status()["trust_list"]
        assert status["version"] == 1
        assert status["available"] is True
        assert 0 <= status["age_s"] < 60
    finally:
        service.close()

    # Registry gone: a restarted checkpoint verifies from the list it cached on disk.
    server.stop()
    restarted = CheckpointService(settings)
    try:
        assert restarted.sync_revocations() == {"cn-sc": "ok (+0)", "cn-bj": "ok (+0)"}
        assert restarted.checkpoint.verify_text(_code(sc)).display == "green"
        assert restarted.status()["trust_list"]["last_error"]["code"] == "upstream_unavailable"
    finally:
        restarted.close()
