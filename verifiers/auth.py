"""Who may use a checkpoint: device tokens and staff sessions.

- A checkpoint device gets a random token once (`healthcode checkpoint add-device`); only its
  SHA-256 is stored, and it can be revoked.
- Staff and health officials log in with a username and password (scrypt) and receive a
  session token: an HMAC-signed `{user, role, session id, exp}`. Each use is checked against
  the session and user tables, so logging out (`logout`) or disabling the account
  (`set_disabled`) ends it: at once in this process, within `_CACHE_S` in another one.
- Failed logins are counted per username and per client address (`LoginThrottle`, in the
  database: across restarts and replicas); past the limit, login answers `account_locked` with
  Retry-After until the window has passed.

Roles: `device` and `staff` verify codes; `staff` also runs assisted look-ups; `official` may do
everything and is the only role that exports the scan log.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from sqlalchemy import Engine
from sqlmodel import Field, Session, SQLModel, col, delete, func, select, update

from healthcode.errors import ErrorCode, RequestError
from healthcode.server.security import check_password, hash_password, read_token, sign_token

DEVICE_TOKEN_PREFIX = "hcd_"
SESSION_TOKEN_PREFIX = "hcs_"
_SESSION_TOKEN_KIND = "s1"
#: Device and session look-ups are cached this long: a revocation, logout or disabled account
#: takes effect at once in this process (the cache is cleared), within this time in another.
_CACHE_S = 2.0
_CACHE_MAX = 10_000


class Role(StrEnum):
    DEVICE = "device"
    STAFF = "staff"
    OFFICIAL = "official"


class Device(SQLModel, table=True):
    """A checkpoint device (scanner station) and the hash of its token."""

    __tablename__ = "checkpoint_devices"

    id: str = Field(primary_key=True, max_length=40)
    name: str = Field(max_length=120)
    token_sha256: str = Field(index=True, unique=True, max_length=64)
    created_at: datetime
    revoked_at: datetime | None = None


class StaffUser(SQLModel, table=True):
    """A staff member or health official who logs in with a password."""

    __tablename__ = "checkpoint_staff"

    username: str = Field(primary_key=True, max_length=64)
    password_hash: str = Field(max_length=300)
    role: str = Field(max_length=16)
    created_at: datetime
    disabled: bool = False


class StaffSession(SQLModel, table=True):
    """A staff login; its token is refused once `revoked_at` is set (logout, disabled)."""

    __tablename__ = "checkpoint_sessions"

    id: str = Field(primary_key=True, max_length=32)
    username: str = Field(index=True, max_length=64)
    issued_at: datetime
    expires_at: datetime = Field(index=True)
    revoked_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller of a request."""

    actor: str  # device id or username; goes into the scan and audit logs
    role: Role
    session_id: str | None = None  # staff sessions only


class LoginThrottled(RequestError):
    """Too many failed logins: the account (or the address) is locked for `retry_after` s.

    The HTTP layer sends `retry_after` as Retry-After and `details` in the body, so the staff
    page can say until when ("账号已锁定 — 请于 14:05 后再试").
    """

    def __init__(self, retry_after: int, now: float) -> None:
        super().__init__(
            ErrorCode.ACCOUNT_LOCKED,
            f"too many failed logins; try again in {retry_after} s or ask the administrator",
            retry_after=retry_after,
            details={"locked_until": int(now) + retry_after},
        )


class LoginFailure(SQLModel, table=True):
    """One failed staff login, once under its username's key and once under its address's."""

    __tablename__ = "checkpoint_login_failures"

    id: int | None = Field(default=None, primary_key=True)
    #: HMAC of "user:<name>" or "addr:<address>": a password typed into the username field
    #: must not end up stored in the clear.
    key: str = Field(index=True, max_length=64)
    at: float = Field(index=True)


