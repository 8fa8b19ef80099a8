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

import orjson

from healthcode.config import CLOCK_SKEW_S
from healthcode.errors import ErrorCode, RequestError, VerificationError
from healthcode.jws import loads_unique, sign_compact, verify_document
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
_REQUIRED_CLAIMS = ("iss", "sub", "aud", "iat", "exp", "jti")


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


def _partner_keys(trust: TrustStore) -> tuple[dict[str, VerifyingKey], dict[str, IssuerEntry]]:
    # Partner keys are few (one or two per region): indexing them per call costs little.
    keys: dict[str, VerifyingKey] = {}
    owners: dict[str, IssuerEntry] = {}
    for issuer in trust.issuers.values():
        for key in issuer.partner_keys:
            keys[key.kid], owners[key.kid] = key, issuer
    return keys, owners


def verify_client_assertion(
    assertion: str,
    trust: TrustStore,
    *,
    audience: str,
    now: float | None = None,
    skew_s: int = CLOCK_SKEW_S,
) -> VerifiedAssertion:
    """Check a client assertion (§10.1) except replay; raises RequestError(assertion_invalid).

    The signature is checked by the one signed-document verifier (`verify_document`) with
    the partner keys of the trust list. Replay protection needs shared storage and is done by
    the caller with the returned `jti`.
    """
    at = time.time() if now is None else now
    keys, owners = _partner_keys(trust)
    try:
        document = verify_document(
            assertion, keys, typ=("JWT", None), max_chars=_MAX_ASSERTION_CHARS
        )
    except VerificationError as exc:
        if exc.code is ErrorCode.UNKNOWN_KEY:
            raise _invalid(
                f"assertion {exc.message}: not a partner key of any issuer in the trust list"
            ) from exc
        raise _invalid(f"assertion refused: {exc.message}") from exc
    kid, issuer = document.kid, owners[document.kid]
    try:
        claims = loads_unique(document.payload)
    except (ValueError, RecursionError) as exc:
        raise _invalid(f"assertion claims are not JSON with unique names ({exc})") from exc
    if not isinstance(claims, dict):
        raise _invalid("assertion claims are not a JSON object")
    missing = [name for name in _REQUIRED_CLAIMS if name not in claims]
    if missing:
        raise _invalid(f"assertion lacks the claims {missing}")

    def refused(message: str) -> PartnerRefused:
        return PartnerRefused(message, partner=issuer.id)

    # The signature is over these claims, so they bind the key to one partner identity.
    if claims["iss"] != issuer.id or claims["sub"] != issuer.id:
        raise refused(f"assertion iss/sub must both be {issuer.id!r}, the key's issuer")
    # §10.1 wants the exact string (a list containing ours is refused too).
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
