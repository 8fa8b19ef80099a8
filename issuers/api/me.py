"""The citizen hot path's routes: own profile and current code (logic: issuers/owncode.py).

`GET /v1/me/code`, `GET /v1/me` and the code's QR image (`/v1/me/code.png|svg`, mostly a
304 for the page's cached copy) are what every citizen's app polls. `CitizenHotPath` answers
them ahead of FastAPI's routing (no exception and exit-stack middleware, route matching,
Request or Response objects), inside the app's own request-id, metrics and body-limit
middleware, as the checkpoint answers its scans (ADR 0009, ADR 0022). The routes below stay
registered: they document the operations in OpenAPI, and they answer through the same
functions (`code_answer`, `profile_answer`, `image_answer_of`), so either door gives the same
bytes.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from starlette.middleware import Middleware
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from healthcode.errors import HealthcodeError
from healthcode.server.rawanswer import (
    JSON_HEADERS,
    Answer,
    answer_response,
    raw_error_answer,
    send_answer,
)
from issuers.api.deps import AUTHENTICATED, image_answer, token_principal
from issuers.auth import Principal
from issuers.context import IssuerContext
from issuers.owncode import own_code, own_code_answer, own_profile_answer

router = APIRouter(prefix="/v1", responses=AUTHENTICATED)

ME_PATH, CODE_PATH = "/v1/me", "/v1/me/code"
PNG_PATH, SVG_PATH = "/v1/me/code.png", "/v1/me/code.svg"
#: What `CitizenHotPath` answers: what the citizen's page fetches all day.
HOT_PATHS = (CODE_PATH, ME_PATH, PNG_PATH, SVG_PATH)

#: What the OpenAPI document says these routes need (they read the header themselves).
_BEARER: dict[str, Any] = {
    "parameters": [
        {
            "name": "authorization",
            "in": "header",
            "required": True,
            "schema": {"type": "string"},
            "description": "Bearer <citizen access token>",
        }
    ]
}

# Personal data that changes with the status: never stored by any cache on the way.
_NO_STORE = (b"cache-control", b"no-store")


def _caller(context: IssuerContext, authorization: str | None) -> tuple[IssuerContext, Principal]:
    return context, token_principal(context, authorization)


async def code_answer(context: IssuerContext, authorization: str | None) -> Answer:
    """`GET /v1/me/code` from the Authorization header; raises HealthcodeError if refused."""
    body, etag = await own_code_answer(*_caller(context, authorization))
    return 200, (*JSON_HEADERS, (b"etag", f'"{etag}"'.encode()), _NO_STORE), body


async def profile_answer(context: IssuerContext, authorization: str | None) -> Answer:
    """`GET /v1/me` from the Authorization header; raises HealthcodeError if refused."""
    body = await own_profile_answer(*_caller(context, authorization))
    return 200, (*JSON_HEADERS, _NO_STORE), body


async def image_answer_of(
    context: IssuerContext, authorization: str | None, image_format: str, if_none_match: str | None
) -> Answer:
    """`GET /v1/me/code.png|svg`: the current code's QR image, or 304 while the page's copy
    is still it; raises HealthcodeError if refused."""
    code = await own_code(*_caller(context, authorization))
    return image_answer(code["qr_text"], image_format, if_none_match)


@router.get("/me", tags=["citizen"], response_class=Response, openapi_extra=_BEARER)
async def me(request: Request) -> Response:
    """The caller's profile: masked name, ID tail, colour and reason."""
    context = request.app.state.context
    return answer_response(await profile_answer(context, request.headers.get("authorization")))


@router.get("/me/code", tags=["citizen"], response_class=Response, openapi_extra=_BEARER)
async def my_code(request: Request) -> Response:
    """The caller's current phone code (JWS and hc:/ text) and what the code screen shows:
    colour as words, province, reason and what to do, times, `status_version` (also the
    ETag) for the cheap status poll `GET /v1/me/status`."""
    context = request.app.state.context
    return answer_response(await code_answer(context, request.headers.get("authorization")))


async def _image(request: Request, image_format: str) -> Response:
    context = request.app.state.context
    headers = request.headers
    return answer_response(
        await image_answer_of(
            context, headers.get("authorization"), image_format, headers.get("if-none-match")
        )
    )


@router.get("/me/code.png", tags=["citizen"], response_class=Response, openapi_extra=_BEARER)
async def my_code_png(request: Request) -> Response:
    """The caller's phone code as a PNG QR image."""
    return await _image(request, "png")


@router.get("/me/code.svg", tags=["citizen"], response_class=Response, openapi_extra=_BEARER)
async def my_code_svg(request: Request) -> Response:
    """The caller's phone code as an SVG QR image."""
    return await _image(request, "svg")


class CitizenHotPath:
    """ASGI middleware that answers `GET /v1/me/code` and `GET /v1/me` ahead of routing.

    A refused request gets the standard error answer, counted as the exception handler counts
    it; any other exception propagates to Starlette's ServerErrorMiddleware (a 500), as it
    would from a route. `scope["route"]` is set to the documented route, so the metrics label
    the request with its path as they label every routed request. Other requests pass through.
    """

    def __init__(self, app: ASGIApp, context: IssuerContext, routes: dict[str, BaseRoute]) -> None:
        self.app = app
        self.context = context
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"] if scope["type"] == "http" else None
        if scope.get("method") != "GET" or path not in self.routes:
            await self.app(scope, receive, send)
            return
        scope["route"] = self.routes[path]
        authorization = if_none_match = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value.decode("latin-1")
            elif name == b"if-none-match":
                if_none_match = value.decode("latin-1")
        try:
            if path == CODE_PATH:
                answer = await code_answer(self.context, authorization)
            elif path == ME_PATH:
                answer = await profile_answer(self.context, authorization)
            else:
                image_format = "png" if path == PNG_PATH else "svg"
                answer = await image_answer_of(
                    self.context, authorization, image_format, if_none_match
                )
        except HealthcodeError as error:
            answer = raw_error_answer(error, "issuer")
        await send_answer(send, answer)


def install_citizen_hot_path(app: FastAPI, context: IssuerContext) -> None:
    """Put `CitizenHotPath` innermost among the app's middleware (inside request ids, metrics
    and the body limit, which every request passes)."""
    routes = {
        route.path: route  # type: ignore[attr-defined]
        for route in router.routes
        if getattr(route, "path", None) in HOT_PATHS
    }
    # add_middleware puts a middleware outermost; the hot path belongs innermost.
    app.user_middleware.append(Middleware(CitizenHotPath, context=context, routes=routes))
