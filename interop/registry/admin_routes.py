"""Registry changes: admin routes (role registry_admin) and the issuers' key-rotation route.

Every change publishes a new trust-list version at once and is audited (store.publish).
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field
from sqlmodel import Session

from healthcode.credential import ISSUER_ID_PATTERN
from healthcode.errors import ErrorCode, RequestError
from healthcode.server.openapi import error_responses
from healthcode.trust import IssuerStatus
from healthcode.trustlist import strict_b64url_decode
from interop.registry import keychanges, store
from interop.registry.deps import AdminDep, ContextDep, RegistryContext, SessionDep, Version
from interop.registry.models import PendingDocument

#: What these operations refuse with, beyond validation (healthcode.server.openapi): a missing
#: or wrong admin token or key proof, a state conflict, a registry it cannot sign for.
router = APIRouter(
    prefix="/v1",
    tags=["registry admin"],
    responses=error_responses(
        ErrorCode.UNAUTHENTICATED,
        ErrorCode.FORBIDDEN,
        ErrorCode.CONFLICT,
        ErrorCode.TRUST_LIST_ROLLBACK,
        ErrorCode.UNKNOWN_REGION,
        ErrorCode.TRUST_LIST_MALFORMED,
        ErrorCode.UPSTREAM_UNAVAILABLE,
    ),
)

_TIME = "%Y-%m-%dT%H:%M:%SZ"


class Published(BaseModel):
    """The trust-list version a change produced: published (201/200), or pending (202) until
    the root holders' cosignatures reach the threshold (offline root custody)."""

    trust_list_version: int
    signed_at: str | None = None
    pending: bool = False
    signatures: int | None = None
    threshold: int | None = None
    #: key rotation only: when the issuer may start signing with the new key (§7.4)
    use_from: str | None = None

    @classmethod
    def of(
        cls,
        record: store.Publication,
        response: Response | None = None,
        *,
        threshold: int | None = None,
    ) -> Published:
        if isinstance(record, PendingDocument):
            if response is not None:
                response.status_code = 202
            return cls(
                trust_list_version=record.version,
                pending=True,
                signatures=len(json.loads(record.signatures_json)),
                threshold=threshold,
            )
        return cls(trust_list_version=record.version, signed_at=record.published_at.strftime(_TIME))


class DetachedSignature(BaseModel):
    """One root holder's signature over a pending version's payload (JWS JSON member)."""

    protected: str = Field(min_length=1, max_length=1024)
    signature: str = Field(min_length=1, max_length=256)


class PendingView(BaseModel):
    """What a cosigner reviews: the exact payload bytes, decoded, and who signed so far."""

    trust_list_version: int
    payload: str
    document: dict[str, Any]
    signed_by: list[str]
    threshold: int
    prepared_at: str
    prepared_by: str
    action: str


class IssuerOnboarding(BaseModel):
    """A new issuer: identity, region, endpoints, initial credential keys, partner keys."""

    id: str = Field(pattern=f"^{ISSUER_ID_PATTERN.pattern}$")
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
    body: IssuerOnboarding,
    admin: AdminDep,
    registry: ContextDep,
    session: SessionDep,
    response: Response,
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
    return Published.of(record, response, threshold=registry.threshold())


@router.post("/admin/issuers/{issuer_id}/suspend")
def suspend(
    issuer_id: str,
    body: Reason,
    admin: AdminDep,
    registry: ContextDep,
    session: SessionDep,
    response: Response,
) -> Published:
    """Suspend an issuer: its codes fail with issuer_suspended from the new version on."""
    return _publish_status(
        IssuerStatus.SUSPENDED, issuer_id, body, admin, registry, session, response
    )


@router.post("/admin/issuers/{issuer_id}/reinstate")
def reinstate(
    issuer_id: str,
    body: Reason,
    admin: AdminDep,
    registry: ContextDep,
    session: SessionDep,
    response: Response,
) -> Published:
    """Reinstate a suspended issuer."""
    return _publish_status(IssuerStatus.ACTIVE, issuer_id, body, admin, registry, session, response)