class LoginThrottle:
    """Failed logins in a sliding window, per username and (4x as many) per client address.

    Kept in the checkpoint's database, so the count holds across a restart and across the
    replicas that share one database (PostgreSQL); a check and the failure it precedes are not
    one transaction, so racing replicas may let a few more attempts through. It slows down
    password guessing; it is not an account lockout (an administrator can disable an account).
    """

    def __init__(
        self, engine: Engine, secret: bytes, *, max_failures: int, window_s: float
    ) -> None:
        self.engine = engine
        self._secret = secret
        self.max_failures = max_failures
        self.window_s = window_s

    def _key(self, kind: str, value: str) -> str:
        # Its own context, so these digests never collide with a token signed by the secret.
        message = f"login-throttle-v1:{kind}:{value}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def _limits(self, username: str, address: str | None) -> list[tuple[str, int]]:
        limits = [(self._key("user", username), self.max_failures)]
        if address:
            limits.append((self._key("addr", address), 4 * self.max_failures))
        return limits

    def check(self, username: str, address: str | None, now: float) -> None:
        """Raise LoginThrottled if this username or address is over its limit."""
        with Session(self.engine) as session:
            for key, limit in self._limits(username, address):
                count, oldest = session.exec(
                    select(func.count(), func.min(LoginFailure.at)).where(
                        LoginFailure.key == key, col(LoginFailure.at) > now - self.window_s
                    )
                ).one()
                if count >= limit:
                    raise LoginThrottled(max(1, math.ceil(oldest + self.window_s - now)), now)

    def failed(self, username: str, address: str | None, now: float) -> None:
        """Count a failed login; failures that left the window go (of every key)."""
        with Session(self.engine) as session:
            session.exec(delete(LoginFailure).where(col(LoginFailure.at) <= now - self.window_s))
            for key, _ in self._limits(username, address):
                session.add(LoginFailure(key=key, at=now))
            session.commit()

    def succeeded(self, username: str) -> None:
        """A right password clears the username's count (not the address's)."""
        with Session(self.engine) as session:
            session.exec(
                delete(LoginFailure).where(col(LoginFailure.key) == self._key("user", username))
            )
            session.commit()


