"""Logins as server-side sessions: opened, revoked, purged, and remembered per replica
(`SessionCache`) so a token's session is not read from the database on every request.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict

from sqlalchemy import Engine, delete, update
from sqlmodel import Session, col, select

from healthcode.errors import ErrorCode, RequestError
from issuers.auth.tokens import Principal, issue_access_token
from issuers.db import REVOKED_SESSIONS
from issuers.models import AuthSession, StaffAccount

#: Sessions whose state one replica remembers (least recently checked are forgotten first).
_SESSION_CACHE_ENTRIES = 10_000


#: Expired logins are kept this long (an audit question about a login just expired can still
#: be answered from the table), then deleted by `purge_sessions`.
SESSION_RETENTION_S = 24 * 3600


def purge_sessions(session: Session, *, now: float | None = None) -> int:
    """Delete logins that expired more than `SESSION_RETENTION_S` ago, of every principal (the
    caller commits). Their tokens are refused anyway; without this, the logins of people who
    never log in again would stay forever (`open_session` prunes only the caller's own)."""
    cutoff = int(time.time() if now is None else now) - SESSION_RETENTION_S
    result = session.exec(delete(AuthSession).where(col(AuthSession.expires_at) < cutoff))
    return int(result.rowcount)


def open_session(
    session: Session,
    principal: Principal,
    secret: bytes,
    lifetime_s: int,
    now: float | None = None,
) -> str:
    """Record a new login of `principal` (the caller commits) and return its access token."""
    at = int(time.time() if now is None else now)
    record = AuthSession(
        id=secrets.token_urlsafe(16),
        principal=principal.session_principal,
        role=principal.role.value,
        created_at=at,
        expires_at=at + lifetime_s,
    )
    session.add(record)
    # Expired logins of the same principal are of no further use: keep the table small.
    stale = session.exec(
        select(AuthSession).where(
            AuthSession.principal == record.principal, col(AuthSession.expires_at) < at
        )
    ).all()
    for old in stale:
        session.delete(old)
    opened = Principal(
        role=principal.role,
        subject=principal.subject,
        username=principal.username,
        session_id=record.id,
    )
    return issue_access_token(opened, secret, lifetime_s, now=at)


def revoke_session(session: Session, session_id: str, now: float | None = None) -> None:
    """End one login (logout); the caller commits. After the commit the session hooks list it
    in Redis, where every replica's citizen hot path sees it at once (ADR 0022)."""
    at = int(time.time() if now is None else now)
    session.execute(
        update(AuthSession)
        .where(col(AuthSession.id) == session_id, col(AuthSession.revoked_at).is_(None))
        .values(revoked_at=at)
    )
    expires_at = session.exec(
        select(AuthSession.expires_at).where(AuthSession.id == session_id)
    ).first()
    if expires_at is not None:
        session.info.setdefault(REVOKED_SESSIONS, []).append((session_id, int(expires_at)))


class SessionCache:
    """Whether a session is open, looked up in the database and remembered briefly."""

    def __init__(self, engine: Engine, ttl_s: float) -> None:
        self._engine = engine
        self._ttl_s = ttl_s
        self._entries: OrderedDict[str, tuple[float, bool]] = OrderedDict()
        self._lock = threading.Lock()

    def is_open(self, principal: Principal, now: float | None = None) -> bool:
        """Whether the principal's session is open, not expired, and theirs."""
        session_id = principal.session_id
        if session_id is None:
            return False
        checked = time.monotonic()
        with self._lock:
            cached = self._entries.get(session_id)
            if cached is not None and checked - cached[0] < self._ttl_s:
                self._entries.move_to_end(session_id)
                return cached[1]
        is_open = self.is_open_now(principal, now)
        with self._lock:
            self._entries[session_id] = (checked, is_open)
            self._entries.move_to_end(session_id)
            while len(self._entries) > _SESSION_CACHE_ENTRIES:
                self._entries.popitem(last=False)
        return is_open

    def is_open_now(self, principal: Principal, now: float | None = None) -> bool:
        """`is_open` from the database itself, whatever was cached (the citizen hot path's
        answer while Redis cannot give it: a logout holds at once there too)."""
        session_id = principal.session_id
        if session_id is None:
            return False
        at = time.time() if now is None else now
        with Session(self._engine) as session:
            record = session.get(AuthSession, session_id)
            is_open = (
                record is not None
                and record.revoked_at is None
                and record.expires_at > at
                and record.principal == principal.session_principal
                and record.role == principal.role.value
            )
            if is_open and principal.username is not None:
                # The account decides too: a login racing `disable-user` can commit its
                # session just after the disable ended the account's sessions.
                enabled = session.exec(
                    select(StaffAccount.id).where(
                        StaffAccount.username == principal.username,
                        col(StaffAccount.disabled_at).is_(None),
                    )
                ).first()
                is_open = enabled is not None
        return is_open

    def forget(self, session_id: str) -> None:
        """Drop a cached answer (this replica ended the session itself)."""
        with self._lock:
            self._entries.pop(session_id, None)


def session_ended() -> RequestError:
    """The refusal of a token whose login has ended."""
    return RequestError(
        ErrorCode.UNAUTHENTICATED,
        "this session has ended (logged out, or the account was disabled); log in again",
    )
