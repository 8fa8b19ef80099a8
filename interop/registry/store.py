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
from healthcode.errors import ErrorCode, RequestError, TrustListError, VerificationError
from healthcode.idnumber import is_known_division
from healthcode.jws import check_document_signature, parse_document
from healthcode.keys import VerifyingKey, b64url_encode
from healthcode.trust import IssuerEntry, IssuerStatus, KeyStatus, Profile, TrustedKey
from healthcode.trustlist import (
    MAX_DOCUMENT_BYTES,
    TIMESTAMP_TYP,
    TRUST_LIST_TYP,
    decode_unsigned_trust_list,
    format_time,
    parse_time,
    peek_payload,
    sign_document,
    strict_b64url_decode,
    timestamp_payload,
    trust_list_payload,
    verify_trust_list,
)
from interop.registry.models import (
    AuditRecord,
    IssuerKeyRecord,
    IssuerRecord,
    PendingDocument,
    PublishedDocument,
)
from interop.registry.signing import RootKeyring

__all__ = [
    "DEFAULT_LIST_LIFETIME",
    "DEFAULT_TIMESTAMP_LIFETIME",
    "MIN_PUBLISH_VALIDITY",
    "Publication",
    "add_signature",
    "audit_log",
    "get_document",
    "issuer_entries",
    "latest_document",
    "onboard_issuer",
    "pending_version",
    "publish",
    "publish_timestamp",
    "run_schedule",
    "set_issuer_status",
    "sync_roots",
]

DEFAULT_LIST_LIFETIME = timedelta(days=7)  # §7.2: expires at most 7 days after signed_at
DEFAULT_TIMESTAMP_LIFETIME = timedelta(days=1)  # §7.7
#: A cosigned version is published only with at least this much validity left (§7.7): one
#: expiring sooner would reach verifiers (nearly) expired, and they would refuse it as a
#: freeze within the hour; it has to be re-proposed instead.
MIN_PUBLISH_VALIDITY = timedelta(hours=1)
TRUST_LIST, ROOT, TIMESTAMP = "trust_list", "root", "timestamp"
#: What a change produced: a published version, or (root keys offline) a pending one.
Publication = PublishedDocument | PendingDocument
_ENDPOINT_NAMES = frozenset({"partner_api", "jwks", "revocations"})


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
        _commit(session)
        session.refresh(pending)
        return pending
    document = keyring.sign(payload, TRUST_LIST_TYP)
    record = _store_list(session, keyring, document, version, signed_at)
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
    _commit(session)
    session.refresh(record)
    return record


def _commit(session: Session) -> None:
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise RequestError(
            ErrorCode.CONFLICT, "another change published the same version; retry"
        ) from exc


def _store_list(
    session: Session,
    keyring: RootKeyring,
    document: Mapping[str, Any],
    version: int,
    signed_at: datetime,
) -> PublishedDocument:
    # Check what clients will check, so a list they would refuse is never published.
    verify_trust_list(document, keyring.current, limits=DEFAULT_LIMITS)
    text, etag = _document_json(document)
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


def _check_publishable(keyring: RootKeyring, pending: PendingDocument, at: datetime) -> None:
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
    _check_publishable(keyring, pending, at)
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
        _commit(session)
        session.refresh(pending)
        return pending
    document = {"payload": pending.payload_b64, "signatures": list(collected.values())}
    signed_at = parse_time(peek_payload(document)["signed_at"], "signed_at")
    record = _store_list(session, keyring, document, version, signed_at)
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
    _commit(session)
    session.refresh(record)
    return record


def _trust_removals(session: Session, published: PublishedDocument) -> tuple[set[str], set[str]]:
    """Keys revoked and issuers suspended in the registry since `published` was signed."""
    listed = peek_payload(published.document_json.encode("utf-8")).get("issuers", [])
    live_keys = {
        key["jwk"]["kid"]
        for entry in listed
        for key in entry.get("keys", [])
        if key.get("status") != KeyStatus.REVOKED
    }
    active = {entry["id"] for entry in listed if entry.get("status") == IssuerStatus.ACTIVE}
    revoked = set(
        session.exec(select(IssuerKeyRecord.kid).where(IssuerKeyRecord.status == KeyStatus.REVOKED))
    )
    suspended = set(
        session.exec(select(IssuerRecord.id).where(IssuerRecord.status == IssuerStatus.SUSPENDED))
    )
    return revoked & live_keys, suspended & active


