"""Timestamps (§7.7) and the schedule that re-signs the list and the timestamp when due."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import Session, select

from healthcode.errors import TrustListError
from healthcode.trust import IssuerStatus, KeyStatus
from healthcode.trustlist import (
    TIMESTAMP_TYP,
    format_time,
    peek_payload,
    sign_document,
    timestamp_payload,
)
from interop.registry.models import (
    IssuerKeyRecord,
    IssuerRecord,
    PendingDocument,
    PublishedDocument,
)
from interop.registry.signing import RootKeyring
from interop.registry.store.common import (
    DEFAULT_TIMESTAMP_LIFETIME,
    TIMESTAMP,
    TRUST_LIST,
    document_json,
    latest_document,
)
from interop.registry.store.cosigning import check_publishable
from interop.registry.store.publication import commit_change, pending_version, publish


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
    text, etag = document_json(sign_document(payload, [signer], TIMESTAMP_TYP))
    record = PublishedDocument(
        kind=TIMESTAMP, version=version, document_json=text, etag=etag, published_at=at
    )
    session.add(record)
    commit_change(session)
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
            check_publishable(keyring, pending, at)
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
