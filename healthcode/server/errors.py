"""The one place where error codes become HTTP statuses (standard §9)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from healthcode.errors import ERROR_INFO, ErrorCode, HealthcodeError
from healthcode.server.metrics import ERRORS

logger = logging.getLogger("healthcode.server")

#: Status for each code when it refuses a *request*. A verification verdict inside a successful
#: verify call is answered 200 with valid=false (the verdict is the payload), not with these.
HTTP_STATUS: dict[ErrorCode, int] = {
    **dict.fromkeys(ErrorCode, 422),
    ErrorCode.INPUT_TOO_LARGE: 413,
    ErrorCode.PAYLOAD_TOO_LARGE: 413,
    ErrorCode.UNAUTHENTICATED: 401,
    ErrorCode.LOGIN_FAILED: 401,
    ErrorCode.DEVICE_NOT_REGISTERED: 401,
    ErrorCode.ACCOUNT_LOCKED: 429,
    ErrorCode.TOKEN_EXPIRED: 401,
    ErrorCode.ASSERTION_INVALID: 401,
    ErrorCode.ASSERTION_REPLAYED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.CONFLICT: 409,
    ErrorCode.TRUST_LIST_ROLLBACK: 409,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.REQUEST_TIMEOUT: 408,
    ErrorCode.OTP_WRONG: 401,
    ErrorCode.OTP_EXPIRED: 401,
    ErrorCode.FAMILY_LIMIT: 409,
    ErrorCode.COUNTER_REQUIRED: 403,
    ErrorCode.UPSTREAM_UNAVAILABLE: 503,
    ErrorCode.UPSTREAM_TIMEOUT: 504,
    ErrorCode.UPSTREAM_TOO_LARGE: 502,
    ErrorCode.UPSTREAM_MALFORMED: 502,
    ErrorCode.UNAVAILABLE_OFFLINE: 503,
    ErrorCode.TRUST_LIST_UNAVAILABLE: 503,
}


def error_body(code: ErrorCode, message: str, **extra: Any) -> dict[str, Any]:
    """The JSON body of every error answer: code, message, hint and short texts."""
    info = ERROR_INFO[code]
    return {
        "error": code.value,
        "message": message,
        "hint": info.hint,
        "text": {"en": info.en, "zh": info.zh},
        "staff_text": {"zh": info.staff_zh, "en": info.staff_en},
        **extra,
    }


def error_answer(error: HealthcodeError) -> tuple[int, dict[str, str], dict[str, Any]]:
    """Status, headers and JSON body of the standard answer to `error`: the one definition,
    used by the exception handler below and by the checkpoint's scan fast path."""
    headers = {} if error.retry_after is None else {"Retry-After": str(int(error.retry_after))}
    body = error_body(error.code, error.message, **error.details)
    return HTTP_STATUS[error.code], headers, body


def _count(request: Request, code: ErrorCode) -> None:
    service = getattr(request.app.state, "service_name", "service")
    ERRORS.labels(service, code.value).inc()


def install_error_handlers(app: FastAPI) -> None:
    """Map domain errors, validation errors and unknown routes to the standard's JSON shape
    (each counted in `hc_errors_total` by code)."""

    @app.exception_handler(HealthcodeError)
    async def _domain(request: Request, exc: HealthcodeError) -> JSONResponse:
        _count(request, exc.code)
        status, headers, body = error_answer(exc)
        return JSONResponse(body, status_code=status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        # Field paths and messages only: never echo submitted values (they may be ID numbers).
        problems = [
            {"field": ".".join(str(p) for p in error.get("loc", ())), "problem": error.get("msg")}
            for error in exc.errors()
        ]
        _count(request, ErrorCode.INVALID_REQUEST)
        return JSONResponse(
            error_body(
                ErrorCode.INVALID_REQUEST,
                "the request body or parameters are invalid",
                problems=problems,
            ),
            status_code=422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:
            # FastAPI's "error parsing the body" (not JSON, bad encoding): §9 answers a
            # malformed request 422 invalid_request, as for any other invalid body.
            return JSONResponse(
                error_body(
                    ErrorCode.INVALID_REQUEST,
                    "the request body is not valid JSON (UTF-8, as its Content-Type says)",
                ),
                status_code=HTTP_STATUS[ErrorCode.INVALID_REQUEST],
            )
        code = {
            401: ErrorCode.UNAUTHENTICATED,
            403: ErrorCode.FORBIDDEN,
            404: ErrorCode.NOT_FOUND,
            405: ErrorCode.INVALID_REQUEST,
            409: ErrorCode.CONFLICT,
            413: ErrorCode.INPUT_TOO_LARGE,
            429: ErrorCode.RATE_LIMITED,
        }.get(exc.status_code, ErrorCode.INVALID_REQUEST)
        _count(request, code)
        return JSONResponse(
            error_body(code, str(exc.detail)),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )
