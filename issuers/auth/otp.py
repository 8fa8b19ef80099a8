"""Citizen login by one-time code sent to the phone: request and verify, both rate-limited."""

from __future__ import annotations

import hmac
import secrets
import time

from sqlmodel import Session, select

from healthcode.errors import ErrorCode, RequestError
from issuers.audit import audit
from issuers.auth.staff import attempt_secret
from issuers.limits import Limit, Scope, check_limits, record_attempts
from issuers.models import Citizen, OtpChallenge
from issuers.settings import IssuerSettings

_OTP_CONTEXT = b"hc-otp-v1:"


def _otp_hmac(phone: str, code: str, secret: bytes) -> str:
    return hmac.new(secret, _OTP_CONTEXT + f"{phone}:{code}".encode(), "sha256").hexdigest()


def request_otp(
    session: Session,
    phone: str,
    secret: bytes,
    *,
    settings: IssuerSettings,
    address: str,
    now: float | None = None,
) -> str | None:
    """Create a login code for a known phone; returns it (for the caller to deliver after
    its commit) or None.

    An unknown phone gets the same answer from the API (no code is sent), so the endpoint does
    not reveal who is registered; the limits on codes per phone and per address count every
    request alike, for the same reason.
    """
    at = int(time.time() if now is None else now)
    window = settings.otp_request_window_s
    attempts = attempt_secret(settings)
    limits = (
        Limit.keyed(
            attempts,
            Scope.OTP_SENT_PHONE,
            phone,
            limit=settings.otp_request_limit,
            what="login codes requested for this phone",
        ),
        Limit.keyed(
            attempts,
            Scope.OTP_SENT_ADDRESS,
            address,
            limit=settings.otp_request_limit_per_address,
            what="login codes requested from this address",
        ),
    )
    check_limits(session, limits, window_s=window, now=at)
    record_attempts(session, limits, window_s=window, now=at)
    if session.exec(select(Citizen).where(Citizen.phone == phone)).first() is None:
        return None
    lifetime_s = settings.otp_lifetime_s
    challenge = session.get(OtpChallenge, phone, with_for_update=True)
    resend = settings.otp_resend_interval_s
    if challenge is not None and at < challenge.expires_at - lifetime_s + resend:
        # One code per interval: requesting codes in a loop must not multiply guessing chances.
        return None
    code = f"{secrets.randbelow(10**6):06d}"
    if challenge is None:
        challenge = OtpChallenge(phone=phone, code_hmac="", expires_at=0)
    challenge.code_hmac = _otp_hmac(phone, code, secret)
    challenge.expires_at = at + lifetime_s
    challenge.attempts = 0
    session.add(challenge)
    return code


def verify_otp(
    session: Session,
    phone: str,
    code: str,
    secret: bytes,
    *,
    settings: IssuerSettings,
    now: float | None = None,
) -> Citizen:
    """Check a login code (single use, bounded attempts per code and per phone over a rolling
    window); returns the citizen. A failure is counted, audited and committed, then raised."""
    at = int(time.time() if now is None else now)
    window = settings.otp_failure_window_s
    per_phone = Limit.keyed(
        attempt_secret(settings),
        Scope.OTP_FAILED_PHONE,
        phone,
        limit=settings.otp_failure_limit,
        what="wrong login codes for this phone",
    )
    citizen = session.exec(select(Citizen).where(Citizen.phone == phone)).first()
    # Audit names the citizen by pseudonym, an unknown phone by a keyed hash: never the number.
    subject = None if citizen is None else citizen.subject
    actor = f"citizen:{subject}" if subject else f"phone:{per_phone.key[:16]}"

    def refuse(problem: RequestError) -> RequestError:
        audit(session, actor=actor, action="login_failed", subject=subject, reason=problem.message)
        session.commit()
        return problem

    try:
        check_limits(session, (per_phone,), window_s=window, now=at)
    except RequestError as limited:
        raise refuse(limited) from None
    challenge = session.get(OtpChallenge, phone, with_for_update=True)
    problem = None
    if (
        challenge is None
        or challenge.expires_at < at
        or challenge.attempts >= settings.otp_max_attempts
    ):
        problem = RequestError(
            ErrorCode.OTP_EXPIRED, "no valid login code for this phone; request a new one"
        )
    elif not hmac.compare_digest(challenge.code_hmac, _otp_hmac(phone, code, secret)):
        challenge.attempts += 1
        session.add(challenge)
        problem = RequestError(ErrorCode.OTP_WRONG, "wrong login code; check the SMS")
    elif citizen is None:
        problem = RequestError(
            ErrorCode.OTP_EXPIRED, "no valid login code for this phone; request a new one"
        )
    if problem is not None:
        record_attempts(session, (per_phone,), window_s=window, now=at)
        raise refuse(problem)
    assert challenge is not None
    assert citizen is not None
    session.delete(challenge)
    return citizen
