"""Checkpoint fixtures: two real stand-in province issuers, a trust store, a running checkpoint."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Playwright, sync_playwright

from healthcode import IssuerEntry, ReasonCode, SigningKey, StatusColour, TrustedKey, TrustStore
from healthcode.idnumber import make_id_number
from tests.servers import AppServer
from tests.verifiers.standin import Citizen, StandInIssuer
from verifiers.app import create_app
from verifiers.auth import Role
from verifiers.hotpath import scan_http_protocol
from verifiers.settings import VerifierSettings
from verifiers.trustsource import LocalTrustSource

SC_GREEN = make_id_number("510104", date(1948, 3, 1), 123)
SC_RED = make_id_number("510104", date(1990, 7, 14), 456)
BJ_YELLOW = make_id_number("110101", date(1985, 1, 2), 777)
STAFF_PASSWORD = "staff-password-123"
OFFICIAL_PASSWORD = "official-password-123"


@pytest.fixture(scope="session")
def sc_key() -> SigningKey:
    return SigningKey.generate()


@pytest.fixture(scope="session")
def bj_key() -> SigningKey:
    return SigningKey.generate()


@dataclass
class Province:
    issuer: StandInIssuer
    server: AppServer

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture
def bj(bj_key: SigningKey) -> Iterator[Province]:
    issuer = StandInIssuer(
        "cn-bj",
        "110000",
        bj_key,
        citizens={BJ_YELLOW: Citizen("李小龙", StatusColour.YELLOW, ReasonCode.RISK_AREA)},
    )
    server = AppServer(issuer.app())
    yield Province(issuer, server)
    server.stop()


@pytest.fixture
def sc(sc_key: SigningKey, bj: Province) -> Iterator[Province]:
    issuer = StandInIssuer(
        "cn-sc",
        "510000",
        sc_key,
        citizens={
            SC_GREEN: Citizen("张三丰", StatusColour.GREEN),
            SC_RED: Citizen("王五", StatusColour.RED, ReasonCode.POSITIVE_TEST),
        },
        peers={"11": bj.url},
    )
    server = AppServer(issuer.app())
    yield Province(issuer, server)
    server.stop()


def entry(issuer: StandInIssuer, url: str, name: str) -> IssuerEntry:
    return IssuerEntry(
        id=issuer.issuer_id,
        name=name,
        region=issuer.region,
        keys=(TrustedKey(issuer.key.verifying_key),),
        endpoints={"revocations": url + "/v1/revocations", "partner_api": url + "/partner/v1"},
    )


@pytest.fixture
def trust_store(sc: Province, bj: Province) -> TrustStore:
    return TrustStore(
        [
            entry(sc.issuer, sc.url, "四川省 Sichuan"),
            entry(bj.issuer, bj.url, "北京市 Beijing"),
        ]
    )


MakeSettings = Callable[..., VerifierSettings]


@pytest.fixture
def make_settings(tmp_path: Path, sc: Province, redis_url: str) -> MakeSettings:
    def build(**overrides: Any) -> VerifierSettings:
        fields: dict[str, Any] = {
            "demo_mode": True,
            "database_url": f"sqlite:///{tmp_path / 'checkpoint.db'}",
            "state_dir": tmp_path / "state",
            "redis_url": redis_url,
            "issuer_url": sc.url,
            "issuer_token": sc.issuer.device_token,
            "checkpoint_id": "cd-east-gate",
            "background_tasks": False,
        }
        fields.update(overrides)
        return VerifierSettings(**fields)

    return build


@dataclass
class RunningCheckpoint:
    server: AppServer
    app: Any
    device_token: str
    staff_token: str
    official_token: str

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def service(self) -> Any:
        return self.app.state.service

    def post(self, path: str, token: str | None = None, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token or self.device_token}"}
        return httpx.post(self.url + path, headers=headers, timeout=10, **kwargs)

    def get(self, path: str, token: str | None = None, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token or self.device_token}"}
        return httpx.get(self.url + path, headers=headers, timeout=10, **kwargs)


def start_checkpoint(
    settings: VerifierSettings, trust_store: TrustStore | None, *, fast_path: bool = False
) -> RunningCheckpoint:
    """A checkpoint on a free port; `trust_store` None: the trust source its settings name.

    With `fast_path` it is served as `python -m verifiers` serves it: scans answered inside
    uvicorn's protocol (verifiers.fastpath), everything else by the app.
    """
    trust_source = LocalTrustSource(trust_store) if trust_store is not None else None
    app = create_app(settings, trust_source=trust_source)
    service = app.state.service
    _, device_token = service.auth.add_device("east gate scanner 1")
    service.auth.add_user("staff1", STAFF_PASSWORD, Role.STAFF)
    service.auth.add_user("official1", OFFICIAL_PASSWORD, Role.OFFICIAL)
    staff_token, _ = service.auth.login("staff1", STAFF_PASSWORD)
    official_token, _ = service.auth.login("official1", OFFICIAL_PASSWORD)
    server = AppServer(app, http=scan_http_protocol(app)) if fast_path else AppServer(app)
    return RunningCheckpoint(server, app, device_token, staff_token, official_token)


@pytest.fixture
def checkpoint(make_settings: MakeSettings, trust_store: TrustStore) -> Iterator[RunningCheckpoint]:
    running = start_checkpoint(make_settings(), trust_store)
    running.service.sync_revocations()
    yield running
    running.server.stop()


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as instance:
        yield instance


@pytest.fixture(scope="module")
def browser(playwright: Playwright, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    """Headless Chromium that has no CJK font but what a page ships (tests/browser.py)."""
    from tests.browser import latin_only_fontconfig, launch_chromium

    env = latin_only_fontconfig(tmp_path_factory.mktemp("fontconfig"))
    browser = launch_chromium(playwright, env=env)
    yield browser
    browser.close()
