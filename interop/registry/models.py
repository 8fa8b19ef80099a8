"""Registry storage (SQLModel): issuers, their keys, every published document, the audit log.

Nothing here holds personal data: the registry knows provinces and public keys only.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

__all__ = [
    "AuditRecord",
    "IssuerKeyRecord",
    "IssuerRecord",
    "PendingDocument",
    "PublishedDocument",
    "UsedNonce",
]


def utcnow() -> datetime:
    return datetime.now(UTC)


class IssuerRecord(SQLModel, table=True):
    """One issuer (a province, or a foreign SMART Health Cards issuer)."""

    __tablename__ = "registry_issuer"

    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=128)
    region: str | None = Field(default=None, max_length=6)
    status: str = Field(default="active", max_length=16)
    profile: str = Field(default="hc", max_length=8)
    endpoints_json: str = "{}"
    partner_keys_json: str = "[]"  # JSON array of public JWKs
    created_at: datetime = Field(default_factory=utcnow)


class IssuerKeyRecord(SQLModel, table=True):
    """A credential-signing key of an issuer, with its status and validity window."""

    __tablename__ = "registry_issuer_key"

    kid: str = Field(primary_key=True, max_length=64)
    issuer_id: str = Field(foreign_key="registry_issuer.id", index=True, max_length=64)
    jwk_json: str
    status: str = Field(default="active", max_length=16)
    not_before: int | None = None  # epoch seconds
    not_after: int | None = None


class PublishedDocument(SQLModel, table=True):
    """Every signed root and trust-list version ever published; never updated or deleted."""

    __tablename__ = "registry_document"
    __table_args__ = (UniqueConstraint("kind", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16, index=True)  # "trust_list" or "root"
    version: int
    document_json: str
    etag: str = Field(max_length=80)
    published_at: datetime = Field(default_factory=utcnow)


class PendingDocument(SQLModel, table=True):
    """The next trust-list version while it gathers root signatures (offline root custody).

    At most one exists; a later change re-prepares it (new payload, signatures dropped, since
    they covered the old bytes). When distinct root signatures reach the threshold it becomes
    a `PublishedDocument` and this row is deleted.
    """

    __tablename__ = "registry_pending"

    version: int = Field(primary_key=True)
    kind: str = Field(default="trust_list", max_length=16)
    payload_b64: str  # exactly the bytes every cosigner signs (JWS payload, base64url)
    signatures_json: str = "[]"  # JWS JSON signature objects {protected, signature}
    prepared_at: datetime = Field(default_factory=utcnow)
    prepared_by: str = Field(default="", max_length=64)
    action: str = Field(default="", max_length=32)


class AuditRecord(SQLModel, table=True):
    """Who changed what in the registry, and which trust-list version it produced."""

    __tablename__ = "registry_audit"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow)
    actor: str = Field(max_length=64)
    action: str = Field(max_length=32)
    target: str | None = Field(default=None, max_length=128)
    detail: str = ""
    trust_list_version: int | None = None


class UsedNonce(SQLModel, table=True):
    """Nonces of accepted key-rotation requests, so a captured request cannot be replayed."""

    __tablename__ = "registry_used_nonce"

    nonce: str = Field(primary_key=True, max_length=128)
    issuer_id: str = Field(max_length=64)
    used_at: datetime = Field(default_factory=utcnow)
