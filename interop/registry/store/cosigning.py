"""Cosigning a pending version: each signature checked against the current root, the version
published once the threshold is met with enough validity left.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session, select

from healthcode.errors import ErrorCode, RequestError, TrustListError, VerificationError
from healthcode.jws import check_document_signature, parse_document
from healthcode.trustlist import (
    MAX_DOCUMENT_BYTES,
    TRUST_LIST_TYP,
    decode_unsigned_trust_list,
    format_time,
    parse_time,
    peek_payload,
    strict_b64url_decode,
)
from interop.registry.models import (
    AuditRecord,
    PendingDocument,
)
from interop.registry.signing import RootKeyring
from interop.registry.store.common import MIN_PUBLISH_VALIDITY, Publication, atomic
from interop.registry.store.publication import commit_change, store_list

_MAX_COMPACT = 2 * MAX_DOCUMENT_BYTES


def _checked_signature(
    keyring: RootKeyring, pending: PendingDocument, signature: Mapping[str, Any]
) -> tuple[str, dict[str, str]]:
    """(kid, signature object) of a detached root signature over the pending payload."""
    protected, value = signature.get("protected"), signature.get("signature")
    if not isinstance(protected, str) or not isinstance(value, str):
        raise TrustListError(
            ErrorCode.TRUST_LIST_MALFORMED, "a signature is {protected, signature}"
        )
    # The one signed-document parser, as verifiers read the published document (strict
    # base64url, header exactly {alg: ES256, kid, typ}, r||s): a signature stored here that
    # they would refuse would make every verifier refuse the document it ends up in.
    try:
        parsed = parse_document(
            f"{protected}.{pending.payload_b64}.{value}", typ=TRUST_LIST_TYP, max_chars=_MAX_COMPACT
        )
    except VerificationError as exc:
        raise TrustListError(
            ErrorCode.TRUST_LIST_MALFORMED, f"the signature is refused: {exc.message}"
        ) from exc
    kid = parsed.kid
    key = keyring.current.keys.get(kid)
    if key is None:
        raise TrustListError(
            ErrorCode.TRUST_LIST_UNKNOWN_ROOT_KEY,
            f"{kid!r} is not a key of root version {keyring.current.version}",
        )
    try:
        check_document_signature(parsed, key)
    except VerificationError:
        raise TrustListError(
            ErrorCode.TRUST_LIST_BAD_SIGNATURE,
            f"the signature by {kid!r} does not verify over pending version {pending.version}",
        ) from None
    return kid, {"protected": protected, "signature": value}


def check_publishable(keyring: RootKeyring, pending: PendingDocument, at: datetime) -> None:
    """Refuse a pending version that can no longer be published usefully: under another root
    than the current one, or with less than `MIN_PUBLISH_VALIDITY` left. Checked on every
    cosignature, so officers learn at once rather than when the last one signs."""
    proposed = decode_unsigned_trust_list(pending.payload_b64, keyring.current)
    if proposed.expires - at < MIN_PUBLISH_VALIDITY:
        raise TrustListError(
            ErrorCode.TRUST_LIST_EXPIRED,
            f"pending version {pending.version} expires at {format_time(proposed.expires)}, "
            f"less than {int(MIN_PUBLISH_VALIDITY.total_seconds()) // 60} minutes from now: "
            "verifiers would get it (nearly) expired. It is not published; re-propose it "
            "(POST /v1/admin/publish or `healthcode registry publish`) and cosign the new "
            "version",
        )


@atomic
def add_signature(
    session: Session,
    keyring: RootKeyring,
    version: int,
    signature: Mapping[str, Any],
    *,
    actor: str,
    now: datetime | None = None,
) -> Publication:
    """Add one root holder's detached signature to the pending version; publish it when the
    distinct signers reach the root's threshold (§7.2 item 4)."""
    at = (now or datetime.now(UTC)).replace(microsecond=0)
    pending = session.exec(
        select(PendingDocument).where(PendingDocument.version == version).with_for_update()
    ).first()
    if pending is None:
        raise RequestError(ErrorCode.NOT_FOUND, f"no pending trust-list version {version}")
    check_publishable(keyring, pending, at)
    kid, checked = _checked_signature(keyring, pending, signature)
    collected = {
        json.loads(strict_b64url_decode(item["protected"], "a stored signature"))["kid"]: item
        for item in json.loads(pending.signatures_json)
    }
    collected[kid] = checked  # a kid counts once however often it signs
    if len(set(collected) & set(keyring.current.keys)) < keyring.current.threshold:
        pending.signatures_json = json.dumps(list(collected.values()))
        session.add(pending)
        session.add(
            AuditRecord(
                at=at, actor=actor, action="cosign", target=str(version), detail=f"kid={kid}"
            )
        )
        commit_change(session)
        session.refresh(pending)
        return pending
    document = {"payload": pending.payload_b64, "signatures": list(collected.values())}
    signed_at = parse_time(peek_payload(document)["signed_at"], "signed_at")
    record = store_list(session, keyring, document, version, signed_at)
    session.delete(pending)
    session.add(
        AuditRecord(
            at=at,
            actor=actor,
            action="cosign",
            target=str(version),
            detail=f"kid={kid}; published ({pending.action} by {pending.prepared_by})",
            trust_list_version=version,
        )
    )
    commit_change(session)
    session.refresh(record)
    return record
