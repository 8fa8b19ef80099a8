"""Corrections (纠错): a citizen disputes their status, an official accepts or rejects.

Accepting either recomputes the status with the rules (the data were corrected) or overrides
the colour with a stated reason; both are recorded in the status history, audited, and revoke
outstanding codes when the colour changes. Both sides see the outcome.
"""

from __future__ import annotations

import time
from enum import StrEnum

from sqlmodel import Session, col, select

from healthcode.credential import StatusColour
from healthcode.errors import ErrorCode, RequestError
from issuers.audit import audit
from issuers.context import IssuerContext
from issuers.models import Correction
from issuers.store import citizen_by_subject, recompute


class Decision(StrEnum):
    ACCEPT = "accept"
    REJECT = "reject"


def file_correction(
    session: Session, subject: str, *, filed_by: str, reason: str, now: float | None = None
) -> Correction:
    at = int(time.time() if now is None else now)
    if not reason.strip():
        raise RequestError(ErrorCode.INVALID_REQUEST, "say why the status is wrong (reason)")
    citizen_by_subject(session, subject)
    open_request = session.exec(
        select(Correction).where(Correction.subject == subject, Correction.state == "open")
    ).first()
    if open_request is not None:
        raise RequestError(
            ErrorCode.CONFLICT, f"correction {open_request.id} is still open; wait for its outcome"
        )
    correction = Correction(
        subject=subject, filed_by=filed_by, reason=reason.strip(), created_at=at
    )
    session.add(correction)
    session.flush()
    audit(session, actor=filed_by, action="correction_filed", subject=subject, now=at)
    return correction


def corrections_of(session: Session, subjects: list[str]) -> list[Correction]:
    return list(
        session.exec(
            select(Correction)
            .where(col(Correction.subject).in_(subjects))
            .order_by(col(Correction.id))
        )
    )


def open_corrections(session: Session) -> list[Correction]:
    return list(
        session.exec(
            select(Correction).where(Correction.state == "open").order_by(col(Correction.id))
        )
    )


def decide_correction(
    ctx: IssuerContext,
    session: Session,
    correction_id: int,
    *,
    decision: Decision,
    note: str,
    override_colour: StatusColour | None,
    official: str,
    now: float | None = None,
) -> tuple[Correction, list[str]]:
    """Accept (recompute or override) or reject an open correction; returns revoked jtis."""
    at = int(time.time() if now is None else now)
    correction = session.get(Correction, correction_id)
    if correction is None:
        raise RequestError(ErrorCode.NOT_FOUND, f"no correction {correction_id}")
    if correction.state != "open":
        raise RequestError(ErrorCode.CONFLICT, f"correction {correction_id} is already decided")
    if not note.strip():
        raise RequestError(ErrorCode.INVALID_REQUEST, "a decision needs a note for the citizen")
    if decision is Decision.REJECT and override_colour is not None:
        raise RequestError(ErrorCode.INVALID_REQUEST, "a rejection cannot override the colour")
    citizen = citizen_by_subject(session, correction.subject)
    session.refresh(citizen, with_for_update=True)  # serialised with code issuance
    revoked: list[str] = []
    if decision is Decision.ACCEPT:
        citizen.override_colour = None if override_colour is None else override_colour.value
        citizen.override_note = note.strip()[:500] if override_colour is not None else None
        revoked = recompute(
            ctx,
            session,
            citizen,
            actor=official,
            now=at,
            note=f"correction {correction_id}: {note.strip()[:400]}",
        )
    correction.state = "accepted" if decision is Decision.ACCEPT else "rejected"
    correction.decision_note = note.strip()[:1000]
    correction.override_colour = None if override_colour is None else override_colour.value
    correction.decided_by = official
    correction.decided_at = at
    session.add(correction)
    audit(
        session,
        actor=official,
        action=f"correction_{correction.state}",
        subject=correction.subject,
        reason=note,
        now=at,
    )
    return correction, revoked
