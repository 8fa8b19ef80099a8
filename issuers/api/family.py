"""Family endpoints: list, bind (minors directly, adults by consent or at a counter), unbind,
a dependant's code and status, binding requests, one's own guardians."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Response
from fastapi.responses import JSONResponse
from sqlmodel import Session

from healthcode.credential import CodeKind
from healthcode.errors import ErrorCode, RequestError
from healthcode.server.openapi import error_responses
from issuers.api.citizen import code_answer, declaration_answer, profile, screen_response
from issuers.api.deps import AUTHENTICATED, Caller, Context, citizen_subject, image_response
from issuers.api.schemas import CounterBinding, Declaration, PersonRef
from issuers.audit import audit
from issuers.auth import Principal, Role, require_role
from issuers.consent import answer_request, pending_requests, request_binding, withdraw_request
from issuers.context import IssuerContext
from issuers.declarations import check_declaration
from issuers.family import (
    bind_minor,
    counter_bind,
    dependent_of,
    list_dependents,
    list_guardians,
    remove_guardian,
    unbind_dependent,
)
from issuers.models import Citizen, FamilyBinding

router = APIRouter(prefix="/v1", responses=AUTHENTICATED)


def _iso(epoch: int | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


def member_json(binding: FamilyBinding, citizen: Citizen) -> dict[str, Any]:
    return {
        "dependent_ref": binding.ref,
        **profile(citizen),
        "minor": binding.minor_until is not None,
        "adult_from": _iso(binding.minor_until),
        "bound_at": _iso(binding.created_at),
        "bound_by": binding.bound_by,
    }


@router.get("/family", tags=["family"])
def family(context: Context, caller: Caller) -> list[dict[str, Any]]:
    """The caller's bound family members."""
    subject = citizen_subject(caller)
    with context.session() as session:
        members = list_dependents(session, subject)
        audit(session, actor=caller.actor, action="read_family", subject=subject)
        for _, dependent in members:
            audit(
                session, actor=caller.actor, action="read_family_member", subject=dependent.subject
            )
        session.commit()
    return [member_json(b, c) for b, c in members]


@router.post(
    "/family",
    status_code=201,
    tags=["family"],
    responses={
        202: {"description": "an adult with an account was asked to approve"},
        **error_responses(
            ErrorCode.NOT_FOUND,
            ErrorCode.CONFLICT,
            ErrorCode.FAMILY_LIMIT,
            ErrorCode.COUNTER_REQUIRED,
        ),
    },
)
def bind(body: PersonRef, context: Context, caller: Caller) -> Any:
    """Bind a family member by ID number and name (both must match the records).

    A minor is bound at once (201, `state: bound`). An adult with an account is asked: 202,
    `state: pending`, bound only when they approve in their own app. An adult without an
    account: `counter_required` (bind at a service counter)."""
    subject = citizen_subject(caller)
    with context.session() as session:
        binding, dependant = bind_minor(
            context, session, subject, id_number=body.id_number, name=body.name
        )
        if binding is not None:
            session.commit()
            return {"state": "bound", **member_json(binding, dependant)}
        if dependant.phone is None:
            audit(
                session, actor=caller.actor, action="family_bind_refused", subject=dependant.subject
            )
            session.commit()
            raise RequestError(
                ErrorCode.COUNTER_REQUIRED,
                "this adult has no account of their own to approve the binding; bring both "
                "ID cards to a service counter",
            )
        request = request_binding(context, session, subject, dependant)
        session.commit()
        answer = {
            "state": "pending",
            "request_id": request.id,
            "masked_name": dependant.masked_name,
            "id_tail": dependant.id_tail,
            "expires_at": _iso(request.expires_at),
        }
    return JSONResponse(answer, status_code=202)


def _removed(
    context: IssuerContext, caller: Principal, remove: Callable[[Session, str], None]
) -> Response:
    """Run `remove(session, caller's subject)` in one transaction; 204."""
    subject = citizen_subject(caller)
    with context.session() as session:
        remove(session, subject)
        session.commit()
    return Response(status_code=204)


@router.delete("/family/{dependent_ref}", status_code=204, tags=["family"])
def unbind(dependent_ref: str, context: Context, caller: Caller) -> Response:
    """Unbind a family member."""
    return _removed(context, caller, lambda s, me: unbind_dependent(s, me, dependent_ref))


def _dependant_subject(context: IssuerContext, caller: Principal, ref: str) -> str:
    subject = citizen_subject(caller)
    with context.session() as session:
        _, dependant = dependent_of(session, subject, ref)
    return dependant.subject


def _dependent_code(
    context: IssuerContext, caller: Principal, ref: str, kind: CodeKind
) -> dict[str, Any]:
    subject = _dependant_subject(context, caller, ref)
    return code_answer(context, subject, kind, caller.actor, dependent_ref=ref)


@router.get("/family/{dependent_ref}/code", tags=["family"])
def dependent_code(
    dependent_ref: str, context: Context, caller: Caller, response: Response
) -> dict[str, Any]:
    """A bound family member's phone code, with what the code screen shows (as /v1/me/code)."""
    answer = _dependent_code(context, caller, dependent_ref, CodeKind.PHONE)
    return screen_response(answer, response)


