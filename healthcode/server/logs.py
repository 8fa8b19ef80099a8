"""Structured JSON logs with a request id, and nothing personal in them (ADR 0023).

Every service logs one JSON object per line: `ts` (UTC, ISO 8601), `level`, `logger`,
`message`, `request_id` (of the request being answered, if any) and, for access lines,
`method`, `path` (without the query string), `status`. Client addresses are left out (personal
data), and every message passes through `scrub`, which masks anything shaped like a resident
ID number, a bearer token or a signed code, whatever a caller logged by mistake.

The request id comes from a sane `X-Request-ID` header (a load balancer's) or is made here,
and is echoed in the answer's `X-Request-ID`.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import secrets
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.logging import AccessFormatter

REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "hc_request_id", default=None
)
_SANE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
#: 18-character resident IDs, 15-digit old ones, bearer tokens and JWS / hc:/ codes.
_PERSONAL = re.compile(
    r"(?<![0-9A-Za-z])(\d{17}[\dXx]|\d{15})(?![0-9A-Za-z])"
    r"|\b(hc1|dev1|chk1)\.[A-Za-z0-9_-]{8,}(\.[A-Za-z0-9_-]+)*"
    r"|\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*(\.[A-Za-z0-9_-]*)?"
    r"|\bHC1?:/?[0-9A-Z]{16,}"
    r"|\bhc:/[0-9]{16,}"
    r"|(?i:bearer)\s+\S+"
)


def scrub(text: str) -> str:
    """`text` with ID numbers, tokens and codes masked."""
    return _PERSONAL.sub("[redacted]", text)


class JsonFormatter(logging.Formatter):
    """One JSON object per record (uvicorn's access records included)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        request_id = REQUEST_ID.get()
        if request_id is not None:
            entry["request_id"] = request_id
        args = record.args
        if record.name == "uvicorn.access" and isinstance(args, tuple) and len(args) == 5:
            _client, method, path, version, status = args
            entry["message"] = "request"
            entry.update(
                method=str(method),
                path=scrub(str(path).partition("?")[0]),
                http_version=str(version),
                status=int(str(status)),
            )
        else:
            entry["message"] = scrub(record.getMessage())
        if record.exc_info:
            entry["error"] = scrub(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


def lean_log_records() -> None:
    """Make log records without what no line of ours prints: the caller's file and line (a
    walk up the stack per record), thread, process and multiprocessing names. The Python
    logging HOWTO's "Optimization" section names these switches; at a peak every request
    writes an access line, and the walk was most of its cost."""
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False


def log_config(level: str, log_format: str = "json") -> dict[str, Any]:
    """uvicorn's `log_config`: JSON lines (or uvicorn's text with the same scrubbing) on
    stderr for the root logger, uvicorn's own and the access log."""
    formatter = (
        {"()": JsonFormatter}
        if log_format == "json"
        else {"()": "healthcode.server.logs.ScrubbingFormatter"}
    )
    access = (
        formatter
        if log_format == "json"
        else {"()": "healthcode.server.logs.ScrubbingAccessFormatter"}
    )
    handler = {"class": "logging.StreamHandler", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": formatter, "access": access},
        "handlers": {
            "default": {**handler, "formatter": "default"},
            "access": {**handler, "formatter": "access"},
        },
        "root": {"handlers": ["default"], "level": level.upper()},
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": level.upper(), "propagate": False},
            "uvicorn.error": {"level": level.upper()},
            "uvicorn.access": {"handlers": ["access"], "level": level.upper(), "propagate": False},
        },
    }


class ScrubbingFormatter(logging.Formatter):
    """Plain text lines, scrubbed like the JSON ones."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))


class ScrubbingAccessFormatter(AccessFormatter):
    """uvicorn's text access line without the query string, client address or personal data."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelprefix)s %(request_line)s %(status_code)s")

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        args = record.args
        if isinstance(args, tuple) and len(args) == 5:
            record = logging.makeLogRecord(record.__dict__)
            record.args = ("-", args[1], str(args[2]).partition("?")[0], args[3], args[4])
        return scrub(super().formatMessage(record))


class RequestIds:
    """ASGI middleware: a request id per request, in logs and in `X-Request-ID`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                given = value.decode("latin-1")
                break
        request_id = given if given and _SANE_ID.fullmatch(given) else secrets.token_hex(8)
        token = REQUEST_ID.set(request_id)
        header = (b"x-request-id", request_id.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            REQUEST_ID.reset(token)
