"""Staff endpoints: registration, counter, checkpoint look-up, feeds, corrections, audit."""

from __future__ import annotations

import codecs
import io
import tempfile
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.concurrency import run_in_threadpool

from healthcode.credential import CodeKind
from healthcode.errors import ErrorCode, RequestError
from healthcode.fetch import PEER_FAILURES
from healthcode.idnumber import parse_id_number
from healthcode.server.openapi import error_responses
from issuers.api.citizen import correction_json
from issuers.api.deps import AUTHENTICATED, Caller, Context
from issuers.api.schemas import (
    CorrectionDecision,
    NewStaff,
    PersonRef,
    Registration,
    StatusLookup,
)
from issuers.audit import audit, audit_entries
from issuers.auth import Role, create_staff, require_role
from issuers.corrections import CorrectionState, decide_correction, list_corrections
from issuers.feeds import FeedKind
from issuers.importer import import_feed
from issuers.issuance import code_for_citizen
from issuers.lookup import status_lookup
from issuers.owncode import profile
from issuers.store import citizen_by_subject, find_citizen, register_citizen, status_history

router = APIRouter(prefix="/v1", responses=AUTHENTICATED)

#: Uploads are spooled to disk past this size, so a feed is never held in memory.
_SPOOL_BYTES = 1 << 20
#: Database row ids are 32-bit on PostgreSQL: a larger id in a path is simply not found.
_MAX_ROW_ID = 2**31 - 1


@router.post(
    "/citizens", status_code=201, tags=["staff"], responses=error_responses(ErrorCode.CONFLICT)
)
def register(body: Registration, context: Context, caller: Caller) -> dict[str, Any]:
    """Register a resident of this province (counter staff, officials, admins)."""
    require_role(caller, Role.COUNTER_STAFF, Role.HEALTH_OFFICIAL, Role.ADMIN)
    with context.session() as session:
        citizen, _ = register_citizen(
            context,
            session,
            id_number=body.id_number,
            name=body.name,
            phone=body.phone,
            actor=caller.actor,
        )
        session.commit()
    return {"subject": citizen.subject, **profile(citizen)}


@router.get("/citizens/{subject}", tags=["staff"])
def citizen_status(subject: str, context: Context, caller: Caller) -> dict[str, Any]:
    """A citizen's status and history, for health officials."""
    require_role(caller, Role.HEALTH_OFFICIAL, Role.ADMIN)
    with context.session() as session:
        citizen = citizen_by_subject(session, subject)
        history = status_history(session, subject)
        audit(session, actor=caller.actor, action="official_read_status", subject=subject)
        session.commit()
    return {
        "subject": subject,
        **profile(citizen),
        "history": [
            {
                "colour": h.colour,
                "reason": h.reason,
                "rule_id": h.rule_id,
                "rules_version": h.rules_version,
                "changed_at": h.changed_at,
                "actor": h.actor,
                "note": h.note,
            }
            for h in history
        ],
    }


@router.post(
    "/counter/offline-code", tags=["staff"], responses=error_responses(ErrorCode.NOT_FOUND)
)
def counter_offline_code(body: PersonRef, context: Context, caller: Caller) -> dict[str, Any]:
    """A walk-in citizen, identified by ID card, gets a printed 7-day offline code."""
    require_role(caller, Role.COUNTER_STAFF)
    with context.session() as session:
        citizen = find_citizen(context, session, body.id_number, body.name)
        view, _ = code_for_citizen(
            context, session, citizen, kind=CodeKind.OFFLINE, actor=caller.actor
        )
        session.commit()
    # The print service names the issuer on paper and audits the caller as we do (offline/).
    settings = context.settings
    return {
        **view.to_json(),
        "issuer": settings.issuer_id,
        "issuer_name": settings.issuer_name,
        "actor": caller.actor,
    }


@router.post(
    "/checkpoint/status-lookup",
    tags=["checkpoint"],
    # Another province's citizen is looked up at their home issuer (issuers/lookup.py).
    responses=error_responses(
        ErrorCode.NOT_FOUND,
        *PEER_FAILURES,
    ),
)
def checkpoint_lookup(
    body: StatusLookup, request: Request, context: Context, caller: Caller
) -> dict[str, str]:
    """A short-lived signed credential of the citizen's home province (ID-card reads)."""
    require_role(caller, Role.CHECKPOINT)
    resident = parse_id_number(body.id_number)
    purpose = f"checkpoint {body.checkpoint_id}" + (" (assisted)" if body.assisted else "")
    return status_lookup(
        context,
        resident,
        body.name,
        actor=caller.actor,
        purpose=purpose,
        trust=request.app.state.trust,
        partner_key=request.app.state.partner_key,
    )


