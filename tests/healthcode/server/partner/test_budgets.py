"""Partner budgets: what counts toward a partner's and an address's rate limit."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from healthcode import SigningKey, TrustStore
from healthcode.trust import IssuerStatus
from tests.healthcode.server.partner.partner_api import (
    SC_CITIZEN,
    Federation,
    PartnerApi,
    count_assertion_checks,
)


@pytest.fixture(params=["redis", "memory"])
def guarded(
    request: pytest.FixtureRequest, make_api: Callable[..., PartnerApi]
) -> Callable[..., PartnerApi]:
    """An API builder with the Redis guard or the in-process one (demo mode): same answers."""

    def build(**options: Any) -> PartnerApi:
        if request.param == "redis":
            return make_api(request.getfixturevalue("redis_url"), **options)
        return make_api(None, demo_mode=True, **options)

    return build


def test_replays_do_not_spend_the_partners_budget(guarded: Callable[..., PartnerApi]) -> None:
    moment = (time.time() // 60) * 60 + 30
    api = guarded(rate_limit_per_minute=3, clock=lambda: moment)
    captured = api.bearer(now=moment)
    assert api.http.get("/revocations", headers=captured).status_code == 200
    # Whoever captured the assertion replays it: refused, and cn-gd's budget is untouched.
    for _ in range(5):
        assert api.http.get("/revocations", headers=captured).status_code == 401
    codes = [
        api.http.get("/revocations", headers=api.bearer(now=moment)).status_code for _ in range(3)
    ]
    assert codes == [200, 200, 429]


def test_replays_and_authenticated_refusals_count_toward_the_address_budget(
    guarded: Callable[..., PartnerApi], federation: Federation, monkeypatch: pytest.MonkeyPatch
) -> None:

    moment = (time.time() // 60) * 60 + 30
    api = guarded(failure_limit_per_minute=3, clock=lambda: moment)
    captured = api.bearer(now=moment)
    assert api.http.get("/revocations", headers=captured).status_code == 200
    for _ in range(3):
        assert api.http.get("/revocations", headers=captured).status_code == 401
    verified = count_assertion_checks(monkeypatch)
    # The replaying address is now refused before any signature check, even with a fresh one.
    refused = api.http.get("/revocations", headers=api.bearer(now=moment))
    assert refused.status_code == 429
    assert verified == []
    # Authenticated-but-refused calls (here a suspended partner) count the same way.
    suspended = TrustStore(
        [
            replace(entry, status=IssuerStatus.SUSPENDED) if entry.id == "cn-gd" else entry
            for entry in federation.trust.issuers.values()
        ]
    )
    later = moment + 60  # the next window: the replays above are forgotten there
    gone = guarded(failure_limit_per_minute=3, clock=lambda: later, trust=suspended)
    codes = [
        gone.http.get("/revocations", headers=gone.bearer(now=later)).status_code for _ in range(4)
    ]
    assert codes == [401, 401, 401, 429]


def test_oversized_body_is_refused_before_authentication(
    api: PartnerApi, monkeypatch: pytest.MonkeyPatch
) -> None:

    verified = count_assertion_checks(monkeypatch)
    big = {"id_number": SC_CITIZEN, "name": "张三丰", "purpose": "x" * (40 * 1024)}
    answer = api.http.post("/status", json=big, headers=api.bearer())
    assert answer.status_code == 413
    assert answer.json()["error"] == "input_too_large"
    # Without Content-Length (chunked) the read stops past the limit, too.
    chunks = (b"x" * 8192 for _ in range(8))
    streamed = api.http.post("/transcode", content=chunks, headers=api.bearer())
    assert streamed.status_code == 413
    assert verified == []  # no ES256 work for it
    assert api.backend.audits == []  # nobody authenticated: logged, not audited
    # A body within the limit is still read whole and answered.
    small = {"id_number": SC_CITIZEN, "name": "张三丰", "purpose": "p"}
    assert api.http.post("/status", json=small, headers=api.bearer()).status_code == 200


def test_address_budget_counts_by_the_address_uvicorn_reports(
    make_api: Callable[..., PartnerApi], redis_url: str
) -> None:
    # As documented in interop/README.md: the router reads no proxy header; uvicorn takes the
    # address from X-Forwarded-For only for a peer in FORWARDED_ALLOW_IPS (loopback here).
    moment = (time.time() // 60) * 60 + 30
    api = make_api(redis_url, failure_limit_per_minute=1, clock=lambda: moment)
    forged = api.bearer(SigningKey.generate())

    def call(address: str) -> int:
        return api.http.get(
            "/revocations", headers={**forged, "X-Forwarded-For": address}
        ).status_code

    assert call("10.0.0.1") == 401
    assert call("10.0.0.1") == 429  # that address is spent ...
    assert call("10.0.0.2") == 401  # ... another one is not
