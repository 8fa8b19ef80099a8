"""Registry changes: admin routes (role registry_admin) and the issuers' key-rotation route.

Every change publishes a new trust-list version at once and is audited (store.publish).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from healthcode.trust import IssuerStatus
from interop.registry import keychanges, store
from interop.registry.deps import AdminDep, ContextDep, SessionDep
from interop.registry.models import PublishedDocument

router = APIRouter(prefix="/v1", tags=["registry admin"])


class Published(BaseModel):
    """The trust-list version a change produced."""

    trust_list_version: int
    signed_at: str

    @classmethod
    def of(cls, record: PublishedDocument) -> Published:
        return cls(
            trust_list_version=record.version,
            signed_at=record.published_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        )


class IssuerOnboarding(BaseModel):
    """A new issuer: identity, region, endpoints, initial credential keys, partner keys."""

    id: str = Field(min_length=2, max_length=63)
    name: str = Field(min_length=1, max_length=128)
    region: str | None = Field(default=None, pattern=r"^\d{6}$")
    profile: str = "hc"
    endpoints: dict[str, str] = Field(default_factory=dict)
    jwks: dict[str, Any]
    partner_keys: list[dict[str, Any]] = Field(default_factory=list, max_length=16)


class Reason(BaseModel):
    """Why an admin acted (kept in the audit log)."""

    reason: str = Field(default="", max_length=500)


class KeyRotation(BaseModel):
    """A new key with its two proofs (healthcode.keychange.make_rotation_request)."""

    jwk: dict[str, Any]
    authorization: str = Field(min_length=1, max_length=4096)
    possession: str = Field(min_length=1, max_length=4096)


@router.post("/admin/issuers", status_code=201)
def onboard(
    body: IssuerOnboarding, admin: AdminDep, registry: ContextDep, session: SessionDep
) -> Published:
    """Onboard an issuer and publish."""
    record = store.onboard_issuer(
        session,
        registry.keyring(),
        issuer_id=body.id,
        name=body.name,
        region=body.region,
        profile=body.profile,
        endpoints=body.endpoints,
        jwks=body.jwks,
        partner_keys=body.partner_keys,
        actor=admin,
        lifetime=registry.list_lifetime,
    )
    return Published.of(record)


@router.post("/admin/issuers/{issuer_id}/suspend")
def suspend(
    issuer_id: str, body: Reason, admin: AdminDep, registry: ContextDep, session: SessionDep
) -> Published:
    """Suspend an issuer: its codes fail with issuer_suspended from the new version on."""
    record = store.set_issuer_status(
        session,
        registry.keyring(),
        issuer_id,
        IssuerStatus.SUSPENDED,
        actor=admin,
        reason=body.reason,
        lifetime=registry.list_lifetime,
    )
    return Published.of(record)


@router.post("/admin/issuers/{issuer_id}/reinstate")
def reinstate(
    issuer_id: str, body: Reason, admin: AdminDep, registry: ContextDep, session: SessionDep
) -> Published:
    """Reinstate a suspended issuer."""
    record = store.set_issuer_status(
        session,
        registry.keyring(),
        issuer_id,
        IssuerStatus.ACTIVE,
        actor=admin,
        reason=body.reason,
        lifetime=registry.list_lifetime,
    )
    return Published.of(record)


@router.post("/admin/issuers/{issuer_id}/keys/{kid}/revoke")
def revoke(
    issuer_id: str,
    kid: str,
    body: Reason,
    admin: AdminDep,
    registry: ContextDep,
    session: SessionDep,
) -> Published:
    """Emergency key revocation: published at once; codes signed by the key fail key_revoked."""
    record = keychanges.revoke_key(
        session,
        registry.keyring(),
        issuer_id,
        kid,
        actor=admin,
        reason=body.reason,
        lifetime=registry.list_lifetime,
    )
    return Published.of(record)


@router.post("/admin/publish")
def publish(admin: AdminDep, registry: ContextDep, session: SessionDep) -> Published:
    """Re-sign the current state as a new version (the daily re-publication of §7.2)."""
    record = store.publish(
        session, registry.keyring(), actor=admin, lifetime=registry.list_lifetime
    )
    return Published.of(record)


@router.get("/admin/audit")
def audit(
    admin: AdminDep, session: SessionDep, limit: int = Query(100, ge=1, le=1000)
) -> list[dict[str, Any]]:
    """The newest registry audit records."""
    return [record.model_dump(mode="json") for record in store.audit_log(session, limit=limit)]


@router.post("/issuers/{issuer_id}/keys", status_code=201)
def rotate_key(
    issuer_id: str, body: KeyRotation, registry: ContextDep, session: SessionDep
) -> Published:
    """Key rotation by the issuer itself, authorised by its current key (§7.4)."""
    record = keychanges.rotate_key(
        session,
        registry.keyring(),
        issuer_id,
        jwk=body.jwk,
        authorization=body.authorization,
        possession=body.possession,
        lifetime=registry.list_lifetime,
    )
    return Published.of(record)


class KeyRevocation(BaseModel):
    """An issuer's own emergency revocation (healthcode.keychange.make_revocation_request)."""

    proof: str = Field(min_length=1, max_length=4096)


@router.post("/issuers/{issuer_id}/keys/{kid}/revoke")
def revoke_own_key(
    issuer_id: str, kid: str, body: KeyRevocation, registry: ContextDep, session: SessionDep
) -> Published:
    """Emergency revocation by the issuer itself, proven by one of its keys (§7.4)."""
    record = keychanges.revoke_key_by_issuer(
        session,
        registry.keyring(),
        issuer_id,
        kid,
        proof=body.proof,
        lifetime=registry.list_lifetime,
    )
    return Published.of(record)
