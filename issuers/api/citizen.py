"""Citizen endpoints: login, own profile and codes, declarations, family, corrections."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Response
from sqlmodel import Session

from healthcode.credential import CodeKind
from healthcode.errors import ErrorCode, RequestError
from healthcode.server.openapi import error_responses
from issuers.api.deps import AUTHENTICATED, Caller, ClientAddress, Context, citizen_subject
from issuers.api.schemas import (
    CorrectionRequest,
    Declaration,
    Login,
    OtpRequest,
    OtpVerify,
)
from issuers.audit import audit
from issuers.auth import (
    Principal,
    Role,
    login_staff,
    open_session,
    request_otp,
    revoke_session,
    verify_otp,
)
from issuers.codescreen import COLOUR_TEXT, screen_fields, status_version
from issuers.context import IssuerContext
from issuers.corrections import corrections_of, file_correction
from issuers.declarations import check_declaration
from issuers.family import dependent_of, list_dependents
from issuers.issuance import code_for_citizen
from issuers.models import Citizen, Correction
from issuers.owncode import code_json
from issuers.owncode import profile as profile  # re-exported: family.py, staff.py
from issuers.store import add_declaration, citizen_by_subject, status_history

router = APIRouter(prefix="/v1")


def _token_answer(token: str, context: IssuerContext, principal: Principal) -> dict[str, Any]:
    return {
        "access_token": token,
        "token_type": "bearer",
        "expires_in": context.settings.access_token_lifetime_s,
        "role": principal.role.value,
    }


def _open_session(context: IssuerContext, session: Session, principal: Principal) -> str:
    secret = context.settings.token_secret.get_secret_value().encode("utf-8")
    return open_session(session, principal, secret, context.settings.access_token_lifetime_s)


def correction_json(correction: Correction, dependent_ref: str | None = None) -> dict[str, Any]:
    return {
        "id": correction.id,
        "state": correction.state,
        "reason": correction.reason,
        "decision_note": correction.decision_note,
        "override_colour": correction.override_colour,
        "override_until": correction.override_until,
        "created_at": correction.created_at,
        "decided_at": correction.decided_at,
        "dependent_ref": dependent_ref,
    }


@router.post(
    "/auth/otp/request",
    status_code=202,
    tags=["auth"],
    # 503: no SMS gateway configured (a deployment without one cannot log citizens in).
    responses=error_responses(ErrorCode.RATE_LIMITED, ErrorCode.UPSTREAM_UNAVAILABLE),
)
def otp_request(body: OtpRequest, context: Context, address: ClientAddress) -> dict[str, Any]:
    """Send a one-time login code by the configured SMS gateway (demo mode: the console).

    In demo mode only, the answer also carries the code (`demo_code`), so a newcomer trying
    the demo can log in without a phone; a real deployment never shows it."""
    if context.delivery is None:
        raise RequestError(
            ErrorCode.UPSTREAM_UNAVAILABLE,
            "one-time codes cannot be delivered: no SMS gateway is configured "
            "(HC_ISSUER_OTP_WEBHOOK_URL)",
        )
    settings = context.settings
    secret = settings.token_secret.get_secret_value().encode("utf-8")
    with context.session() as session:
        code = request_otp(session, body.phone, secret, settings=settings, address=address)
        session.commit()
    answer: dict[str, Any] = {
        "status": "sent if the phone is registered",
        "expires_in": settings.otp_lifetime_s,
        "resend_after": settings.otp_resend_interval_s,
    }
    if code is not None:
        expires_at = int(time.time()) + settings.otp_lifetime_s
        context.delivery.send(body.phone, code, expires_at)
        if settings.demo_mode:
            answer["demo_code"] = code
    return answer


@router.post(
    "/auth/otp/verify",
    tags=["auth"],
    responses=error_responses(ErrorCode.OTP_WRONG, ErrorCode.OTP_EXPIRED, ErrorCode.RATE_LIMITED),
)
def otp_verify(body: OtpVerify, context: Context) -> dict[str, Any]:
    """Exchange phone + one-time code for a citizen access token."""
    secret = context.settings.token_secret.get_secret_value().encode("utf-8")
    with context.session() as session:
        citizen = verify_otp(session, body.phone, body.code, secret, settings=context.settings)
        principal = Principal(role=Role.CITIZEN, subject=citizen.subject)
        token = _open_session(context, session, principal)
        audit(session, actor=principal.actor, action="login", subject=citizen.subject)
        session.commit()
    return _token_answer(token, context, principal)


@router.post(
    "/auth/login",
    tags=["auth"],
    responses=error_responses(ErrorCode.UNAUTHENTICATED, ErrorCode.RATE_LIMITED),
)
def staff_login(body: Login, context: Context, address: ClientAddress) -> dict[str, Any]:
    """Staff, officials, admins and checkpoint devices log in with username and password."""
    with context.session() as session:
        principal = login_staff(
            session, body.username, body.password, settings=context.settings, address=address
        )
        token = _open_session(context, session, principal)
        audit(session, actor=principal.actor, action="login", subject=None)
        session.commit()
    return _token_answer(token, context, principal)


@router.post("/auth/logout", status_code=204, tags=["auth"], responses=AUTHENTICATED)
def logout(context: Context, caller: Caller) -> Response:
    """End the caller's session: its token is refused from the next request on."""
    assert caller.session_id is not None
    with context.session() as session:
        revoke_session(session, caller.session_id)
        audit(session, actor=caller.actor, action="logout", subject=caller.subject)
        session.commit()
    context.sessions.forget(caller.session_id)
    return Response(status_code=204)