@router.post(
    "/feeds/{kind}",
    tags=["feeds"],
    # Read as a stream (not a FastAPI body parameter), so the OpenAPI is said here.
    openapi_extra={
        "requestBody": {"required": True, "content": {"text/csv": {"schema": {"type": "string"}}}}
    },
)
async def upload_feed(
    kind: FeedKind, request: Request, context: Context, caller: Caller
) -> dict[str, Any]:
    """Bulk import a CSV feed (body: text/csv, streamed to a spool file, imported in batches)."""
    require_role(caller, Role.HEALTH_OFFICIAL, Role.ADMIN)
    spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES, mode="w+b")  # noqa: SIM115
    try:
        size = 0
        # Checked while spooling, so a bad byte late in the file refuses it before any write.
        decoder = codecs.getincrementaldecoder("utf-8")()
        async for chunk in request.stream():
            size += len(chunk)
            if size > context.settings.max_feed_bytes:
                raise RequestError(
                    ErrorCode.INPUT_TOO_LARGE,
                    f"feeds are limited to {context.settings.max_feed_bytes} bytes; split the file",
                )
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError:
                raise RequestError(
                    ErrorCode.INVALID_REQUEST, "the feed must be UTF-8 CSV text"
                ) from None
            spool.write(chunk)
        try:
            decoder.decode(b"", final=True)  # a file ending inside a multi-byte character
        except UnicodeDecodeError:
            raise RequestError(
                ErrorCode.INVALID_REQUEST, "the feed must be UTF-8 CSV text (it ends mid-character)"
            ) from None
        spool.seek(0)
        text = io.TextIOWrapper(spool, encoding="utf-8-sig", newline="")
        report = await run_in_threadpool(import_feed, context, text, kind, actor=caller.actor)
        text.detach()
    finally:
        spool.close()
    return report.to_json()


@router.get("/corrections", tags=["corrections"])
def list_corrections_for_officials(
    context: Context,
    caller: Caller,
    state: CorrectionState = CorrectionState.OPEN,
    after: Annotated[int, Query(ge=0, le=_MAX_ROW_ID)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[dict[str, Any]]:
    """Correction requests for health officials: open ones by default, or `state=accepted`,
    `rejected`, `decided` or `all`; `limit` at a time after id `after`. Each listed citizen's
    record is audited as read."""
    require_role(caller, Role.HEALTH_OFFICIAL, Role.ADMIN)
    with context.session() as session:
        found = list_corrections(session, state, after_id=after, limit=limit)
        for correction in found:
            audit(
                session,
                actor=caller.actor,
                action="official_read_correction",
                subject=correction.subject,
                reason=f"correction {correction.id} (list {state.value})",
            )
        session.commit()
    return [{"subject": c.subject, **correction_json(c)} for c in found]


@router.post(
    "/corrections/{correction_id}/decision",
    tags=["corrections"],
    responses=error_responses(ErrorCode.CONFLICT),
)
def decide(
    correction_id: Annotated[int, Path(ge=1, le=_MAX_ROW_ID)],
    body: CorrectionDecision,
    context: Context,
    caller: Caller,
) -> dict[str, Any]:
    """Accept (recompute, or override the colour with a reason) or reject a correction."""
    require_role(caller, Role.HEALTH_OFFICIAL)
    with context.session() as session:
        correction, _ = decide_correction(
            context,
            session,
            correction_id,
            decision=body.decision,
            note=body.note,
            override_colour=body.override_colour,
            override_days=body.override_days,
            official=caller.actor,
        )
        session.commit()
    return correction_json(correction)


@router.get("/audit", tags=["admin"])
def read_audit(
    context: Context,
    caller: Caller,
    subject: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[dict[str, Any]]:
    """The newest audit entries (admins); reading the log is itself audited."""
    require_role(caller, Role.ADMIN)
    with context.session() as session:
        entries = audit_entries(session, subject=subject, limit=limit)
        audit(
            session,
            actor=caller.actor,
            action="read_audit",
            subject=subject,
            reason=f"{len(entries)} entries" + ("" if subject else " of all subjects"),
        )
        if subject is None:
            # Each citizen whose records were shown sees the read in their access log.
            for listed in sorted({e.subject for e in entries if e.subject is not None}):
                audit(
                    session,
                    actor=caller.actor,
                    action="read_audit",
                    subject=listed,
                    reason="listed in the audit log",
                )
        session.commit()
    return [e.model_dump() for e in entries]


@router.post(
    "/staff", status_code=201, tags=["admin"], responses=error_responses(ErrorCode.CONFLICT)
)
def add_staff(body: NewStaff, context: Context, caller: Caller) -> dict[str, str]:
    """Create a staff or checkpoint device account (admins)."""
    require_role(caller, Role.ADMIN)
    role = Role(body.role)
    with context.session() as session:
        create_staff(session, body.username, body.password, role)
        audit(
            session,
            actor=caller.actor,
            action=f"add_staff:{role.value}",
            subject=None,
            reason=body.username,
        )
        session.commit()
    return {"username": body.username, "role": role.value}
