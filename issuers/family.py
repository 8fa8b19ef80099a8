"""Family binding: a guardian sees and prints the codes of bound dependants (children, elders).

Who may be bound, and how (DESIGN "Accountability": binding an adult needs that adult's consent):
- a minor (under 18 by the birth date in the ID number): directly by a guardian who knows the
  ID number and name; that binding ends on the 18th birthday (`minor_until`);
- an adult with an account (a phone): only when they approve the request in their own app
  (`issuers.consent`); knowing their ID number and name is not enough;
- an adult without an account: only at a service counter, by staff with the ID cards in hand
  (`counter_bind`, audited under both people).
A guardian holds at most `family_max_dependants`, a person has at most `family_max_guardians`.
The guardian addresses a dependant by an opaque `ref`, never by ID number or pseudonym.
"""

from __future__ import annotations

import secrets
import time
from datetime import date, datetime

from sqlmodel import Session, col, func, select

from healthcode.errors import ErrorCode, RequestError
from issuers.audit import audit
from issuers.context import IssuerContext
from issuers.events import CHINA_TIME
from issuers.models import Citizen, FamilyBinding
from issuers.store import citizen_by_subject, find_citizen, parse_resident

ADULT_AGE = 18


def minor_until(birth_date: date, now: float) -> int | None:
    """When someone born on `birth_date` turns 18 (epoch seconds, midnight in China), or None
    when they already have."""
    try:
        birthday = birth_date.replace(year=birth_date.year + ADULT_AGE)
    except ValueError:  # born on 29 February: adult on 1 March
        birthday = date(birth_date.year + ADULT_AGE, 3, 1)
    at = int(datetime(birthday.year, birthday.month, birthday.day, tzinfo=CHINA_TIME).timestamp())
    return at if at > now else None


def _lock(session: Session, *subjects: str) -> None:
    """Serialise bindings of these people (PostgreSQL row locks, in a fixed order), so two
    concurrent binds cannot both pass the limits."""
    session.exec(
        select(Citizen.id)
        .where(col(Citizen.subject).in_(sorted(subjects)))
        .order_by(col(Citizen.subject))
        .with_for_update()
    ).all()


def _count(session: Session, column: object, subject: str) -> int:
    return int(session.exec(select(func.count()).where(column == subject)).one())


def check_limits(
    ctx: IssuerContext, session: Session, guardian_subject: str, dependent_subject: str
) -> None:
    """family_limit when the guardian is full or the dependant has all the guardians allowed;
    conflict when already bound; invalid_request for oneself."""
    if dependent_subject == guardian_subject:
        raise RequestError(ErrorCode.INVALID_REQUEST, "you cannot bind yourself as a dependant")
    _lock(session, guardian_subject, dependent_subject)
    existing = session.exec(
        select(FamilyBinding).where(
            FamilyBinding.guardian_subject == guardian_subject,
            FamilyBinding.dependent_subject == dependent_subject,
        )
    ).first()
    if existing is not None:
        raise RequestError(ErrorCode.CONFLICT, "this family member is already bound")
    settings = ctx.settings
    held = _count(session, FamilyBinding.guardian_subject, guardian_subject)
    if held >= settings.family_max_dependants:
        raise RequestError(
            ErrorCode.FAMILY_LIMIT,
            f"you already hold {held} family members, the most allowed "
            f"({settings.family_max_dependants}); unbind one first",
        )
    guardians = _count(session, FamilyBinding.dependent_subject, dependent_subject)
    if guardians >= settings.family_max_guardians:
        raise RequestError(
            ErrorCode.FAMILY_LIMIT,
            f"this person already has {settings.family_max_guardians} guardians, the most "
            "allowed; one of them must unbind first",
        )


def add_binding(
    ctx: IssuerContext,
    session: Session,
    guardian_subject: str,
    dependent_subject: str,
    *,
    bound_by: str,
    actor: str,
    minor_until_at: int | None = None,
    note: str | None = None,
    now: float | None = None,
) -> FamilyBinding:
    """Bind after the limits are checked, audited under the dependant (caller commits)."""
    at = int(time.time() if now is None else now)
    check_limits(ctx, session, guardian_subject, dependent_subject)
    binding = FamilyBinding(
        ref=secrets.token_urlsafe(12),
        guardian_subject=guardian_subject,
        dependent_subject=dependent_subject,
        created_at=at,
        bound_by=bound_by,
        minor_until=minor_until_at,
    )
    session.add(binding)
    reason = f"bound by {bound_by}" + (f": {note}" if note else "")
    audit(session, actor=actor, action="family_bind", subject=dependent_subject, reason=reason)
    return binding


