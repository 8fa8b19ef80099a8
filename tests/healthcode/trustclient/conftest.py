"""A registry simulator served by uvicorn on a free port, and clients of it on a set clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from healthcode import SigningKey
from healthcode.trustclient import TrustListClient
from tests.conftest import NOW
from tests.healthcode.trustclient.clock import Clock
from tests.servers import AppServer
from tests.simulators import TrustRegistrySimulator, issuer_entry


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
