"""Error answers in each service's OpenAPI, from the one map of codes to statuses (§9).

Routes name the codes they can refuse with: `responses=error_responses(ErrorCode.NOT_FOUND,
...)` on a route or a router. `document_common_errors` then adds, to every operation, the
refusals that any route can give whatever its code: `invalid_request` (422, request
validation) where the operation takes parameters or a body, `input_too_large` (413, the body
limit) where it takes a body, and `not_found` (404) where its path names a record; and it
gives every error answer the standard's body. So a
client (and schemathesis) finds every status an operation can answer in its OpenAPI.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, ConfigDict

from healthcode.errors import ErrorCode
from healthcode.server.errors import HTTP_STATUS

__all__ = ["ErrorAnswer", "document_common_errors", "error_responses", "raw_error_responses"]

_SCHEMA_REF = {"$ref": "#/components/schemas/ErrorAnswer"}


class ErrorAnswer(BaseModel):
    """The body of every refused request (standard §9); services may add members."""

    model_config = ConfigDict(extra="allow")

    error: str
    message: str
    hint: str
    text: dict[str, str]


def error_responses(*codes: ErrorCode) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` for the codes a route refuses with, grouped by their status."""
    by_status: dict[int, list[str]] = {}
    for code in codes:
        by_status.setdefault(HTTP_STATUS[code], []).append(f"`{code.value}`")
    return {
        status: {"model": ErrorAnswer, "description": "Refused: " + ", ".join(names)}
        for status, names in sorted(by_status.items())
    }


def raw_error_responses(*codes: ErrorCode) -> dict[str, dict[str, Any]]:
    """The same, as raw OpenAPI (for an operation written into the schema by hand)."""
    return {
        str(status): {
            "description": entry["description"],
            "content": {"application/json": {"schema": _SCHEMA_REF}},
        }
        for status, entry in error_responses(*codes).items()
    }


def _add(responses: dict[str, Any], status: int, code: ErrorCode) -> None:
    entry = responses.setdefault(str(status), {"description": "Refused:"})
    if f"`{code.value}`" not in entry["description"]:
        entry["description"] += f" `{code.value}`"


def document_common_errors(app: FastAPI) -> None:
    """Make `app.openapi()` list the refusals every route can give, with the §9 body."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components["ErrorAnswer"] = ErrorAnswer.model_json_schema()
        for methods in schema.get("paths", {}).values():
            for operation in methods.values():
                responses = operation.setdefault("responses", {})
                if operation.get("parameters") or operation.get("requestBody"):
                    _add(responses, 422, ErrorCode.INVALID_REQUEST)
                if operation.get("requestBody"):
                    _add(responses, 413, ErrorCode.INPUT_TOO_LARGE)
                if any(p.get("in") == "path" for p in operation.get("parameters", ())):
                    _add(responses, 404, ErrorCode.NOT_FOUND)
                for status, entry in responses.items():
                    if status.startswith(("4", "5")):
                        entry["content"] = {"application/json": {"schema": _SCHEMA_REF}}
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
