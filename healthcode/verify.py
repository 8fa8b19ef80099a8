"""The verification pipeline: text in, a `VerificationResult` out, never an exception.

The steps are numbered as in docs/standard.md §6 and each block below cites its step. In the
success path the signature is checked *before* the payload is inflated or parsed, so an
attacker's bytes are never decompressed unless they were signed by a trusted key.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any, NamedTuple

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.hashes import SHA256

from healthcode import qr, shc
from healthcode.config import DEFAULT_LIMITS, Limits
from healthcode.credential import Credential
from healthcode.errors import ERROR_INFO, ErrorCode, VerificationError
from healthcode.jws import ParsedJws, parse_compact, raw_signature_to_der
from healthcode.keys import is_high_s
from healthcode.trust import (
    IssuerStatus,
    KeyStatus,
    Profile,
    RevocationChecker,
    RevocationStatus,
    TrustStore,
)

__all__ = [
    "Check",
    "CheckOutcome",
    "ExpectedHolder",
    "ExpectedSubject",
    "VerificationResult",
    "verify_credential",
]

_ECDSA_SHA256 = ec.ECDSA(SHA256())
_BOM = "\ufeff"


class Check(StrEnum):
    """The checks a result reports on (what a checkpoint screen lists)."""

    FORMAT = "format"
    TRUST_LIST = "trust_list"
    ISSUER = "issuer"
    SIGNATURE = "signature"
    CLAIMS = "claims"
    VALIDITY = "validity"
    REVOCATION = "revocation"


class CheckOutcome(StrEnum):
    """How one check of a result ended (standard §6.2)."""

    PASSED = "passed"
    FAILED = "failed"
    NOT_CHECKED = "not_checked"
    STALE = "stale"  # checked against data older than policy prefers; still accepted


class ExpectedSubject(NamedTuple):
    """Whom a look-up asked about (an ID-card read): the code must be theirs, from their home
    issuer, or it is refused at the claims check (§6 step 9), before validity and revocation."""

    id_tail: str
    issuer: str


class ExpectedHolder(NamedTuple):
    """Whose code this must be (scan + tap, standard §6.4): the `(iss, sub)` of the other read
    of the pair. Anyone else's code is refused at the claims check with `holder_mismatch`."""

    issuer: str
    subject: str