@router.get("/family/{dependent_ref}/code.png", tags=["family"], response_class=Response)
def dependent_code_png(
    dependent_ref: str,
    context: Context,
    caller: Caller,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """A bound family member's phone code as a PNG QR image."""
    code = _dependent_code(context, caller, dependent_ref, CodeKind.PHONE)
    return image_response(code["qr_text"], "png", if_none_match)


@router.post("/family/{dependent_ref}/offline-code", tags=["family"])
def dependent_offline_code(dependent_ref: str, context: Context, caller: Caller) -> dict[str, Any]:
    """A printable 7-day offline code for a bound family member."""
    return _dependent_code(context, caller, dependent_ref, CodeKind.OFFLINE)


@router.post(
    "/family/{dependent_ref}/declarations",
    status_code=201,
    tags=["family"],
    responses=error_responses(ErrorCode.CONFLICT),
)
def declare_for_minor(
    dependent_ref: str, body: Declaration, context: Context, caller: Caller
) -> dict[str, Any]:
    """A guardian's health or travel declaration for a bound minor (an adult declares for
    themself); answered as `POST /v1/me/declarations`."""
    check_declaration(body.kind, body.data)
    subject = citizen_subject(caller)
    with context.session() as session:
        binding, dependant = dependent_of(session, subject, dependent_ref)
        if binding.minor_until is None:
            raise RequestError(
                ErrorCode.FORBIDDEN, "an adult declares for themself, in their own app"
            )
    return declaration_answer(context, dependant.subject, body, caller.actor)


@router.get("/family/requests", tags=["family"])
def family_requests(context: Context, caller: Caller) -> dict[str, list[dict[str, Any]]]:
    """Waiting binding requests: others asking to hold the caller's code (incoming) and the
    caller's own requests (outgoing)."""
    subject = citizen_subject(caller)
    with context.session() as session:
        incoming, outgoing = pending_requests(session, subject)
        audit(session, actor=caller.actor, action="read_family_requests", subject=subject)
        session.commit()
    return {
        "incoming": [
            {
                "request_id": p.request.id,
                "guardian_masked_name": p.other.masked_name,
                "guardian_id_tail": p.other.id_tail,
                "created_at": _iso(p.request.created_at),
                "expires_at": _iso(p.request.expires_at),
            }
            for p in incoming
        ],
        "outgoing": [
            {
                "request_id": p.request.id,
                "masked_name": p.other.masked_name,
                "id_tail": p.other.id_tail,
                "created_at": _iso(p.request.created_at),
                "expires_at": _iso(p.request.expires_at),
            }
            for p in outgoing
        ],
    }


def _answer(context: IssuerContext, caller: Principal, request_id: str, approve: bool) -> Any:
    subject = citizen_subject(caller)
    with context.session() as session:
        request, _ = answer_request(context, session, request_id, subject, approve=approve)
        session.commit()
        return {"state": request.state}


@router.post(
    "/family/requests/{request_id}/approve",
    tags=["family"],
    responses=error_responses(ErrorCode.CONFLICT, ErrorCode.FAMILY_LIMIT),
)
def approve_request(request_id: str, context: Context, caller: Caller) -> dict[str, str]:
    """The adult asked lets the requester hold their code."""
    result: dict[str, str] = _answer(context, caller, request_id, approve=True)
    return result


@router.post("/family/requests/{request_id}/decline", tags=["family"])
def decline_request(request_id: str, context: Context, caller: Caller) -> dict[str, str]:
    """The adult asked refuses; nothing is bound."""
    result: dict[str, str] = _answer(context, caller, request_id, approve=False)
    return result


@router.delete("/family/requests/{request_id}", status_code=204, tags=["family"])
def withdraw(request_id: str, context: Context, caller: Caller) -> Response:
    """The guardian who asked withdraws the request."""
    return _removed(context, caller, lambda s, me: withdraw_request(s, request_id, me))


@router.get("/me/guardians", tags=["family"])
def my_guardians(context: Context, caller: Caller) -> list[dict[str, Any]]:
    """Who holds the caller's code."""
    subject = citizen_subject(caller)
    with context.session() as session:
        guardians = list_guardians(session, subject)
        audit(session, actor=caller.actor, action="read_guardians", subject=subject)
        session.commit()
    return [
        {
            "guardian_ref": b.ref,
            "masked_name": c.masked_name,
            "id_tail": c.id_tail,
            "bound_at": _iso(b.created_at),
            "bound_by": b.bound_by,
        }
        for b, c in guardians
    ]


@router.delete("/me/guardians/{guardian_ref}", status_code=204, tags=["family"])
def end_guardian(guardian_ref: str, context: Context, caller: Caller) -> Response:
    """End a guardian's access to the caller's code."""
    return _removed(context, caller, lambda s, me: remove_guardian(s, me, guardian_ref))


@router.post(
    "/counter/family",
    status_code=201,
    tags=["counter"],
    responses=error_responses(ErrorCode.NOT_FOUND, ErrorCode.CONFLICT, ErrorCode.FAMILY_LIMIT),
)
def bind_at_counter(body: CounterBinding, context: Context, caller: Caller) -> dict[str, Any]:
    """Staff bind a dependant to a guardian, both ID cards checked at the counter (audited
    under both people, with the staff member's note)."""
    require_role(caller, Role.COUNTER_STAFF)
    with context.session() as session:
        binding, dependant = counter_bind(
            context,
            session,
            guardian=(body.guardian.id_number, body.guardian.name),
            dependant=(body.dependant.id_number, body.dependant.name),
            actor=caller.actor,
            note=body.note,
        )
        session.commit()
        return {"state": "bound", **member_json(binding, dependant)}
