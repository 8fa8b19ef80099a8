"""Authentication: scrypt passwords, one-time login codes, access tokens and sessions.

Access tokens are `hc1.<base64url JSON claims>.<base64url HMAC-SHA256>` keyed with
`token_secret`. Claims: `sub` (`citizen:<pseudonym>` or `staff:<username>`), `role`, `sid`
(the login's `AuthSession` id) and `exp`. Every request checks the signature and expiry, then
that the session is still open (not logged out, account not disabled): a database look-up that
each replica caches for `session_cache_s` (about a second), so replicas stay stateless and a
revocation holds everywhere on the next request after that. The citizen hot path (`/v1/me`,
`/v1/me/code*`) checks instead a Redis set of revoked sessions that a logout fills before it is
answered, so there a logout holds at once on every replica (ADR 0022).

Guessing is bounded (issuers/limits.py): wrong one-time codes per phone, codes sent per phone
and per client address, and failed staff logins per account and per client address, each over a
rolling window. Every failed login is audited under a pseudonym or a keyed hash, never the raw
phone number or username typed.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import Engine, delete, update
from sqlmodel import Session, col, select

from healthcode.errors import ErrorCode, RequestError
from healthcode.server.security import check_password, hash_password, read_token, sign_token
from issuers.audit import audit
from issuers.db import REVOKED_SESSIONS
from issuers.delivery import mask_phone
from issuers.limits import Scope, attempt_key, check_limit, record_attempt
from issuers.models import AuthSession, Citizen, OtpChallenge, StaffAccount
from issuers.settings import IssuerSettings

__all__ = [
    "STAFF_ROLES",
    "Principal",
    "Role",
    "SessionCache",
    "create_staff",
    "issue_access_token",
    "login_staff",
    "mask_phone",
    "open_session",
    "purge_sessions",
    "read_access_token",
    "request_otp",
    "require_role",
    "revoke_session",
    "set_staff_disabled",
    "verify_otp",
]

_TOKEN_PREFIX = "hc1"
_OTP_CONTEXT = b"hc-otp-v1:"
#: Sessions whose state one replica remembers (least recently checked are forgotten first).
_SESSION_CACHE_ENTRIES = 10_000


class Role(StrEnum):
    CITIZEN = "citizen"
    HEALTH_OFFICIAL = "health_official"
    ADMIN = "admin"
    COUNTER_STAFF = "counter_staff"
    CHECKPOINT = "checkpoint"


STAFF_ROLES = frozenset(Role) - {Role.CITIZEN}


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: `subject` is the citizen pseudonym, `username` a staff account, and
    `session_id` the login the token belongs to."""

    role: Role
    subject: str | None = None
    username: str | None = None
    session_id: str | None = None

    @property
    def actor(self) -> str:
        """How the audit log names this caller (never personal data)."""
        if self.subject is not None:
            return f"citizen:{self.subject}"
        return f"{self.role.value}:{self.username}"

    @property
    def session_principal(self) -> str:
        """How `AuthSession.principal` names this caller."""
        if self.subject is not None:
            return f"citizen:{self.subject}"
        return f"staff:{self.username}"


def issue_access_token(
    principal: Principal, secret: bytes, lifetime_s: int, now: float | None = None
) -> str:
    """A signed access token for `principal` (healthcode.server.security format).

    It is accepted only while `principal.session_id` names an open session: use
    `open_session`, which records one.
    """
    claims: dict[str, str] = {"sub": principal.session_principal, "role": principal.role.value}
    if principal.session_id is not None:
        claims["sid"] = principal.session_id
    return sign_token(claims, secret, prefix=_TOKEN_PREFIX, lifetime_s=lifetime_s, now=now)


def read_access_token(token: str, secret: bytes, now: float | None = None) -> Principal:
    """The principal of a validly signed, unexpired token (its session is checked apart);
    raises RequestError unauthenticated / token_expired."""
    claims = read_token(token, secret, prefix=_TOKEN_PREFIX, now=now)
    try:
        role = Role(claims["role"])
        kind, _, name = str(claims["sub"]).partition(":")
        session_id = claims["sid"]
    except (KeyError, ValueError):
        raise RequestError(
            ErrorCode.UNAUTHENTICATED, "the bearer token is not valid; log in"
        ) from None
    if not isinstance(session_id, str) or not name or kind not in ("citizen", "staff"):
        raise RequestError(ErrorCode.UNAUTHENTICATED, "the bearer token is not valid; log in")
    if kind == "citizen":
        return Principal(role=role, subject=name, session_id=session_id)
    return Principal(role=role, username=name, session_id=session_id)


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


