"""The partner-region API router (standard §10), mounted by an issuer at `/partner/v1`.

The router holds the protocol: client-assertion authentication, replay and rate limits, input
checks, verification of what goes out and comes in, and the audit of every call. The province's
data stays behind `PartnerBackend`, which the issuer service implements.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from healthcode.credential import mask_name
from healthcode.errors import (
    ErrorCode,
    HealthcodeError,
    RequestError,
    TrustUnavailable,
    VerificationError,
)
from healthcode.idnumber import ResidentId, parse_id_number
from healthcode.partner.assertions import (
    PartnerRefused,
    VerifiedAssertion,
    verify_client_assertion,
)
from healthcode.qr import encode_numeric
from healthcode.server.openapi import error_responses
from healthcode.server.partner.guard import (
    DEFAULT_FAILURE_LIMIT_PER_MINUTE,
    MemoryPartnerGuard,
    PartnerGuard,
    RedisPartnerGuard,
)
from healthcode.trust import Profile, RevocationChecker, TrustStore
from healthcode.verify import VerificationResult, verify_credential

__all__ = ["PartnerBackend", "create_partner_router"]

logger = logging.getLogger("healthcode.server.partner")
_Body = TypeVar("_Body", bound=BaseModel)
#: Largest request body read; larger ones are refused before any authentication work.
_MAX_BODY_BYTES = 32 * 1024
#: `since` of GET /revocations: ASCII digits only. str.isdigit() also takes "²" (which int()
#: then refuses: a 500) and int() reads "١٢" or "１２" as 12; 16 digits hold 2^53.
_SINCE_PATTERN = re.compile(r"[0-9]{1,16}")
_MAX_SINCE = 2**53


class PartnerBackend(Protocol):
    """What an issuer provides to the partner API (implemented by the issuer service)."""

    issuer_id: str

    def lookup_status(self, resident: ResidentId, *, name: str, partner: str, purpose: str) -> str:
        """A compact JWS credential (lifetime <= 300 s) of the citizen with this number **and**
        name; RequestError(NOT_FOUND) before anything is issued when either does not match."""
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
    """§10.2 body. The ID number is only parsed, never stored or echoed; the name is required
    and matched (keyed hash) before any credential is issued."""

    id_number: str = Field(min_length=1, max_length=32)
    name: str = Field(min_length=1, max_length=64)
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


async def _read_body(request: Request) -> bytes:
    """The request body, refused (413 `input_too_large`) past `_MAX_BODY_BYTES` before any
    authentication work: at once when Content-Length says so, else as soon as the streamed
    bytes pass it, so no caller, authenticated or not, makes us buffer more."""
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > _MAX_BODY_BYTES:
        raise _too_large()
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > _MAX_BODY_BYTES:
            raise _too_large()
    return bytes(body)


def _too_large() -> RequestError:
    # Nobody is authenticated yet: logged, not audited (§10.6).
    logger.warning(
        "partner call refused before authentication: body over %d bytes", _MAX_BODY_BYTES
    )
    return RequestError(
        ErrorCode.INPUT_TOO_LARGE,
        f"the request body is over {_MAX_BODY_BYTES} bytes; partner requests are small JSON",
    )


def _parse(model: type[_Body], raw: bytes) -> _Body:
    """Validate a body after authentication, so a refused body is audited (§10.6). Messages
    name fields only: an input value (an ID number) is never echoed. `raw` is at most
    `_MAX_BODY_BYTES` (`_read_body`)."""
    try:
        return model.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        fields = sorted(
            {".".join(str(p) for p in error["loc"]) or "body" for error in exc.errors()}
        )
        raise RequestError(
            ErrorCode.INVALID_REQUEST, f"invalid or missing fields: {', '.join(fields)}"
        ) from None


def _body_schema(model: type[BaseModel]) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": model.model_json_schema()}},
        }
    }


def _make_guard(
    callee: str,
    redis_url: str | None,
    *,
    limit: int,
    failure_limit: int,
    demo_mode: bool,
) -> PartnerGuard:
    if redis_url:
        return RedisPartnerGuard(
            redis_url, callee=callee, limit_per_minute=limit, failure_limit_per_minute=failure_limit
        )
    if not demo_mode:
        # In-process jti memory would let a second replica accept a replayed assertion.
        raise ValueError(
            "the partner API needs redis_url (replay protection and rate limits shared by "
            "every replica, §10.1); an in-process guard is allowed in demo mode only"
        )
    return MemoryPartnerGuard(limit_per_minute=limit, failure_limit_per_minute=failure_limit)


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
    demo_mode: bool = False,
    failure_limit_per_minute: int = DEFAULT_FAILURE_LIMIT_PER_MINUTE,
) -> APIRouter:
    """The §10 endpoints: POST /status, POST /transcode, GET /revocations.

    Args:
        backend: the issuer's data and signing.
        trust: the current verified trust store (called per request, so refreshes apply).
        redis_url: shared storage for jti replay protection and rate limits. Required unless
            `demo_mode` (then None keeps them in this process: one replica only).
        audience: this API's base URL exactly as listed in the trust list (`partner_api`).
        rate_limit_per_minute: calls per partner per fixed minute window.
        guard: replaces the Redis/in-process guard (tests of other storage).
        clock: epoch seconds; assertions are checked against it.
        revocation_checker: revocation data of the partners' credentials offered to
            /transcode (§10.3); it must fail closed (`unknown`) when its data is stale.
        demo_mode: allows the in-process guard.
        failure_limit_per_minute: refused assertions (failing to verify, authenticated but
            refused, replayed) per caller address and minute before that address is refused
            without verifying (§10.5). The address is `request.client`, as the ASGI server
            reports it (interop/README.md says which proxy headers uvicorn trusts for it).

    Raises:
        ValueError: no `redis_url` and no `guard` outside demo mode.
    """
    admit = guard or _make_guard(
        backend.issuer_id,
        redis_url,
        limit=rate_limit_per_minute,
        failure_limit=failure_limit_per_minute,
        demo_mode=demo_mode,
    )
    # Every operation authenticates the partner, admits it (replay, rate) and may find the
    # trust list or a partner's revocation data unavailable (§10.5).
    router = APIRouter(
        tags=["partner"],
        responses=error_responses(
            ErrorCode.ASSERTION_INVALID,
            ErrorCode.ASSERTION_REPLAYED,
            ErrorCode.FORBIDDEN,
            ErrorCode.NOT_FOUND,
            ErrorCode.RATE_LIMITED,
            ErrorCode.UPSTREAM_UNAVAILABLE,
            ErrorCode.TRUST_LIST_UNAVAILABLE,
        ),
    )

    def authenticate(client: str, authorization: str | None, now: float) -> VerifiedAssertion:
        # Cheap first: an address that keeps sending bad assertions gets no ES256 work.
        admit.screen(client=client, now=now)
        try:
            return verify_client_assertion(
                _bearer(authorization), trust(), audience=audience, now=now
            )
        except HealthcodeError as error:
            # Every refused assertion cost a signature check (or was garbage): forged ones and
            # authenticated-but-refused ones (suspended partner, wrong aud, expired) alike
            # count toward this address's budget, so neither can be sent at ES256 cost for ever.
            admit.note_failure(client=client, now=now)
            if not isinstance(error, PartnerRefused):
                # Nobody authenticated to audit against: log the refusal (no personal data).
                logger.warning("partner call refused: %s: %s", error.code.value, error.message)
            raise

    def handle(
        action: str,
        request: Request,
        raw: bytes,
        work: Callable[[bytes, VerifiedAssertion, list[str | None]], tuple[Any, str | None]],
    ) -> Any:
        """Authenticate, admit, run `work` and audit the outcome, refusals included (§10.6):
        `<action>` or `<action>:<error code>` once the partner is known."""
        now = clock()
        client = request.client.host if request.client else "unknown"
        purpose: list[str | None] = [None]  # set by `work` once the body is parsed
        try:
            assertion = authenticate(client, request.headers.get("authorization"), now)
        except PartnerRefused as error:
            backend.audit(
                actor=error.partner,
                action=f"{action}:{error.code.value}",
                subject=None,
                purpose=None,
            )
            raise
        try:
            admit.admit(
                partner=assertion.partner,
                jti=assertion.jti,
                expires_at=assertion.expires_at,
                now=now,
            )
            answer, subject = work(raw, assertion, purpose)
        except HealthcodeError as error:
            if error.code is ErrorCode.ASSERTION_REPLAYED:
                # Whoever replays a captured assertion spends this address's budget (the guard
                # left the partner's own budget alone: the jti was not new).
                admit.note_failure(client=client, now=now)
            backend.audit(
                actor=assertion.partner,
                action=f"{action}:{error.code.value}",
                subject=None,
                purpose=purpose[0],
            )
            raise
        backend.audit(actor=assertion.partner, action=action, subject=subject, purpose=purpose[0])
        return answer

    def status_work(
        raw: bytes, partner: VerifiedAssertion, purpose: list[str | None]
    ) -> tuple[CredentialAnswer, str | None]:
        body = _parse(StatusRequest, raw)
        purpose[0] = body.purpose
        resident = parse_id_number(body.id_number)
        token = backend.lookup_status(
            resident, name=body.name, partner=partner.partner, purpose=body.purpose
        )
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
        if mask_name(body.name) != result.credential.masked_name:
            # Defence in depth: the backend matched the name's keyed hash before issuing.
            logger.error("status credential names someone else than asked; not relayed")
            raise RequestError(ErrorCode.NOT_FOUND, "no citizen with this ID number and name")
        return _answer(token), result.credential.subject

    @router.post(
        "/status", response_model=CredentialAnswer, openapi_extra=_body_schema(StatusRequest)
    )
    async def status(request: Request) -> CredentialAnswer:
        """§10.2 status look-up by ID number and name: a short-lived credential of this region."""
        raw = await _read_body(request)
        answer: CredentialAnswer = await run_in_threadpool(
            handle, "status", request, raw, status_work
        )
        return answer

    def transcode_work(
        raw: bytes, partner: VerifiedAssertion, purpose: list[str | None]
    ) -> tuple[CredentialAnswer, str | None]:
        body = _parse(TranscodeRequest, raw)
        purpose[0] = body.purpose
        # §10.3: verified against the trust list *and* the partner's revocation data; without
        # a checker the source's revocation would be unknown, so refuse rather than mint.
        if revocation_checker is None:
            raise TrustUnavailable(
                ErrorCode.UPSTREAM_UNAVAILABLE,
                "transcoding needs the partners' revocation data, which is not configured",
            )
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

    @router.post(
        "/transcode",
        response_model=CredentialAnswer,
        openapi_extra=_body_schema(TranscodeRequest),
    )
    async def transcode(request: Request) -> CredentialAnswer:
        """§10.3: a credential of the calling partner's region becomes one of this region."""
        raw = await _read_body(request)
        answer: CredentialAnswer = await run_in_threadpool(
            handle, "transcode", request, raw, transcode_work
        )
        return answer

    @router.get(
        "/revocations",
        openapi_extra={
            "parameters": [
                {
                    "name": "since",
                    "in": "query",
                    "required": False,
                    "schema": {
                        "type": "integer",
                        "minimum": 0,
                        "maximum": _MAX_SINCE,
                        "default": 0,
                    },
                }
            ]
        },
    )
    async def revocations(request: Request) -> dict[str, str]:
        """§10.4: the signed revocation list after `since` (jtis only, no personal data)."""
        since_text = request.query_params.get("since", "0")

        def work(
            raw: bytes, partner: VerifiedAssertion, purpose: list[str | None]
        ) -> tuple[dict[str, str], str | None]:
            if not _SINCE_PATTERN.fullmatch(since_text) or int(since_text) > _MAX_SINCE:
                raise RequestError(
                    ErrorCode.INVALID_REQUEST, "since must be an integer 0..2^53 in ASCII digits"
                )
            return {"revocation_list": backend.revocation_list(int(since_text))}, None

        answer: dict[str, str] = await run_in_threadpool(handle, "revocations", request, b"", work)
        return answer

    return router
