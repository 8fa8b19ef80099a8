"""The audit log: every read or change of personal data, written in the same transaction."""

from __future__ import annotations

import time

from sqlmodel import Session, col, select

from issuers.models import AuditEntry


def audit(
    session: Session,
    *,
    actor: str,
    action: str,
    subject: str | None,
    reason: str | None = None,
    now: float | None = None,
) -> None:
    """Add an audit entry; it commits (or rolls back) with the caller's transaction."""
    session.add(
        AuditEntry(
            at=int(time.time() if now is None else now),
            actor=actor,
            action=action,
            subject=subject,
            reason=reason[:500] if reason else None,
        )
    )


def audit_entries(
    session: Session, *, subject: str | None = None, limit: int = 200
) -> list[AuditEntry]:
    """The newest audit entries, optionally of one subject."""
    query = select(AuditEntry).order_by(col(AuditEntry.id).desc()).limit(limit)
    if subject is not None:
        query = query.where(AuditEntry.subject == subject)
    return list(session.exec(query))