def require_role(principal: Principal, *roles: Role) -> None:
    """Raise forbidden unless the caller has one of `roles`."""
    if principal.role not in roles:
        allowed = ", ".join(role.value for role in roles)
        raise RequestError(
            ErrorCode.FORBIDDEN, f"this needs one of the roles {allowed}; you are {principal.role}"
        )


def _attempt_secret(settings: IssuerSettings) -> bytes:
    return settings.subject_key


def login_staff(
    session: Session,
    username: str,
    password: str,
    *,
    settings: IssuerSettings,
    address: str,
    now: float | None = None,
) -> Principal:
    """Check a staff password, within the per-account and per-address failure limits.

    A failure is counted, audited and committed before the refusal is raised.
    """
    at = int(time.time() if now is None else now)
    secret = _attempt_secret(settings)
    window = settings.login_failure_window_s
    account_key = attempt_key(secret, Scope.LOGIN_FAILED_ACCOUNT, username)
    address_key = attempt_key(secret, Scope.LOGIN_FAILED_ADDRESS, address)
    account = session.exec(select(StaffAccount).where(StaffAccount.username == username)).first()
    # A username typed at the login prompt may be anything, even an ID number: the audit log
    # names unknown ones by a keyed hash only.
    actor = f"{account.role}:{account.username}" if account else f"login:{account_key[:16]}"
    try:
        check_limit(
            session,
            Scope.LOGIN_FAILED_ACCOUNT,
            account_key,
            limit=settings.login_failure_limit,
            window_s=window,
            now=at,
            what="failed logins for this account",
        )
        check_limit(
            session,
            Scope.LOGIN_FAILED_ADDRESS,
            address_key,
            limit=settings.login_failure_limit_per_address,
            window_s=window,
            now=at,
            what="failed logins from this address",
        )
    except RequestError as refused:
        audit(session, actor=actor, action="login_refused", subject=None, reason=refused.message)
        session.commit()
        raise
    # Hash even for unknown users so the answer time does not reveal which usernames exist.
    stored = account.password_hash if account else hash_password("unknown-user")
    why = None
    if not check_password(password, stored) or account is None:
        why = "wrong username or password"
    elif account.disabled_at is not None:
        # Only the audit log says so: answering "disabled" would confirm the password.
        why = "account disabled"
    if why is not None:
        record_attempt(session, Scope.LOGIN_FAILED_ACCOUNT, account_key, now=at, window_s=window)
        record_attempt(session, Scope.LOGIN_FAILED_ADDRESS, address_key, now=at, window_s=window)
        audit(session, actor=actor, action="login_failed", subject=None, reason=why)
        session.commit()
        raise RequestError(ErrorCode.UNAUTHENTICATED, "wrong username or password")
    assert account is not None
    return Principal(role=Role(account.role), username=account.username)


def create_staff(session: Session, username: str, password: str, role: Role) -> StaffAccount:
    """Create a staff or checkpoint account; raises conflict if the username is taken."""
    if role is Role.CITIZEN:
        raise RequestError(ErrorCode.INVALID_REQUEST, "citizens log in by phone, not by account")
    if session.exec(select(StaffAccount).where(StaffAccount.username == username)).first():
        raise RequestError(ErrorCode.CONFLICT, f"username {username!r} is taken")
    account = StaffAccount(
        username=username,
        password_hash=hash_password(password),
        role=role.value,
        created_at=int(time.time()),
    )
    session.add(account)
    return account


