"""What every registry change shares: `atomic`, document kinds and lifetimes, and the reads
(issuer entries, published documents, the audit log).
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Concatenate, ParamSpec

from sqlmodel import Session, col, select

from healthcode.errors import ErrorCode, RequestError
from healthcode.keys import VerifyingKey
from healthcode.trust import IssuerEntry, IssuerStatus, KeyStatus, Profile, TrustedKey
from interop.registry.models import (
    AuditRecord,
    IssuerKeyRecord,
    IssuerRecord,
    PendingDocument,
    PublishedDocument,
)

DEFAULT_LIST_LIFETIME = timedelta(days=7)  # §7.2: expires at most 7 days after signed_at
DEFAULT_TIMESTAMP_LIFETIME = timedelta(days=1)  # §7.7
#: A cosigned version is published only with at least this much validity left (§7.7): one
#: expiring sooner would reach verifiers (nearly) expired, and they would refuse it as a
#: freeze within the hour; it has to be re-proposed instead.
MIN_PUBLISH_VALIDITY = timedelta(hours=1)
TRUST_LIST, ROOT, TIMESTAMP = "trust_list", "root", "timestamp"
#: What a change produced: a published version, or (root keys offline) a pending one.
Publication = PublishedDocument | PendingDocument
ENDPOINT_NAMES = frozenset({"partner_api", "jwks", "revocations"})


_P = ParamSpec("_P")


def atomic(
    change: Callable[Concatenate[Session, _P], Publication],
) -> Callable[Concatenate[Session, _P], Publication]:
    """Roll the session back when a change is refused, so nothing of it is ever committed
    later by another change on the same session."""

    @functools.wraps(change)
    def run(session: Session, /, *args: _P.args, **kwargs: _P.kwargs) -> Publication:
        try:
            return change(session, *args, **kwargs)
        except BaseException:
            session.rollback()
            raise

    return run


def invalid_request(message: str) -> RequestError:
    return RequestError(ErrorCode.INVALID_REQUEST, message)


def epoch_of(moment: datetime) -> int:
    return int(moment.timestamp())


def load_jwk(jwk: object, what: str) -> VerifyingKey:
    if not isinstance(jwk, Mapping):
        raise invalid_request(f"{what} must be a JWK object")
    try:
        return VerifyingKey.from_jwk(jwk)
    except ValueError as exc:
        raise invalid_request(f"{what} is refused: {exc}") from exc


def document_json(document: Mapping[str, Any]) -> tuple[str, str]:
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    return text, '"' + hashlib.sha256(text.encode("utf-8")).hexdigest()[:32] + '"'


# -- reading ----------------------------------------------------------------------------------


def issuer_entries(session: Session) -> list[IssuerEntry]:
    """Every issuer with its keys, as the trust list will describe them."""
    keys: dict[str, list[TrustedKey]] = {}
    for record in session.exec(select(IssuerKeyRecord).order_by(col(IssuerKeyRecord.kid))):
        keys.setdefault(record.issuer_id, []).append(
            TrustedKey(
                VerifyingKey.from_jwk(json.loads(record.jwk_json)),
                status=KeyStatus(record.status),
                not_before=record.not_before,
                not_after=record.not_after,
            )
        )
    return [
        IssuerEntry(
            id=issuer.id,
            name=issuer.name,
            keys=tuple(keys.get(issuer.id, ())),
            region=issuer.region,
            status=IssuerStatus(issuer.status),
            profile=Profile(issuer.profile),
            endpoints=json.loads(issuer.endpoints_json),
            partner_keys=tuple(
                VerifyingKey.from_jwk(jwk) for jwk in json.loads(issuer.partner_keys_json)
            ),
        )
        for issuer in session.exec(select(IssuerRecord).order_by(col(IssuerRecord.id)))
    ]


def latest_document(session: Session, kind: str) -> PublishedDocument | None:
    """The newest published document of `kind` ("trust_list" or "root")."""
    return session.exec(
        select(PublishedDocument)
        .where(PublishedDocument.kind == kind)
        .order_by(col(PublishedDocument.version).desc())
        .limit(1)
    ).first()


def get_document(session: Session, kind: str, version: int) -> PublishedDocument | None:
    """One published version, or None."""
    return session.exec(
        select(PublishedDocument).where(
            PublishedDocument.kind == kind, PublishedDocument.version == version
        )
    ).first()


def audit_log(session: Session, *, limit: int = 100) -> list[AuditRecord]:
    """The newest audit records first."""
    return list(session.exec(select(AuditRecord).order_by(col(AuditRecord.id).desc()).limit(limit)))
