"""The partner-region API router (standard §10), mounted by an issuer at `/partner/v1`.

The router holds the protocol: client-assertion authentication, replay and rate limits, input
checks, verification of what goes out and comes in, and the audit of every call. The province's
data stays behind `PartnerBackend`, which the issuer service implements.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Depends, Header, Query
from pydantic import BaseModel, Field

from healthcode.credential import mask_name
from healthcode.errors import (
    ErrorCode,
    HealthcodeError,
    RequestError,
    TrustUnavailable,
    VerificationError,
)
from healthcode.idnumber import ResidentId, parse_id_number
from healthcode.qr import encode_numeric
from healthcode.trust import Profile, RevocationChecker, TrustStore
from healthcode.verify import VerificationResult, verify_credential
from interop.partner.assertions import VerifiedAssertion, verify_client_assertion
from interop.partner.guard import MemoryPartnerGuard, PartnerGuard, RedisPartnerGuard

__all__ = ["PartnerBackend", "create_partner_router"]

logger = logging.getLogger("interop.partner")


class PartnerBackend(Protocol):
    """What an issuer provides to the partner API (implemented by the issuer service)."""

    issuer_id: str

    def lookup_status(self, resident: ResidentId, *, partner: str, purpose: str) -> str:
        """A compact JWS credential (lifetime <= 300 s); RequestError(NOT_FOUND) if unknown."""
        ...

    def transcode(self, source: VerificationResult, *, partner: str) -> str:
        """A credential of this region with the source's colour and hc.src = "iss/jti"."""
        ...

    def revocation_list(self, since: int) -> str:
        """The signed revocation list (compact JWS, §10.4) of entries after `since`."""
        ...

    def audit(self, *, actor: str, action: str, subject: str | None, purpose: str | None) -> None:
        """Record one partner call (§10.6); subject is a pseudonym, never an ID number."""
        ...


class StatusRequest(BaseModel):
    """§10.2 body. The ID number is only parsed, never stored or echoed."""

    id_number: str = Field(min_length=1, max_length=32)
    name: str | None = Field(default=None, max_length=64)
    purpose: str = Field(min_length=1, max_length=200)


class TranscodeRequest(BaseModel):
    """§10.3 body: a partner's credential (compact JWS or hc:/ text)."""

    credential: str = Field(min_length=1, max_length=16384)
    purpose: str = Field(default="transcode", min_length=1, max_length=200)


class CredentialAnswer(BaseModel):
    """A credential of this region: the token, its QR text, and `credential` (§10.2 name)."""

    token: str
    qr_text: str
    credential: str


def _bearer(authorization: str | None) -> str:
    if authorization is None:
        raise RequestError(
            ErrorCode.ASSERTION_INVALID,
            "send a client assertion as 'Authorization: Bearer <assertion>' (§10.1)",
        )
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise RequestError(
            ErrorCode.ASSERTION_INVALID, "the Authorization header must be 'Bearer <assertion>'"
        )
    return value.strip()


def _answer(token: str) -> CredentialAnswer:
    return CredentialAnswer(token=token, qr_text=encode_numeric(token), credential=token)


