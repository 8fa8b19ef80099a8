"""The citizen hot path's routes: own profile and current code (logic: issuers/owncode.py).

Async and answered as pre-serialised JSON: no thread hop, no encoder pass on a cache hit.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Response

from issuers.api.deps import Context, TokenCaller, image_response
from issuers.owncode import own_code, own_profile

router = APIRouter(prefix="/v1")


def _json(answer: dict[str, Any]) -> Response:
    return Response(orjson.dumps(answer), media_type="application/json")


@router.get("/me", tags=["citizen"], response_class=Response)
async def me(context: Context, caller: TokenCaller) -> Response:
    """The caller's profile: masked name, ID tail, colour and reason."""
    return _json(await own_profile(context, caller))


@router.get("/me/code", tags=["citizen"], response_class=Response)
async def my_code(context: Context, caller: TokenCaller) -> Response:
    """The caller's current phone code (JWS and hc:/ text)."""
    return _json(await own_code(context, caller))


@router.get("/me/code.png", tags=["citizen"], response_class=Response)
async def my_code_png(
    context: Context, caller: TokenCaller, if_none_match: Annotated[str | None, Header()] = None
) -> Response:
    """The caller's phone code as a PNG QR image."""
    code = await own_code(context, caller)
    return image_response(code["qr_text"], "png", if_none_match)


@router.get("/me/code.svg", tags=["citizen"], response_class=Response)
async def my_code_svg(
    context: Context, caller: TokenCaller, if_none_match: Annotated[str | None, Header()] = None
) -> Response:
    """The caller's phone code as an SVG QR image."""
    code = await own_code(context, caller)
    return image_response(code["qr_text"], "svg", if_none_match)
