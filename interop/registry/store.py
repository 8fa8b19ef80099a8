"""Registry operations as plain functions: each change and the trust-list version it publishes
are one transaction, so a refused or failed change leaves no trace (standard §7.2-§7.4).
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Concatenate, ParamSpec

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from healthcode.config import DEFAULT_LIMITS
from healthcode.credential import ISSUER_ID_PATTERN
from healthcode.errors import ErrorCode, RequestError
from healthcode.idnumber import is_known_division
from healthcode.keys import VerifyingKey
from healthcode.trust import IssuerEntry, IssuerStatus, KeyStatus, Profile, TrustedKey
from healthcode.trustlist import TRUST_LIST_TYP, trust_list_payload, verify_trust_list
from interop.registry.models import (
    AuditRecord,
    IssuerKeyRecord,
    IssuerRecord,
    PublishedDocument,
)
from interop.registry.signing import RootKeyring

__all__ = [
    "DEFAULT_LIST_LIFETIME",
    "audit_log",
    "get_document",
    "issuer_entries",
    "latest_document",
    "onboard_issuer",
    "publish",
    "set_issuer_status",
    "sync_roots",
]

DEFAULT_LIST_LIFETIME = timedelta(days=7)  # §7.2: expires at most 7 days after signed_at
TRUST_LIST, ROOT = "trust_list", "root"
_ENDPOINT_NAMES = frozenset({"partner_api", "jwks", "revocations"})


_P = ParamSpec("_P")


def atomic(
    change: Callable[Concatenate[Session, _P], PublishedDocument],
) -> Callable[Concatenate[Session, _P], PublishedDocument]:
    """Roll the session back when a change is refused, so nothing of it is ever committed
    later by another change on the same session."""

    @functools.wraps(change)
    def run(session: Session, /, *args: _P.args, **kwargs: _P.kwargs) -> PublishedDocument:
        try:
            return change(session, *args, **kwargs)
        except BaseException:
            session.rollback()
            raise

    return run


def _invalid(message: str) -> RequestError:
    return RequestError(ErrorCode.INVALID_REQUEST, message)


def epoch_of(moment: datetime) -> int:
    return int(moment.timestamp())


def load_jwk(jwk: object, what: str) -> VerifyingKey:
    if not isinstance(jwk, Mapping):
        raise _invalid(f"{what} must be a JWK object")
    try:
        return VerifyingKey.from_jwk(jwk)
    except ValueError as exc:
        raise _invalid(f"{what} is refused: {exc}") from exc


def _document_json(document: Mapping[str, Any]) -> tuple[str, str]:
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


# -- publishing -------------------------------------------------------------------------------


def sync_roots(session: Session, keyring: RootKeyring) -> None:
    """Store root versions from the key directory that are not yet served (no commit)."""
    for version, document in keyring.documents():
        if get_document(session, ROOT, version) is None:
            text, etag = _document_json(document)
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
) -> PublishedDocument:
    """Sign the registry's current state as the next trust-list version, audit, and commit.

    Pending changes in `session` are part of the same transaction: they are committed together
    with the new version, or (on any failure) not at all.
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
    document = keyring.sign(payload, TRUST_LIST_TYP)
    # Check what clients will check, so a list they would refuse is never published.
    verify_trust_list(document, keyring.current, limits=DEFAULT_LIMITS)
    text, etag = _document_json(document)
    record = PublishedDocument(
        kind=TRUST_LIST, version=version, document_json=text, etag=etag, published_at=signed_at
    )
    session.add(record)
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
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise RequestError(
            ErrorCode.CONFLICT, "another change published the same version; retry"
        ) from exc
    session.refresh(record)
    return record


# -- changes ----------------------------------------------------------------------------------


def get_issuer(session: Session, issuer_id: str) -> IssuerRecord:
    issuer = session.get(IssuerRecord, issuer_id)
    if issuer is None:
        raise RequestError(ErrorCode.NOT_FOUND, f"no issuer {issuer_id!r} in the registry")
    return issuer


def check_new_kids(session: Session, kids: Sequence[str]) -> None:
    if len(set(kids)) != len(kids):
        raise _invalid("a key is listed twice")
    taken = session.exec(select(IssuerKeyRecord.kid).where(col(IssuerKeyRecord.kid).in_(kids)))
    clash = sorted(taken)
    if clash:
        raise RequestError(ErrorCode.CONFLICT, f"keys already registered: {clash}")


