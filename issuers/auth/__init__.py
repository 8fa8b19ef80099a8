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

from issuers.auth.otp import request_otp, verify_otp
from issuers.auth.sessions import (
    SESSION_RETENTION_S,
    SessionCache,
    open_session,
    purge_sessions,
    revoke_session,
    session_ended,
)
from issuers.auth.staff import create_staff, login_staff, set_staff_disabled
from issuers.auth.tokens import (
    STAFF_ROLES,
    Principal,
    Role,
    issue_access_token,
    read_access_token,
    require_role,
)
from issuers.delivery import mask_phone

__all__ = [
    "SESSION_RETENTION_S",
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
    "session_ended",
    "set_staff_disabled",
    "verify_otp",
]
