"""Database tables of the issuer service.

No table holds a resident ID number: citizens are keyed by `pseudonymous_subject(...)`, and only
the masked name, the last 4 ID characters and a keyed HMAC of the normalised name are kept.
Times are integer epoch seconds (UTC): portable between SQLite and PostgreSQL without
time-zone surprises. Every time column is a 64-bit `BigInteger` (`Epoch`): a 32-bit column ends
in January 2038, and a risk area listed until 2040 must not fail (migration 0003).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Index
from sqlmodel import Field, SQLModel, UniqueConstraint

# The issuer's schema includes the job leases of healthcode.server (migration 0008).
from healthcode.server.leases import JobLease  # noqa: F401  (registers the table)


def epoch(**options: Any) -> Any:
    """A 64-bit epoch-seconds column (`Field` options pass through)."""
    return Field(sa_type=BigInteger, **options)


class Citizen(SQLModel, table=True):
    """A resident known to this issuer, with the current colour the rules decided."""

    id: int | None = Field(default=None, primary_key=True)
    subject: str = Field(unique=True, index=True, max_length=64)
    masked_name: str = Field(max_length=32)
    id_tail: str = Field(max_length=4)
    #: keyed HMAC of the normalised full name: binding and counter checks compare names by it
    name_hmac: str = Field(max_length=64)
    phone: str | None = Field(default=None, unique=True, index=True, max_length=32)
    division_code: str = Field(max_length=6)
    colour: str = Field(default="green", max_length=8)
    reason: str = Field(default="none", max_length=32)
    reason_zh: str = Field(default="", max_length=200)
    reason_en: str = Field(default="", max_length=200)
    rule_id: str = Field(default="", max_length=64)
    rules_version: str = Field(default="", max_length=64)
    status_until: int | None = epoch(default=None)
    #: an official's decision on a correction that overrides the rules (docs/rules.md §6): it
    #: ends at `override_until`, or earlier when new evidence makes a rule other than the
    #: default match
    override_colour: str | None = Field(default=None, max_length=8)
    override_note: str | None = Field(default=None, max_length=500)
    override_until: int | None = epoch(default=None)
    #: events with an id up to this one were judged by an official's override: the rules
    #: only count events recorded after it (None: every event counts)
    evidence_after: int | None = None
    updated_at: int = epoch(default=0)


class StaffAccount(SQLModel, table=True):
    """An official, admin, counter clerk or checkpoint device; password hashed with scrypt."""

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(unique=True, index=True, max_length=64)
    password_hash: str = Field(max_length=200)
    role: str = Field(max_length=32)
    created_at: int = epoch(default=0)
    #: a disabled account cannot log in and its sessions are revoked (`disable-user`)
    disabled_at: int | None = epoch(default=None)


class AuthSession(SQLModel, table=True):
    """A login: access tokens carry its `id`, and every request checks it is still open.

    Logging out or disabling an account sets `revoked_at`; replicas share this table, so a
    revocation holds on every replica on its next request (after a cache of about a second).
    """

    id: str = Field(primary_key=True, max_length=32)
    #: `citizen:<pseudonym>` or `staff:<username>`
    principal: str = Field(index=True, max_length=120)
    role: str = Field(max_length=32)
    created_at: int = epoch()
    expires_at: int = epoch()
    revoked_at: int | None = epoch(default=None)


class AuthAttempt(SQLModel, table=True):
    """One counted login event (a failure, or a one-time code sent) for rolling-window limits.

    `key` is a keyed HMAC of the phone number, username or client address, never the value.
    """

    __table_args__ = (
        Index("ix_authattempt_scope_key_at", "scope", "key", "at"),
        # Expired rows of every key are pruned by scope and time (limits.record_attempt).
        Index("ix_authattempt_scope_at", "scope", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    scope: str = Field(max_length=32)
    key: str = Field(max_length=64)
    at: int = epoch()


class OtpChallenge(SQLModel, table=True):
    """The outstanding one-time login code of a phone (only its keyed hash)."""

    phone: str = Field(primary_key=True, max_length=32)
    code_hmac: str = Field(max_length=64)
    expires_at: int = epoch()
    attempts: int = 0


class EventRecord(SQLModel, table=True):
    """A health event of a subject (feed row or declaration), as the rules read it."""

    id: int | None = Field(default=None, primary_key=True)
    subject: str = Field(index=True, max_length=64)
    kind: str = Field(max_length=32)
    occurred_at: int = epoch()
    data: str  # JSON object, no personal identifiers
    #: sha256 of the canonical content: importing the same row twice adds nothing
    row_key: str = Field(unique=True, max_length=64)
    source: str = Field(max_length=32)
    created_at: int = epoch(default=0)


class RiskAreaRecord(SQLModel, table=True):
    """A risk area published by the health authority."""

    id: int | None = Field(default=None, primary_key=True)
    area_code: str = Field(index=True, max_length=6)
    level: str = Field(max_length=8)
    valid_from: int = epoch()
    valid_until: int | None = epoch(default=None)
    row_key: str = Field(unique=True, max_length=64)
    created_at: int = epoch(default=0)


class StatusChange(SQLModel, table=True):
    """One entry of a subject's status history."""

    id: int | None = Field(default=None, primary_key=True)
    subject: str = Field(index=True, max_length=64)
    colour: str = Field(max_length=8)
    reason: str = Field(max_length=32)
    rule_id: str = Field(max_length=64)
    rules_version: str = Field(max_length=64)
    changed_at: int = epoch()
    actor: str = Field(max_length=80)
    note: str | None = Field(default=None, max_length=500)


