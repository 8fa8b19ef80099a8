"""Fixtures for the registry: a root-key directory and a registry served by uvicorn."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from healthcode.trust import TrustStore
from healthcode.trustlist import TrustListState, load_root
from interop.app import create_app
from interop.registry.signing import RootKeyring, init_root
from interop.settings import InteropSettings
from tests.servers import AppServer

ADMIN_TOKEN = "test-admin-token-0123456789"


@pytest.fixture
def root_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "root"
    init_root(folder, key_count=3, threshold=2, now=datetime.now(UTC))
    return folder


@pytest.fixture
def registry_settings(tmp_path: Path, root_dir: Path) -> InteropSettings:
    return InteropSettings(
        database_url=f"sqlite:///{tmp_path / 'registry.db'}",
        root_keys_dir=root_dir,
        admin_token=SecretStr(ADMIN_TOKEN),
        token_secret=SecretStr("test-token-secret-0123456789"),
    )


class Registry:
    """A running registry plus an HTTP client, and a verifier-side view of its trust list."""

    def __init__(self, server: AppServer, root_dir: Path) -> None:
        self.server = server
        self.root_dir = root_dir
        self.http = httpx.Client(base_url=server.url, timeout=10)
        self.admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}

    def keyring(self) -> RootKeyring:
        return RootKeyring.load(self.root_dir)

    def post_admin(self, path: str, body: object = None) -> httpx.Response:
        return self.http.post(path, json=body if body is not None else {}, headers=self.admin)

    def client_state(self) -> TrustListState:
        """A verifier that pinned root 1 (as shipped) and walked to the newest root."""
        state = TrustListState(load_root(self.http.get("/v1/root/1").json()))
        latest = self.http.get("/v1/root/latest").json()
        newest = load_root(latest).version
        state.update_roots(
            [self.http.get(f"/v1/root/{v}").json() for v in range(2, newest + 1)],
            datetime.now(UTC),
        )
        return state

    def trust(self) -> TrustStore:
        """The current list, fetched and verified as a verifier would."""
        state = self.client_state()
        state.update(self.http.get("/v1/trust-list").content, datetime.now(UTC))
        return state.trust_store()


@pytest.fixture
def registry(registry_settings: InteropSettings, root_dir: Path) -> Iterator[Registry]:
    server = AppServer(create_app(registry_settings))
    registry = Registry(server, root_dir)
    try:
        yield registry
    finally:
        registry.http.close()
        server.stop()
