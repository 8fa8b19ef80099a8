"""Who may use a checkpoint: device tokens and staff sessions.

- A checkpoint device gets a random token once (`healthcode checkpoint add-device`); only its
  SHA-256 is stored, and it can be revoked.
- Staff and health officials log in with a username and password (scrypt) and receive a
  session token: an HMAC-signed `{user, role, exp}`, checked against the user table on each use
  so a disabled account stops at once.

Roles: `device` and `staff` verify codes; `staff` also runs assisted look-ups; `official` may do
everything and is the only role that exports the scan log.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import Engine
from sqlmodel import Field, Session, SQLModel, select

from healthcode.errors import ErrorCode, RequestError
from healthcode.server.security import check_password, hash_password, read_token, sign_token

DEVICE_TOKEN_PREFIX = "hcd_"
SESSION_TOKEN_PREFIX = "hcs_"
_SESSION_TOKEN_KIND = "s1"
_DEVICE_CACHE_S = 2.0  # a revocation by another process takes effect within this time


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


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller of a request."""

    actor: str  # device id or username; goes into the scan and audit logs
    role: Role


def _token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class Authenticator:
    """Issues and checks device tokens and staff sessions against the database."""

    def __init__(self, engine: Engine, session_secret: bytes, session_lifetime_s: int) -> None:
        self.engine = engine
        self._secret = session_secret
        self.session_lifetime_s = session_lifetime_s
        self._device_cache: dict[str, tuple[float, Principal | None]] = {}
        self._lock = threading.Lock()

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
        with self._lock:
            self._device_cache.clear()

    def list_devices(self) -> list[Device]:
        with Session(self.engine) as session:
            return list(session.exec(select(Device)))

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

    def login(self, username: str, password: str, *, now: float | None = None) -> tuple[str, Role]:
        """Check the password and return (session token, role)."""
        with Session(self.engine) as session:
            user = session.get(StaffUser, username)
        # Hash even for unknown users so timing does not reveal which usernames exist.
        stored = user.password_hash if user else hash_password("dummy-password-for-timing")
        if not check_password(password, stored) or user is None or user.disabled:
            raise RequestError(ErrorCode.UNAUTHENTICATED, "wrong username or password")
        role = Role(user.role)
        token = sign_token(
            {"u": username, "r": role.value},
            self._secret,
            prefix=_SESSION_TOKEN_KIND,
            lifetime_s=self.session_lifetime_s,
            now=now,
        )
        # "hcs_" marks a session token (vs a device token); the rest is the shared format.
        return SESSION_TOKEN_PREFIX + token, role

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

    def _device(self, token: str) -> Principal:
        digest = _token_sha256(token)
        moment = time.monotonic()
        with self._lock:
            cached = self._device_cache.get(digest)
        if cached is not None and moment - cached[0] < _DEVICE_CACHE_S:
            principal = cached[1]
        else:
            with Session(self.engine) as session:
                device = session.exec(select(Device).where(Device.token_sha256 == digest)).first()
            principal = (
                Principal(device.id, Role.DEVICE)
                if device is not None and device.revoked_at is None
                else None
            )
            with self._lock:
                if len(self._device_cache) > 10_000:
                    self._device_cache.clear()
                self._device_cache[digest] = (moment, principal)
        if principal is None:
            raise RequestError(ErrorCode.UNAUTHENTICATED, "unknown or revoked device token")
        return principal

    def _session(self, token: str, now: float | None) -> Principal:
        claims = read_token(token, self._secret, prefix=_SESSION_TOKEN_KIND, now=now)
        if not isinstance(claims.get("u"), str):
            raise RequestError(ErrorCode.UNAUTHENTICATED, "the session token is not valid")
        with Session(self.engine) as session:
            user = session.get(StaffUser, claims["u"])
        if user is None or user.disabled:
            raise RequestError(ErrorCode.UNAUTHENTICATED, "the account is disabled")
        return Principal(user.username, Role(user.role))


def require_role(principal: Principal, *roles: Role) -> None:
    """Raise RequestError(FORBIDDEN) unless the principal has one of `roles`."""
    if principal.role not in roles:
        allowed = ", ".join(role.value for role in roles)
        raise RequestError(ErrorCode.FORBIDDEN, f"this needs the role {allowed}")
