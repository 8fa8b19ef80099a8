"""Corrections (纠错): a citizen disputes their status, an official accepts or rejects.

Accepting either recomputes the status with the rules (the data were corrected) or overrides
the colour with a stated reason; both are recorded in the status history, audited, and revoke
outstanding codes when the colour changes. Both sides see the outcome.

An override is not forever (docs/rules.md §6): it lasts `override_days` (default 14, at most
`MAX_OVERRIDE_DAYS`), and ends earlier when evidence recorded after it makes a rule other than
the default match (a new positive test turns the citizen red whatever the official decided).
"""

from __future__ import annotations

import time
from enum import StrEnum

from sqlalchemy import func
from sqlmodel import Session, col, select

from healthcode.credential import StatusColour
from healthcode.errors import ErrorCode, RequestError
from issuers.audit import audit
from issuers.context import IssuerContext
from issuers.models import Correction, EventRecord
from issuers.store import citizen_by_subject, recompute

#: How long an override lasts when the official names no duration, and the longest allowed.
DEFAULT_OVERRIDE_DAYS = 14
MAX_OVERRIDE_DAYS = 90


class Decision(StrEnum):
    ACCEPT = "accept"
    REJECT = "reject"


class CorrectionState(StrEnum):
    """Which corrections an official lists: `decided` is accepted and rejected together."""

    OPEN = "open"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    DECIDED = "decided"
    ALL = "all"


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


def list_corrections(
    session: Session, state: CorrectionState, *, after_id: int = 0, limit: int = 100
) -> list[Correction]:
    """Corrections in `state`, oldest first, `limit` at a time after correction `after_id`."""
    query = select(Correction).where(col(Correction.id) > after_id)
    if state is CorrectionState.DECIDED:
        query = query.where(col(Correction.state).in_(("accepted", "rejected")))
    elif state is not CorrectionState.ALL:
        query = query.where(Correction.state == state.value)
    return list(session.exec(query.order_by(col(Correction.id)).limit(limit)))


def open_corrections(session: Session) -> list[Correction]:
    return list_corrections(session, CorrectionState.OPEN, limit=1000)


def decide_correction(
    ctx: IssuerContext,
    session: Session,
    correction_id: int,
    *,
    decision: Decision,
    note: str,
    override_colour: StatusColour | None,
    official: str,
    override_days: int | None = None,
    now: float | None = None,
) -> tuple[Correction, list[str]]:
    """Accept (recompute or override) or reject an open correction; returns revoked jtis."""
    at = int(time.time() if now is None else now)
    if override_days is not None and (
        override_colour is None or not 1 <= override_days <= MAX_OVERRIDE_DAYS
    ):
        raise RequestError(
            ErrorCode.INVALID_REQUEST,
            f"override_days (1-{MAX_OVERRIDE_DAYS}) goes with an override_colour",
        )
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
    override_until = None
    if decision is Decision.ACCEPT:
        if override_colour is None:
            # The data were corrected: the rules decide again, from every event.
            citizen.override_colour = citizen.override_note = None
            citizen.override_until = citizen.evidence_after = None
        else:
            days = DEFAULT_OVERRIDE_DAYS if override_days is None else override_days
            override_until = at + days * 86400
            citizen.override_colour = override_colour.value
            citizen.override_note = note.strip()[:500]
            citizen.override_until = override_until
            # The official judged the citizen's events recorded so far; only later ones may end
            # this. Per subject: an import's uncommitted row of this citizen gets a higher id.
            latest = session.exec(
                select(func.max(EventRecord.id)).where(EventRecord.subject == citizen.subject)
            ).one()
            citizen.evidence_after = int(latest or 0)
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
    correction.override_until = override_until
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