def bind_minor(
    ctx: IssuerContext,
    session: Session,
    guardian_subject: str,
    *,
    id_number: str,
    name: str,
    now: float | None = None,
) -> tuple[FamilyBinding | None, Citizen]:
    """Bind a minor at once; for an adult return (None, the adult) so the caller asks for
    consent or sends them to a counter. not_found unless ID number and name match."""
    at = time.time() if now is None else now
    resident = parse_resident(id_number)
    dependant = find_citizen(ctx, session, id_number, name)
    until = minor_until(resident.birth_date, at)
    if until is None:
        return None, dependant
    binding = add_binding(
        ctx,
        session,
        guardian_subject,
        dependant.subject,
        bound_by="guardian",
        actor=f"citizen:{guardian_subject}",
        minor_until_at=until,
        now=at,
    )
    return binding, dependant


def counter_bind(
    ctx: IssuerContext,
    session: Session,
    *,
    guardian: tuple[str, str],
    dependant: tuple[str, str],
    actor: str,
    note: str,
    now: float | None = None,
) -> tuple[FamilyBinding, Citizen]:
    """Staff bind a dependant (ID number, name) to a guardian, both present with ID cards."""
    at = time.time() if now is None else now
    guardian_citizen = find_citizen(ctx, session, *guardian)
    dependant_citizen = find_citizen(ctx, session, *dependant)
    binding = add_binding(
        ctx,
        session,
        guardian_citizen.subject,
        dependant_citizen.subject,
        bound_by="counter",
        actor=actor,
        note=note,
        now=at,
    )
    audit(session, actor=actor, action="family_bind_counter", subject=guardian_citizen.subject)
    return binding, dependant_citizen


def dependent_of(
    session: Session, guardian_subject: str, ref: str, now: float | None = None
) -> tuple[FamilyBinding, Citizen]:
    """The bound dependant behind `ref`; not_found / forbidden when not the caller's, or when
    a minor bound without consent has turned 18."""
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
    at = time.time() if now is None else now
    if binding.minor_until is not None and binding.minor_until <= at:
        raise RequestError(
            ErrorCode.FORBIDDEN,
            "this family member has turned 18: unbind them and ask them to approve a new "
            "binding in their own app",
        )
    return binding, citizen_by_subject(session, binding.dependent_subject)


def list_dependents(session: Session, guardian_subject: str) -> list[tuple[FamilyBinding, Citizen]]:
    bindings = session.exec(
        select(FamilyBinding)
        .where(FamilyBinding.guardian_subject == guardian_subject)
        .order_by(col(FamilyBinding.id))
    ).all()
    return [(b, citizen_by_subject(session, b.dependent_subject)) for b in bindings]


def list_guardians(session: Session, dependent_subject: str) -> list[tuple[FamilyBinding, Citizen]]:
    bindings = session.exec(
        select(FamilyBinding)
        .where(FamilyBinding.dependent_subject == dependent_subject)
        .order_by(col(FamilyBinding.id))
    ).all()
    return [(b, citizen_by_subject(session, b.guardian_subject)) for b in bindings]


def unbind_dependent(session: Session, guardian_subject: str, ref: str) -> None:
    binding = session.exec(select(FamilyBinding).where(FamilyBinding.ref == ref)).first()
    if binding is None or binding.guardian_subject != guardian_subject:
        # Unbinding is allowed after 18 too (dependent_of would refuse it), but only one's own.
        binding, _ = dependent_of(session, guardian_subject, ref)
    session.delete(binding)
    audit(
        session,
        actor=f"citizen:{guardian_subject}",
        action="family_unbind",
        subject=binding.dependent_subject,
    )


def remove_guardian(session: Session, dependent_subject: str, ref: str) -> None:
    """A dependant ends a guardian's access to their code."""
    binding = session.exec(select(FamilyBinding).where(FamilyBinding.ref == ref)).first()
    if binding is None:
        raise RequestError(ErrorCode.NOT_FOUND, "no guardian with this reference")
    if binding.dependent_subject != dependent_subject:
        raise RequestError(ErrorCode.FORBIDDEN, "this person is not your guardian")
    session.delete(binding)
    audit(
        session,
        actor=f"citizen:{dependent_subject}",
        action="family_guardian_removed",
        subject=dependent_subject,
    )
