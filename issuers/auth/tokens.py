"""Roles, the `Principal` a request acts as, and signed access tokens (`hc1.<claims>.<HMAC>`)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from healthcode.errors import ErrorCode, RequestError
from healthcode.server.security import read_token, sign_token

_TOKEN_PREFIX = "hc1"


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


def require_role(principal: Principal, *roles: Role) -> None:
    """Raise forbidden unless the caller has one of `roles`."""
    if principal.role not in roles:
        allowed = ", ".join(role.value for role in roles)
        raise RequestError(
            ErrorCode.FORBIDDEN, f"this needs one of the roles {allowed}; you are {principal.role}"
        )
