"""Citizens, their events and their status: registration, look-up, recomputation, history.

Every function works inside the caller's session and does not commit: a request either
commits all it did (data, history, audit, revocations) or nothing. Functions that may revoke
codes return the revoked jtis; the caller publishes them after the commit.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import unicodedata
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import Session, col, or_, select

from healthcode.credential import ReasonCode, StatusColour, mask_name
from healthcode.errors import ErrorCode, RequestError
from healthcode.idnumber import ResidentId, parse_id_number, pseudonymous_subject
from issuers.audit import audit
from issuers.context import IssuerContext
from issuers.events import Event, EventKind, RiskArea, validate_event_data
from issuers.models import Citizen, EventRecord, RiskAreaRecord, StatusChange
from issuers.revocation import revoke_outstanding
from issuers.rules import StatusDecision

_NAME_CONTEXT = b"hc-name-v1:"
#: Risk areas delisted longer ago than this cannot matter to any rule (visits look back 14 d).
_RISK_AREA_LOOKBACK = timedelta(days=30)


def normalise_name(name: str) -> str:
    """NFKC, no whitespace at all: `张 三` and `张三` are the same name on an ID card."""
    return "".join(unicodedata.normalize("NFKC", name).split())


def name_hmac(secret: bytes, name: str) -> str:
    """Keyed HMAC of the normalised name: lets us compare names without keeping them."""
    return hmac.new(secret, _NAME_CONTEXT + normalise_name(name).encode(), "sha256").hexdigest()


def _epoch(now: float | None) -> int:
    return int(time.time() if now is None else now)


def _aware(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def parse_resident(id_number: str) -> ResidentId:
    """Validate an ID number (raises invalid_id_number / unknown_region, 422)."""
    return parse_id_number(id_number)


def subject_of(ctx: IssuerContext, resident: ResidentId) -> str:
    return pseudonymous_subject(resident, ctx.settings.subject_key)


def citizen_by_subject(session: Session, subject: str) -> Citizen:
    citizen = session.exec(select(Citizen).where(Citizen.subject == subject)).first()
    if citizen is None:
        raise RequestError(ErrorCode.NOT_FOUND, "no citizen with this identity is registered")
    return citizen


def find_citizen(ctx: IssuerContext, session: Session, id_number: str, name: str | None) -> Citizen:
    """The citizen with this ID number (and name, when given); otherwise not_found.

    A wrong name and an unknown number get the same answer, so it reveals nothing.
    """
    resident = parse_resident(id_number)
    citizen = session.exec(
        select(Citizen).where(Citizen.subject == subject_of(ctx, resident))
    ).first()
    if citizen is None or (
        name is not None
        and not hmac.compare_digest(citizen.name_hmac, name_hmac(ctx.settings.subject_key, name))
    ):
        raise RequestError(ErrorCode.NOT_FOUND, "no citizen with this ID number and name")
    return citizen


def register_citizen(
    ctx: IssuerContext,
    session: Session,
    *,
    id_number: str,
    name: str,
    phone: str | None,
    actor: str,
    now: float | None = None,
) -> tuple[Citizen, list[str]]:
    """Register a resident of this province; their status is computed from existing events."""
    resident = parse_resident(id_number)
    if resident.province_code != ctx.settings.region:
        raise RequestError(
            ErrorCode.INVALID_REQUEST,
            f"this issuer registers residents of {ctx.settings.region} only; the citizen's "
            f"home province issues their code",
        )
    if not name.strip():
        raise RequestError(ErrorCode.INVALID_REQUEST, "the name must not be empty")
    subject = subject_of(ctx, resident)
    if session.exec(select(Citizen).where(Citizen.subject == subject)).first() is not None:
        raise RequestError(ErrorCode.CONFLICT, "this citizen is already registered")
    if phone is not None and session.exec(select(Citizen).where(Citizen.phone == phone)).first():
        raise RequestError(ErrorCode.CONFLICT, "this phone number belongs to another citizen")
    at = _epoch(now)
    citizen = Citizen(
        subject=subject,
        masked_name=mask_name(name),
        id_tail=resident.tail,
        name_hmac=name_hmac(ctx.settings.subject_key, name),
        phone=phone,
        division_code=resident.division_code,
        colour="",
        updated_at=at,
    )
    session.add(citizen)
    session.flush()
    audit(session, actor=actor, action="register_citizen", subject=subject, now=at)
    revoked = recompute(ctx, session, citizen, actor=actor, now=at)
    return citizen, revoked


def load_events(session: Session, subject: str, *, after_id: int | None = None) -> list[Event]:
    """The subject's events, or only those recorded after event `after_id` (an override)."""
    query = select(EventRecord).where(EventRecord.subject == subject)
    if after_id is not None:
        query = query.where(col(EventRecord.id) > after_id)
    rows = session.exec(query).all()
    return [
        Event(
            kind=EventKind(row.kind), occurred_at=_aware(row.occurred_at), data=json.loads(row.data)
        )
        for row in rows
    ]