def _publish_status(
    status: IssuerStatus,
    issuer_id: str,
    body: Reason,
    admin: str,
    registry: RegistryContext,
    session: Session,
    response: Response,
) -> Published:
    """Set an issuer's status and publish the list that carries it (suspend and reinstate)."""
    record = store.set_issuer_status(
        session,
        registry.keyring(),
        issuer_id,
        status,
        actor=admin,
        reason=body.reason,
        lifetime=registry.list_lifetime,
    )
    return Published.of(record, response, threshold=registry.threshold())


@router.post("/admin/issuers/{issuer_id}/keys/{kid}/revoke")
def revoke(
    issuer_id: str,
    kid: str,
    body: Reason,
    admin: AdminDep,
    registry: ContextDep,
    session: SessionDep,
    response: Response,
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
    return Published.of(record, response, threshold=registry.threshold())


@router.post("/admin/publish")
def publish(
    admin: AdminDep, registry: ContextDep, session: SessionDep, response: Response
) -> Published:
    """Re-sign the current state as a new version (the schedule does this daily, §7.2)."""
    record = store.publish(
        session, registry.keyring(), actor=admin, lifetime=registry.list_lifetime
    )
    return Published.of(record, response, threshold=registry.threshold())


@router.get("/admin/pending", responses=error_responses(ErrorCode.NOT_FOUND))
def pending(admin: AdminDep, registry: ContextDep, session: SessionDep) -> PendingView:
    """The version gathering root signatures, for cosigners to review (404 when none)."""
    record = store.pending_version(session)
    if record is None:
        raise RequestError(ErrorCode.NOT_FOUND, "no trust-list version is pending")
    signed_by = [
        json.loads(strict_b64url_decode(item["protected"], "a stored signature"))["kid"]
        for item in json.loads(record.signatures_json)
    ]
    return PendingView(
        trust_list_version=record.version,
        payload=record.payload_b64,
        document=json.loads(strict_b64url_decode(record.payload_b64, "the pending payload")),
        signed_by=signed_by,
        threshold=registry.threshold(),
        prepared_at=record.prepared_at.strftime(_TIME),
        prepared_by=record.prepared_by,
        action=record.action,
    )


@router.post("/admin/pending/{version}/signatures")
def cosign(
    version: Version,
    body: DetachedSignature,
    admin: AdminDep,
    registry: ContextDep,
    session: SessionDep,
    response: Response,
) -> Published:
    """A root holder's detached signature; the version is published at the threshold."""
    record = store.add_signature(
        session, registry.keyring(), version, body.model_dump(), actor=admin
    )
    return Published.of(record, response, threshold=registry.threshold())


@router.get("/admin/audit")
def audit(
    admin: AdminDep, session: SessionDep, limit: int = Query(100, ge=1, le=1000)
) -> list[dict[str, Any]]:
    """The newest registry audit records."""
    return [record.model_dump(mode="json") for record in store.audit_log(session, limit=limit)]


@router.post("/issuers/{issuer_id}/keys", status_code=201)
def rotate_key(
    issuer_id: str,
    body: KeyRotation,
    registry: ContextDep,
    session: SessionDep,
    response: Response,
) -> Published:
    """Key rotation by the issuer itself, authorised by its current key (§7.4). The answer's
    `use_from` says when the issuer may sign with the new key (pending: once published)."""
    delay = timedelta(seconds=registry.settings.key_activation_delay_s)
    record = keychanges.rotate_key(
        session,
        registry.keyring(),
        issuer_id,
        jwk=body.jwk,
        authorization=body.authorization,
        possession=body.possession,
        lifetime=registry.list_lifetime,
        activation_delay=delay,
        cosign_window=timedelta(seconds=registry.settings.cosign_window_s),
    )
    answer = Published.of(record, response, threshold=registry.threshold())
    if not isinstance(record, PendingDocument):
        answer.use_from = (record.published_at + delay).strftime(_TIME)
    return answer


class KeyRevocation(BaseModel):
    """An issuer's own emergency revocation (healthcode.keychange.make_revocation_request)."""

    proof: str = Field(min_length=1, max_length=4096)


@router.post("/issuers/{issuer_id}/keys/{kid}/revoke")
def revoke_own_key(
    issuer_id: str,
    kid: str,
    body: KeyRevocation,
    registry: ContextDep,
    session: SessionDep,
    response: Response,
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
    return Published.of(record, response, threshold=registry.threshold())