@atomic
def onboard_issuer(
    session: Session,
    keyring: RootKeyring,
    *,
    issuer_id: str,
    name: str,
    region: str | None,
    profile: str,
    endpoints: Mapping[str, str],
    jwks: Mapping[str, Any],
    partner_keys: Sequence[Mapping[str, Any]],
    actor: str,
    now: datetime | None = None,
    lifetime: timedelta = DEFAULT_LIST_LIFETIME,
) -> PublishedDocument:
    """Add an issuer with its initial keys and publish; refuses bad input before any write."""
    at = now or datetime.now(UTC)
    if not ISSUER_ID_PATTERN.fullmatch(issuer_id):
        raise _invalid(f"issuer id {issuer_id!r} must look like 'cn-sc' (a-z, 0-9, '-')")
    if not 0 < len(name) <= 128:
        raise _invalid("name must be 1-128 characters")
    if profile not in {p.value for p in Profile}:
        raise _invalid(f"profile must be 'hc' or 'shc' (got {profile!r})")
    if region is not None and not is_known_division(region):
        raise RequestError(
            ErrorCode.UNKNOWN_REGION, f"region {region!r} is not a GB/T 2260 division code"
        )
    if profile == Profile.HC and region is None:
        raise _invalid("an hc-profile issuer needs its GB/T 2260 region")
    if region is not None:
        for other in session.exec(
            select(IssuerRecord).where(col(IssuerRecord.region).is_not(None))
        ):
            if other.region and other.region[:2] == region[:2]:
                raise RequestError(
                    ErrorCode.CONFLICT,
                    f"province {region[:2]}0000 is already served by {other.id!r} "
                    "(ID look-ups are routed by province)",
                )
    unknown = set(endpoints) - _ENDPOINT_NAMES
    if unknown:
        raise _invalid(f"unknown endpoints {sorted(unknown)}; allowed: {sorted(_ENDPOINT_NAMES)}")
    for endpoint, url in endpoints.items():
        if not url.startswith(("https://", "http://")):
            raise _invalid(f"endpoint {endpoint!r} must be an http(s) URL")
    raw_keys = jwks.get("keys")
    if (
        not isinstance(raw_keys, list)
        or not 0 < len(raw_keys) <= DEFAULT_LIMITS.max_keys_per_issuer
    ):
        raise _invalid(
            f"jwks must hold 1-{DEFAULT_LIMITS.max_keys_per_issuer} keys in a 'keys' array"
        )
    keys = [load_jwk(jwk, f"jwks key {i}") for i, jwk in enumerate(raw_keys)]
    partners = [load_jwk(jwk, f"partner key {i}") for i, jwk in enumerate(partner_keys)]
    if {k.kid for k in keys} & {k.kid for k in partners}:
        raise _invalid("partner keys must be distinct from credential-signing keys")
    if session.get(IssuerRecord, issuer_id) is not None:
        raise RequestError(ErrorCode.CONFLICT, f"issuer {issuer_id!r} is already registered")
    check_new_kids(session, [k.kid for k in keys])
    session.add(
        IssuerRecord(
            id=issuer_id,
            name=name,
            region=region,
            profile=profile,
            endpoints_json=json.dumps(dict(endpoints)),
            partner_keys_json=json.dumps([k.to_jwk() for k in partners]),
            created_at=at,
        )
    )
    session.flush()
    for key in keys:
        session.add(
            IssuerKeyRecord(
                kid=key.kid,
                issuer_id=issuer_id,
                jwk_json=json.dumps(key.to_jwk()),
                not_before=epoch_of(at) - DEFAULT_LIMITS.clock_skew_s,
            )
        )
    return publish(
        session,
        keyring,
        actor=actor,
        action="onboard",
        target=issuer_id,
        detail=f"keys={[k.kid for k in keys]} partner_keys={[k.kid for k in partners]}",
        now=at,
        lifetime=lifetime,
    )


@atomic
def set_issuer_status(
    session: Session,
    keyring: RootKeyring,
    issuer_id: str,
    status: IssuerStatus,
    *,
    actor: str,
    reason: str = "",
    now: datetime | None = None,
    lifetime: timedelta = DEFAULT_LIST_LIFETIME,
) -> PublishedDocument:
    """Suspend or reinstate an issuer and publish at once (§7.2)."""
    issuer = get_issuer(session, issuer_id)
    if issuer.status == status.value:
        raise RequestError(ErrorCode.CONFLICT, f"issuer {issuer_id!r} is already {status.value}")
    issuer.status = status.value
    session.add(issuer)
    action = "suspend" if status is IssuerStatus.SUSPENDED else "reinstate"
    return publish(
        session,
        keyring,
        actor=actor,
        action=action,
        target=issuer_id,
        detail=reason,
        now=now,
        lifetime=lifetime,
    )
