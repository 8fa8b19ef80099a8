"""The partner-region API router against a real uvicorn server and a real redis-server.

The backend here is a small real implementation (real keys, real signatures) standing in for
the issuer service, which implements `PartnerBackend` for the province's own data.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import httpx
import jwt
import orjson
import pytest
from fastapi import FastAPI

from healthcode import (
    ErrorCode,
    IssuerEntry,
    RequestError,
    SigningKey,
    StatusColour,
    TrustedKey,
    TrustStore,
    new_credential,
    sign_credential,
    verify_credential,
)
from healthcode.credential import CodeKind, mask_name
from healthcode.idnumber import ResidentId, make_id_number, pseudonymous_subject
from healthcode.jws import sign_compact
from healthcode.partner import make_client_assertion
from healthcode.server import create_base_app
from healthcode.server.partner import create_partner_router
from healthcode.server.partner.guard import RedisPartnerGuard
from healthcode.trust import IssuerStatus, RevocationStatus
from healthcode.verify import VerificationResult
from tests.servers import AppServer, free_port

SECRET = b"partner-test-subject-secret-0123"
SC_CITIZEN = make_id_number("510104", __import__("datetime").date(1950, 1, 2), 121)


@dataclass
class SichuanBackend:
    """cn-sc's side: one known citizen, real signatures, audit kept in a list."""

    key: SigningKey
    issuer_id: str = "cn-sc"
    audits: list[dict[str, str | None]] = field(default_factory=list)

    issued: int = 0

    def lookup_status(self, resident: ResidentId, *, name: str, partner: str, purpose: str) -> str:
        subject = pseudonymous_subject(resident, SECRET)
        if subject != pseudonymous_subject(SC_CITIZEN, SECRET) or name != "张三丰":
            raise RequestError(ErrorCode.NOT_FOUND, "no such citizen")
        self.issued += 1
        credential = new_credential(
            issuer=self.issuer_id,
            subject=subject,
            status=StatusColour.YELLOW,
            masked_name=mask_name("张三丰"),
            id_tail=resident.tail,
            lifetime_s=300,
        )
        return sign_credential(credential, self.key)

    def transcode(self, source: VerificationResult, *, partner: str) -> str:
        original = source.credential
        assert original is not None
        credential = new_credential(
            issuer=self.issuer_id,
            subject=original.subject,
            status=original.status,
            masked_name=original.masked_name,
            id_tail=original.id_tail,
            kind=original.kind,
            reason=original.reason,
            lifetime_s=max(1, min(3600, original.expires_at - int(time.time()))),
            source=f"{original.issuer}/{original.jti}",
        )
        return sign_credential(credential, self.key)

    def revocation_list(self, since: int) -> str:
        payload = {
            "iss": self.issuer_id,
            "seq": since,
            "issued_at": int(time.time()),
            "since": since,
            "entries": [],
        }
        return sign_compact(orjson.dumps(payload), self.key, compress=False)

    def audit(self, *, actor: str, action: str, subject: str | None, purpose: str | None) -> None:
        self.audits.append(
            {"actor": actor, "action": action, "subject": subject, "purpose": purpose}
        )


@dataclass
class Federation:
    sc_key: SigningKey
    gd_key: SigningKey
    gd_partner_key: SigningKey
    trust: TrustStore


def count_assertion_checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Spy on the router's client-assertion check: one entry per signature verified."""
    import healthcode.server.partner.router as router_module
    from healthcode.partner.assertions import verify_client_assertion as real

    verified: list[str] = []

    def counting(*args: Any, **kwargs: Any) -> Any:
        verified.append("x")
        return real(*args, **kwargs)

    monkeypatch.setattr(router_module, "verify_client_assertion", counting)
    return verified


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


class PartnerApi:
    def __init__(
        self,
        federation: Federation,
        redis_url: str | None,
        audience: str | None = None,
        trust: TrustStore | None = None,
        backend_key: SigningKey | None = None,
        **options: Any,
    ) -> None:
        self.backend = SichuanBackend(backend_key or federation.sc_key)
        served_trust = trust or federation.trust
        options.setdefault("revocation_checker", RevokedJtis(set()))
        port = free_port()
        self.audience = audience or f"http://127.0.0.1:{port}/partner/v1"
        app: FastAPI = create_base_app(title="cn-sc partner API (test)")
        app.include_router(
            create_partner_router(
                self.backend,
                trust=lambda: served_trust,
                redis_url=redis_url,
                audience=self.audience,
                **options,
            ),
            prefix="/partner/v1",
        )
        self.server = AppServer(app, port=port)
        self.http = httpx.Client(base_url=f"{self.server.url}/partner/v1", timeout=10)
        self.federation = federation

    def bearer(self, key: SigningKey | None = None, **options: object) -> dict[str, str]:
        assertion = make_client_assertion(
            key or self.federation.gd_partner_key,
            partner=str(options.pop("partner", "cn-gd")),
            audience=str(options.pop("audience", self.audience)),
            **options,  # type: ignore[arg-type]
        )
        return {"Authorization": f"Bearer {assertion}"}

    def close(self) -> None:
        self.http.close()
        self.server.stop()


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


