"""verify_credential against the trust it is given: issuer and key status, revocation, time."""

from __future__ import annotations

from typing import Any

import pytest

from healthcode import (
    Check,
    CheckOutcome,
    ErrorCode,
    IssuerEntry,
    IssuerStatus,
    KeyStatus,
    RevocationStatus,
    SigningKey,
    TrustedKey,
    TrustStore,
    verify_credential,
)
from tests.conftest import NOW, MakeToken


def _store(key: SigningKey, **entry: Any) -> TrustStore:
    trusted = entry.pop("trusted", TrustedKey(key.verifying_key))
    return TrustStore([IssuerEntry("cn-sc", "SC", (trusted,), **entry)])


def test_suspended_issuer_refused(make_token: MakeToken, issuer_key: SigningKey) -> None:
    store = _store(issuer_key, status=IssuerStatus.SUSPENDED)
    assert verify_credential(make_token(), store, now=NOW).error is ErrorCode.ISSUER_SUSPENDED


def test_revoked_key_refused(make_token: MakeToken, issuer_key: SigningKey) -> None:
    store = _store(issuer_key, trusted=TrustedKey(issuer_key.verifying_key, KeyStatus.REVOKED))
    assert verify_credential(make_token(), store, now=NOW).error is ErrorCode.KEY_REVOKED


def test_retired_key_verifies_inside_its_window_only(
    make_token: MakeToken, issuer_key: SigningKey
) -> None:
    retired = TrustedKey(issuer_key.verifying_key, KeyStatus.RETIRED, not_after=NOW)
    store = _store(issuer_key, trusted=retired)
    assert verify_credential(make_token(now=NOW), store, now=NOW + 5).valid
    late = verify_credential(make_token(now=NOW + 1), store, now=NOW + 5)
    assert late.error is ErrorCode.KEY_NOT_VALID


class _Revocations:
    def __init__(self, status: RevocationStatus) -> None:
        self.status = status
        self.as_of = NOW - 30
        self.asked: list[tuple[str, str]] = []

    def revocation_status(self, issuer: str, jti: str) -> RevocationStatus:
        self.asked.append((issuer, jti))
        return self.status


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (RevocationStatus.NOT_REVOKED, None),
        (RevocationStatus.REVOKED, ErrorCode.REVOKED),
        (RevocationStatus.UNKNOWN, ErrorCode.STATUS_UNCONFIRMED),
    ],
)
def test_revocation_fails_closed(
    make_token: MakeToken, trust: TrustStore, status: RevocationStatus, error: ErrorCode | None
) -> None:
    checker = _Revocations(status)
    result = verify_credential(make_token(), trust, now=NOW, revocations=checker)
    assert result.error is error
    assert checker.asked
    assert checker.asked[0][0] == "cn-sc"
    assert any("revocation data as of" in note for note in result.notes)


def test_clock_behind_signed_trust_time_refused(
    make_token: MakeToken, issuer_key: SigningKey
) -> None:
    store = TrustStore(
        [IssuerEntry("cn-sc", "SC", (TrustedKey(issuer_key.verifying_key),))],
        signed_at=NOW + 86400,
    )
    # The code would be valid at NOW, but the registry signed its list a day later: the
    # device clock is wrong and a set-back clock must not revive codes.
    assert verify_credential(make_token(), store, now=NOW).error is ErrorCode.CLOCK_BEHIND


def test_expired_trust_list_grace_then_refused(
    make_token: MakeToken, issuer_key: SigningKey
) -> None:
    entries = [IssuerEntry("cn-sc", "SC", (TrustedKey(issuer_key.verifying_key),))]
    store = TrustStore(entries, version=3, expires_at=NOW - 10, stale_grace_s=60)
    stale = verify_credential(make_token(), store, now=NOW)
    assert stale.valid
    assert stale.checks[Check.TRUST_LIST] is CheckOutcome.STALE
    frozen = TrustStore(entries, version=3, expires_at=NOW - 100, stale_grace_s=60)
    assert verify_credential(make_token(), frozen, now=NOW).error is ErrorCode.TRUST_LIST_EXPIRED