def create_partner_router(
    backend: PartnerBackend,
    *,
    trust: Callable[[], TrustStore],
    redis_url: str | None,
    audience: str,
    rate_limit_per_minute: int = 600,
    guard: PartnerGuard | None = None,
    clock: Callable[[], float] = time.time,
    revocation_checker: RevocationChecker | None = None,
) -> APIRouter:
    """The §10 endpoints: POST /status, POST /transcode, GET /revocations.

    Args:
        backend: the issuer's data and signing.
        trust: the current verified trust store (called per request, so refreshes apply).
        redis_url: shared storage for jti replay protection and rate limits; None keeps them
            in this process (one replica only, embedded demo).
        audience: this API's base URL exactly as listed in the trust list (`partner_api`).
        rate_limit_per_minute: calls per partner per fixed minute window.
        guard: replaces the Redis/in-process guard (tests of other storage).
        clock: epoch seconds; assertions are checked against it.
        revocation_checker: revocation data for credentials offered to /transcode (§10.3); None
            leaves revocation unchecked there (the result says `not_checked`).
    """
    if guard is None:
        guard = (
            RedisPartnerGuard(redis_url, limit_per_minute=rate_limit_per_minute)
            if redis_url
            else MemoryPartnerGuard(limit_per_minute=rate_limit_per_minute)
        )
    admit = guard

    def authenticated_partner(
        authorization: Annotated[str | None, Header()] = None,
    ) -> VerifiedAssertion:
        now = clock()
        try:
            assertion = verify_client_assertion(
                _bearer(authorization), trust(), audience=audience, now=now
            )
            admit.admit(
                partner=assertion.partner,
                jti=assertion.jti,
                expires_at=assertion.expires_at,
                now=now,
            )
        except HealthcodeError as error:
            # No authenticated partner to audit against: log the refusal (no personal data).
            logger.warning("partner call refused: %s: %s", error.code.value, error.message)
            raise
        return assertion

    # A default value, not an Annotated alias: a local alias cannot be resolved by FastAPI
    # from the postponed (string) annotations of this module.
    partner_dependency: Any = Depends(authenticated_partner)
    router = APIRouter(tags=["partner"])

    def audited(
        partner: str, action: str, purpose: str | None, work: Callable[[], tuple[Any, str | None]]
    ) -> Any:
        """Run `work` -> (answer, subject) and audit it, also when it is refused (§10.6)."""
        try:
            answer, subject = work()
        except HealthcodeError as error:
            backend.audit(
                actor=partner, action=f"{action}:{error.code.value}", subject=None, purpose=purpose
            )
            raise
        backend.audit(actor=partner, action=action, subject=subject, purpose=purpose)
        return answer

    @router.post("/status", response_model=CredentialAnswer)
    def status(
        body: StatusRequest, partner: VerifiedAssertion = partner_dependency
    ) -> CredentialAnswer:
        """§10.2 status look-up by ID number: a short-lived credential of this region."""

        def work() -> tuple[CredentialAnswer, str | None]:
            resident = parse_id_number(body.id_number)
            token = backend.lookup_status(resident, partner=partner.partner, purpose=body.purpose)
            # Relay only what verifies: a backend bug must not send out an unverifiable code.
            result = verify_credential(token, trust(), clock())
            if not result.valid or result.credential is None:
                # E.g. a new key not yet in the trust list: say so instead of relaying it.
                logger.error("own status credential fails verification: %s", result.message)
                raise TrustUnavailable(
                    ErrorCode.UPSTREAM_UNAVAILABLE,
                    f"this issuer's credential does not verify against the current trust list "
                    f"({result.error}); retry after the next trust-list refresh",
                )
            if body.name is not None and mask_name(body.name) != result.credential.masked_name:
                # Same answer as an unknown citizen: the caller learns nothing about who exists.
                raise RequestError(ErrorCode.NOT_FOUND, "no citizen with this ID number and name")
            return _answer(token), result.credential.subject

        answer: CredentialAnswer = audited(partner.partner, "status", body.purpose, work)
        return answer

    @router.post("/transcode", response_model=CredentialAnswer)
    def transcode(
        body: TranscodeRequest, partner: VerifiedAssertion = partner_dependency
    ) -> CredentialAnswer:
        """§10.3: a credential of the calling partner's region becomes one of this region."""

        def work() -> tuple[CredentialAnswer, str | None]:
            result = verify_credential(
                body.credential.strip(), trust(), clock(), revocations=revocation_checker
            )
            if not result.valid:
                assert result.error is not None
                raise VerificationError(result.error, result.message)
            if result.profile is not Profile.HC or result.credential is None:
                raise RequestError(
                    ErrorCode.INVALID_REQUEST, "only hc-profile credentials carry a colour"
                )
            if result.issuer != partner.partner:
                raise RequestError(
                    ErrorCode.FORBIDDEN,
                    f"partner {partner.partner!r} may transcode only its own region's codes "
                    f"(this one is from {result.issuer!r})",
                )
            token = backend.transcode(result, partner=partner.partner)
            return _answer(token), result.credential.subject

        answer: CredentialAnswer = audited(partner.partner, "transcode", body.purpose, work)
        return answer

    @router.get("/revocations")
    def revocations(
        partner: VerifiedAssertion = partner_dependency,
        since: Annotated[int, Query(ge=0, le=2**53)] = 0,
    ) -> dict[str, str]:
        """§10.4: the signed revocation list after `since` (jtis only, no personal data)."""

        def work() -> tuple[dict[str, str], str | None]:
            return {"revocation_list": backend.revocation_list(since)}, None

        answer: dict[str, str] = audited(partner.partner, "revocations", None, work)
        return answer

    return router
