"""The checkpoint's HTTP routes (all but `POST /v1/scan`, which `verifiers.hotpath` answers).

Routes are thin: they authenticate, call `CheckpointService` (plain methods tests can call)
and answer. A verification verdict is a 200 answer whose `display` is the colour or "error";
a refused request (auth, bad ID number, offline) is an error answer with the status from
`healthcode.server.HTTP_STATUS`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field, ValidationError

from healthcode.errors import ErrorCode, RequestError
from healthcode.fetch import PEER_FAILURES
from healthcode.server.openapi import error_responses
from verifiers.auth import Principal, Role, require_role
from verifiers.hotpath import MAX_SCAN_CHARS, bearer_token
from verifiers.scanlog import export_csv, scan_to_row
from verifiers.service import CheckpointService
from verifiers.settings import MAX_BATCH_SCANS

PAGES_DIR = Path(__file__).parent / "pages"
STATIC_DIR = Path(__file__).parent / "static"


class BatchRequest(BaseModel):
    scans: list[Annotated[str, Field(max_length=MAX_SCAN_CHARS)]] = Field(
        max_length=MAX_BATCH_SCANS
    )


class IdCardRequest(BaseModel):
    id_number: str = Field(max_length=40)
    name: str | None = Field(default=None, max_length=64)


class LoginRequest(BaseModel):
    username: str = Field(max_length=64)
    password: str = Field(max_length=256)


async def _principal(request: Request) -> Principal:
    """The caller of a request, from its `Authorization: Bearer` header."""
    service: CheckpointService = request.app.state.service
    return service.auth.authenticate(bearer_token(request.headers.get("authorization")))


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
    *PEER_FAILURES,  # passed on by verifiers.lookup (unreachable is unavailable_offline)
)


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


def add_routes(app: FastAPI, service: CheckpointService) -> None:
    """Add the staff page, its static files and every route but the scan's to `app`."""
    settings = service.settings
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

    _ = (page, login, logout, end_pairing, status, scan_batch, scan_image, id_card, assisted)
    _ = export_scans


def _as_bytes(lines: Iterator[str]) -> Iterator[bytes]:
    for line in lines:
        yield line.encode("utf-8")
