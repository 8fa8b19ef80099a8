"""A citizen's own code and profile: from the hot cache when it can answer, else the database.

The hot path (ADR 0022): one Redis round trip says whether the session was revoked and holds
the citizen's current code and profile; the audit entry is group-committed before the answer.
A miss reads the database as before (the citizen row locked, a lapsed status recomputed, a code
issued if needed) and fills the cache, fenced against a colour change racing the read. Without
a usable Redis every request takes the database path, the session checked there uncached.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool

from healthcode.credential import CodeKind
from issuers.audit import audit
from issuers.auth import Principal, Role, require_role, session_ended
from issuers.codescreen import screen_fields
from issuers.context import IssuerContext
from issuers.db import GENERATIONS
from issuers.issuance import CodeView, code_for_citizen
from issuers.models import Citizen
from issuers.observability import CACHE_BYPASS, CACHE_HIT, CACHE_MISS
from issuers.settings import IssuerSettings
from issuers.store import citizen_by_subject, refresh_if_lapsed

#: What the audit log calls the two reads.
READ_CODE, READ_PROFILE = f"read_code:{CodeKind.PHONE.value}", "read_profile"


def profile(citizen: Citizen) -> dict[str, Any]:
    """The citizen's profile as the API answers it: masked name, ID tail, colour, reason."""
    return {
        "masked_name": citizen.masked_name,
        "id_tail": citizen.id_tail,
        "colour": citizen.colour,
        "reason": citizen.reason,
        "reason_text": {"zh": citizen.reason_zh, "en": citizen.reason_en},
        "rule_id": citizen.rule_id,
        "rules_version": citizen.rules_version,
    }


def code_json(
    settings: IssuerSettings,
    view: CodeView,
    screen: dict[str, Any],
    actor: str,
    dependent_ref: str | None = None,
) -> dict[str, Any]:
    """An issued code as the API answers it, with what the app's code screen shows."""
    # The print service names the issuer on paper and audits the caller as we do (offline/).
    return {
        **view.to_json(),
        **screen,
        "issuer": settings.issuer_id,
        "issuer_name": settings.issuer_name,
        "actor": actor,
        "whose": "self" if dependent_ref is None else "dependant",
        "dependent_ref": dependent_ref,
    }


def entry_ttl_s(
    *, code_lifetime_s: int, code_expires_at: int, status_until: int | None, now: int
) -> int:
    """How long a cached entry may be answered: until the database path would issue a new
    code (half the code's life left) or the status lapses, whichever comes first."""
    ends = code_expires_at - code_lifetime_s // 2
    if status_until is not None:
        ends = min(ends, status_until)
    return ends - now


def _subject(principal: Principal) -> str:
    require_role(principal, Role.CITIZEN)
    assert principal.subject is not None
    return principal.subject


def _check_session_in_database(context: IssuerContext, principal: Principal) -> None:
    if not context.sessions.is_open_now(principal):
        raise session_ended()


def code_from_database(
    context: IssuerContext, principal: Principal, *, check_session: bool
) -> tuple[dict[str, Any], bytes, int, int | bool | None]:
    """The citizen's code read (and audited) in the database; also the cache entry for it,
    how long that entry may live, and the cache generation this read's own commit set (False:
    it changed nothing of the citizen; None: unknown)."""
    if check_session:
        _check_session_in_database(context, principal)
    subject = _subject(principal)
    with context.session() as session:
        citizen = citizen_by_subject(session, subject)
        view, _ = code_for_citizen(
            context, session, citizen, kind=CodeKind.PHONE, actor=principal.actor
        )
        screen = screen_fields(citizen, context.settings)
        session.commit()
        bumped: dict[str, int | None] = session.info.get(GENERATIONS, {})
    code = code_json(context.settings, view, screen, principal.actor)
    entry = pack_entry(code, profile(citizen))
    ttl = entry_ttl_s(
        code_lifetime_s=context.settings.code_lifetime_s,
        code_expires_at=view.expires_at,
        status_until=citizen.status_until,
        now=int(time.time()),
    )
    return code, entry, ttl, bumped.get(subject) if subject in bumped else False


def profile_from_database(
    context: IssuerContext, principal: Principal, *, check_session: bool
) -> dict[str, Any]:
    """The citizen's profile read (and audited) in the database, a lapsed status recomputed."""
    if check_session:
        _check_session_in_database(context, principal)
    subject = _subject(principal)
    with context.session() as session:
        citizen = citizen_by_subject(session, subject)
        refresh_if_lapsed(context, session, citizen)
        audit(session, actor=principal.actor, action=READ_PROFILE, subject=subject)
        session.commit()
    return profile(citizen)


def pack_entry(code: dict[str, Any], citizen_profile: dict[str, Any]) -> bytes:
    """The cache entry of a citizen: the code's ETag, then both answers as they are sent.

    A hit is answered with these bytes as they are, never parsed and serialised again. orjson
    writes no raw newline (it escapes them in strings), so newlines frame the three parts.
    """
    etag = str(code["status_version"]).encode()
    return b"\n".join((etag, orjson.dumps(code), orjson.dumps(citizen_profile)))


def unpack_entry(entry: bytes) -> tuple[str, bytes, bytes]:
    """ETag, code answer and profile answer of a cache entry (`pack_entry`)."""
    etag, code, citizen_profile = entry.split(b"\n", 2)
    return etag.decode(), code, citizen_profile


async def _cached(context: IssuerContext, principal: Principal, action: str) -> Any:
    """The cached entry's parts `(etag, code, profile)`, audited as `action`; or the probe on
    a miss (None: Redis cannot decide)."""
    subject = _subject(principal)
    hot = context.hot
    if hot is None or principal.session_id is None:
        CACHE_BYPASS.inc()
        return None
    probe = await hot.probe(principal.session_id, subject)
    if probe is None:
        CACHE_BYPASS.inc()
        return None
    if probe.session_revoked:
        raise session_ended()
    if probe.entry is None:
        CACHE_MISS.inc()
        return probe
    CACHE_HIT.inc()
    parts = unpack_entry(probe.entry)
    await context.audits.write(actor=principal.actor, action=action, subject=subject)
    return parts


async def own_code_answer(context: IssuerContext, principal: Principal) -> tuple[bytes, str]:
    """`GET /v1/me/code`: the caller's current phone code as answer JSON, and its ETag
    (`status_version`)."""
    found = await _cached(context, principal, READ_CODE)
    if isinstance(found, tuple):
        etag, code, _ = found
        return code, etag
    _, entry, ttl, own_bump = await run_in_threadpool(
        lambda: code_from_database(context, principal, check_session=found is None)
    )
    if found is not None and context.hot is not None:
        await context.hot.fill(_subject(principal), found, own_bump, entry, ttl)
    etag, code, _ = unpack_entry(entry)  # the bytes a hit will answer
    return code, etag


async def own_code(context: IssuerContext, principal: Principal) -> dict[str, Any]:
    """The caller's current phone code (for its QR images)."""
    answer, _ = await own_code_answer(context, principal)
    code: dict[str, Any] = orjson.loads(answer)
    return code


async def own_profile_answer(context: IssuerContext, principal: Principal) -> bytes:
    """`GET /v1/me`: the caller's profile (masked name, ID tail, colour, reason) as JSON."""
    found = await _cached(context, principal, READ_PROFILE)
    if isinstance(found, tuple):
        return found[2]  # type: ignore[no-any-return]
    return orjson.dumps(
        await run_in_threadpool(
            lambda: profile_from_database(context, principal, check_session=found is None)
        )
    )
