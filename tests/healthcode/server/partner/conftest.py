"""A two-province federation and the partner API of cn-sc on a real uvicorn server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from healthcode import IssuerEntry, SigningKey, TrustedKey, TrustStore
from tests.healthcode.server.partner.partner_api import Federation, PartnerApi


@pytest.fixture(scope="module")
def federation() -> Federation:
    sc_key, gd_key, gd_partner = SigningKey.generate(), SigningKey.generate(), SigningKey.generate()
    trust = TrustStore(
        [
            IssuerEntry(
                id="cn-sc",
                name="四川省",
                region="510000",
                keys=(TrustedKey(sc_key.verifying_key),),
                partner_keys=(SigningKey.generate().verifying_key,),
            ),
            IssuerEntry(
                id="cn-gd",
                name="广东省",
                region="440000",
                keys=(TrustedKey(gd_key.verifying_key),),
                partner_keys=(gd_partner.verifying_key,),
            ),
        ]
    )
    return Federation(sc_key, gd_key, gd_partner, trust)


@pytest.fixture
def make_api(federation: Federation) -> Iterator[Callable[..., PartnerApi]]:
    apis: list[PartnerApi] = []

    def build(redis_url: str | None, audience: str | None = None, **options: Any) -> PartnerApi:
        apis.append(PartnerApi(federation, redis_url, audience, **options))
        return apis[-1]

    yield build
    for api in apis:
        api.close()


@pytest.fixture
def api(make_api: Callable[..., PartnerApi], redis_url: str) -> PartnerApi:
    return make_api(redis_url)