class VerificationResult(NamedTuple):
    """Outcome of `verify_credential`: verified claims, or one stable error code.

    On failure `claims` and `credential` are None; `issuer` and `kid` are then only the
    unauthenticated hints that were read before the failure (for diagnostics, never display).
    """

    valid: bool
    error: ErrorCode | None
    message: str
    checked_at: int
    profile: Profile | None = None
    credential: Credential | None = None
    claims: Mapping[str, Any] | None = None
    issuer: str | None = None
    issuer_name: str | None = None
    kid: str | None = None
    checks: Mapping[Check, CheckOutcome] = MappingProxyType({})
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (the shape of `healthcode verify --json`, standard §11)."""
        out: dict[str, Any] = {
            "valid": self.valid,
            "error": self.error.value if self.error else None,
            "message": self.message,
            "issuer": self.issuer,
            "issuer_name": self.issuer_name,
            "kid": self.kid,
            "profile": self.profile.value if self.profile else None,
            "checked_at": self.checked_at,
            "checks": {check.value: outcome.value for check, outcome in self.checks.items()},
            "notes": list(self.notes),
        }
        if self.error is not None:
            info = ERROR_INFO[self.error]
            out["error_text"] = {"en": info.en, "zh": info.zh}
        if self.credential is not None:
            c = self.credential
            out.update(
                status=c.status.value,
                reason=c.reason.value,
                masked_name=c.masked_name,
                id_tail=c.id_tail,
                kind=c.kind.value,
                issued_at=c.issued_at,
                expires_at=c.expires_at,
                jti=c.jti,
                subject=c.subject,
                source=c.source,
            )
        elif self.claims is not None and self.profile is Profile.SHC:
            out["shc"] = shc.summarise_claims(self.claims)
            out["issued_at"] = self.claims.get("nbf")
            out["expires_at"] = self.claims.get("exp")
        return out


def _epoch(now: datetime | float | None) -> float:
    if now is None:
        return time.time()
    if isinstance(now, datetime):
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware (UTC)")
        return now.timestamp()
    return float(now)


def extract_token(text: str, limits: Limits = DEFAULT_LIMITS) -> str:
    """Steps (1)-(2): unwrap QR text or a health card file into one compact JWS."""
    # (1) §6 step 1: size cap before any decoding.
    if len(text) > limits.max_input_chars:
        raise VerificationError(
            ErrorCode.INPUT_TOO_LARGE,
            f"input is {len(text)} characters, the limit is {limits.max_input_chars}",
        )
    # (2) §6 step 2: framing. No trimming here: transports strip their own line endings.
    if text.startswith((qr.HC_PREFIX, qr.SHC_PREFIX)):
        return qr.decode_numeric(text, limits=limits)
    if text.startswith("{"):
        tokens = shc.extract_file_tokens(text, limits)
        if len(tokens) != 1:
            raise VerificationError(
                ErrorCode.MALFORMED_INPUT,
                f"the health card file holds {len(tokens)} credentials; verify them one by one",
            )
        return tokens[0]
    if text.startswith(_BOM):
        raise VerificationError(
            ErrorCode.MALFORMED_INPUT, "input starts with a byte-order mark; strip it and retry"
        )
    # A colon never occurs in a JWS: this is a URL or another scheme's code, not ours.
    if not text or text[0] not in _TOKEN_START or ":" in text:
        raise VerificationError(
            ErrorCode.MALFORMED_INPUT,
            "input is not an hc:/ or shc:/ code, a compact JWS or a health card file",
        )
    return text


_TOKEN_START = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def verify_credential(
    token_or_qr_text: str | bytes,
    trust: TrustStore,
    now: datetime | float | None = None,
    *,
    limits: Limits = DEFAULT_LIMITS,
    revocations: RevocationChecker | None = None,
    expect: ExpectedSubject | None = None,
    holder: ExpectedHolder | None = None,
) -> VerificationResult:
    """Verify a health code (hc:/, shc:/, compact JWS or .smart-health-card text).

    The result is immutable (a named tuple: creating it is cheap on this hot path).

    Args:
        token_or_qr_text: what was scanned or read.
        trust: the issuers and keys to trust.
        now: the verification time (aware datetime or epoch seconds); defaults to the clock.
        limits: size and clock-skew bounds.
        revocations: where revoked `jti`s are looked up; None reports revocation as not checked.
        expect: whom the code must be about (an ID-card look-up); a code of anyone else, or
            from another issuer, fails the claims check (`invalid_claims`).
        holder: whose code it must be (scan + tap): anyone else's fails the claims check with
            `holder_mismatch`.

    Returns:
        A result with the verified claims, or with exactly one `ErrorCode`. Bad input never
        raises.
    """
    at = _epoch(now)
    # Everything learnt so far lives in locals, so the failure answer below can report it; the
    # pipeline is one function because each extra call costs on the hot path (ADR 0003).
    checks: dict[Check, CheckOutcome] = {}
    notes: list[str] = []
    kid = issuer_id = issuer_name = None
    profile: Profile | None = None
    stage = Check.FORMAT  # the check a VerificationError at this point is reported against
    try:
        raw = token_or_qr_text
        if type(raw) is not str:
            raw = _decode_bytes(raw, limits)
        # (1)-(2) size cap and framing; (3)-(4) strict JWS parsing: header, alg, zip, r||s.
        parsed = parse_compact(extract_token(raw, limits), limits)
        kid = parsed.kid
        checks[Check.FORMAT] = CheckOutcome.PASSED

        # (0) §7.5 / §7.6: device clock against the registry's signed time; trust list age.
        stage = Check.TRUST_LIST
        if trust.signed_at is not None or trust.expires_at is not None:
            checks[Check.TRUST_LIST] = _trust_list_outcome(trust, at, limits, notes)
        else:
            checks[Check.TRUST_LIST] = CheckOutcome.PASSED

        # (5) §6 step 5: find the key by kid; a kid is only a hint, so an unknown one is
        # diagnosed from the (bounded) payload: unknown issuer vs unknown key.
        stage = Check.ISSUER
        found = trust.key(kid)
        if found is None:
            issuer_id, unknown = _diagnose_unknown_kid(parsed, trust, limits)
            raise unknown
        issuer, trusted = found
        issuer_id, issuer_name, profile = issuer.id, issuer.name, issuer.profile
        # (6) §7.3: suspended issuers and revoked keys are refused before any payload work.
        if issuer.status is IssuerStatus.SUSPENDED:
            raise VerificationError(
                ErrorCode.ISSUER_SUSPENDED, f"issuer {issuer.id!r} is suspended by the registry"
            )
        if trusted.status is KeyStatus.REVOKED:
            raise VerificationError(
                ErrorCode.KEY_REVOKED, f"key {trusted.kid!r} of issuer {issuer.id!r} was revoked"
            )
        checks[Check.ISSUER] = CheckOutcome.PASSED

        # (7) §6 step 7: the signature, over the signing input, before the payload is touched.
        stage = Check.SIGNATURE
        if profile is Profile.HC and is_high_s(parsed.signature):
            # §2.1: hc issuers sign low-S; the high-S twin of a signature is refused before the
            # ECDSA check, so one credential never has two accepted spellings.
            raise VerificationError(
                ErrorCode.HIGH_S_SIGNATURE,
                "signature is in high-S form, which no conforming issuer emits (malleated token)",
            )
        try:
            trusted.key.public_key.verify(
                raw_signature_to_der(parsed.signature), parsed.signing_input, _ECDSA_SHA256
            )
        except InvalidSignature:
            raise VerificationError(
                ErrorCode.BAD_SIGNATURE,
                "signature does not verify with the issuer's key; the code was forged or altered",
            ) from None
        checks[Check.SIGNATURE] = CheckOutcome.PASSED

        # (8) §6 step 8: inflate (bounded), parse, and bind the claims to the key's issuer.
        stage = Check.CLAIMS
        claims = parsed.claims(limits)
        if claims.get("iss") != issuer.id:
            raise VerificationError(
                ErrorCode.UNKNOWN_KEY,
                f"key {trusted.kid!r} belongs to issuer {issuer.id!r}, not to the claimed issuer",
            )

        # (9) §2.3 / §8: the profile's claims; (10) §7.3 the key's window covers the issue time.
        credential: Credential | None = None
        if profile is Profile.HC:
            credential = Credential.from_claims(claims)
            issued_at: float = credential.issued_at
            not_before: float = credential.not_before
            expires_at: float | None = credential.expires_at
            jti: str | None = credential.jti
        else:
            not_before, expires_at = shc.validate_claims(claims)
            iat = claims.get("iat")
            valid_iat = isinstance(iat, int | float) and not isinstance(iat, bool)
            issued_at = float(iat) if valid_iat else not_before  # type: ignore[arg-type]
            jti = None
        if (trusted.not_before is not None or trusted.not_after is not None) and not (
            trusted.covers(issued_at)
        ):
            raise VerificationError(
                ErrorCode.KEY_NOT_VALID,
                f"code issued at {_iso(issued_at)} lies outside key {trusted.kid!r}'s "
                "validity window",
            )
        if expect is not None and (
            credential is None or credential.id_tail != expect.id_tail or issuer.id != expect.issuer
        ):
            # A mix-up (or a relay bug) must never show someone else's colour.
            raise VerificationError(
                ErrorCode.INVALID_CLAIMS,
                "the code is not for this ID number or not from its home issuer",
            )
        # A SMART Health Card has no subject of ours: scan + tap does not apply to it.
        if (
            holder is not None
            and credential is not None
            and (issuer.id, credential.subject) != tuple(holder)
        ):
            raise VerificationError(
                ErrorCode.HOLDER_MISMATCH,
                "the code's holder is not the person whose ID card was read with it",
            )
        checks[Check.CLAIMS] = CheckOutcome.PASSED

        # (11) §4.3: validity in time, with the stated clock skew.
        stage = Check.VALIDITY
        skew = limits.clock_skew_s
        if not_before > at + skew or issued_at > at + skew:
            raise VerificationError(
                ErrorCode.NOT_YET_VALID,
                f"code is valid from {_iso(not_before)}, now is {_iso(at)}",
            )
        if expires_at is not None and expires_at + skew < at:
            raise VerificationError(
                ErrorCode.EXPIRED, f"code expired at {_iso(expires_at)}, now is {_iso(at)}"
            )
        checks[Check.VALIDITY] = CheckOutcome.PASSED

        # (12) §5.3: revocation, failing closed when the data cannot rule it out.
        stage = Check.REVOCATION
        if revocations is None or jti is None:
            checks[Check.REVOCATION] = CheckOutcome.NOT_CHECKED
        else:
            _check_revocation(issuer.id, jti, revocations, notes)
            checks[Check.REVOCATION] = CheckOutcome.PASSED
        return VerificationResult(
            True,
            None,
            "valid",
            int(at),
            profile,
            credential,
            claims,
            issuer_id,
            issuer_name,
            trusted.kid,
            checks,
            tuple(notes),
        )
    except VerificationError as error:
        checks[stage] = CheckOutcome.FAILED
        return VerificationResult(
            valid=False,
            error=error.code,
            message=error.message,
            checked_at=int(at),
            profile=profile,
            issuer=issuer_id,
            issuer_name=issuer_name,
            kid=kid,
            checks=checks,
            notes=tuple(notes),
        )


def _decode_bytes(raw: object, limits: Limits) -> str:
    if not isinstance(raw, bytes):
        raise TypeError(f"verify_credential takes str or bytes, not {type(raw).__name__}")
    if len(raw) > limits.max_input_chars * 4:
        raise VerificationError(ErrorCode.INPUT_TOO_LARGE, "input exceeds the size limit")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise VerificationError(ErrorCode.MALFORMED_INPUT, "input is not UTF-8 text") from exc


def _trust_list_outcome(
    trust: TrustStore, at: float, limits: Limits, notes: list[str]
) -> CheckOutcome:
    # (0) §7.5: the registry's signed time bounds the device clock from below: a clock set back
    # would otherwise revive expired codes. Then §7.6: an expired list is a freeze.
    if trust.signed_at is not None and at + limits.clock_skew_s < trust.signed_at:
        raise VerificationError(
            ErrorCode.CLOCK_BEHIND,
            f"device clock {_iso(at)} is before the trust list's signed time "
            f"{_iso(trust.signed_at)}; fix the clock",
        )
    if trust.expires_at is not None and at > trust.expires_at:
        if at > trust.expires_at + trust.stale_grace_s:
            raise VerificationError(
                ErrorCode.TRUST_LIST_EXPIRED,
                f"trust list version {trust.version} expired at {_iso(trust.expires_at)}; "
                "refresh it from the registry",
            )
        notes.append(f"trust list expired at {_iso(trust.expires_at)} (grace period)")
        return CheckOutcome.STALE
    return CheckOutcome.PASSED


def _diagnose_unknown_kid(
    parsed: ParsedJws, trust: TrustStore, limits: Limits
) -> tuple[str, VerificationError]:
    """The claimed issuer and the error (unknown_issuer or unknown_key) for an unlisted kid."""
    iss = parsed.claims(limits).get("iss")
    if not isinstance(iss, str):
        raise VerificationError(ErrorCode.INVALID_CLAIMS, "claim 'iss' must be a string")
    shown = iss if len(iss) <= 128 else iss[:128] + "..."
    if trust.issuer(iss) is None:
        return shown, VerificationError(
            ErrorCode.UNKNOWN_ISSUER, f"issuer {shown!r} is not in the trust list"
        )
    return shown, VerificationError(
        ErrorCode.UNKNOWN_KEY, f"key {parsed.kid!r} is not listed for issuer {shown!r}"
    )


def _check_revocation(
    issuer_id: str, jti: str, revocations: RevocationChecker, notes: list[str]
) -> None:
    status = revocations.revocation_status(issuer_id, jti)
    as_of = getattr(revocations, "as_of", None)
    if isinstance(as_of, int | float):
        notes.append(_as_of_note(as_of))
    if status is RevocationStatus.REVOKED:
        raise VerificationError(
            ErrorCode.REVOKED, "the issuer revoked this code (the citizen's status changed)"
        )
    if status is not RevocationStatus.NOT_REVOKED:
        raise VerificationError(
            ErrorCode.STATUS_UNCONFIRMED,
            "revocation data is missing or too old to rule out a status change",
        )


@functools.lru_cache(maxsize=256)
def _as_of_note(as_of: float) -> str:
    # The same few sync times recur on every scan; formatting a date costs more than a lookup.
    return f"revocation data as of {_iso(as_of)}"


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
