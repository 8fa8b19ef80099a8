"""Offline-code fixtures: signed offline tokens and their printable form."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from healthcode import CodeKind
from offline.sheet import PrintableCode

OfflineToken = Callable[..., str]


@pytest.fixture(scope="session")
def offline_token(make_token: Callable[..., str]) -> OfflineToken:
    """A signed 7-day offline credential issued at NOW; keywords override fields."""

    def build(**overrides: object) -> str:
        return make_token(kind=CodeKind.OFFLINE, **overrides)

    return build


@pytest.fixture(scope="session")
def printable(offline_token: OfflineToken) -> Callable[..., PrintableCode]:
    def build(**overrides: object) -> PrintableCode:
        return PrintableCode.from_token(offline_token(**overrides), issuer_name="四川省 Sichuan")

    return build
