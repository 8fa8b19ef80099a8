"""Family binding: a guardian sees and prints the codes of bound dependents (children, elders).

Binding needs the dependent's ID number and name, and both must match the issuer's records.
The guardian addresses a dependent by an opaque `ref`, never by ID number or pseudonym.
"""

from __future__ import annotations

import secrets
import time

from sqlmodel import Session, select

from healthcode.errors import ErrorCode, RequestError
from issuers.audit import audit
from issuers.context import IssuerContext
from issuers.models import Citizen, FamilyBinding
from issuers.store import citizen_by_subject, find_citizen


def bind_dependent(
    ctx: IssuerContext,
    session: Session,
    guardian_subject: str,
    *,
    id_number: str,
    name: str,
    now: float | None = None,
) -> tuple[FamilyBinding, Citizen]:
    at = int(time.time() if now is None else now)
    dependent = find_citizen(ctx, session, id_number, name)
    if dependent.subject == guardian_subject:
        raise RequestError(ErrorCode.INVALID_REQUEST, "you cannot bind yourself as a dependent")
    existing = session.exec(
        select(FamilyBinding).where(
            FamilyBinding.guardian_subject == guardian_subject,
            FamilyBinding.dependent_subject == dependent.subject,
        )
    ).first()
    if existing is not None:
        raise RequestError(ErrorCode.CONFLICT, "this family member is already bound")
    binding = FamilyBinding(
        ref=secrets.token_urlsafe(12),
        guardian_subject=guardian_subject,
        dependent_subject=dependent.subject,
        created_at=at,
    )
    session.add(binding)
    audit(
        session,
        actor=f"citizen:{guardian_subject}",
        action="family_bind",
        subject=dependent.subject,
        now=at,
    )
    return binding, dependent


def dependent_of(
    session: Session, guardian_subject: str, ref: str
) -> tuple[FamilyBinding, Citizen]:
    """The bound dependent behind `ref`; not_found / forbidden when not the caller's."""
    binding = session.exec(select(FamilyBinding).where(FamilyBinding.ref == ref)).first()
    if binding is None:
        raise RequestError(ErrorCode.NOT_FOUND, "no family binding with this reference")
    if binding.guardian_subject != guardian_subject:
        audit(
            session,
            actor=f"citizen:{guardian_subject}",
            action="family_access_denied",
            subject=binding.dependent_subject,
        )
        session.commit()
        raise RequestError(ErrorCode.FORBIDDEN, "this family member is not bound to you")
    return binding, citizen_by_subject(session, binding.dependent_subject)


def list_dependents(session: Session, guardian_subject: str) -> list[tuple[FamilyBinding, Citizen]]:
    bindings = session.exec(
        select(FamilyBinding).where(FamilyBinding.guardian_subject == guardian_subject)
    ).all()
    return [(b, citizen_by_subject(session, b.dependent_subject)) for b in bindings]


def unbind_dependent(session: Session, guardian_subject: str, ref: str) -> None:
    binding, dependent = dependent_of(session, guardian_subject, ref)
    session.delete(binding)
    audit(
        session,
        actor=f"citizen:{guardian_subject}",
        action="family_unbind",
        subject=dependent.subject,
    )
