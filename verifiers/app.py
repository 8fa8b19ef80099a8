"""The checkpoint verifier service: `create_app(settings)` builds the FastAPI app.

Routes are thin: they authenticate, call `CheckpointService` (plain methods tests can call),
write the scan log and answer. A verification verdict is a 200 answer whose `display` is the
colour or "error"; a refused request (auth, bad ID number, offline) is an error answer with
the status from `healthcode.server.HTTP_STATUS`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import orjson
from fastapi import Depends, FastAPI, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field, ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from healthcode.errors import ErrorCode, HealthcodeError, RequestError, TrustUnavailable
from healthcode.fetch import PEER_BOUNDS, PeerClient
from healthcode.idnumber import ResidentId, parse_id_number, pseudonymous_subject
from healthcode.peersync import PeerSyncs
from healthcode.server import HTTP_STATUS, create_base_app, error_body
from healthcode.server.metrics import count_request
from healthcode.server.openapi import error_responses
from healthcode.server.redis_client import connect_redis
from verifiers.auth import Authenticator, LoginThrottle, Principal, Role, require_role
from verifiers.binding import HolderBinding
from verifiers.lookup import IssuerCredential, StatusLookup
from verifiers.observability import checkpoint_readiness, count_scan, count_scan_refusal
from verifiers.published import PublishedRevocations
from verifiers.revocations import RevocationCache
from verifiers.scan import Checkpoint, ScanAnswer
from verifiers.scanlog import ScanLog, export_csv, make_engine, scan_to_row
from verifiers.settings import MAX_BATCH_SCANS, VerifierSettings
from verifiers.trustsource import TrustSource, trust_source_from_settings

logger = logging.getLogger("verifiers")

PAGES_DIR = Path(__file__).parent / "pages"
STATIC_DIR = Path(__file__).parent / "static"
_MAX_SCAN_CHARS = 65536  # a batch item's bound; the verifier's own limit (16384) gives a verdict
# A scan body is refused unread past this many bytes (413 input_too_large): even JSON-escaped
# (6 bytes a character), a text of _MAX_SCAN_CHARS fits. A shorter body whose text is too long
# for a code is answered like any scan, with the verdict input_too_large (§6 step 1, §9).
_MAX_SCAN_BODY = 6 * _MAX_SCAN_CHARS + 1024
_SCAN_BODY_HELP = 'send {"text": "<scanned text>"} as JSON'
_SCAN_BODY_TOO_LARGE = f"a scan request is over {_MAX_SCAN_BODY} bytes; no health code is that long"


class ScanRequest(BaseModel):
    text: str


class BatchRequest(BaseModel):
    scans: list[Annotated[str, Field(max_length=_MAX_SCAN_CHARS)]] = Field(
        max_length=MAX_BATCH_SCANS
    )


class IdCardRequest(BaseModel):
    id_number: str = Field(max_length=40)
    name: str | None = Field(default=None, max_length=64)


class LoginRequest(BaseModel):
    username: str = Field(max_length=64)
    password: str = Field(max_length=256)


def _bearer_token(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header; None for anything else."""
    scheme, _, token = (header or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


async def _principal(request: Request) -> Principal:
    """The caller of a request, from its `Authorization: Bearer` header."""
    service: CheckpointService = request.app.state.service
    return service.auth.authenticate(_bearer_token(request.headers.get("authorization")))


def _scan_text_of(body: bytes) -> str:
    """The `text` of a scan request body `{"text": "..."}` (other members are ignored).

    The same rules as the `ScanRequest` model, checked by hand: this runs on every scan.
    """
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        data = None
    text = data.get("text") if isinstance(data, dict) else None
    if not isinstance(text, str):
        raise RequestError(ErrorCode.INVALID_REQUEST, _SCAN_BODY_HELP)
    return text


Caller = Annotated[Principal, Depends(_principal)]

#: Every route with a `Caller`: no or a bad token, an expired one, a role that may not.
_CALLER_REFUSALS = (ErrorCode.UNAUTHENTICATED, ErrorCode.TOKEN_EXPIRED, ErrorCode.FORBIDDEN)
_AUTHENTICATED = error_responses(*_CALLER_REFUSALS)
#: An ID-card read or assisted look-up also asks the home province (verifiers.lookup).
_LOOKUP = error_responses(
    *_CALLER_REFUSALS,
    ErrorCode.INVALID_ID_NUMBER,
    ErrorCode.UNKNOWN_REGION,
    ErrorCode.NOT_FOUND,
    ErrorCode.RATE_LIMITED,
    ErrorCode.UNAVAILABLE_OFFLINE,
    ErrorCode.UPSTREAM_UNAVAILABLE,
    ErrorCode.UPSTREAM_MALFORMED,
    ErrorCode.UPSTREAM_TIMEOUT,
)


class CheckpointService:
    """Everything one checkpoint process holds, with the operations routes and jobs call."""

    def __init__(self, settings: VerifierSettings, trust_source: TrustSource | None = None) -> None:
        self.settings = settings
        self.engine = make_engine(settings.database_url)
        self.scan_log = ScanLog(
            self.engine,
            settings.checkpoint_id,
            flush_interval_s=settings.scan_log_flush_s,
            # Replayed here if the last process died before its batch reached the database.
            journal_path=settings.state_dir / "scan-journal.jsonl"
            if settings.scan_journal
            else None,
        )
        self.auth = Authenticator(
            self.engine,
            settings.token_secret.get_secret_value().encode("utf-8"),
            settings.session_lifetime_s,
        )
        self.trust_source = trust_source or trust_source_from_settings(settings)
        self.revocations = RevocationCache(
            settings.state_dir,
            max_age_s=settings.max_revocation_age_s,
            timeout_s=settings.lookup_timeout_s,
        )
        # Read in the background only (the scan path asks the in-memory copy); a failed
        # refresh is retried on the next round, not inside it.
        self.published_revocations = (
            PublishedRevocations(
                connect_redis(settings.revocation_redis_url, timeout_s=1.0),
                carry_s=settings.max_revocation_age_s,
            )
            if settings.revocation_redis_url
            else None
        )
        self.checkpoint = Checkpoint(
            self.trust_source,
            self.revocations,
            max_image_bytes=settings.max_image_bytes,
            published_revocations=self.published_revocations,
        )
        self.http = PeerClient()
        self.syncs = PeerSyncs()
        if self.trust_source.status().get("source") == "registry":
            self.syncs.put(
                "registry",
                "registry",
                self._sync_registry,
                interval_s=settings.revocation_sync_interval_s,
                deadline_s=settings.registry_sync_deadline_s,
            )
        self._put_issuer_sources()
        self.redis = (
            connect_redis(settings.redis_url, timeout_s=0.5) if settings.redis_url else None
        )
        self.lookup = StatusLookup(
            self.checkpoint,
            issuer_url=settings.issuer_url,
            issuer_credential=IssuerCredential(
                token=settings.issuer_token.get_secret_value() if settings.issuer_token else None,
                username=settings.issuer_username,
                password=(
                    settings.issuer_password.get_secret_value()
                    if settings.issuer_password
                    else None
                ),
            ),
            checkpoint_id=settings.checkpoint_id,
            cache_secret=settings.lookup_secret.get_secret_value().encode("utf-8"),
            redis_client=self.redis,
            http=self.http,
            cache_ttl_s=settings.lookup_cache_ttl_s,
            bounds=dataclasses.replace(
                PEER_BOUNDS.status_lookup, deadline_s=settings.lookup_timeout_s
            ),
        )
        self._subject_secret = settings.subject_secret.get_secret_value().encode("utf-8")
        self.login_throttle = LoginThrottle(
            self.engine,
            settings.token_secret.get_secret_value().encode("utf-8"),
            max_failures=settings.login_max_failures,
            window_s=settings.login_failure_window_s,
        )
        # Scan + tap (standard §6.4, ADR 0014): pairs a code and an ID card read together.
        self.binding = HolderBinding(
            settings.scan_tap_window_s, required=settings.scan_tap_required
        )

    def close(self) -> None:
        """Flush the scan log and release connections."""
        self.syncs.stop()
        self.scan_log.close()
        self.trust_source.close()
        self.http.close()
        if self.redis is not None:
            self.redis.close()
        if self.published_revocations is not None:
            self.published_revocations.close()
        self.engine.dispose()

    # -- jobs
    def sync_revocations(self) -> dict[str, str]:
        """Refresh the trust list, then pull every issuer's revocation list, each issuer in
        its own thread within its own deadline; issuer id -> outcome (never raises)."""
        if "registry" in self.syncs.names("registry"):
            self.syncs.run("registry")
        else:
            self._put_issuer_sources()
        return self.syncs.run_all_once("issuer")

    def _sync_registry(self) -> str:
        """The registry source's job: refresh, then follow the issuers the list names."""
        taken = self.trust_source.refresh()
        error = self.trust_source.status().get("last_error")
        self._put_issuer_sources()
        if isinstance(error, dict):
            raise TrustUnavailable(ErrorCode(error["code"]), str(error.get("message")))
        return "new list" if taken else "ok"

    def _put_issuer_sources(self) -> None:
        """One source per issuer with a revocations endpoint in the held trust list."""
        try:
            issuers = self.checkpoint.trust().issuers
        except HealthcodeError:
            return  # no list yet: the registry source adds them once it has one
        wanted = [i for i, entry in issuers.items() if entry.endpoints.get("revocations")]
        for issuer_id in wanted:
            self.syncs.put(
                issuer_id,
                "issuer",
                functools.partial(self._sync_issuer, issuer_id),
                interval_s=self.settings.revocation_sync_interval_s,
                deadline_s=self.settings.revocation_sync_deadline_s,
            )
        self.syncs.keep_only("issuer", wanted)

    def _sync_issuer(self, issuer_id: str) -> str:
        issuer = self.checkpoint.trust().issuers.get(issuer_id)
        if issuer is None or not issuer.endpoints.get("revocations"):
            return "no longer listed"
        return f"ok (+{self.revocations.sync_issuer(issuer, self.http)})"

    def refresh_published_revocations(self) -> bool:
        """Copy the issuers' published revocation sets from Redis into memory (never raises)."""
        if self.published_revocations is None:
            return False
        try:
            issuers = list(self.checkpoint.trust().issuers)
        except HealthcodeError:
            return False
        return self.published_revocations.refresh(issuers)

    def purge(self, now: datetime | None = None) -> dict[str, int]:
        """Delete scan records (28 days), audit records (180 days) and ended sessions."""
        return purge_records(self.scan_log, self.auth, self.settings, now=now)

    def status(self, now: float | None = None) -> dict[str, Any]:
        """What the staff screen shows in its status bar: data ages and offline state."""
        at = time.time() if now is None else now
        revocations = self.revocations.status(at)
        # Offline: some issuer's data is stale or its last sync failed, the registry does not
        # answer, or the published revocations cannot be read; since the oldest good data.
        lagging = [r for r in revocations.values() if not r["fresh"] or r["last_error"]]
        since = [item["as_of"] for item in lagging]
        trust_list = self.checkpoint.trust_status(at)
        outage = self.trust_source.outage()
        trust_list["offline_since"] = outage.since if outage else None
        if outage is not None:
            since.append(outage.since)
        published = self.published_revocations.to_json() if self.published_revocations else None
        if published is not None and not published["current"]:
            since.append(published["synced_at"])
        offline = (
            bool(lagging) or outage is not None or bool(published and not published["current"])
        )
        known = [moment for moment in since if moment is not None]
        sources = self.syncs.status()
        return {
            "checkpoint_id": self.settings.checkpoint_id,
            "checked_at": int(at),
            "trust_list": trust_list,
            "revocations": revocations,
            # Every source synced from, its state, age and last error; the staff page names
            # the failing ones in its header.
            "sources": sources,
            "failing_sources": [s["name"] for s in sources if s["state"] == "failing"],
            "published_revocations": published,
            "max_revocation_age_s": self.settings.max_revocation_age_s,
            "offline": offline,
            "offline_since": min(known) if known else None,
            "id_card_reads": self.settings.issuer_url is not None,
            "result_display_s": self.settings.result_display_s,
            "hotline": self.settings.hotline,
            "scan_tap_window_s": self.settings.scan_tap_window_s,
            "scan_tap_required": self.settings.scan_tap_required,
        }

    # -- staff sessions
    def login(self, username: str, password: str, address: str | None) -> tuple[str, Role]:
        """Log a staff member in: throttled, and audited whether it succeeds or not."""
        at = time.time()
        # Only existing account names go on record: people type passwords into the wrong field.
        actor = username if self.auth.user_exists(username) else "unknown-user"
        try:
            self.login_throttle.check(username, address, at)
            token, role = self.auth.login(username, password, now=at)
        except HealthcodeError as error:
            if error.code is not ErrorCode.ACCOUNT_LOCKED:
                self.login_throttle.failed(username, address, at)
            self.scan_log.audit(
                actor=actor,
                action="login_failed",
                detail=f"error={error.code.value} address={address or '-'}",
            )
            raise
        self.login_throttle.succeeded(username)
        self.scan_log.audit(actor=username, action="login", detail=f"address={address or '-'}")
        return token, role

    def logout(self, principal: Principal) -> bool:
        """End the caller's staff session server-side (a device token is left alone)."""
        ended = self.auth.logout(principal)
        if ended:
            self.scan_log.audit(actor=principal.actor, action="logout")
        return ended

    # -- scans
    def scan_text(self, text: str, principal: Principal, *, now: float | None = None) -> ScanAnswer:
        reader = principal.session_id or principal.actor
        holder = self.binding.expected(reader, "code", now)
        answer = self.checkpoint.verify_text(text, now=now, holder=holder)
        self.binding.settle(reader, "code", answer, holder, now)
        self.log_answers([answer], principal)
        return answer

    def scan_request(self, authorization: str | None, body: bytes) -> bytes:
        """`POST /v1/scan`: from the Authorization header and the raw body to the answer JSON.

        Raises HealthcodeError when the request is refused (token, body); a verdict, even
        "error", is an answer.
        """
        principal = self.auth.authenticate(_bearer_token(authorization))
        return orjson.dumps(self.scan_text(_scan_text_of(body), principal).to_json())

    def scan_batch(
        self, texts: Sequence[str], principal: Principal, *, now: float | None = None
    ) -> list[ScanAnswer]:
        """Verify several scans; refuses more than `max_batch` before verifying any."""
        if len(texts) > self.settings.max_batch:
            raise RequestError(
                ErrorCode.INVALID_REQUEST,
                f"a batch holds at most {self.settings.max_batch} scans; split it",
            )
        answers = [self.checkpoint.verify_text(text, now=now, mode="batch") for text in texts]
        self.log_answers(answers, principal)
        return answers

    def scan_image(self, data: bytes | None, principal: Principal) -> list[ScanAnswer]:
        """Verify a photo's codes; `data` None: it was over the size limit (a verdict too)."""
        answers = self.checkpoint.verify_image(data, max_bytes=self.settings.max_image_bytes)
        self.log_answers(answers, principal)
        return answers

    def read_id_card(
        self,
        id_number: str,
        name: str | None,
        principal: Principal,
        *,
        assisted: bool,
        now: float | None = None,
    ) -> ScanAnswer:
        """ID-card read or assisted look-up; logged and audited, refusals included.

        Every record of a read names the person by the checkpoint's own pseudonym (an HMAC of
        the ID number under `subject_secret`), whatever the outcome, so all reads of one person
        link up; the issuer's `sub` is not available when a read is refused.
        """
        mode = "assisted" if assisted else "id_card"
        if assisted:
            try:
                require_role(principal, Role.STAFF, Role.OFFICIAL)
            except HealthcodeError as error:
                self.scan_log.audit(
                    actor=principal.actor, action=mode, detail=f"error={error.code.value}"
                )
                raise
        resident: ResidentId | None = None
        # An assisted look-up is for someone without a code: there is nothing to pair.
        reader = None if assisted else principal.session_id or principal.actor
        holder = self.binding.expected(reader, "card", now) if reader else None
        try:
            resident = parse_id_number(id_number)
            resident, answer = self.lookup.read(
                id_number, name, assisted=assisted, now=now, holder=holder
            )
        except HealthcodeError as error:
            subject = pseudonymous_subject(resident, self._subject_secret) if resident else None
            self._log_refusal(mode, principal, error, subject, resident)
            # The home issuer unreachable: a code scanned just before cannot be confirmed.
            binding = self.binding.card_unreachable(reader, error, now) if reader else None
            if binding is not None:
                error.details = {**(error.details or {}), **binding}
            raise
        except Exception:
            # A bug, answered 500: still on record who looked up whom, then fixed.
            subject = pseudonymous_subject(resident, self._subject_secret) if resident else None
            self.scan_log.audit(
                actor=principal.actor, action=mode, subject=subject, detail="error=internal"
            )
            raise
        if reader:
            self.binding.settle(reader, "card", answer, holder, now)
        subject = pseudonymous_subject(resident, self._subject_secret)
        self.log_answers([answer], principal, id_tail=resident.tail, subject=subject)
        self.scan_log.audit(
            actor=principal.actor,
            action=mode,
            subject=subject,
            detail=f"result={answer.display} error={answer.result.error or '-'}",
        )
        return answer

    def log_answers(
        self,
        answers: Sequence[ScanAnswer],
        principal: Principal,
        *,
        id_tail: str | None = None,
        subject: str | None = None,
    ) -> None:
        """Record answers in the scan log (`subject` overrides the credential's pseudonym)."""
        now = datetime.now(UTC)
        for answer in answers:
            count_scan(answer.display)
            result = answer.result
            credential = result.credential
            self.scan_log.record_scan(
                now,
                answer.mode,
                principal.actor,
                subject if subject is not None else answer.subject,
                credential.id_tail if credential else id_tail,
                result.issuer if result.valid else None,
                answer.display,
                result.error._value_ if result.error else None,
            )

    def _log_refusal(
        self,
        mode: str,
        principal: Principal,
        error: HealthcodeError,
        subject: str | None,
        resident: ResidentId | None,
    ) -> None:
        self.scan_log.record_scans(
            [
                {
                    "scanned_at": datetime.now(UTC),
                    "mode": mode,
                    "actor": principal.actor,
                    "subject": subject,
                    "id_tail": resident.tail if resident else None,
                    "issuer": None,
                    "result": "error",
                    "error": error.code.value,
                }
            ]
        )
        self.scan_log.audit(
            actor=principal.actor, action=mode, subject=subject, detail=f"error={error.code.value}"
        )


def purge_records(
    scan_log: ScanLog, auth: Authenticator, settings: VerifierSettings, *, now: datetime | None
) -> dict[str, int]:
    """The purge job: records past their retention go; a purge that deleted any is audited."""
    deleted = {
        "scans": scan_log.purge(retention_days=settings.scan_retention_days, now=now),
        "audit": scan_log.purge_audit(retention_days=settings.audit_retention_days, now=now),
        "sessions": auth.purge_sessions(now=now),
    }
    if deleted["scans"] or deleted["audit"]:
        scan_log.audit(
            actor="purge-job",
            action="purge",
            detail=f"scans={deleted['scans']} audit={deleted['audit']} retention_days="
            f"{settings.scan_retention_days}/{settings.audit_retention_days}",
        )
    return deleted


class ScanEndpoint:
    """ASGI middleware that answers `POST /v1/scan` itself, ahead of FastAPI's routing.

    The scan is the request a checkpoint serves all day, and FastAPI's generic machinery for it
    (middleware layers, matching every route, dependency solving, Request and Response objects)
    cost more CPU than verifying the code (docs/performance-checkpoint.md). Here a scan costs a
    header look-up, the body read and `CheckpointService.scan_request`, the same call the
    documented FastAPI route makes. A refused request gets the standard error answer, as the
    app's exception handler would send it; any other exception propagates to Starlette's
    ServerErrorMiddleware (a 500), as it would from a route. Other requests pass through.
    """

    def __init__(self, app: ASGIApp, service: CheckpointService) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/v1/scan" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        authorization = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value.decode("latin-1")
                break
        try:
            body = await _scan_body(receive)
        except HealthcodeError as error:
            status, headers, content = _error_answer(error)
        else:
            if body is None:
                return  # the client went away: nobody to answer
            status, headers, content = answer_scan(self.service, authorization, body)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [*headers, (b"content-length", str(len(content)).encode("ascii"))],
            }
        )
        await send({"type": "http.response.body", "body": content})


