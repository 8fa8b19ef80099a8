"""Request dependencies: the service context and the authenticated caller."""

from __future__ import annotations

import functools
import hashlib
from typing import Annotated

from fastapi import Depends, Header, Request, Response

from healthcode.errors import ErrorCode, RequestError
from healthcode.qr import render_png, render_svg
from healthcode.server.openapi import error_responses
from healthcode.server.rawanswer import Answer, answer_response
from issuers.auth import Principal, Role, read_access_token, require_role, session_ended
from issuers.context import IssuerContext


async def get_context(request: Request) -> IssuerContext:
    context: IssuerContext = request.app.state.context
    return context


Context = Annotated[IssuerContext, Depends(get_context)]


def token_principal(context: IssuerContext, authorization: str | None) -> Principal:
    """The caller of a validly signed, unexpired bearer token, its session NOT yet checked
    (the citizen hot path checks it with its own Redis round trip, ADR 0022)."""
    if authorization is None:
        raise RequestError(
            ErrorCode.UNAUTHENTICATED, "send 'Authorization: Bearer <access token>'; log in first"
        )
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise RequestError(ErrorCode.UNAUTHENTICATED, "the Authorization header must be Bearer")
    secret = context.settings.token_secret.get_secret_value().encode("utf-8")
    return read_access_token(token.strip(), secret)


def get_principal(
    context: Context, authorization: Annotated[str | None, Header()] = None
) -> Principal:
    """The caller of a bearer token whose session is still open; unauthenticated /
    token_expired otherwise (a logged-out session or a disabled account is unauthenticated
    from the next request on, after at most `session_cache_s`)."""
    principal = token_principal(context, authorization)
    if not context.sessions.is_open(principal):
        raise session_ended()
    return principal


Caller = Annotated[Principal, Depends(get_principal)]

#: The refusals of every route with a caller (OpenAPI `responses=`): no, a bad or an ended
#: session's token, an expired one, a role that may not.
AUTHENTICATED = error_responses(
    ErrorCode.UNAUTHENTICATED, ErrorCode.TOKEN_EXPIRED, ErrorCode.FORBIDDEN
)


def client_address(request: Request) -> str:
    """The peer address login limits count by: the one uvicorn reports, which takes
    `X-Forwarded-For` only from peers in `FORWARDED_ALLOW_IPS` (issuers/README.md)."""
    return request.client.host if request.client is not None else "unknown"


ClientAddress = Annotated[str, Depends(client_address)]


def citizen_subject(principal: Principal) -> str:
    """The caller's pseudonym; forbidden for staff."""
    require_role(principal, Role.CITIZEN)
    assert principal.subject is not None
    return principal.subject


@functools.lru_cache(maxsize=512)
def _render(qr_text: str, image_format: str) -> bytes:
    if image_format == "png":
        return render_png(qr_text, scale=6)
    return render_svg(qr_text, scale=6).encode("utf-8")


def image_answer(qr_text: str, image_format: str, if_none_match: str | None) -> Answer:
    """A QR image of `qr_text`, rendered once per content (ETag = hash of the content), or
    304 while the caller's copy is that content."""
    etag = '"' + hashlib.sha256(f"{image_format}:{qr_text}".encode()).hexdigest()[:32] + '"'
    headers = ((b"etag", etag.encode("ascii")), (b"cache-control", b"private, max-age=60"))
    if if_none_match == etag:
        return 304, headers, b""
    media_type = b"image/png" if image_format == "png" else b"image/svg+xml"
    return 200, ((b"content-type", media_type), *headers), _render(qr_text, image_format)


def image_response(qr_text: str, image_format: str, if_none_match: str | None) -> Response:
    """`image_answer` as a response, for routes."""
    return answer_response(image_answer(qr_text, image_format, if_none_match))