def test_status_lookup_returns_a_credential_that_verifies(api: PartnerApi) -> None:
    body = {"id_number": SC_CITIZEN, "name": "张三丰", "purpose": "id-card read at 广州南站"}
    answer = api.http.post("/status", json=body, headers=api.bearer())
    assert answer.status_code == 200, answer.text
    result = verify_credential(answer.json()["qr_text"], api.federation.trust)
    assert result.valid
    assert result.credential is not None
    assert result.credential.status is StatusColour.YELLOW
    assert result.credential.expires_at - result.credential.issued_at <= 300
    assert api.backend.audits == [
        {
            "actor": "cn-gd",
            "action": "status",
            "subject": result.credential.subject,
            "purpose": "id-card read at 广州南站",
        }
    ]
    assert SC_CITIZEN not in repr(api.backend.audits)


def test_status_lookup_refusals_reveal_nothing(api: PartnerApi) -> None:
    other = make_id_number("510104", __import__("datetime").date(1960, 5, 6), 333)
    unknown = api.http.post(
        "/status", json={"id_number": other, "name": "张三丰", "purpose": "p"}, headers=api.bearer()
    )
    wrong_name = api.http.post(
        "/status",
        json={"id_number": SC_CITIZEN, "name": "李四", "purpose": "p"},
        headers=api.bearer(),
    )
    assert unknown.status_code == wrong_name.status_code == 404
    assert unknown.json()["error"] == wrong_name.json()["error"] == "not_found"
    broken = SC_CITIZEN[:-1] + ("0" if SC_CITIZEN[-1] != "0" else "1")
    invalid = api.http.post(
        "/status",
        json={"id_number": broken, "name": "张三丰", "purpose": "p"},
        headers=api.bearer(),
    )
    assert invalid.status_code == 422
    assert invalid.json()["error"] == "invalid_id_number"
    assert broken not in invalid.text
    assert api.backend.issued == 0  # nothing was issued for a wrong name or number
    assert [a["action"] for a in api.backend.audits] == [
        "status:not_found",
        "status:not_found",
        "status:invalid_id_number",
    ]


def test_status_lookup_requires_the_name(api: PartnerApi) -> None:
    # §10.2: the name is required; without it a number alone would reveal a citizen's colour.
    answer = api.http.post(
        "/status", json={"id_number": SC_CITIZEN, "purpose": "p"}, headers=api.bearer()
    )
    assert answer.status_code == 422
    assert answer.json()["error"] == "invalid_request"
    assert SC_CITIZEN not in answer.text
    assert api.backend.issued == 0
    # Authenticated, so the refusal is audited against the partner (§10.6).
    assert api.backend.audits == [
        {"actor": "cn-gd", "action": "status:invalid_request", "subject": None, "purpose": None}
    ]


