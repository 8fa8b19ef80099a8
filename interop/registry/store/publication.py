"""Publishing a trust-list version after a change: signed at once with the root keys on
hand, or left pending for cosigners (standard §7.2-§7.4).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from healthcode.config import DEFAULT_LIMITS
from healthcode.errors import ErrorCode, RequestError
from healthcode.keys import b64url_encode
from healthcode.trustlist import (
    TRUST_LIST_TYP,
    sign_document,
    trust_list_payload,
    verify_trust_list,
)
from interop.registry.models import (
    AuditRecord,
    PendingDocument,
    PublishedDocument,
)
from interop.registry.signing import RootKeyring
from interop.registry.store.common import (
    DEFAULT_LIST_LIFETIME,
    ROOT,
    TRUST_LIST,
    Publication,
    atomic,
    document_json,
    get_document,
    issuer_entries,
)

# -- publishing -------------------------------------------------------------------------------


def sync_roots(session: Session, keyring: RootKeyring) -> None:
    """Store root versions from the key directory that are not yet served (no commit)."""
    for version, document in keyring.documents():
        if get_document(session, ROOT, version) is None:
            text, etag = document_json(document)
            session.add(
                PublishedDocument(kind=ROOT, version=version, document_json=text, etag=etag)
            )


@atomic
def publish(
    session: Session,
    keyring: RootKeyring,
    *,
    actor: str,
    action: str = "publish",
    target: str | None = None,
    detail: str = "",
    now: datetime | None = None,
    lifetime: timedelta = DEFAULT_LIST_LIFETIME,
) -> Publication:
    """Sign the registry's current state as the next trust-list version, audit, and commit.

    Pending changes in `session` are part of the same transaction: they are committed together
    with the new version, or (on any failure) not at all. When this machine holds fewer root
    keys than the threshold (offline custody, ADR 0007) the version is prepared as pending,
    signed by what is held, and published once the officers' cosignatures reach the threshold
    (`add_signature`); the change itself is committed, and emergency removals of trust reach
    clients at once through the timestamp (`publish_timestamp`).
    """
    signed_at = (now or datetime.now(UTC)).replace(microsecond=0)
    sync_roots(session, keyring)
    session.flush()
    newest = session.exec(
        select(func.max(PublishedDocument.version)).where(PublishedDocument.kind == TRUST_LIST)
    ).one()
    version = (newest or 0) + 1
    payload = trust_list_payload(
        version, keyring.current.version, signed_at, signed_at + lifetime, issuer_entries(session)
    )
    if not keyring.can_sign:
        pending = _prepare_pending(session, keyring, payload, version, actor=actor, action=action)
        session.add(
            AuditRecord(
                at=signed_at,
                actor=actor,
                action=action,
                target=target,
                detail=(detail + " " if detail else "") + f"(pending version {version})",
            )
        )
        commit_change(session)
        session.refresh(pending)
        return pending
    document = keyring.sign(payload, TRUST_LIST_TYP)
    record = store_list(session, keyring, document, version, signed_at)
    session.add(
        AuditRecord(
            at=signed_at,
            actor=actor,
            action=action,
            target=target,
            detail=detail,
            trust_list_version=version,
        )
    )
    commit_change(session)
    session.refresh(record)
    return record


def commit_change(session: Session) -> None:
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise RequestError(
            ErrorCode.CONFLICT, "another change published the same version; retry"
        ) from exc


def store_list(
    session: Session,
    keyring: RootKeyring,
    document: Mapping[str, Any],
    version: int,
    signed_at: datetime,
) -> PublishedDocument:
    # Check what clients will check, so a list they would refuse is never published.
    verify_trust_list(document, keyring.current, limits=DEFAULT_LIMITS)
    text, etag = document_json(document)
    record = PublishedDocument(
        kind=TRUST_LIST, version=version, document_json=text, etag=etag, published_at=signed_at
    )
    session.add(record)
    return record


def _payload_b64(payload: Mapping[str, Any]) -> str:
    # The exact bytes `sign_document` signs, so held and cosigned signatures cover one payload.
    return b64url_encode(
        json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    )


def _prepare_pending(
    session: Session,
    keyring: RootKeyring,
    payload: Mapping[str, Any],
    version: int,
    *,
    actor: str,
    action: str,
) -> PendingDocument:
    held = keyring.signers()
    signatures = sign_document(payload, held, TRUST_LIST_TYP)["signatures"] if held else []
    # A newer state supersedes a version still gathering signatures: they covered old bytes.
    for stale in session.exec(select(PendingDocument)):
        session.delete(stale)
    session.flush()
    pending = PendingDocument(
        version=version,
        payload_b64=_payload_b64(payload),
        signatures_json=json.dumps(signatures),
        prepared_by=actor,
        action=action,
    )
    session.add(pending)
    return pending


def pending_version(session: Session) -> PendingDocument | None:
    """The version gathering root signatures, if any."""
    return session.exec(select(PendingDocument).order_by(col(PendingDocument.version))).first()
