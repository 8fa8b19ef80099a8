"""Answers sent straight over ASGI, for the few endpoints that run ahead of FastAPI's routing.

A checkpoint's scan and a citizen's code are each the request their service serves all day.
They are answered by ASGI middleware in front of the router (ADR 0009, ADR 0022): no route
matching, dependency solving, Request or Response objects. This module is what such an
endpoint shares with the rest of the app, so its answers are the app's answers: the standard
error answer (`error_answer`, counted in `hc_errors_total` like the exception handler counts
it) and the same JSON content type.
"""

from __future__ import annotations

import orjson
from starlette.responses import Response
from starlette.types import Send

from healthcode.errors import HealthcodeError
from healthcode.server.errors import error_answer
from healthcode.server.metrics import ERRORS

#: Status, raw ASGI headers (lower-case names), body.
Answer = tuple[int, tuple[tuple[bytes, bytes], ...], bytes]

JSON_HEADERS: tuple[tuple[bytes, bytes], ...] = ((b"content-type", b"application/json"),)


def raw_error_answer(error: HealthcodeError, service: str | None = None) -> Answer:
    """The standard error answer to `error` as raw ASGI parts; counted for `service` when
    given (the scan path counts its refusals by its own metric)."""
    if service is not None:
        ERRORS.labels(service, error.code.value).inc()
    status, named, body = error_answer(error)
    extra = tuple((k.lower().encode("ascii"), v.encode("ascii")) for k, v in named.items())
    return status, (*JSON_HEADERS, *extra), orjson.dumps(body)


async def send_answer(send: Send, answer: Answer) -> None:
    """Send `answer` as one response: start (with its length, which a 304 has none of) and
    body."""
    status, headers, content = answer
    if status != 304:
        headers = (*headers, (b"content-length", str(len(content)).encode("ascii")))
    await send({"type": "http.response.start", "status": status, "headers": list(headers)})
    await send({"type": "http.response.body", "body": content})


def answer_response(answer: Answer) -> Response:
    """`answer` as a Starlette response, for a route that shares an answer with a fast path
    (Starlette adds the length, and none to a 304)."""
    status, headers, body = answer
    response = Response(body, status_code=status)
    response.raw_headers = [*headers, *response.raw_headers]
    return response
