"""Staff accounts: password login (throttled, audited), creation and disabling."""

from __future__ import annotations

import time

from sqlalchemy import update
from sqlmodel import Session, col, select

from healthcode.errors import ErrorCode, RequestError
from healthcode.server.security import check_password, hash_password
from issuers.audit import audit
from issuers.auth.tokens import Principal, Role
from issuers.limits import Limit, Scope, check_limits, record_attempts
from issuers.models import AuthSession, StaffAccount
from issuers.settings import IssuerSettings


def attempt_secret(settings: IssuerSettings) -> bytes:
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
    secret = attempt_secret(settings)
    window = settings.login_failure_window_s
    per_account = Limit.keyed(
        secret,
        Scope.LOGIN_FAILED_ACCOUNT,
        username,
        limit=settings.login_failure_limit,
        what="failed logins for this account",
    )
    per_address = Limit.keyed(
        secret,
        Scope.LOGIN_FAILED_ADDRESS,
        address,
        limit=settings.login_failure_limit_per_address,
        what="failed logins from this address",
    )
    limits = (per_account, per_address)
    account = session.exec(select(StaffAccount).where(StaffAccount.username == username)).first()
    # A username typed at the login prompt may be anything, even an ID number: the audit log
    # names unknown ones by a keyed hash only.
    actor = f"{account.role}:{account.username}" if account else f"login:{per_account.key[:16]}"
    try:
        check_limits(session, limits, window_s=window, now=at)
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
        record_attempts(session, limits, window_s=window, now=at)
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
