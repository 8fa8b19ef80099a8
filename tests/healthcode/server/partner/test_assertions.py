"""Partner client assertions: forged, replayed, mis-addressed, over the rate limit, no Redis."""

from __future__ import annotations

import time
from collections.abc import Callable

import jwt
import pytest

from healthcode import SigningKey
from healthcode.server.partner import create_partner_router
from healthcode.server.partner.guard import RedisPartnerGuard
from tests.healthcode.server.partner.partner_api import (
    Federation,
    PartnerApi,
    SichuanBackend,
    count_assertion_checks,
)
from tests.servers import free_port


def test_flood_of_forged_assertions_is_refused_before_verification(
    make_api: Callable[..., PartnerApi], redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:

    moment = (time.time() // 60) * 60 + 30
    api = make_api(redis_url, failure_limit_per_minute=3, clock=lambda: moment)
    stranger = SigningKey.generate()
    codes = [
        api.http.get("/revocations", headers=api.bearer(stranger)).status_code for _ in range(3)
    ]
    assert codes == [401, 401, 401]
    verified = count_assertion_checks(monkeypatch)
    refused = api.http.get("/revocations", headers=api.bearer(stranger))
    assert refused.status_code == 429
    assert refused.json()["error"] == "rate_limited"
    assert verified == []  # no ES256 work for the flooding address
    # Keys are scoped to the callee: another province on the same Redis is not affected.
    other = RedisPartnerGuard(
        redis_url, callee="cn-xx", limit_per_minute=1, failure_limit_per_minute=3
    )
    other.screen(client="127.0.0.1", now=moment)
    other.admit(partner="cn-gd", jti="j" * 22, expires_at=int(moment) + 60, now=moment)
    other.close()


def test_no_redis_is_refused_outside_demo_mode(federation: Federation) -> None:
    with pytest.raises(ValueError, match="needs redis_url"):
        create_partner_router(
            SichuanBackend(federation.sc_key),
            trust=lambda: federation.trust,
            redis_url=None,
            audience="http://x/partner/v1",
        )
    assert create_partner_router(
        SichuanBackend(federation.sc_key),
        trust=lambda: federation.trust,
        redis_url=None,
        audience="http://x/partner/v1",
        demo_mode=True,
    )


def test_assertion_signed_by_an_unlisted_key_is_invalid(api: PartnerApi) -> None:
    answer = api.http.get("/revocations", headers=api.bearer(SigningKey.generate()))
    assert answer.status_code == 401
    assert answer.json()["error"] == "assertion_invalid"
    # A credential-signing key is not a partner key either.
    answer = api.http.get("/revocations", headers=api.bearer(api.federation.gd_key))
    assert answer.json()["error"] == "assertion_invalid"
    # A listed partner key claiming another partner's identity.
    answer = api.http.get("/revocations", headers=api.bearer(partner="cn-sc"))
    assert answer.json()["error"] == "assertion_invalid"
    assert api.http.get("/revocations").json()["error"] == "assertion_invalid"


def test_replayed_assertion_is_refused(api: PartnerApi) -> None:
    headers = api.bearer()
    assert api.http.get("/revocations", headers=headers).status_code == 200
    again = api.http.get("/revocations", headers=headers)
    assert again.status_code == 401
    assert again.json()["error"] == "assertion_replayed"


def test_replay_is_refused_across_replicas(
    make_api: Callable[..., PartnerApi], redis_url: str
) -> None:
    # Two replicas behind one load-balanced URL share the audience and the Redis.
    audience = "https://hc.sc.example.cn/partner/v1"
    first, second = make_api(redis_url, audience), make_api(redis_url, audience)
    headers = first.bearer()
    assert first.http.get("/revocations", headers=headers).status_code == 200
    replayed = second.http.get("/revocations", headers=headers)
    assert replayed.status_code == 401
    assert replayed.json()["error"] == "assertion_replayed"
    assert second.http.get("/revocations", headers=second.bearer()).status_code == 200


def test_wrong_audience_expired_and_overlong_assertions_are_invalid(api: PartnerApi) -> None:
    wrong_aud = api.bearer(audience=api.audience + "/")
    assert api.http.get("/revocations", headers=wrong_aud).json()["error"] == "assertion_invalid"
    expired = api.bearer(now=time.time() - 1000)
    answer = api.http.get("/revocations", headers=expired)
    assert answer.status_code == 401
    assert answer.json()["error"] == "assertion_invalid"
    now = int(time.time())
    key = api.federation.gd_partner_key
    overlong = jwt.encode(
        {
            "iss": "cn-gd",
            "sub": "cn-gd",
            "aud": api.audience,
            "iat": now,
            "exp": now + 3600,
            "jti": "x" * 24,
        },
        key.private_key,
        algorithm="ES256",
        headers={"kid": key.kid},
    )
    answer = api.http.get("/revocations", headers={"Authorization": f"Bearer {overlong}"})
    assert answer.json()["error"] == "assertion_invalid"


def test_over_the_rate_limit_answers_429_with_retry_after(
    make_api: Callable[..., PartnerApi], redis_url: str
) -> None:
    # A fixed clock in mid-minute: all calls fall in one window whatever the real time is.
    moment = (time.time() // 60) * 60 + 30
    api = make_api(redis_url, rate_limit_per_minute=3, clock=lambda: moment)
    codes = [
        api.http.get("/revocations", headers=api.bearer(now=moment)).status_code for _ in range(4)
    ]
    assert codes == [200, 200, 200, 429]
    refused = api.http.get("/revocations", headers=api.bearer(now=moment))
    assert refused.json()["error"] == "rate_limited"
    assert refused.headers["Retry-After"] == "30"


def test_redis_down_fails_closed(make_api: Callable[..., PartnerApi]) -> None:
    api = make_api(f"redis://127.0.0.1:{free_port()}/0")
    answer = api.http.get("/revocations", headers=api.bearer())
    assert answer.status_code == 503
    assert answer.json()["error"] == "upstream_unavailable"
