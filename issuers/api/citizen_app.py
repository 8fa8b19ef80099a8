"""Endpoints the citizen app needs besides the code itself: its configuration, the cheap status
poll, "who looked at my status" and the declaration schema."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response
from fastapi.responses import JSONResponse

from healthcode.errors import ErrorCode, RequestError
from issuers.accesslog import access_entries
from issuers.api.deps import AUTHENTICATED, Caller, Context, citizen_subject
from issuers.audit import audit
from issuers.codescreen import province_names, status_json, status_version
from issuers.context import IssuerContext
from issuers.declarations import declaration_schema
from issuers.family import dependent_of
from issuers.store import citizen_by_subject, refresh_if_lapsed

router = APIRouter(prefix="/v1")

#: How often the app polls the status (s): a colour change reaches an open screen within it.
STATUS_POLL_S = 10
#: The app fetches a new code this long before the current one expires.
CODE_REFRESH_BEFORE_S = 120


@router.get("/app/config", tags=["citizen app"])
def app_config(context: Context) -> dict[str, Any]:
    """Public facts the app needs before login (no personal data)."""
    settings = context.settings
    return {
        "issuer_id": settings.issuer_id,
        "issuer_name": settings.issuer_name,
        "province": province_names(settings),
        "demo_mode": settings.demo_mode,
        "status_poll_s": STATUS_POLL_S,
        "code_refresh_before_s": CODE_REFRESH_BEFORE_S,
        "family": {
            "max_dependants": settings.family_max_dependants,
            "max_guardians": settings.family_max_guardians,
        },
        "print": {"available": settings.print_url is not None, "layouts": ["a4", "card"]},
        "languages": ["zh", "en"],
    }


def _status(
    context: IssuerContext, subject: str, actor: str, if_none_match: str | None
) -> Response | dict[str, Any]:
    with context.session() as session:
        citizen = citizen_by_subject(session, subject)
        refresh_if_lapsed(context, session, citizen)
        etag = f'"{status_version(citizen)}"'
        unchanged = if_none_match is not None and etag in if_none_match
        if not unchanged:
            # A 304 tells nothing new; an answer with the colour is a read, audited.
            audit(session, actor=actor, action="read_status", subject=subject)
        session.commit()
    headers = {"ETag": etag, "Cache-Control": "no-cache, private"}
    if unchanged:
        return Response(status_code=304, headers=headers)
    return JSONResponse(status_json(citizen), headers=headers)


@router.get(
    "/me/status",
    tags=["citizen app"],
    responses={304: {"description": "unchanged since the status_version sent"}, **AUTHENTICATED},
)
def my_status(
    context: Context,
    caller: Caller,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Any:
    """The caller's status version and colour: 304 while `If-None-Match` still matches.
    On a 200 the app fetches a new code (`/v1/me/code`)."""
    return _status(context, citizen_subject(caller), caller.actor, if_none_match)


@router.get(
    "/family/{dependent_ref}/status",
    tags=["citizen app"],
    responses={304: {"description": "unchanged since the status_version sent"}, **AUTHENTICATED},
)
def dependent_status(
    dependent_ref: str,
    context: Context,
    caller: Caller,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Any:
    """A bound family member's status version (as /v1/me/status)."""
    subject = citizen_subject(caller)
    with context.session() as session:
        _, dependant = dependent_of(session, subject, dependent_ref)
    return _status(context, dependant.subject, caller.actor, if_none_match)


Limit = Annotated[int, Query(ge=1, le=200)]
Before = Annotated[int | None, Query(ge=1, le=2**53)]


def _access_log(
    context: IssuerContext, subject: str, actor: str, limit: int, before: int | None
) -> list[dict[str, Any]]:
    with context.session() as session:
        entries = access_entries(session, subject, limit=limit, before=before)
        audit(session, actor=actor, action="read_access_log", subject=subject)
        session.commit()
    return [entry.to_json() for entry in entries]


@router.get("/me/access-log", tags=["citizen app"], responses=AUTHENTICATED)
def my_access_log(
    context: Context, caller: Caller, limit: Limit = 100, before: Before = None
) -> list[dict[str, Any]]:
    """Who looked at my status: every access to the caller's data by someone else, newest
    first (checkpoint ID-card reads, assisted and partner look-ups, officials, counters,
    guardians), with role, place, stated purpose and time. Page with `before=<last id>`."""
    return _access_log(context, citizen_subject(caller), caller.actor, limit, before)


@router.get("/family/{dependent_ref}/access-log", tags=["citizen app"], responses=AUTHENTICATED)
def dependent_access_log(
    dependent_ref: str,
    context: Context,
    caller: Caller,
    limit: Limit = 100,
    before: Before = None,
) -> list[dict[str, Any]]:
    """Who looked at a bound minor's status (an adult's log is theirs alone)."""
    subject = citizen_subject(caller)
    with context.session() as session:
        binding, dependant = dependent_of(session, subject, dependent_ref)
    if binding.minor_until is None:
        raise RequestError(
            ErrorCode.FORBIDDEN, "only a minor's access log is shown to their guardian"
        )
    return _access_log(context, dependant.subject, caller.actor, limit, before)


@router.get("/declarations/schema", tags=["citizen app"])
def declarations_schema() -> dict[str, Any]:
    """The province's declaration vocabulary as a JSON Schema (draft 2020-12): one branch
    per declarable kind, each field with type, bounds and zh/en titles."""
    return declaration_schema()