#: Bytes of scan body read at most (a longer body is refused with input_too_large).
MAX_SCAN_BODY = _MAX_SCAN_BODY


def answer_scan(
    service: CheckpointService, authorization: str | None, body: bytes
) -> tuple[int, tuple[tuple[bytes, bytes], ...], bytes]:
    """Status, headers and JSON body of the answer to one `POST /v1/scan`.

    The one scan handler: `ScanEndpoint` (ASGI) and `verifiers.fastpath` (inside uvicorn's
    protocol) both answer with it. A refused request is an answer here, never an exception.
    """
    started = time.perf_counter()
    try:
        if len(body) > _MAX_SCAN_BODY:
            raise RequestError(ErrorCode.INPUT_TOO_LARGE, _SCAN_BODY_TOO_LARGE)
        answer = 200, _JSON_HEADERS, service.scan_request(authorization, body)
    except HealthcodeError as error:
        count_scan_refusal(error.code)
        answer = _error_answer(error)
    # Scans skip the app's middleware (both paths): counted here, as every request is there.
    count_request("checkpoint", "/v1/scan", "POST", answer[0], time.perf_counter() - started)
    return answer


def scans_first(app: FastAPI) -> ASGIApp:
    """`app` with `ScanEndpoint` in front of all of it, for serving (`python -m verifiers`).

    `create_app` registers `ScanEndpoint` as middleware, so a scan already skips routing
    wherever the app is served; in front of the app it also skips FastAPI's own layers
    (telemetry check, error and body-limit middleware): about 10 µs a scan. An unexpected
    error in a scan then reaches uvicorn, which answers 500 as ServerErrorMiddleware would.
    """
    return ScanEndpoint(app, app.state.service)


