"""Authentication: scrypt passwords, one-time login codes and HMAC-signed access tokens.

Access tokens are stateless: `hc1.<base64url JSON claims>.<base64url HMAC-SHA256>` keyed with
`token_secret`. Claims: `sub` (`citizen:<pseudonym>` or `staff:<username>`), `role`, `exp`.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import time
from dataclasses import dataclass
from enum import StrEnum

from sqlmodel import Session, select

from healthcode.errors import ErrorCode, RequestError
from healthcode.server.security import check_password, hash_password, read_token, sign_token
from issuers.models import Citizen, OtpChallenge, StaffAccount

logger = logging.getLogger("issuers.auth")

_TOKEN_PREFIX = "hc1"
_OTP_CONTEXT = b"hc-otp-v1:"
#: A phone gets at most one new login code per this many seconds.
OTP_RESEND_INTERVAL_S = 30


class Role(StrEnum):
    CITIZEN = "citizen"
    HEALTH_OFFICIAL = "health_official"
    ADMIN = "admin"
    COUNTER_STAFF = "counter_staff"
    CHECKPOINT = "checkpoint"


STAFF_ROLES = frozenset(Role) - {Role.CITIZEN}


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: `subject` is the citizen pseudonym, `username` a staff account."""

    role: Role
    subject: str | None = None
    username: str | None = None

    @property
    def actor(self) -> str:
        """How the audit log names this caller (never personal data)."""
        if self.subject is not None:
            return f"citizen:{self.subject}"
        return f"{self.role.value}:{self.username}"


def issue_access_token(
    principal: Principal, secret: bytes, lifetime_s: int, now: float | None = None
) -> str:
    """A signed access token for `principal` (healthcode.server.security format)."""
    subject = (
        f"citizen:{principal.subject}"
        if principal.subject is not None
        else f"staff:{principal.username}"
    )
    return sign_token(
        {"sub": subject, "role": principal.role.value},
        secret,
        prefix=_TOKEN_PREFIX,
        lifetime_s=lifetime_s,
        now=now,
    )


def read_access_token(token: str, secret: bytes, now: float | None = None) -> Principal:
    """The principal of a valid token; raises RequestError unauthenticated / token_expired."""
    claims = read_token(token, secret, prefix=_TOKEN_PREFIX, now=now)
    try:
        role = Role(claims["role"])
        kind, _, name = str(claims["sub"]).partition(":")
    except (KeyError, ValueError):
        raise RequestError(
            ErrorCode.UNAUTHENTICATED, "the bearer token is not valid; log in"
        ) from None
    if kind == "citizen":
        return Principal(role=role, subject=name)
    return Principal(role=role, username=name)


def require_role(principal: Principal, *roles: Role) -> None:
    """Raise forbidden unless the caller has one of `roles`."""
    if principal.role not in roles:
        allowed = ", ".join(role.value for role in roles)
        raise RequestError(
            ErrorCode.FORBIDDEN, f"this needs one of the roles {allowed}; you are {principal.role}"
        )


def login_staff(session: Session, username: str, password: str) -> Principal:
    account = session.exec(select(StaffAccount).where(StaffAccount.username == username)).first()
    # Hash even for unknown users so the answer time does not reveal which usernames exist.
    stored = account.password_hash if account else hash_password("unknown-user")
    if not check_password(password, stored) or account is None:
        raise RequestError(ErrorCode.UNAUTHENTICATED, "wrong username or password")
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


def _otp_hmac(phone: str, code: str, secret: bytes) -> str:
    return hmac.new(secret, _OTP_CONTEXT + f"{phone}:{code}".encode(), "sha256").hexdigest()


def mask_phone(phone: str) -> str:
    return "*" * max(0, len(phone) - 4) + phone[-4:]


def request_otp(
    session: Session,
    phone: str,
    secret: bytes,
    *,
    lifetime_s: int,
    demo_mode: bool,
    now: float | None = None,
) -> str | None:
    """Create a login code for a known phone; returns it (to print in demo mode) or None.

    An unknown phone gets the same answer from the API (no code is sent), so the endpoint does
    not reveal who is registered.
    """
    at = int(time.time() if now is None else now)
    if session.exec(select(Citizen).where(Citizen.phone == phone)).first() is None:
        return None
    challenge = session.get(OtpChallenge, phone)
    if challenge is not None and at < challenge.expires_at - lifetime_s + OTP_RESEND_INTERVAL_S:
        # One code per interval: requesting codes in a loop must not multiply guessing chances.
        return None
    code = f"{secrets.randbelow(10**6):06d}"
    if challenge is None:
        challenge = OtpChallenge(phone=phone, code_hmac="", expires_at=0)
    challenge.code_hmac = _otp_hmac(phone, code, secret)
    challenge.expires_at = at + lifetime_s
    challenge.attempts = 0
    session.add(challenge)
    if demo_mode:
        # Demo only: there is no SMS gateway, so the code goes to the console.
        message = f"[demo] one-time login code for phone {mask_phone(phone)}: {code}"
        print(message, flush=True)
        logger.warning(message)
    return code


def verify_otp(
    session: Session,
    phone: str,
    code: str,
    secret: bytes,
    *,
    max_attempts: int,
    now: float | None = None,
) -> Citizen:
    """Check a login code (single use, bounded attempts); returns the citizen."""
    at = int(time.time() if now is None else now)
    challenge = session.get(OtpChallenge, phone)
    if challenge is None or challenge.expires_at < at or challenge.attempts >= max_attempts:
        raise RequestError(
            ErrorCode.UNAUTHENTICATED, "no valid login code for this phone; request a new one"
        )
    if not hmac.compare_digest(challenge.code_hmac, _otp_hmac(phone, code, secret)):
        challenge.attempts += 1
        session.add(challenge)
        session.commit()
        raise RequestError(ErrorCode.UNAUTHENTICATED, "wrong login code; check the SMS")
    session.delete(challenge)
    citizen = session.exec(select(Citizen).where(Citizen.phone == phone)).first()
    if citizen is None:
        raise RequestError(ErrorCode.UNAUTHENTICATED, "no citizen has this phone")
    return citizen
