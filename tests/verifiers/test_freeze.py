"""The checkpoint says so when its registry is frozen (issue 13, defect 5), by injected time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from healthcode import SigningKey
from healthcode.qr import encode_numeric
from healthcode.trustclient import TrustListClient
from tests.conftest import NOW
from tests.servers import AppServer
from tests.simulators import SIM_NOW, TrustRegistrySimulator, issuer_entry
from tests.verifiers.conftest import MakeSettings
from verifiers.app import CheckpointService
from verifiers.trustsource import RegistryTrustSource

DAY = 86400


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_an_expired_timestamp_shows_on_the_checkpoint_status_and_answers(
    make_settings: MakeSettings,
    issuer_key: SigningKey,
    make_token: Callable[..., str],
    tmp_path: Path,
) -> None:
    registry = TrustRegistrySimulator(with_timestamp=True)
    registry.issuers = [issuer_entry("cn-sc", "510000", issuer_key)]
    registry.publish(signed_at=SIM_NOW, expires=SIM_NOW + timedelta(days=7))
    registry.publish_timestamp(signed_at=SIM_NOW, expires=SIM_NOW + timedelta(days=1))
    server = AppServer(registry.app())
    clock = Clock(NOW)
    client = TrustListClient(server.url, registry.pinned_root, tmp_path / "trust", clock=clock)
    service = CheckpointService(make_settings(), RegistryTrustSource(client))
    try:
        service.sync_revocations()
        status = service.status(NOW)
        assert status["trust_list"]["frozen"] is False
        assert "registry" not in status["failing_sources"]

        clock.now = NOW + DAY + 1  # the registry still replays the same list and timestamp
        service.sync_revocations()
        status = service.status(clock.now)
        assert status["trust_list"]["stale"] is True
        assert status["trust_list"]["frozen"] is True
        assert "registry" in status["failing_sources"]
        registry_source = next(s for s in status["sources"] if s["name"] == "registry")
        assert registry_source["last_error"]["code"] == "trust_list_expired"

        text = encode_numeric(make_token(now=NOW + DAY))
        answer = service.checkpoint.verify_text(text, now=clock.now).to_json()
        assert answer["checks"]["trust_list"] == "stale"
        assert any(item["check"] == "trust_list" for item in answer["unchecked"])
    finally:
        service.close()
        server.stop()
