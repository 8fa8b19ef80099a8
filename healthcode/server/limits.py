"""A request body size limit for every service (ASGI middleware, `create_base_app` option).

A body over the limit is refused with `input_too_large` (413) before the endpoint sees it:
at once when `Content-Length` says so, else as soon as the streamed bytes pass the limit.
Paths under an exempt prefix (streamed uploads with a limit of their own, such as an issuer's
feeds) pass through untouched.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from healthcode.errors import ErrorCode
from healthcode.server.errors import error_body

#: The default limit: above any body a standard endpoint takes (a 5 MiB photo of a QR code at a
#: checkpoint is the largest), far below what would hurt a server.
DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024


def _message(limit: int) -> str:
    return f"the request body is over the limit of {limit} bytes"


class BodySizeLimit:
    """Refuse request bodies over `max_bytes` (except under `exempt_prefixes`)."""

    def __init__(self, app: ASGIApp, max_bytes: int, exempt_prefixes: Sequence[str] = ()) -> None:
        if max_bytes < 0:
            raise ValueError("max_bytes must not be negative")
        self.app = app
        self.max_bytes = max_bytes
        self.exempt_prefixes = tuple(exempt_prefixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or str(scope.get("path", "")).startswith(self.exempt_prefixes):
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            response = JSONResponse(
                error_body(ErrorCode.INPUT_TOO_LARGE, _message(self.max_bytes)), status_code=413
            )
            await response(scope, receive, send)
            return
        received = 0

        async def bounded_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # Raised inside the endpoint's body read: the app's exception handlers
                    # answer it (413 input_too_large), as for any refused request.
                    raise HTTPException(413, _message(self.max_bytes))
            return message

        await self.app(scope, bounded_receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
