"""Changes to issuers: onboarding with their keys and endpoints, suspension and reinstatement."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from healthcode.config import DEFAULT_LIMITS
from healthcode.credential import ISSUER_ID_PATTERN
from healthcode.errors import ErrorCode, RequestError
from healthcode.idnumber import is_known_division
from healthcode.trust import IssuerStatus, Profile
from interop.registry.models import (
    IssuerKeyRecord,
    IssuerRecord,
)
from interop.registry.signing import RootKeyring
from interop.registry.store.common import (
    DEFAULT_LIST_LIFETIME,
    ENDPOINT_NAMES,
    Publication,
    atomic,
    epoch_of,
    invalid_request,
    load_jwk,
)
from interop.registry.store.publication import publish

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
        raise invalid_request("a key is listed twice")
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
        raise invalid_request(f"issuer id {issuer_id!r} must look like 'cn-sc' (a-z, 0-9, '-')")
    if not 0 < len(name) <= 128:
        raise invalid_request("name must be 1-128 characters")
    if profile not in {p.value for p in Profile}:
        raise invalid_request(f"profile must be 'hc' or 'shc' (got {profile!r})")
    if region is not None and not is_known_division(region):
        raise RequestError(
            ErrorCode.UNKNOWN_REGION, f"region {region!r} is not a GB/T 2260 division code"
        )
    if profile == Profile.HC and region is None:
        raise invalid_request("an hc-profile issuer needs its GB/T 2260 region")
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
    unknown = set(endpoints) - ENDPOINT_NAMES
    if unknown:
        raise invalid_request(
            f"unknown endpoints {sorted(unknown)}; allowed: {sorted(ENDPOINT_NAMES)}"
        )
    for endpoint, url in endpoints.items():
        if not url.startswith(("https://", "http://")):
            raise invalid_request(f"endpoint {endpoint!r} must be an http(s) URL")
    raw_keys = jwks.get("keys")
    if (
        not isinstance(raw_keys, list)
        or not 0 < len(raw_keys) <= DEFAULT_LIMITS.max_keys_per_issuer
    ):
        raise invalid_request(
            f"jwks must hold 1-{DEFAULT_LIMITS.max_keys_per_issuer} keys in a 'keys' array"
        )
    keys = [load_jwk(jwk, f"jwks key {i}") for i, jwk in enumerate(raw_keys)]
    partners = [load_jwk(jwk, f"partner key {i}") for i, jwk in enumerate(partner_keys)]
    if {k.kid for k in keys} & {k.kid for k in partners}:
        raise invalid_request("partner keys must be distinct from credential-signing keys")
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