def set_staff_disabled(
    session: Session, username: str, *, disabled: bool, now: float | None = None
) -> int:
    """Disable (ending every session of) or re-enable an account; returns sessions ended.

    Re-enabling ends any session still open: one opened by a login that raced the disable
    (refused while the account was disabled, see `SessionCache`) must not come back to life.
    The caller commits. Raises not_found for an unknown username.
    """
    at = int(time.time() if now is None else now)
    account = session.exec(select(StaffAccount).where(StaffAccount.username == username)).first()
    if account is None:
        raise RequestError(ErrorCode.NOT_FOUND, f"no account {username!r}")
    was_disabled = account.disabled_at is not None
    account.disabled_at = at if disabled else None
    session.add(account)
    if not disabled and not was_disabled:
        return 0  # enabling an enabled account leaves its sessions alone
    result = session.execute(
        update(AuthSession)
        .where(
            col(AuthSession.principal) == f"staff:{username}",
            col(AuthSession.revoked_at).is_(None),
        )
        .values(revoked_at=at)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def _otp_hmac(phone: str, code: str, secret: bytes) -> str:
    return hmac.new(secret, _OTP_CONTEXT + f"{phone}:{code}".encode(), "sha256").hexdigest()


def request_otp(
    session: Session,
    phone: str,
    secret: bytes,
    *,
    settings: IssuerSettings,
    address: str,
    now: float | None = None,
) -> str | None:
    """Create a login code for a known phone; returns it (for the caller to deliver after
    its commit) or None.

    An unknown phone gets the same answer from the API (no code is sent), so the endpoint does
    not reveal who is registered; the limits on codes per phone and per address count every
    request alike, for the same reason.
    """
    at = int(time.time() if now is None else now)
    window = settings.otp_request_window_s
    attempts = _attempt_secret(settings)
    phone_key = attempt_key(attempts, Scope.OTP_SENT_PHONE, phone)
    address_key = attempt_key(attempts, Scope.OTP_SENT_ADDRESS, address)
    check_limit(
        session,
        Scope.OTP_SENT_PHONE,
        phone_key,
        limit=settings.otp_request_limit,
        window_s=window,
        now=at,
        what="login codes requested for this phone",
    )
    check_limit(
        session,
        Scope.OTP_SENT_ADDRESS,
        address_key,
        limit=settings.otp_request_limit_per_address,
        window_s=window,
        now=at,
        what="login codes requested from this address",
    )
    record_attempt(session, Scope.OTP_SENT_PHONE, phone_key, now=at, window_s=window)
    record_attempt(session, Scope.OTP_SENT_ADDRESS, address_key, now=at, window_s=window)
    if session.exec(select(Citizen).where(Citizen.phone == phone)).first() is None:
        return None
    lifetime_s = settings.otp_lifetime_s
    challenge = session.get(OtpChallenge, phone, with_for_update=True)
    resend = settings.otp_resend_interval_s
    if challenge is not None and at < challenge.expires_at - lifetime_s + resend:
        # One code per interval: requesting codes in a loop must not multiply guessing chances.
        return None
    code = f"{secrets.randbelow(10**6):06d}"
    if challenge is None:
        challenge = OtpChallenge(phone=phone, code_hmac="", expires_at=0)
    challenge.code_hmac = _otp_hmac(phone, code, secret)
    challenge.expires_at = at + lifetime_s
    challenge.attempts = 0
    session.add(challenge)
    return code


def verify_otp(
    session: Session,
    phone: str,
    code: str,
    secret: bytes,
    *,
    settings: IssuerSettings,
    now: float | None = None,
) -> Citizen:
    """Check a login code (single use, bounded attempts per code and per phone over a rolling
    window); returns the citizen. A failure is counted, audited and committed, then raised."""
    at = int(time.time() if now is None else now)
    window = settings.otp_failure_window_s
    phone_key = attempt_key(_attempt_secret(settings), Scope.OTP_FAILED_PHONE, phone)
    citizen = session.exec(select(Citizen).where(Citizen.phone == phone)).first()
    # Audit names the citizen by pseudonym, an unknown phone by a keyed hash: never the number.
    subject = None if citizen is None else citizen.subject
    actor = f"citizen:{subject}" if subject else f"phone:{phone_key[:16]}"

    def refuse(problem: RequestError) -> RequestError:
        audit(session, actor=actor, action="login_failed", subject=subject, reason=problem.message)
        session.commit()
        return problem

    try:
        check_limit(
            session,
            Scope.OTP_FAILED_PHONE,
            phone_key,
            limit=settings.otp_failure_limit,
            window_s=window,
            now=at,
            what="wrong login codes for this phone",
        )
    except RequestError as limited:
        raise refuse(limited) from None
    challenge = session.get(OtpChallenge, phone, with_for_update=True)
    problem = None
    if (
        challenge is None
        or challenge.expires_at < at
        or challenge.attempts >= settings.otp_max_attempts
    ):
        problem = RequestError(
            ErrorCode.OTP_EXPIRED, "no valid login code for this phone; request a new one"
        )
    elif not hmac.compare_digest(challenge.code_hmac, _otp_hmac(phone, code, secret)):
        challenge.attempts += 1
        session.add(challenge)
        problem = RequestError(ErrorCode.OTP_WRONG, "wrong login code; check the SMS")
    elif citizen is None:
        problem = RequestError(
            ErrorCode.OTP_EXPIRED, "no valid login code for this phone; request a new one"
        )
    if problem is not None:
        record_attempt(session, Scope.OTP_FAILED_PHONE, phone_key, now=at, window_s=window)
        raise refuse(problem)
    assert challenge is not None
    assert citizen is not None
    session.delete(challenge)
    return citizen
