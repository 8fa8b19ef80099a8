"""Passwords and signed bearer tokens shared by the services (one implementation, one format).

- Passwords: scrypt (N=2^14, r=8, p=1, 16-byte salt), stored as `scrypt$N$r$p$salt$hash` with
  unpadded base64url fields; checked in constant time.
- Bearer tokens: `<prefix>.<base64url JSON claims>.<base64url HMAC-SHA256>`, keyed with the
  service's `token_secret`; claims carry `exp` (epoch seconds). Stateless, so replicas need no
  shared session store; revocation is by expiry (and by disabling the account where a service
  looks it up per request).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Mapping
from typing import Any

from healthcode.errors import ErrorCode, RequestError

__all__ = ["check_password", "hash_password", "read_token", "sign_token"]

_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str) -> str:
    """A salted scrypt hash of `password` in the self-describing format above."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32
    )
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def check_password(password: str, stored: str) -> bool:
    """Whether `password` matches a `hash_password` string (constant-time comparison)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        candidate = hashlib.scrypt(
            password.encode("utf-8"), salt=_unb64(salt), n=int(n), r=int(r), p=int(p), dklen=32
        )
        return hmac.compare_digest(candidate, _unb64(digest))
    except (ValueError, TypeError):  # a damaged stored hash never matches, it never crashes
        return False


def sign_token(
    claims: Mapping[str, Any],
    secret: bytes,
    *,
    prefix: str,
    lifetime_s: int,
    now: float | None = None,
) -> str:
    """A signed bearer token holding `claims` plus `exp`."""
    at = int(time.time() if now is None else now)
    body = _b64(json.dumps({**claims, "exp": at + lifetime_s}, separators=(",", ":")).encode())
    signature = _b64(hmac.new(secret, f"{prefix}.{body}".encode(), "sha256").digest())
    return f"{prefix}.{body}.{signature}"


def read_token(
    token: str, secret: bytes, *, prefix: str, now: float | None = None
) -> dict[str, Any]:
    """The claims of a valid token; raises RequestError unauthenticated or token_expired."""
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != prefix:
        raise RequestError(ErrorCode.UNAUTHENTICATED, "the bearer token is malformed; log in")
    expected = hmac.new(secret, f"{parts[0]}.{parts[1]}".encode(), "sha256").digest()
    try:
        valid = hmac.compare_digest(_unb64(parts[2]), expected)
        claims = json.loads(_unb64(parts[1])) if valid else None
    except ValueError:
        valid = False
    if not valid or not isinstance(claims, dict):
        raise RequestError(ErrorCode.UNAUTHENTICATED, "the bearer token is not valid; log in")
    expires = claims.get("exp")
    if not isinstance(expires, int) or expires < (time.time() if now is None else now):
        raise RequestError(ErrorCode.TOKEN_EXPIRED, "the access token expired; log in again")
    return claims
