"""RFC 7523 client assertions: how a partner region proves who it is (standard §10.1).

A partner signs a short-lived ES256 JWT with one of its `partner_keys` listed in the trust list.
No shared secret exists, so onboarding a partner is only a trust-list entry, and rotating or
revoking its key is a new trust-list version.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

import jwt
import orjson

from healthcode.config import DEFAULT_LIMITS
from healthcode.errors import ErrorCode, RequestError
from healthcode.jws import sign_compact
from healthcode.keys import SigningKey, VerifyingKey
from healthcode.trust import IssuerEntry, IssuerStatus, TrustStore

__all__ = [
    "MAX_ASSERTION_LIFETIME_S",
    "PartnerRefused",
    "VerifiedAssertion",
    "make_client_assertion",
    "verify_client_assertion",
]

#: §10.1: `exp - iat` may not exceed this, so a stolen assertion is useful for minutes at most.
MAX_ASSERTION_LIFETIME_S = 300
_MAX_ASSERTION_CHARS = 4096
_JTI_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,64}")


@dataclass(frozen=True, slots=True)
class VerifiedAssertion:
    """A client assertion whose signature, audience and times were checked."""

    partner: str
    jti: str
    expires_at: int
    kid: str


def make_client_assertion(
    key: SigningKey,
    *,
    partner: str,
    audience: str,
    now: float | None = None,
    lifetime_s: int = 120,
) -> str:
    """A client assertion for `Authorization: Bearer ...` (iss = sub = partner, fresh jti)."""
    if not 0 < lifetime_s <= MAX_ASSERTION_LIFETIME_S:
        raise ValueError(f"lifetime_s must be 1..{MAX_ASSERTION_LIFETIME_S}, got {lifetime_s}")
    issued_at = int(time.time() if now is None else now)
    claims = {
        "iss": partner,
        "sub": partner,
        "aud": audience,
        "iat": issued_at,
        "exp": issued_at + lifetime_s,
        "jti": secrets.token_urlsafe(24),
    }
    return sign_compact(orjson.dumps(claims), key, compress=False, typ="JWT")


class PartnerRefused(RequestError):
    """The assertion's signature verified with `partner`'s key, yet the call is refused
    (suspended partner, wrong audience, expired, ...): an authenticated refusal, audited
    against that partner (§10.6), unlike a forged or unparseable assertion."""

    def __init__(self, message: str, *, partner: str) -> None:
        super().__init__(ErrorCode.ASSERTION_INVALID, message)
        self.partner = partner


def _invalid(message: str) -> RequestError:
    return RequestError(ErrorCode.ASSERTION_INVALID, message)


def _partner_key(trust: TrustStore, kid: str) -> tuple[IssuerEntry, VerifyingKey]:
    # Partner keys are few (one or two per region), so a scan beats keeping a second index.
    for issuer in trust.issuers.values():
        for key in issuer.partner_keys:
            if key.kid == kid:
                return issuer, key
    raise _invalid(f"key {kid!r} is not a partner key of any issuer in the trust list")


def verify_client_assertion(
    assertion: str,
    trust: TrustStore,
    *,
    audience: str,
    now: float | None = None,
    skew_s: int = DEFAULT_LIMITS.clock_skew_s,
) -> VerifiedAssertion:
    """Check a client assertion (§10.1) except replay; raises RequestError(assertion_invalid).

    Replay protection needs shared storage and is done by the caller with the returned `jti`.
    """
    at = time.time() if now is None else now
    if len(assertion) > _MAX_ASSERTION_CHARS:
        raise _invalid(f"assertion is longer than {_MAX_ASSERTION_CHARS} characters")
    try:
        header = jwt.get_unverified_header(assertion)
    except jwt.PyJWTError as exc:
        raise _invalid(f"assertion is not a compact JWS ({exc})") from exc
    if header.get("alg") != "ES256":
        raise _invalid("assertion alg must be ES256")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise _invalid("assertion header has no 'kid'")
    issuer, key = _partner_key(trust, kid)
    try:
        claims: dict[str, Any] = jwt.decode(
            assertion,
            key.public_key,
            algorithms=["ES256"],
            audience=audience,
            # Times are checked below against `now`, so tests pass a time instead of sleeping.
            options={
                "require": ["iss", "sub", "aud", "iat", "exp", "jti"],
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
            },
        )
    except jwt.InvalidAudienceError as exc:
        # pyjwt checks the signature before the claims: the partner is authenticated.
        raise PartnerRefused(
            f"assertion audience is not this API ({audience})", partner=issuer.id
        ) from exc
    except jwt.PyJWTError as exc:
        raise _invalid(f"assertion refused: {exc}") from exc

    def refused(message: str) -> PartnerRefused:
        return PartnerRefused(message, partner=issuer.id)

    # The signature is over these claims, so they bind the key to one partner identity.
    if claims["iss"] != issuer.id or claims["sub"] != issuer.id:
        raise refused(f"assertion iss/sub must both be {issuer.id!r}, the key's issuer")
    # pyjwt accepts a list audience containing ours; §10.1 wants the exact string.
    if claims["aud"] != audience:
        raise refused(f"assertion aud must be exactly {audience!r}")
    if issuer.status is not IssuerStatus.ACTIVE:
        raise refused(f"partner {issuer.id!r} is {issuer.status.value} in the trust list")
    issued_at, expires_at, jti = claims["iat"], claims["exp"], claims["jti"]
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (issued_at, expires_at)):
        raise refused("assertion iat and exp must be integers")
    if expires_at - issued_at > MAX_ASSERTION_LIFETIME_S:
        raise refused(f"assertion lifetime exceeds {MAX_ASSERTION_LIFETIME_S} s")
    if expires_at + skew_s < at:
        raise refused("assertion has expired; sign a fresh one per request")
    if issued_at > at + skew_s:
        raise refused("assertion is issued in the future; check the partner's clock")
    if not isinstance(jti, str) or not _JTI_PATTERN.fullmatch(jti):
        raise refused("assertion jti must be 16-64 base64url characters")
    return VerifiedAssertion(partner=issuer.id, jti=jti, expires_at=expires_at, kid=kid)