def publish_timestamp(
    session: Session,
    keyring: RootKeyring,
    *,
    now: datetime | None = None,
    lifetime: timedelta = DEFAULT_TIMESTAMP_LIFETIME,
    max_age: timedelta | None = None,
) -> PublishedDocument | None:
    """Sign a timestamp (§7.7) with the online key, naming the newest list and the emergency
    removals not yet in it; None when there is nothing to sign (no key, no list) or, with
    `max_age`, when the newest timestamp is younger than that and still says the same."""
    signer = keyring.timestamp_signer()
    newest_list = latest_document(session, TRUST_LIST)
    if signer is None or newest_list is None:
        return None
    at = (now or datetime.now(UTC)).replace(microsecond=0)
    revoked, suspended = _trust_removals(session, newest_list)
    latest = latest_document(session, TIMESTAMP)
    if latest is not None and max_age is not None:
        said = peek_payload(latest.document_json.encode("utf-8"))
        same = (
            said.get("trust_list", {}).get("version") == newest_list.version
            and said.get("root_version") == keyring.current.version
            and set(said.get("revoked_keys", [])) == revoked
            and set(said.get("suspended_issuers", [])) == suspended
        )
        if same and at - latest.published_at.replace(tzinfo=UTC) < max_age:
            return None
    version = (latest.version if latest is not None else 0) + 1
    payload = timestamp_payload(
        version,
        keyring.current.version,
        at,
        at + lifetime,
        newest_list.version,
        revoked_keys=sorted(revoked),
        suspended_issuers=sorted(suspended),
    )
    text, etag = _document_json(sign_document(payload, [signer], TIMESTAMP_TYP))
    record = PublishedDocument(
        kind=TIMESTAMP, version=version, document_json=text, etag=etag, published_at=at
    )
    session.add(record)
    _commit(session)
    session.refresh(record)
    return record


def run_schedule(
    session: Session,
    keyring: RootKeyring,
    *,
    now: datetime | None = None,
    republish_every: timedelta,
    list_lifetime: timedelta,
    timestamp_every: timedelta,
    timestamp_lifetime: timedelta,
) -> list[str]:
    """One tick of the registry's schedule; returns what it did (for the log).

    - the trust list is re-signed when the newest is older than `republish_every` (§7.2: at
      least daily); with the root keys offline a pending version is prepared, once, and left
      to gather its cosignatures;
    - a pending version that can no longer be published (less than `MIN_PUBLISH_VALIDITY`
      left, or prepared under an earlier root) is re-proposed as a fresh pending version.
      Otherwise nothing would ever be re-signed again and every verifier would fail closed
      once the published list expires; the cosignatures it had gathered are lost (they
      covered its bytes), the audit log says so;
    - a timestamp is signed when the newest is older than `timestamp_every`, or when it no
      longer names the newest list or the current emergency removals (§7.7).
    """
    at = (now or datetime.now(UTC)).replace(microsecond=0)
    done: list[str] = []
    newest = latest_document(session, TRUST_LIST)
    pending = pending_version(session)
    due = newest is not None and at - newest.published_at.replace(tzinfo=UTC) >= republish_every
    detail = ""
    if pending is not None:
        try:
            _check_publishable(keyring, pending, at)
            due = False  # still publishable: the officers are cosigning it
        except TrustListError as exc:
            due = True
            detail = f"re-proposes pending version {pending.version}: {exc.code.value}"
            done.append(f"pending version {pending.version} can no longer be published")
    if due:
        result = publish(
            session,
            keyring,
            actor="registry:schedule",
            action="republish",
            detail=detail,
            now=at,
            lifetime=list_lifetime,
        )
        done.append(
            f"prepared pending version {result.version}"
            if isinstance(result, PendingDocument)
            else f"re-signed trust list version {result.version}"
        )
    stamp = publish_timestamp(
        session, keyring, now=at, lifetime=timestamp_lifetime, max_age=timestamp_every
    )
    if stamp is not None:
        done.append(f"timestamp {stamp.version} at {format_time(at)}")
    return done


# -- changes ----------------------------------------------------------------------------------


def get_issuer(session: Session, issuer_id: str) -> IssuerRecord:
    issuer = session.get(IssuerRecord, issuer_id)
    if issuer is None:
        raise RequestError(ErrorCode.NOT_FOUND, f"no issuer {issuer_id!r} in the registry")
    return issuer


def _partner_kids(session: Session) -> set[str]:
    return {
        str(jwk.get("kid"))
        for issuer in session.exec(select(IssuerRecord))
        for jwk in json.loads(issuer.partner_keys_json)
    }


def check_new_kids(session: Session, kids: Sequence[str]) -> None:
    """Refuse kids already used by any issuer, as a credential or a partner key (§7.3)."""
    if len(set(kids)) != len(kids):
        raise _invalid("a key is listed twice")
    taken = session.exec(select(IssuerKeyRecord.kid).where(col(IssuerKeyRecord.kid).in_(kids)))
    clash = sorted({*taken, *(_partner_kids(session) & set(kids))})
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
) -> Publication:
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
    # A kid names one key of one issuer, credential or partner key alike: the partner API
    # finds a caller by the kid of its assertion (§7.3, §10.1).
    check_new_kids(session, [k.kid for k in keys] + [k.kid for k in partners])
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
) -> Publication:
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