_JSON_HEADERS: tuple[tuple[bytes, bytes], ...] = ((b"content-type", b"application/json"),)


async def _scan_body(receive: Receive) -> bytes | None:
    """The whole request body (None if the client disconnected), at most _MAX_SCAN_BODY."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message: Message = await receive()
        if message["type"] != "http.request":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > _MAX_SCAN_BODY:
            raise RequestError(ErrorCode.INPUT_TOO_LARGE, _SCAN_BODY_TOO_LARGE)
        if not message.get("more_body", False):
            # Usually the whole body came in this one message: no join, no copy.
            return b"".join((*chunks, chunk)) if chunks else chunk
        chunks.append(chunk)


def _error_answer(error: HealthcodeError) -> tuple[int, tuple[tuple[bytes, bytes], ...], bytes]:
    """Status, headers and body of the standard error answer (as healthcode.server sends)."""
    headers = _JSON_HEADERS
    retry_after = getattr(error, "retry_after", None)
    if retry_after is not None:
        headers = (*headers, (b"retry-after", str(int(retry_after)).encode("ascii")))
    return HTTP_STATUS[error.code], headers, orjson.dumps(error_body(error.code, error.message))


async def _read_bounded(
    request: Request,
    limit: int,
    *,
    too_large: str = "the image is over {limit} bytes; send a smaller photo",
) -> bytes:
    """The request body, refused with input_too_large as soon as it passes `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise RequestError(ErrorCode.INPUT_TOO_LARGE, too_large.format(limit=limit))
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestError(ErrorCode.INPUT_TOO_LARGE, too_large.format(limit=limit))
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(
    settings: VerifierSettings | None = None, *, trust_source: TrustSource | None = None
) -> FastAPI:
    """Build the checkpoint app; `trust_source` overrides the one built from settings."""
    settings = settings or VerifierSettings()
    service = CheckpointService(settings, trust_source)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        tasks: list[asyncio.Task[None]] = []
        if settings.background_tasks:
            service.syncs.start()  # one worker per source (healthcode.peersync)
            tasks.append(asyncio.create_task(_every(settings.purge_interval_s, service.purge)))
            if service.published_revocations is not None:
                tasks.append(
                    asyncio.create_task(
                        _every(
                            settings.revocation_mirror_interval_s,
                            service.refresh_published_revocations,
                        )
                    )
                )
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            service.close()

    app = create_base_app(
        title="healthcode checkpoint verifier",
        lifespan=lifespan,
        description="Verifies health codes, ID-card reads and printed codes at checkpoints.",
        # Every body but a photo's (bounded by its route, after authentication) is bounded
        # before anything reads or parses it. This middleware is added before ScanEndpoint,
        # so it sits inside it: a scan never passes through it (it has its own bound).
        max_body_bytes=settings.max_body_bytes,
        unlimited_body_paths=("/v1/scan/image",),
        service="checkpoint",
        readiness=checkpoint_readiness(service),
        optional_readiness=("redis", "revocations"),
    )
    app.state.service = service
    app.add_middleware(ScanEndpoint, service=service)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        """The staff page (full-screen result, scanner field, camera, ID-card mode)."""
        return FileResponse(PAGES_DIR / "index.html", media_type="text/html; charset=utf-8")

    @app.post(
        "/v1/auth/login",
        tags=["auth"],
        responses=error_responses(ErrorCode.LOGIN_FAILED, ErrorCode.RATE_LIMITED),
    )
    async def login(body: LoginRequest, request: Request) -> dict[str, Any]:
        """Staff/official login: username + password → session token (throttled, audited)."""
        address = request.client.host if request.client else None
        token, role = await run_in_threadpool(service.login, body.username, body.password, address)
        return {
            "access_token": token,
            "token_type": "bearer",
            "expires_in": settings.session_lifetime_s,
            "role": role.value,
        }

    @app.post("/v1/auth/logout", tags=["auth"], responses=_AUTHENTICATED)
    def logout(caller: Caller) -> dict[str, Any]:
        """End this staff session on the server (its token is refused from now on)."""
        return {"session_ended": service.logout(caller)}

    @app.post("/v1/scan-tap/end", tags=["checkpoint"], responses=_AUTHENTICATED)
    def end_pairing(caller: Caller) -> dict[str, Any]:
        """ "Next person": a code or card read waiting for its pair (scan + tap) pairs no more."""
        return {"ended": service.binding.end(caller.session_id or caller.actor)}

    @app.get("/v1/status", tags=["checkpoint"], responses=_AUTHENTICATED)
    async def status(caller: Caller) -> dict[str, Any]:
        """Trust-list age, revocation freshness per issuer, offline state."""
        return service.status()

    @app.post(
        "/v1/scan",
        tags=["checkpoint"],
        responses=_AUTHENTICATED,
        response_model=None,
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": ScanRequest.model_json_schema()}},
            }
        },
    )
    async def scan(request: Request) -> Response:
        """Verify QR text as a hardware scanner types it or a camera decodes it."""
        # `ScanEndpoint` answers this request before routing (the hot path); this route
        # documents it in OpenAPI and does the same thing should a request get here.
        content = service.scan_request(request.headers.get("authorization"), await request.body())
        return Response(content, media_type="application/json")

    @app.post(
        "/v1/scan/batch",
        tags=["checkpoint"],
        responses=_AUTHENTICATED,
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": BatchRequest.model_json_schema()}},
            }
        },
    )
    async def scan_batch(request: Request, caller: Caller) -> dict[str, Any]:
        """Verify a list of scans (e.g. a group's codes); one answer each, in order."""
        # The body is read and parsed only once the caller is known (`Caller` runs first).
        raw = await _read_bounded(
            request, settings.max_body_bytes, too_large="a batch is over {limit} bytes; split it"
        )
        try:
            body = BatchRequest.model_validate_json(raw)
        except ValidationError as exc:
            raise RequestValidationError(exc.errors()) from None
        answers = service.scan_batch(body.scans, caller)
        return {"results": [answer.to_json() for answer in answers]}

    @app.post(
        "/v1/scan/image",
        tags=["checkpoint"],
        responses=_AUTHENTICATED,
        openapi_extra={"requestBody": {"content": {"image/*": {}}, "required": True}},
    )
    async def scan_image(request: Request, caller: Caller) -> dict[str, Any]:
        """Verify every QR code in a photo or screenshot (raw image bytes as the body).

        Whatever the bytes, the answer is results (§9): a photo over the limit, one that is no
        image, or one without a QR code is one result with its code."""
        data: bytes | None
        try:
            data = await _read_bounded(request, settings.max_image_bytes)
        except RequestError as error:
            if error.code is not ErrorCode.INPUT_TOO_LARGE:
                raise
            data = None
        answers = await run_in_threadpool(service.scan_image, data, caller)
        return {"results": [answer.to_json() for answer in answers]}

    def _id_read(body: IdCardRequest, caller: Principal, *, assisted: bool) -> JSONResponse:
        answer = service.read_id_card(body.id_number, body.name, caller, assisted=assisted)
        return JSONResponse(answer.to_json())

    @app.post("/v1/id-card", tags=["checkpoint"], responses=_LOOKUP)
    def id_card(body: IdCardRequest, caller: Caller) -> JSONResponse:
        """An ID-card reader's number and name: the home province's colour, verified."""
        return _id_read(body, caller, assisted=False)

    @app.post("/v1/assisted", tags=["checkpoint"], responses=_LOOKUP)
    def assisted(body: IdCardRequest, caller: Caller) -> JSONResponse:
        """老幼助查: staff type an ID number for a citizen without a phone; audited."""
        return _id_read(body, caller, assisted=True)

    @app.get(
        "/v1/scans/export",
        tags=["checkpoint"],
        response_model=None,
        responses={
            200: {"content": {"application/json": {}, "text/csv": {}}, "description": "Scans"},
            **_AUTHENTICATED,
        },
    )
    def export_scans(
        caller: Caller,
        format: Annotated[Literal["csv", "json"], Query()] = "json",
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> StreamingResponse | dict[str, Any]:
        """The scan log for health officials (pseudonyms and ID tails only); audited."""
        require_role(caller, Role.OFFICIAL)
        records = service.scan_log.scans(since=since, until=until)
        service.scan_log.audit(
            actor=caller.actor,
            action="export_scans",
            detail=f"format={format} since={since} until={until} rows={len(records)}",
        )
        if format == "csv":
            return StreamingResponse(
                _as_bytes(export_csv(records)),
                media_type="text/csv; charset=utf-8",
                headers={"Content-Disposition": 'attachment; filename="scans.csv"'},
            )
        return {"scans": [scan_to_row(record) for record in records]}

    _ = (page, login, logout, status, scan, scan_batch, scan_image, id_card, assisted)
    _ = export_scans
    return app


def _as_bytes(lines: Iterator[str]) -> Iterator[bytes]:
    for line in lines:
        yield line.encode("utf-8")


async def _every(interval_s: float, job: Any) -> None:
    """Run `job` in a worker thread now and then every `interval_s`; log and go on on errors."""
    while True:
        try:
            await asyncio.to_thread(job)
        except Exception:  # a failing job must not stop the loop (it retries next round)
            logger.exception("background job %s failed", getattr(job, "__name__", job))
        await asyncio.sleep(interval_s)