def current_risk_areas(session: Session, now: float | None = None) -> list[RiskArea]:
    horizon = _epoch(now) - int(_RISK_AREA_LOOKBACK.total_seconds())
    rows = session.exec(
        select(RiskAreaRecord).where(
            or_(
                col(RiskAreaRecord.valid_until).is_(None), col(RiskAreaRecord.valid_until) > horizon
            )
        )
    ).all()
    return [
        RiskArea(
            area_code=row.area_code,
            level=row.level,  # type: ignore[arg-type]  # validated on import
            valid_from=_aware(row.valid_from),
            valid_until=None if row.valid_until is None else _aware(row.valid_until),
        )
        for row in rows
    ]


#: `rule_id` of a decision set by an official's override.
OVERRIDE_RULE_ID = "official-override"


def _override_decision(
    citizen: Citizen, ctx: IssuerContext, until: datetime | None
) -> StatusDecision:
    colour = StatusColour(citizen.override_colour or "green")
    return StatusDecision(
        colour=colour,
        reason=ReasonCode.OFFICIAL_DECISION
        if colour is not StatusColour.GREEN
        else ReasonCode.NONE,
        reason_text={
            "zh": "卫生部门经纠错审核认定。",
            "en": "Set by the health authority after a correction request.",
        },
        rule_id=OVERRIDE_RULE_ID,
        rules_version=ctx.rules.version,
        until=until,
    )


def _decide(
    ctx: IssuerContext, session: Session, citizen: Citizen, at: int, areas: list[RiskArea]
) -> tuple[StatusDecision, str | None]:
    """The citizen's decision at `at`, and why an override ended now (None: it did not).

    The rules see only events recorded after an override (`evidence_after`): the official
    judged the earlier ones. An override stands while that newer evidence makes nothing but
    the default rule match, and until `override_until`; then the rules decide again.
    """
    events = load_events(session, citizen.subject, after_id=citizen.evidence_after)
    decision = ctx.rules.evaluate(events, areas, _aware(at))
    if citizen.override_colour is None:
        return decision, None
    ended = None
    if citizen.override_until is not None and citizen.override_until <= at:
        ended = "the official decision expired"
    elif decision.rule_id != ctx.rules.default_rule.id:
        ended = f"new evidence after the official decision (rule {decision.rule_id})"
    if ended is None:
        # Re-evaluated at its expiry, and when a pending (future-dated) event begins to count.
        expiry = None if citizen.override_until is None else _aware(citizen.override_until)
        until = min((t for t in (expiry, decision.until) if t is not None), default=None)
        return _override_decision(citizen, ctx, until), None
    citizen.override_colour = None
    citizen.override_note = None
    citizen.override_until = None
    return decision, ended