def _own_citizen(context: IssuerContext, caller: Principal) -> tuple[str, Citizen]:
    subject = citizen_subject(caller)
    with context.session() as session:
        return subject, citizen_by_subject(session, subject)


@router.get("/me/history", tags=["citizen"], responses=AUTHENTICATED)
def my_history(context: Context, caller: Caller) -> list[dict[str, Any]]:
    """The caller's colour history, oldest first, each change with its reason in plain words."""
    subject = citizen_subject(caller)
    texts = {rule.id: dict(rule.reason_text) for rule in context.rules.rules}
    with context.session() as session:
        history = status_history(session, subject)
        audit(session, actor=caller.actor, action="read_history", subject=subject)
        session.commit()
    return [
        {
            "colour": h.colour,
            "colour_text": COLOUR_TEXT.get(h.colour, {"zh": h.colour, "en": h.colour}),
            "reason": h.reason,
            "reason_text": texts.get(h.rule_id, {"zh": h.note or "", "en": h.note or ""}),
            "rule_id": h.rule_id,
            "rules_version": h.rules_version,
            "changed_at": h.changed_at,
            "note": h.note,
        }
        for h in history
    ]


def code_answer(
    context: IssuerContext,
    subject: str,
    kind: CodeKind,
    actor: str,
    dependent_ref: str | None = None,
) -> dict[str, Any]:
    """A code with everything the app's code screen shows (codescreen.py)."""
    with context.session() as session:
        citizen = citizen_by_subject(session, subject)
        view, _ = code_for_citizen(context, session, citizen, kind=kind, actor=actor)
        screen = screen_fields(citizen, context.settings)
        session.commit()
    return code_json(context.settings, view, screen, actor, dependent_ref)


def screen_response(answer: dict[str, Any], response: Response) -> dict[str, Any]:
    """Mark a code answer with its status version (the app's poll compares it) and keep it
    out of every cache: it is personal data and changes with the status."""
    response.headers["ETag"] = f'"{answer["status_version"]}"'
    response.headers["Cache-Control"] = "no-store"
    return answer


def _code(context: IssuerContext, subject: str, kind: CodeKind, actor: str) -> dict[str, Any]:
    return code_answer(context, subject, kind, actor)


@router.post("/me/offline-code", tags=["citizen"], responses=AUTHENTICATED)
def my_offline_code(context: Context, caller: Caller) -> dict[str, Any]:
    """A 7-day printable offline code for the caller."""
    return _code(context, citizen_subject(caller), CodeKind.OFFLINE, caller.actor)


@router.post(
    "/me/declarations",
    status_code=201,
    tags=["citizen"],
    responses={**AUTHENTICATED, **error_responses(ErrorCode.CONFLICT)},
)
def declare(body: Declaration, context: Context, caller: Caller) -> dict[str, Any]:
    """A health (symptoms, temperature) or travel declaration; the colour is recomputed and
    the answer says whether it changed. Refused data answer `invalid_request` with
    `problems`: one per field, with zh/en text for the form."""
    check_declaration(body.kind, body.data)
    return declaration_answer(context, citizen_subject(caller), body, caller.actor)


def declaration_answer(
    context: IssuerContext, subject: str, body: Declaration, actor: str
) -> dict[str, Any]:
    """Store a checked declaration for `subject`; the profile and whether the colour changed."""
    with context.session() as session:
        citizen = citizen_by_subject(session, subject)
        previous = citizen.colour
        add_declaration(context, session, citizen, body.kind, body.data, actor=actor)
        session.commit()
    return {
        **profile(citizen),
        "previous_colour": previous,
        "colour_changed": citizen.colour != previous,
        "status_version": status_version(citizen),
    }


@router.post(
    "/corrections",
    status_code=201,
    tags=["corrections"],
    responses={**AUTHENTICATED, **error_responses(ErrorCode.NOT_FOUND, ErrorCode.CONFLICT)},
)
def file(body: CorrectionRequest, context: Context, caller: Caller) -> dict[str, Any]:
    """Dispute the caller's (or a bound family member's) status."""
    subject = citizen_subject(caller)
    with context.session() as session:
        target = subject
        if body.dependent_ref is not None:
            _, dependent = dependent_of(session, subject, body.dependent_ref)
            target = dependent.subject
        correction = file_correction(session, target, filed_by=caller.actor, reason=body.reason)
        session.commit()
    return correction_json(correction, body.dependent_ref)


@router.get("/corrections/mine", tags=["corrections"], responses=AUTHENTICATED)
def my_corrections(context: Context, caller: Caller) -> list[dict[str, Any]]:
    """The caller's correction requests (and their family members') with outcomes."""
    subject = citizen_subject(caller)
    with context.session() as session:
        refs = {c.subject: b.ref for b, c in list_dependents(session, subject)}
        found = corrections_of(session, [subject, *refs])
        for read in sorted({c.subject for c in found} | {subject}):
            audit(session, actor=caller.actor, action="read_corrections", subject=read)
        session.commit()
    return [correction_json(c, refs.get(c.subject)) for c in found]
