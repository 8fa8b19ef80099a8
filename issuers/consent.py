"""Binding an adult who has an account: a request the adult approves or declines in their app.

Knowing an adult's ID number and name is not enough to see their code: the guardian's bind
makes a `FamilyRequest`, the adult sees it under "requests" and only their approval binds
(standard of DESIGN "Accountability"). A request expires after `family_request_lifetime_s`;
the limits are checked when it is made and again when it is approved.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from sqlmodel import Session, col, func, select

from healthcode.errors import ErrorCode, RequestError
from issuers.audit import audit
from issuers.context import IssuerContext
from issuers.family import add_binding, check_limits
from issuers.models import Citizen, FamilyBinding, FamilyRequest
from issuers.store import citizen_by_subject

PENDING = "pending"


@dataclass(frozen=True, slots=True)
class PendingRequest:
    request: FamilyRequest
    #: the other person: the adult asked (outgoing) or the guardian asking (incoming)
    other: Citizen


def request_binding(
    ctx: IssuerContext,
    session: Session,
    guardian_subject: str,
    adult: Citizen,
    now: float | None = None,
) -> FamilyRequest:
    """Ask `adult` to approve being bound; conflict when a request is already pending."""
    at = int(time.time() if now is None else now)
    check_limits(ctx, session, guardian_subject, adult.subject)
    pending = session.exec(
        select(FamilyRequest).where(
            FamilyRequest.guardian_subject == guardian_subject,
            FamilyRequest.dependent_subject == adult.subject,
            FamilyRequest.state == PENDING,
            FamilyRequest.expires_at > at,
        )
    ).first()
    if pending is not None:
        raise RequestError(
            ErrorCode.CONFLICT, "a request to this person is already waiting for their answer"
        )
    # Requests are not bindings, but unbounded ones would let anyone pester many people.
    waiting = session.exec(
        select(func.count()).where(
            FamilyRequest.guardian_subject == guardian_subject,
            FamilyRequest.state == PENDING,
            FamilyRequest.expires_at > at,
        )
    ).one()
    if waiting >= ctx.settings.family_max_dependants:
        raise RequestError(
            ErrorCode.FAMILY_LIMIT,
            f"{waiting} of your requests are still waiting for an answer; withdraw one or "
            "wait until they are answered",
        )
    request = FamilyRequest(
        id=secrets.token_urlsafe(12),
        guardian_subject=guardian_subject,
        dependent_subject=adult.subject,
        state=PENDING,
        created_at=at,
        expires_at=at + ctx.settings.family_request_lifetime_s,
    )
    session.add(request)
    audit(
        session,
        actor=f"citizen:{guardian_subject}",
        action="family_bind_requested",
        subject=adult.subject,
        now=at,
    )
    return request


def pending_requests(
    session: Session, subject: str, now: float | None = None
) -> tuple[list[PendingRequest], list[PendingRequest]]:
    """(incoming: others asking to hold `subject`'s code, outgoing: `subject` asking others)."""
    at = int(time.time() if now is None else now)
    live = (col(FamilyRequest.state) == PENDING) & (col(FamilyRequest.expires_at) > at)
    incoming = session.exec(
        select(FamilyRequest)
        .where(live, FamilyRequest.dependent_subject == subject)
        .order_by(col(FamilyRequest.created_at))
    ).all()
    outgoing = session.exec(
        select(FamilyRequest)
        .where(live, FamilyRequest.guardian_subject == subject)
        .order_by(col(FamilyRequest.created_at))
    ).all()
    return (
        [PendingRequest(r, citizen_by_subject(session, r.guardian_subject)) for r in incoming],
        [PendingRequest(r, citizen_by_subject(session, r.dependent_subject)) for r in outgoing],
    )


def _live_request(session: Session, request_id: str, at: int) -> FamilyRequest:
    request = session.get(FamilyRequest, request_id, with_for_update=True)
    if request is None or request.state != PENDING or request.expires_at <= at:
        raise RequestError(
            ErrorCode.NOT_FOUND, "no waiting request with this reference (answered or expired)"
        )
    return request


def answer_request(
    ctx: IssuerContext,
    session: Session,
    request_id: str,
    dependent_subject: str,
    *,
    approve: bool,
    now: float | None = None,
) -> tuple[FamilyRequest, FamilyBinding | None]:
    """The adult asked approves (binds, limits checked again) or declines (caller commits)."""
    at = int(time.time() if now is None else now)
    request = _live_request(session, request_id, at)
    actor = f"citizen:{dependent_subject}"
    if request.dependent_subject != dependent_subject:
        audit(session, actor=actor, action="family_request_denied", subject=dependent_subject)
        session.commit()
        raise RequestError(ErrorCode.FORBIDDEN, "this request was not sent to you")
    binding = None
    if approve:
        binding = add_binding(
            ctx,
            session,
            request.guardian_subject,
            dependent_subject,
            bound_by="consent",
            actor=actor,
            now=at,
        )
    request.state = "approved" if approve else "declined"
    request.answered_at = at
    session.add(request)
    audit(
        session,
        actor=actor,
        action=f"family_request_{request.state}",
        subject=dependent_subject,
        now=at,
    )
    return request, binding


def withdraw_request(
    session: Session, request_id: str, guardian_subject: str, now: float | None = None
) -> None:
    """The guardian who asked withdraws a waiting request."""
    at = int(time.time() if now is None else now)
    request = _live_request(session, request_id, at)
    if request.guardian_subject != guardian_subject:
        raise RequestError(ErrorCode.FORBIDDEN, "only the person who asked can withdraw this")
    request.state = "withdrawn"
    request.answered_at = at
    session.add(request)
    audit(
        session,
        actor=f"citizen:{guardian_subject}",
        action="family_request_withdrawn",
        subject=request.dependent_subject,
        now=at,
    )