def recompute(
    ctx: IssuerContext,
    session: Session,
    citizen: Citizen,
    *,
    actor: str,
    now: float | None = None,
    note: str | None = None,
    risk_areas: list[RiskArea] | None = None,
) -> list[str]:
    """Re-evaluate the rules for a citizen; on a change record history and an audit entry and,
    when the colour changed, revoke every outstanding code. Returns the revoked jtis."""
    at = _epoch(now)
    areas = current_risk_areas(session, at) if risk_areas is None else risk_areas
    decision, override_ended = _decide(ctx, session, citizen, at, areas)
    if override_ended is not None:
        note = override_ended if note is None else f"{note}; {override_ended}"
    until = None if decision.until is None else int(decision.until.timestamp())
    changed_colour = citizen.colour != decision.colour.value
    changed = (
        changed_colour
        or citizen.reason != decision.reason.value
        or citizen.rule_id != decision.rule_id
        or citizen.rules_version != decision.rules_version
    )
    citizen.status_until = until
    if not changed:
        session.add(citizen)
        return []
    first = citizen.colour == ""
    citizen.colour = decision.colour.value
    citizen.reason = decision.reason.value
    citizen.reason_zh = decision.reason_text.get("zh", "")[:200]
    citizen.reason_en = decision.reason_text.get("en", "")[:200]
    citizen.rule_id = decision.rule_id
    citizen.rules_version = decision.rules_version
    citizen.updated_at = at
    session.add(citizen)
    session.add(
        StatusChange(
            subject=citizen.subject,
            colour=citizen.colour,
            reason=citizen.reason,
            rule_id=citizen.rule_id,
            rules_version=citizen.rules_version,
            changed_at=at,
            actor=actor,
            note=None if note is None else note[:500],  # the column holds 500
        )
    )
    # Every change is audited, a new reason under the same colour too (it is personal data).
    audit(
        session,
        actor=actor,
        action="status_change",
        subject=citizen.subject,
        reason=f"{decision.colour.value} ({decision.reason.value}) by rule {decision.rule_id}"
        + (f"; {note}" if note else ""),
        now=at,
    )
    if first or not changed_colour:
        return []
    return revoke_outstanding(session, citizen.subject, at)


def refresh_if_lapsed(
    ctx: IssuerContext, session: Session, citizen: Citizen, now: float | None = None
) -> list[str]:
    """Recompute when the current decision has lapsed (e.g. 14 red days are over)."""
    at = _epoch(now)
    if citizen.status_until is not None and citizen.status_until <= at:
        return recompute(ctx, session, citizen, actor="system:expiry", now=at)
    return []


def event_row_key(subject: str, kind: EventKind, occurred_at: int, data: Mapping[str, Any]) -> str:
    canonical = json.dumps(
        [subject, kind.value, occurred_at, data],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def add_declaration(
    ctx: IssuerContext,
    session: Session,
    citizen: Citizen,
    kind: EventKind,
    data: Mapping[str, Any],
    *,
    actor: str,
    now: float | None = None,
) -> list[str]:
    """Store a health or itinerary declaration and recompute the colour."""
    if kind not in (EventKind.HEALTH_DECLARATION, EventKind.ITINERARY):
        raise RequestError(
            ErrorCode.INVALID_REQUEST,
            "citizens declare health_declaration or itinerary; other events come from feeds",
        )
    validate_event_data(kind, data)
    session.refresh(citizen, with_for_update=True)  # serialised with code issuance
    at = _epoch(now)
    key = event_row_key(citizen.subject, kind, at, data)
    if session.exec(select(EventRecord).where(EventRecord.row_key == key)).first() is not None:
        raise RequestError(ErrorCode.CONFLICT, "this declaration was already received")
    session.add(
        EventRecord(
            subject=citizen.subject,
            kind=kind.value,
            occurred_at=at,
            data=json.dumps(dict(data), ensure_ascii=False, sort_keys=True),
            row_key=key,
            source="declaration",
            created_at=at,
        )
    )
    session.flush()
    audit(session, actor=actor, action=f"declare:{kind.value}", subject=citizen.subject, now=at)
    return recompute(ctx, session, citizen, actor=actor, now=at)


def status_history(session: Session, subject: str) -> list[StatusChange]:
    return list(
        session.exec(
            select(StatusChange)
            .where(StatusChange.subject == subject)
            .order_by(col(StatusChange.id))
        )
    )
