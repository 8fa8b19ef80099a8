"""Rolling-window limits on logins: wrong one-time codes, codes sent, failed staff logins.

Each counted event is an `AuthAttempt` row in the database, so every replica sees the same
counts and a restart forgets nothing. A row holds a keyed HMAC of the phone number, username
or client address (never the value) and a time; a check counts the rows of one key within the
window and refuses with `rate_limited` (429, `Retry-After`) at the limit. Recording an event
also deletes a bounded batch of the scope's expired rows, so the table holds about one
window's worth of events.

The limits lock out an attacker and, by design, the victim too while the window lasts (a
phone guessed at cannot log in for up to an hour): the price of a 6-digit code that cannot be
brute-forced. Concurrent requests may overshoot a limit by the number in flight.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import delete, func
from sqlmodel import Session, col, select

from healthcode.errors import RateLimited
from issuers.models import AuthAttempt

_KEY_CONTEXT = b"hc-attempt-v1:"
#: Expired attempt rows deleted at most per recorded attempt.
PRUNE_BATCH = 100


class Scope(StrEnum):
    """What is counted, and by what it is keyed."""

    OTP_SENT_PHONE = "otp_sent:phone"
    OTP_SENT_ADDRESS = "otp_sent:address"
    OTP_FAILED_PHONE = "otp_failed:phone"
    LOGIN_FAILED_ACCOUNT = "login_failed:account"
    LOGIN_FAILED_ADDRESS = "login_failed:address"


def attempt_key(secret: bytes, scope: Scope, value: str) -> str:
    """The keyed HMAC a phone, username or address is counted under."""
    message = _KEY_CONTEXT + f"{scope.value}:{value}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class Limit:
    """At most `limit` events of `scope` per window for one key; `what` names them in the
    refusal ("too many {what}")."""

    scope: Scope
    key: str
    limit: int
    what: str

    @classmethod
    def keyed(cls, secret: bytes, scope: Scope, value: str, *, limit: int, what: str) -> Limit:
        """The limit on `value` (a phone, username or address), counted under its keyed HMAC."""
        return cls(scope, attempt_key(secret, scope, value), limit, what)


def check_limits(session: Session, limits: Sequence[Limit], *, window_s: int, now: int) -> None:
    """`check_limit` for each limit in turn: the first one reached raises `RateLimited`."""
    for each in limits:
        check_limit(
            session,
            each.scope,
            each.key,
            limit=each.limit,
            window_s=window_s,
            now=now,
            what=each.what,
        )


def record_attempts(session: Session, limits: Sequence[Limit], *, window_s: int, now: int) -> None:
    """`record_attempt` under each limit's key: one event counts toward all of them."""
    for each in limits:
        record_attempt(session, each.scope, each.key, now=now, window_s=window_s)


def check_limit(
    session: Session, scope: Scope, key: str, *, limit: int, window_s: int, now: int, what: str
) -> None:
    """Raise `RateLimited` if `key` has `limit` or more events within the window."""
    since = now - window_s
    count, oldest = session.exec(
        select(func.count(), func.min(AuthAttempt.at)).where(
            AuthAttempt.scope == scope.value,
            AuthAttempt.key == key,
            col(AuthAttempt.at) > since,
        )
    ).one()
    if int(count) >= limit:
        retry_after = int(oldest or now) + window_s - now
        raise RateLimited(
            f"too many {what}; try again in {max(1, retry_after)} s", retry_after=retry_after
        )


def record_attempt(session: Session, scope: Scope, key: str, *, now: int, window_s: int) -> None:
    """Count one event of `key` (in the caller's transaction) and forget expired ones.

    Expired rows of *any* key of the scope go, not only this key's: most keys never come back
    (a username typed once, an address seen once) and their rows would stay forever. At most
    `PRUNE_BATCH` per call (by `ix_authattempt_scope_at`), so a login never waits on a large
    delete; each call adds one row and removes up to that many, so a backlog drains quickly.
    """
    expired = (
        select(AuthAttempt.id)
        .where(AuthAttempt.scope == scope.value, col(AuthAttempt.at) <= now - window_s)
        .order_by(col(AuthAttempt.at))
        .limit(PRUNE_BATCH)
    )
    session.execute(delete(AuthAttempt).where(col(AuthAttempt.id).in_(expired.scalar_subquery())))
    session.add(AuthAttempt(scope=scope.value, key=key, at=now))
