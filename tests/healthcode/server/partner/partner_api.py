"""A partner-region API served for tests, with a small real backend standing in for the issuer.

The backend (real keys, real signatures) stands in for the issuer service, which implements
`PartnerBackend` for the province's own data.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI

from healthcode import (
    ErrorCode,
    RequestError,
    SigningKey,
    StatusColour,
    TrustStore,
    new_credential,
    sign_credential,
)
from healthcode.credential import mask_name
from healthcode.idnumber import ResidentId, make_id_number, pseudonymous_subject
from healthcode.jws import sign_compact
from healthcode.partner import make_client_assertion
from healthcode.server import build_routes, create_base_app
from healthcode.server.partner import create_partner_router
from healthcode.trust import RevocationStatus
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
        self.server = AppServer(build_routes(app), port=port)
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


class RevokedJtis:
    """Revocation data that knows a set of revoked jtis."""

    def __init__(self, revoked: set[str]) -> None:
        self.revoked = revoked

    def revocation_status(self, issuer: str, jti: str) -> RevocationStatus:
        return RevocationStatus.REVOKED if jti in self.revoked else RevocationStatus.NOT_REVOKED