class IssuedCode(SQLModel, table=True):
    """Every credential issued; `revoked_at`/`seq` are set when a status change revokes it."""

    jti: str = Field(primary_key=True, max_length=64)
    subject: str = Field(index=True, max_length=64)
    kind: str = Field(max_length=16)
    issued_at: int = epoch()
    expires_at: int = epoch(index=True)
    token: str  # the signed JWS: a pseudonym, masked name and ID tail, no more
    revoked_at: int | None = epoch(default=None)
    seq: int | None = Field(default=None, index=True)
    #: "iss/jti" of the partner credential a transcoded code was made from (standard §10.3)
    source: str | None = Field(default=None, index=True, max_length=160)


class Revocation(SQLModel, table=True):
    """The revocation feed: the autoincrement id is the sequence number of standard §10.4."""

    seq: int | None = Field(default=None, primary_key=True)
    jti: str = Field(unique=True, max_length=64)
    expires_at: int = epoch(index=True)
    revoked_at: int = epoch()


class PartnerRevocationCursor(SQLModel, table=True):
    """How far this issuer has applied a partner's revocation feed (its `seq`)."""

    issuer: str = Field(primary_key=True, max_length=64)
    seq: int = Field(default=0, sa_type=BigInteger)  # the partner's sequence number
    synced_at: int = epoch(default=0)


class FamilyBinding(SQLModel, table=True):
    """A guardian may see and print a dependent's codes; `ref` is the opaque handle in URLs."""

    __table_args__ = (UniqueConstraint("guardian_subject", "dependent_subject"),)

    id: int | None = Field(default=None, primary_key=True)
    ref: str = Field(unique=True, max_length=32)
    guardian_subject: str = Field(index=True, max_length=64)
    dependent_subject: str = Field(index=True, max_length=64)
    created_at: int = epoch()
    #: how it was made: `guardian` (a minor, bound directly), `consent` (the adult approved in
    #: their app), `counter` (staff, with ID cards in hand); `legacy` before migration 0005
    bound_by: str = Field(default="legacy", max_length=16)
    #: a minor bound without consent: the binding ends when they turn 18 (epoch seconds)
    minor_until: int | None = epoch(default=None)


class FamilyRequest(SQLModel, table=True):
    """A guardian's request to bind an adult who has an account; nothing is bound until that
    adult approves it in their own app. `id` is the opaque handle in URLs."""

    id: str = Field(primary_key=True, max_length=32)
    guardian_subject: str = Field(index=True, max_length=64)
    dependent_subject: str = Field(index=True, max_length=64)
    #: pending, approved, declined, withdrawn
    state: str = Field(default="pending", max_length=16)
    created_at: int = epoch()
    expires_at: int = epoch()
    answered_at: int | None = epoch(default=None)


class Correction(SQLModel, table=True):
    """A correction request (纠错) and its outcome."""

    id: int | None = Field(default=None, primary_key=True)
    subject: str = Field(index=True, max_length=64)
    filed_by: str = Field(max_length=80)
    reason: str = Field(max_length=1000)
    state: str = Field(default="open", max_length=16)  # open, accepted, rejected
    decision_note: str | None = Field(default=None, max_length=1000)
    override_colour: str | None = Field(default=None, max_length=8)
    override_until: int | None = epoch(default=None)
    decided_by: str | None = Field(default=None, max_length=80)
    decided_at: int | None = epoch(default=None)
    created_at: int = epoch()


class AuditEntry(SQLModel, table=True):
    """Who read or changed whose personal data, when and why."""

    id: int | None = Field(default=None, primary_key=True)
    at: int = epoch(index=True)
    actor: str = Field(max_length=80)
    action: str = Field(max_length=64)
    subject: str | None = Field(default=None, index=True, max_length=64)
    reason: str | None = Field(default=None, max_length=500)
