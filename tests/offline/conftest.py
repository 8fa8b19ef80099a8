"""Offline-code fixtures: signed offline tokens, their printable form, a stand-in issuer."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from healthcode import CodeKind, SigningKey
from offline.sheet import PrintableCode
from tests.offline.standin import StandInIssuer, stand_in_issuer_app
from tests.servers import AppServer, serve

OfflineToken = Callable[..., str]


@pytest.fixture(scope="session")
def offline_token(make_token: Callable[..., str]) -> OfflineToken:
    """A signed 7-day offline credential issued at NOW; keywords override fields."""

    def build(**overrides: object) -> str:
        return make_token(kind=CodeKind.OFFLINE, **overrides)

    return build


@pytest.fixture(scope="session")
def printable(offline_token: OfflineToken) -> Callable[..., PrintableCode]:
    def build(issuer_name: str = "四川省 Sichuan", **overrides: object) -> PrintableCode:
        return PrintableCode.from_token(offline_token(**overrides), issuer_name=issuer_name)

    return build


@pytest.fixture
def issuer(issuer_key: SigningKey) -> Iterator[tuple[StandInIssuer, AppServer]]:
    """A stand-in issuer on a free port (tests/offline/standin.py)."""
    stand_in = StandInIssuer(issuer_key)
    with serve(stand_in_issuer_app(stand_in)) as server:
        yield stand_in, server
