"""The trust registry over HTTP: onboarding, suspension, rotation, revocation, versions."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from healthcode import ErrorCode, SigningKey, jwks_document, verify_credential
from healthcode.keychange import make_revocation_request, make_rotation_request
from healthcode.trust import IssuerStatus, KeyStatus
from healthcode.trustlist import parse_time, peek_payload
from tests.interop.conftest import Registry

MakeToken = Callable[..., str]


def onboarding(key: SigningKey, *, issuer: str = "cn-sc", region: str = "510000") -> dict[str, Any]:
    return {
        "id": issuer,
        "name": "四川省 Sichuan",
        "region": region,
        "profile": "hc",
        "endpoints": {"partner_api": f"http://127.0.0.1:9/{issuer}/partner/v1"},
        "jwks": jwks_document([key.verifying_key]),
        "partner_keys": [SigningKey.generate().verifying_key.to_jwk()],
    }


@pytest.fixture
def onboarded(registry: Registry) -> tuple[Registry, SigningKey]:
    key = SigningKey.generate()
    answer = registry.post_admin("/v1/admin/issuers", onboarding(key))
    assert answer.status_code == 201, answer.text
    return registry, key


def test_onboarded_issuer_is_in_the_verified_list(
    onboarded: tuple[Registry, SigningKey], make_token: MakeToken
) -> None:
    registry, key = onboarded
    trust = registry.trust()
    entry = trust.issuer("cn-sc")
    assert entry is not None
    assert entry.region == "510000"
    assert len(entry.partner_keys) == 1
    now = time.time()
    result = verify_credential(make_token(key=key, now=now), trust, now)
    assert result.valid, result.message


def test_admin_routes_need_the_admin_token(registry: Registry) -> None:
    body = onboarding(SigningKey.generate())
    assert registry.http.post("/v1/admin/issuers", json=body).json()["error"] == "unauthenticated"
    wrong = registry.http.post(
        "/v1/admin/issuers", json=body, headers={"Authorization": "Bearer nope"}
    )
    assert wrong.status_code == 401
    assert registry.http.get("/v1/trust-list").status_code == 404  # nothing was published


def test_bad_onboarding_is_refused_without_publishing(registry: Registry) -> None:
    key = SigningKey.generate()
    unknown_region = registry.post_admin("/v1/admin/issuers", onboarding(key, region="999999"))
    assert unknown_region.status_code == 422
    assert unknown_region.json()["error"] == "unknown_region"
    bad_jwk = onboarding(key)
    bad_jwk["jwks"] = {"keys": [{"kty": "RSA", "n": "x", "e": "AQAB"}]}
    assert registry.post_admin("/v1/admin/issuers", bad_jwk).json()["error"] == "invalid_request"
    assert registry.http.get("/v1/trust-list").status_code == 404
    assert registry.post_admin("/v1/admin/issuers", onboarding(key)).status_code == 201
    again = registry.post_admin("/v1/admin/issuers", onboarding(key, issuer="cn-sc2"))
    assert again.status_code == 409  # same province and same key: refused
    assert registry.http.get("/v1/trust-list/2").status_code == 404


def test_suspended_issuer_codes_fail_and_reinstating_restores_them(
    onboarded: tuple[Registry, SigningKey], make_token: MakeToken
) -> None:
    registry, key = onboarded
    now = time.time()
    token = make_token(key=key, now=now)
    assert registry.post_admin("/v1/admin/issuers/cn-sc/suspend", {"reason": "audit"}).is_success
    trust = registry.trust()
    entry = trust.issuer("cn-sc")
    assert entry is not None
    assert entry.status is IssuerStatus.SUSPENDED
    assert verify_credential(token, trust, now).error is ErrorCode.ISSUER_SUSPENDED
    assert registry.post_admin("/v1/admin/issuers/cn-sc/reinstate").is_success
    assert verify_credential(token, registry.trust(), now).valid


def test_emergency_key_revocation_fails_codes_at_once(
    onboarded: tuple[Registry, SigningKey], make_token: MakeToken
) -> None:
    registry, key = onboarded
    now = time.time()
    token = make_token(key=key, now=now)
    answer = registry.post_admin(f"/v1/admin/issuers/cn-sc/keys/{key.kid}/revoke", {"reason": "x"})
    assert answer.json()["trust_list_version"] == 2
    result = verify_credential(token, registry.trust(), now)
    assert result.error is ErrorCode.KEY_REVOKED
    missing = registry.post_admin("/v1/admin/issuers/cn-sc/keys/nokid/revoke")
    assert missing.status_code == 404


def test_key_rotation_with_both_proofs(
    onboarded: tuple[Registry, SigningKey], make_token: MakeToken
) -> None:
    registry, old = onboarded
    new = SigningKey.generate()
    request = make_rotation_request(issuer="cn-sc", current_key=old, new_key=new)
    answer = registry.http.post("/v1/issuers/cn-sc/keys", json=request)
    assert answer.status_code == 201, answer.text
    trust = registry.trust()
    statuses = {k.kid: k.status for k in trust.issuers["cn-sc"].keys}
    assert statuses == {old.kid: KeyStatus.RETIRED, new.kid: KeyStatus.ACTIVE}
    now = time.time() + 1
    assert verify_credential(make_token(key=new, now=now), trust, now).valid
    # §7.4: the issuer signs with the new key only from use_from (verifiers learn it first),
    # so the old key stays valid for codes issued until then, plus the skew; not after.
    use_from = parse_time(answer.json()["use_from"], "use_from").timestamp()
    assert use_from >= now - 1 + 300 - 2  # the default activation delay
    until = use_from + 120
    assert verify_credential(make_token(key=old, now=now + 5), trust, now + 5).valid
    late = make_token(key=old, now=until + 1)
    assert verify_credential(late, trust, until + 1).error is ErrorCode.KEY_NOT_VALID
    # The same request again is refused (the key is listed, the nonce used).
    assert registry.http.post("/v1/issuers/cn-sc/keys", json=request).status_code in (401, 409)


def test_rotation_refused_without_the_current_key_proof(
    onboarded: tuple[Registry, SigningKey],
) -> None:
    registry, _ = onboarded
    new, stranger = SigningKey.generate(), SigningKey.generate()
    forged = make_rotation_request(issuer="cn-sc", current_key=stranger, new_key=new)
    answer = registry.http.post("/v1/issuers/cn-sc/keys", json=forged)
    assert answer.status_code == 401
    assert answer.json()["error"] == "assertion_invalid"
    self_signed = make_rotation_request(issuer="cn-sc", current_key=new, new_key=new)
    assert registry.http.post("/v1/issuers/cn-sc/keys", json=self_signed).status_code == 401
    assert registry.http.get("/v1/trust-list/2").status_code == 404


def test_rotation_refused_without_proof_of_possession(
    onboarded: tuple[Registry, SigningKey],
) -> None:
    registry, old = onboarded
    new, other = SigningKey.generate(), SigningKey.generate()
    request = make_rotation_request(issuer="cn-sc", current_key=old, new_key=new)
    # Possession proof by someone else's key while submitting `new`'s public key.
    request["possession"] = make_rotation_request(issuer="cn-sc", current_key=old, new_key=other)[
        "possession"
    ]
    answer = registry.http.post("/v1/issuers/cn-sc/keys", json=request)
    assert answer.status_code == 401
    assert answer.json()["error"] == "assertion_invalid"
    stale = make_rotation_request(
        issuer="cn-sc", current_key=old, new_key=new, now=time.time() - 3600
    )
    assert registry.http.post("/v1/issuers/cn-sc/keys", json=stale).status_code == 401
    assert registry.http.get("/v1/trust-list/2").status_code == 404


def test_versions_are_monotonic_and_every_version_is_kept(
    onboarded: tuple[Registry, SigningKey],
) -> None:
    registry, _ = onboarded
    for _ in range(3):
        assert registry.post_admin("/v1/admin/publish").is_success
    versions = [
        peek_payload(registry.http.get(f"/v1/trust-list/{v}").content)["version"]
        for v in range(1, 5)
    ]
    assert versions == [1, 2, 3, 4]
    assert peek_payload(registry.http.get("/v1/trust-list").content)["version"] == 4
    audit = registry.http.get("/v1/admin/audit", headers=registry.admin).json()
    assert [r["trust_list_version"] for r in audit] == [4, 3, 2, 1]
    assert audit[-1]["action"] == "onboard"


def test_old_version_offered_to_a_client_is_a_rollback(
    onboarded: tuple[Registry, SigningKey],
) -> None:
    from datetime import UTC, datetime

    from healthcode import TrustListError

    registry, _ = onboarded
    registry.post_admin("/v1/admin/publish")
    state = registry.client_state()
    state.update(registry.http.get("/v1/trust-list").content, datetime.now(UTC))
    with pytest.raises(TrustListError) as refused:
        state.update(registry.http.get("/v1/trust-list/1").content, datetime.now(UTC))
    assert refused.value.code is ErrorCode.TRUST_LIST_ROLLBACK


def test_etag_answers_not_modified(onboarded: tuple[Registry, SigningKey]) -> None:
    registry, _ = onboarded
    first = registry.http.get("/v1/trust-list")
    etag = first.headers["ETag"]
    assert registry.http.get("/v1/trust-list", headers={"If-None-Match": etag}).status_code == 304
    registry.post_admin("/v1/admin/publish")
    changed = registry.http.get("/v1/trust-list", headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag


def test_issuer_revokes_its_own_compromised_key(
    onboarded: tuple[Registry, SigningKey], make_token: MakeToken
) -> None:
    registry, key = onboarded
    now = time.time()
    token = make_token(key=key, now=now)
    path = f"/v1/issuers/cn-sc/keys/{key.kid}/revoke"
    stranger = make_revocation_request(
        issuer="cn-sc", signing_key=SigningKey.generate(), revoke_kid=key.kid
    )
    refused = registry.http.post(path, json=stranger)
    assert refused.status_code == 401
    assert registry.http.get("/v1/trust-list/2").status_code == 404
    request = make_revocation_request(issuer="cn-sc", signing_key=key, revoke_kid=key.kid)
    answer = registry.http.post(path, json=request)
    assert answer.status_code == 200, answer.text
    assert verify_credential(token, registry.trust(), now).error is ErrorCode.KEY_REVOKED
    audit = registry.http.get("/v1/admin/audit", headers=registry.admin).json()
    assert (audit[0]["action"], audit[0]["actor"]) == ("revoke_key", "issuer:cn-sc")
    # The revoked key can sign nothing more, not even a second request.
    again = make_revocation_request(issuer="cn-sc", signing_key=key, revoke_kid=key.kid)
    assert registry.http.post(path, json=again).status_code == 401