def _token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class Authenticator:
    """Issues and checks device tokens and staff sessions against the database."""

    def __init__(self, engine: Engine, session_secret: bytes, session_lifetime_s: int) -> None:
        self.engine = engine
        self._secret = session_secret
        self.session_lifetime_s = session_lifetime_s
        # token digest (devices) or session id (staff) -> (when looked up, principal or None)
        self._cache: dict[str, tuple[float, Principal | None]] = {}
        self._lock = threading.Lock()

    def _forget_cached(self) -> None:
        with self._lock:
            self._cache.clear()

    # -- devices
    def add_device(self, name: str) -> tuple[str, str]:
        """Register a device; returns (device id, token). The token is shown only this once."""
        device_id = "dev-" + secrets.token_hex(4)
        token = DEVICE_TOKEN_PREFIX + secrets.token_urlsafe(32)
        with Session(self.engine) as session:
            session.add(
                Device(
                    id=device_id,
                    name=name,
                    token_sha256=_token_sha256(token),
                    created_at=datetime.now(UTC),
                )
            )
            session.commit()
        return device_id, token

    def revoke_device(self, device_id: str) -> None:
        """Revoke a device's token; raises RequestError(NOT_FOUND) for an unknown id."""
        with Session(self.engine) as session:
            device = session.get(Device, device_id)
            if device is None:
                raise RequestError(ErrorCode.NOT_FOUND, f"no device {device_id!r}")
            device.revoked_at = datetime.now(UTC)
            session.add(device)
            session.commit()
        self._forget_cached()

    def list_devices(self) -> list[Device]:
        """Every registered device (token hashes included; callers print only id/name/dates)."""
        with Session(self.engine) as session:
            return list(session.exec(select(Device).order_by(col(Device.created_at))))

    # -- staff
    def add_user(self, username: str, password: str, role: Role) -> None:
        """Create a staff or official account; raises RequestError(CONFLICT) if it exists."""
        if role is Role.DEVICE:
            raise ValueError("devices are added with add_device")
        if len(password) < 10:
            raise RequestError(ErrorCode.INVALID_REQUEST, "a password needs at least 10 characters")
        with Session(self.engine) as session:
            if session.get(StaffUser, username) is not None:
                raise RequestError(ErrorCode.CONFLICT, f"user {username!r} already exists")
            session.add(
                StaffUser(
                    username=username,
                    password_hash=hash_password(password),
                    role=role.value,
                    created_at=datetime.now(UTC),
                )
            )
            session.commit()

    def set_disabled(self, username: str, disabled: bool) -> None:
        """Disable (ending every session) or re-enable an account; NOT_FOUND if unknown."""
        with Session(self.engine) as session:
            user = session.get(StaffUser, username)
            if user is None:
                raise RequestError(ErrorCode.NOT_FOUND, f"no user {username!r}")
            user.disabled = disabled
            session.add(user)
            if disabled:
                # Re-enabling must not bring old tokens back to life.
                session.exec(
                    update(StaffSession)
                    .where(col(StaffSession.username) == username)
                    .where(col(StaffSession.revoked_at).is_(None))
                    .values(revoked_at=datetime.now(UTC))
                )
            session.commit()
        self._forget_cached()

    def user_exists(self, username: str) -> bool:
        with Session(self.engine) as session:
            return session.get(StaffUser, username) is not None

    def login(self, username: str, password: str, *, now: float | None = None) -> tuple[str, Role]:
        """Check the password and return (session token, role); the session is recorded."""
        with Session(self.engine) as session:
            user = session.get(StaffUser, username)
        # Hash even for unknown users so timing does not reveal which usernames exist.
        stored = user.password_hash if user else hash_password("dummy-password-for-timing")
        if not check_password(password, stored) or user is None or user.disabled:
            raise RequestError(ErrorCode.LOGIN_FAILED, "wrong username or password")
        role = Role(user.role)
        at = time.time() if now is None else now
        session_id = secrets.token_urlsafe(16)
        with Session(self.engine) as session:
            session.add(
                StaffSession(
                    id=session_id,
                    username=username,
                    issued_at=datetime.fromtimestamp(at, UTC),
                    expires_at=datetime.fromtimestamp(at + self.session_lifetime_s, UTC),
                )
            )
            session.commit()
        token = sign_token(
            {"u": username, "r": role.value, "sid": session_id},
            self._secret,
            prefix=_SESSION_TOKEN_KIND,
            lifetime_s=self.session_lifetime_s,
            now=at,
        )
        # "hcs_" marks a session token (vs a device token); the rest is the shared format.
        return SESSION_TOKEN_PREFIX + token, role

    def logout(self, principal: Principal) -> bool:
        """End the caller's session server-side; False for a device (revoke-device ends it)."""
        if principal.session_id is None:
            return False
        with Session(self.engine) as session:
            record = session.get(StaffSession, principal.session_id)
            if record is not None and record.revoked_at is None:
                record.revoked_at = datetime.now(UTC)
                session.add(record)
                session.commit()
        self._forget_cached()
        return True

    def purge_sessions(self, *, now: datetime | None = None) -> int:
        """Delete session records a day past their expiry (their tokens are refused anyway)."""
        cutoff = (now or datetime.now(UTC)) - timedelta(days=1)
        with Session(self.engine) as session:
            result = session.exec(delete(StaffSession).where(col(StaffSession.expires_at) < cutoff))
            session.commit()
            return int(result.rowcount)

    # -- requests
    def authenticate(self, token: str | None, *, now: float | None = None) -> Principal:
        """The principal for a bearer token; raises RequestError(UNAUTHENTICATED/TOKEN_EXPIRED)."""
        if not token:
            raise RequestError(
                ErrorCode.UNAUTHENTICATED, "send 'Authorization: Bearer <device or session token>'"
            )
        if token.startswith(DEVICE_TOKEN_PREFIX):
            return self._device(token)
        if token.startswith(SESSION_TOKEN_PREFIX):
            return self._session(token[len(SESSION_TOKEN_PREFIX) :], now)
        raise RequestError(ErrorCode.UNAUTHENTICATED, "the token is not a checkpoint token")

    def _cached(self, key: str, moment: float) -> tuple[bool, Principal | None]:
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None and moment - cached[0] < _CACHE_S:
            return True, cached[1]
        return False, None

    def _remember(self, key: str, moment: float, principal: Principal | None) -> None:
        with self._lock:
            if len(self._cache) > _CACHE_MAX:
                self._cache.clear()
            self._cache[key] = (moment, principal)

    def _device(self, token: str) -> Principal:
        digest = _token_sha256(token)
        moment = time.monotonic()
        hit, principal = self._cached(digest, moment)
        if not hit:
            with Session(self.engine) as session:
                device = session.exec(select(Device).where(Device.token_sha256 == digest)).first()
            principal = (
                Principal(device.id, Role.DEVICE)
                if device is not None and device.revoked_at is None
                else None
            )
            self._remember(digest, moment, principal)
        if principal is None:
            raise RequestError(
                ErrorCode.DEVICE_NOT_REGISTERED,
                "unknown or revoked device token; ask the administrator to register the device",
            )
        return principal

    def _session(self, token: str, now: float | None) -> Principal:
        claims = read_token(token, self._secret, prefix=_SESSION_TOKEN_KIND, now=now)
        username, session_id = claims.get("u"), claims.get("sid")
        if not isinstance(username, str) or not isinstance(session_id, str):
            raise RequestError(ErrorCode.UNAUTHENTICATED, "the session token is not valid")
        moment = time.monotonic()
        hit, principal = self._cached("sid:" + session_id, moment)
        if not hit:
            with Session(self.engine) as session:
                record = session.get(StaffSession, session_id)
                user = session.get(StaffUser, username)
            principal = (
                Principal(user.username, Role(user.role), session_id)
                if record is not None
                and record.revoked_at is None
                and record.username == username
                and user is not None
                and not user.disabled
                else None
            )
            self._remember("sid:" + session_id, moment, principal)
        if principal is None:
            raise RequestError(
                ErrorCode.UNAUTHENTICATED, "the session has ended (logged out or disabled)"
            )
        return principal


def require_role(principal: Principal, *roles: Role) -> None:
    """Raise RequestError(FORBIDDEN) unless the principal has one of `roles`."""
    if principal.role not in roles:
        allowed = ", ".join(role.value for role in roles)
        raise RequestError(ErrorCode.FORBIDDEN, f"this needs the role {allowed}")
