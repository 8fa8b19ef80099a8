"""`POST /v1/scan`: the one scan handler and its one registration in the app.

The scan is the request a checkpoint serves all day. It is registered once, by
`install_scan_endpoint`: `ScanEndpoint` answers it ahead of FastAPI's routing (no route
matching, dependency solving, Request or Response objects), and the operation is written into
the OpenAPI document by hand, since no FastAPI route serves it. `python -m verifiers` also
answers plain scans inside uvicorn's HTTP protocol (`scan_http_protocol`, `verifiers.fastpath`,
ADR 0009); both call `answer_scan`, so the answer bytes are the same whichever way a scan
comes in. A scan the fast path passes on (pipelined behind a slow request, `Expect`, a query
string) reaches the app, where `ScanEndpoint` answers it.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson
from fastapi import FastAPI
from pydantic import BaseModel
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from healthcode.errors import ErrorCode, HealthcodeError, RequestError
from healthcode.server import error_body
from healthcode.server.metrics import count_request
from healthcode.server.openapi import raw_error_responses
from healthcode.server.rawanswer import JSON_HEADERS, Answer, raw_error_answer, send_answer
from verifiers.fastpath import scan_protocol
from verifiers.observability import count_scan_refusal

if TYPE_CHECKING:
    from verifiers.service import CheckpointService

SCAN_PATH = "/v1/scan"
MAX_SCAN_CHARS = 65536  # a batch item's bound; the verifier's own limit (16384) is a verdict
#: Bytes of scan body read at most (a longer body is refused, 413 input_too_large): even
#: JSON-escaped (6 bytes a character), a text of MAX_SCAN_CHARS fits. A shorter body whose text
#: is too long for any code is answered like every scan: the verdict input_too_large (§6, §9).
MAX_SCAN_BODY = 6 * MAX_SCAN_CHARS + 1024
_SCAN_BODY_HELP = 'send {"text": "<scanned text>"} as JSON'
_SCAN_BODY_TOO_LARGE = f"a scan request is over {MAX_SCAN_BODY} bytes; no health code is that long"


# The scan body as documented in OpenAPI (`scan_text_of` checks the same by hand; a docstring
# here would become the schema's description).
class ScanRequest(BaseModel):
    text: str


def bearer_token(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header; None for anything else."""
    scheme, _, token = (header or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def scan_text_of(body: bytes) -> str:
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


def scan_request(service: CheckpointService, authorization: str | None, body: bytes) -> bytes:
    """`POST /v1/scan`: from the Authorization header and the raw body to the answer JSON.

    Raises HealthcodeError when the request is refused (token, body); a verdict, even
    "error", is an answer.
    """
    principal = service.auth.authenticate(bearer_token(authorization))
    return orjson.dumps(service.scan_text(scan_text_of(body), principal).to_json())


def answer_scan(service: CheckpointService, authorization: str | None, body: bytes) -> Answer:
    """Status, headers and JSON body of the answer to one `POST /v1/scan`.

    The one scan handler: `ScanEndpoint` (ASGI) and `verifiers.fastpath` (inside uvicorn's
    protocol) both answer with it. A refused request is an answer here, never an exception.
    """
    started = time.perf_counter()
    try:
        if len(body) > MAX_SCAN_BODY:
            raise RequestError(ErrorCode.INPUT_TOO_LARGE, _SCAN_BODY_TOO_LARGE)
        answer = 200, JSON_HEADERS, scan_request(service, authorization, body)
    except HealthcodeError as error:
        count_scan_refusal(error.code)
        answer = raw_error_answer(error)
    # Scans skip the app's middleware (both paths): counted here, as every request is there.
    count_request("checkpoint", "/v1/scan", "POST", answer[0], time.perf_counter() - started)
    return answer


class ScanEndpoint:
    """ASGI middleware that answers `POST /v1/scan` itself, ahead of FastAPI's routing.

    FastAPI's generic machinery for a scan (middleware layers, matching every route,
    dependency solving, Request and Response objects) cost more CPU than verifying the code
    (docs/performance-checkpoint.md). Here a scan costs a header look-up, the body read and
    `answer_scan`. A refused request gets the standard error answer, as the app's exception
    handler would send it; any other exception propagates to Starlette's
    ServerErrorMiddleware (a 500), as it would from a route. Other requests pass through.
    """

    def __init__(self, app: ASGIApp, service: CheckpointService) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != SCAN_PATH:
            await self.app(scope, receive, send)
            return
        if scope["method"] != "POST":
            # As the router answers a known path asked with another method.
            await send_answer(send, _METHOD_NOT_ALLOWED)
            return
        authorization = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value.decode("latin-1")
                break
        try:
            body = await _scan_body(receive)
        except HealthcodeError as error:
            answer = raw_error_answer(error)
        else:
            if body is None:
                return  # the client went away: nobody to answer
            answer = answer_scan(self.service, authorization, body)
        await send_answer(send, answer)


_METHOD_NOT_ALLOWED: Answer = (
    405,
    (*JSON_HEADERS, (b"allow", b"POST")),
    orjson.dumps(error_body(ErrorCode.INVALID_REQUEST, "Method Not Allowed")),
)


async def _scan_body(receive: Receive) -> bytes | None:
    """The whole request body (None if the client disconnected), at most MAX_SCAN_BODY."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message: Message = await receive()
        if message["type"] != "http.request":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_SCAN_BODY:
            raise RequestError(ErrorCode.INPUT_TOO_LARGE, _SCAN_BODY_TOO_LARGE)
        if not message.get("more_body", False):
            # Usually the whole body came in this one message: no join, no copy.
            return b"".join((*chunks, chunk)) if chunks else chunk
        chunks.append(chunk)


_SCAN_OPERATION: dict[str, Any] = {
    "tags": ["checkpoint"],
    "summary": "Scan",
    "description": "Verify QR text as a hardware scanner types it or a camera decodes it.",
    "operationId": "scan_v1_scan_post",
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": ScanRequest.model_json_schema()}},
    },
    "responses": {
        "200": {
            "description": "The verdict (every verification failure is one, §9)",
            "content": {"application/json": {"schema": {}}},
        },
        **raw_error_responses(
            ErrorCode.UNAUTHENTICATED,
            ErrorCode.TOKEN_EXPIRED,
            ErrorCode.FORBIDDEN,
            ErrorCode.INPUT_TOO_LARGE,
            ErrorCode.INVALID_REQUEST,
        ),
    },
}


def install_scan_endpoint(app: FastAPI, service: CheckpointService) -> None:
    """Register `POST /v1/scan` on `app`: `ScanEndpoint` in front, documented in OpenAPI.

    Call it after every other middleware is added: the last added is the outermost, so a
    scan passes through none of the others (the body limit among them: it has its own).
    """
    app.add_middleware(ScanEndpoint, service=service)
    build_schema: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build_schema()
            schema.setdefault("paths", {})[SCAN_PATH] = {"post": _SCAN_OPERATION}
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def scan_http_protocol(app: FastAPI) -> type[HttpToolsProtocol]:
    """The uvicorn `http=` protocol that answers `app`'s plain scans itself (ADR 0009).

    No answer leaves before its scan is in the scan journal (when the journal is on).
    """
    service: CheckpointService = app.state.service
    answer = functools.partial(answer_scan, service)
    return scan_protocol(answer, MAX_SCAN_BODY, service.scan_log.journal)
