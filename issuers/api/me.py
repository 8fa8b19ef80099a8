"""The citizen hot path's routes: own profile and current code (logic: issuers/owncode.py).

Async, answered as pre-serialised JSON, and without FastAPI dependencies: solving the context
and bearer-token dependencies cost more CPU than the rest of a cached answer (ADR 0022). The
token is read by the same function the dependencies use; the session is checked by the hot path.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request, Response

from issuers.api.deps import AUTHENTICATED, image_response, token_principal
from issuers.auth import Principal
from issuers.context import IssuerContext
from issuers.owncode import own_code, own_profile

router = APIRouter(prefix="/v1", responses=AUTHENTICATED)

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


def _caller(request: Request) -> tuple[IssuerContext, Principal]:
    context: IssuerContext = request.app.state.context
    return context, token_principal(context, request.headers.get("authorization"))


def _json(answer: dict[str, Any]) -> Response:
    return Response(orjson.dumps(answer), media_type="application/json")


@router.get("/me", tags=["citizen"], response_class=Response, openapi_extra=_BEARER)
async def me(request: Request) -> Response:
    """The caller's profile: masked name, ID tail, colour and reason."""
    return _json(await own_profile(*_caller(request)))


@router.get("/me/code", tags=["citizen"], response_class=Response, openapi_extra=_BEARER)
async def my_code(request: Request) -> Response:
    """The caller's current phone code (JWS and hc:/ text) and what the code screen shows:
    colour as words, province, reason and what to do, times, `status_version` (also the
    ETag) for the cheap status poll `GET /v1/me/status`."""
    answer = await own_code(*_caller(request))
    response = _json(answer)
    # Personal data that changes with the status: never stored by any cache on the way.
    response.headers["ETag"] = f'"{answer["status_version"]}"'
    response.headers["Cache-Control"] = "no-store"
    return response


async def _image(request: Request, image_format: str) -> Response:
    code = await own_code(*_caller(request))
    return image_response(code["qr_text"], image_format, request.headers.get("if-none-match"))


@router.get("/me/code.png", tags=["citizen"], response_class=Response, openapi_extra=_BEARER)
async def my_code_png(request: Request) -> Response:
    """The caller's phone code as a PNG QR image."""
    return await _image(request, "png")


@router.get("/me/code.svg", tags=["citizen"], response_class=Response, openapi_extra=_BEARER)
async def my_code_svg(request: Request) -> Response:
    """The caller's phone code as an SVG QR image."""
    return await _image(request, "svg")