def test_authenticated_refusals_are_audited(
    make_api: Callable[..., PartnerApi], federation: Federation, redis_url: str
) -> None:
    moment = (time.time() // 60) * 60 + 30
    api = make_api(redis_url, rate_limit_per_minute=3, clock=lambda: moment)
    headers = api.bearer(now=moment)
    assert api.http.get("/revocations", headers=headers).status_code == 200
    assert api.http.get("/revocations", headers=headers).status_code == 401  # replay
    # The replay did not count toward the partner's limit of 3.
    assert api.http.get("/revocations", headers=api.bearer(now=moment)).status_code == 200
    assert api.http.get("/revocations", headers=api.bearer(now=moment)).status_code == 200
    assert api.http.get("/revocations", headers=api.bearer(now=moment)).status_code == 429
    bad_since = api.http.get("/revocations?since=x", headers=api.bearer(now=moment + 60))
    assert bad_since.status_code in (422, 429)
    suspended = [
        replace(entry, status=IssuerStatus.SUSPENDED) if entry.id == "cn-gd" else entry
        for entry in federation.trust.issuers.values()
    ]
    down = make_api(f"redis://127.0.0.1:{free_port()}/0")
    assert down.http.get("/revocations", headers=down.bearer()).status_code == 503
    gone = make_api(redis_url, trust=TrustStore(suspended))
    assert gone.http.get("/revocations", headers=gone.bearer()).status_code == 401
    assert [a["action"] for a in api.backend.audits][:5] == [
        "revocations",
        "revocations:assertion_replayed",
        "revocations",
        "revocations",
        "revocations:rate_limited",
    ]
    assert all(a["actor"] == "cn-gd" for a in api.backend.audits)
    assert [a["action"] for a in down.backend.audits] == ["revocations:upstream_unavailable"]
    assert [a["action"] for a in gone.backend.audits] == ["revocations:assertion_invalid"]
    # A forged assertion authenticates nobody: logged, not audited against a partner.
    forged = make_api(redis_url)
    forged.http.get("/revocations", headers=forged.bearer(SigningKey.generate()))
    assert forged.backend.audits == []


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


def test_transcoding_a_partner_code_yields_a_local_code_with_its_source(
    api: PartnerApi,
) -> None:
    fed = api.federation
    source = new_credential(
        issuer="cn-gd",
        subject="A" * 22,
        status=StatusColour.GREEN,
        masked_name="王*明",
        id_tail="0016",
        kind=CodeKind.PHONE,
    )
    token = sign_credential(source, fed.gd_key)
    answer = api.http.post(
        "/transcode", json={"credential": token, "purpose": "travel"}, headers=api.bearer()
    )
    assert answer.status_code == 200, answer.text
    result = verify_credential(answer.json()["token"], fed.trust)
    assert result.valid
    assert result.credential is not None
    assert result.issuer == "cn-sc"
    assert result.credential.source == f"cn-gd/{source.jti}"
    assert result.credential.status is StatusColour.GREEN
    assert result.credential.expires_at <= source.expires_at
    assert api.backend.audits[-1]["subject"] == "A" * 22


def test_transcoding_refuses_other_regions_and_forgeries(api: PartnerApi) -> None:
    fed = api.federation
    sc_code = sign_credential(
        new_credential(
            issuer="cn-sc",
            subject="B" * 22,
            status=StatusColour.GREEN,
            masked_name="王*明",
            id_tail="0016",
        ),
        fed.sc_key,
    )
    answer = api.http.post("/transcode", json={"credential": sc_code}, headers=api.bearer())
    assert answer.status_code == 403
    assert answer.json()["error"] == "forbidden"
    forged = sign_credential(
        new_credential(
            issuer="cn-gd",
            subject="C" * 22,
            status=StatusColour.GREEN,
            masked_name="王*明",
            id_tail="0016",
        ),
        SigningKey.generate(),
    )
    answer = api.http.post("/transcode", json={"credential": forged}, headers=api.bearer())
    assert answer.status_code == 422
    assert answer.json()["error"] == "unknown_key"


def test_suspended_partner_cannot_call(
    make_api: Callable[..., PartnerApi], federation: Federation, redis_url: str
) -> None:
    issuers = [
        replace(entry, status=IssuerStatus.SUSPENDED) if entry.id == "cn-gd" else entry
        for entry in federation.trust.issuers.values()
    ]
    api = make_api(redis_url, trust=TrustStore(issuers))
    answer = api.http.get("/revocations", headers=api.bearer())
    assert answer.status_code == 401
    assert answer.json()["error"] == "assertion_invalid"


class RevokedJtis:
    """Revocation data that knows a set of revoked jtis."""

    def __init__(self, revoked: set[str]) -> None:
        self.revoked = revoked

    def revocation_status(self, issuer: str, jti: str) -> RevocationStatus:
        return RevocationStatus.REVOKED if jti in self.revoked else RevocationStatus.NOT_REVOKED


def test_transcoding_a_revoked_code_is_refused(
    make_api: Callable[..., PartnerApi], federation: Federation, redis_url: str
) -> None:
    source = new_credential(
        issuer="cn-gd",
        subject="D" * 22,
        status=StatusColour.GREEN,
        masked_name="王*明",
        id_tail="0016",
    )
    api = make_api(redis_url, revocation_checker=RevokedJtis({source.jti}))
    token = sign_credential(source, federation.gd_key)
    answer = api.http.post("/transcode", json={"credential": token}, headers=api.bearer())
    assert answer.status_code == 422
    assert answer.json()["error"] == "revoked"
    assert api.backend.audits[-1]["action"] == "transcode:revoked"


def test_backend_credential_that_does_not_verify_is_not_relayed(
    make_api: Callable[..., PartnerApi], redis_url: str
) -> None:
    # The backend signs with a key the trust list does not (yet) hold.
    api = make_api(redis_url, backend_key=SigningKey.generate())
    body = {"id_number": SC_CITIZEN, "name": "张三丰", "purpose": "p"}
    answer = api.http.post("/status", json=body, headers=api.bearer())
    assert answer.status_code == 503
    assert answer.json()["error"] == "upstream_unavailable"
    assert "token" not in answer.json()


@pytest.mark.parametrize(
    "since",
    ["²", "１２", "٣", "-1", "+1", "1e3", " 1", "1 ", "", "9007199254740993", "0" * 17],
)
def test_revocations_since_must_be_ascii_digits(api: PartnerApi, since: str) -> None:
    # str.isdigit() accepts "²" (int() then fails: a 500) and int() reads "１２" as 12.
    answer = api.http.get("/revocations", params={"since": since}, headers=api.bearer())
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"] == "invalid_request"
    assert api.backend.audits[-1]["action"] == "revocations:invalid_request"


@pytest.mark.parametrize("since", ["0", "42", "9007199254740992"])
def test_revocations_since_accepts_zero_to_two_to_the_53(api: PartnerApi, since: str) -> None:
    answer = api.http.get("/revocations", params={"since": since}, headers=api.bearer())
    assert answer.status_code == 200, answer.text


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
