"""Revoking transcoded codes when their source is revoked (standard §10.3).

A code transcoded from a partner's credential records its source as `iss/jti`. This module
reads each partner's signed revocation feed (§10.4, through the partner API with a client
assertion), verifies it with the partner's `active` keys from the trust list, and revokes every
local code made from a listed source. A cursor per partner remembers the feed's `seq`.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from typing import Any

import httpx
import jwt
from sqlmodel import col, select

from healthcode.errors import ErrorCode, RequestError
from healthcode.keys import SigningKey
from healthcode.trust import IssuerEntry, KeyStatus, TrustStore
from issuers.context import IssuerContext
from issuers.models import IssuedCode, PartnerRevocationCursor
from issuers.revocation import SKEW_S, revoke_codes

logger = logging.getLogger("issuers.partner_sync")

_QUERY_CHUNK = 500


def _upstream(message: str) -> RequestError:
    return RequestError(ErrorCode.UPSTREAM_UNAVAILABLE, message)


def verify_revocation_list(document: str, partner: IssuerEntry) -> Mapping[str, Any]:
    """The payload of a partner's revocation list, verified with one of its active keys."""
    try:
        kid = jwt.get_unverified_header(document).get("kid")
    except jwt.InvalidTokenError:
        raise _upstream(f"{partner.id}'s revocation list is not a compact JWS") from None
    keys = [k for k in partner.keys if k.kid == kid and k.status is KeyStatus.ACTIVE]
    if not keys:
        raise _upstream(f"{partner.id}'s revocation list is not signed by an active key of it")
    try:
        payload = jwt.PyJWS().decode(document, key=keys[0].key.public_key, algorithms=["ES256"])
        data = json.loads(payload)
    except (jwt.InvalidTokenError, ValueError):
        raise _upstream(f"{partner.id}'s revocation list does not verify") from None
    if not isinstance(data, dict) or data.get("iss") != partner.id:
        raise _upstream(f"{partner.id}'s revocation list names another issuer")
    return data


def apply_partner_revocations(
    ctx: IssuerContext, partner: IssuerEntry, document: str, now: float | None = None
) -> list[str]:
    """Revoke local codes transcoded from credentials the partner's list revokes."""
    at = int(time.time() if now is None else now)
    data = verify_revocation_list(document, partner)
    sources = [
        f"{partner.id}/{entry['jti']}"
        for entry in data.get("entries", [])
        if isinstance(entry, dict) and isinstance(entry.get("jti"), str)
    ]
    revoked: list[str] = []
    with ctx.session() as session:
        for start in range(0, len(sources), _QUERY_CHUNK):
            codes = session.exec(
                select(IssuedCode).where(
                    col(IssuedCode.source).in_(sources[start : start + _QUERY_CHUNK]),
                    col(IssuedCode.revoked_at).is_(None),
                )
            ).all()
            revoked += revoke_codes(session, codes, at)
        cursor = session.get(PartnerRevocationCursor, partner.id) or PartnerRevocationCursor(
            issuer=partner.id
        )
        cursor.seq = max(cursor.seq, int(data.get("seq", 0)))
        cursor.synced_at = at
        session.add(cursor)
        session.commit()
    ctx.publish(revoked)
    return revoked


def _has_outstanding_transcodes(ctx: IssuerContext, partner_id: str, at: int) -> bool:
    with ctx.session() as session:
        return (
            session.exec(
                select(IssuedCode.jti).where(
                    col(IssuedCode.source).startswith(f"{partner_id}/"),
                    col(IssuedCode.revoked_at).is_(None),
                    IssuedCode.expires_at + SKEW_S >= at,
                )
            ).first()
            is not None
        )


def sync_partner_revocations(
    ctx: IssuerContext,
    trust: TrustStore,
    partner_key: SigningKey,
    *,
    http: httpx.Client | None = None,
    now: float | None = None,
) -> dict[str, int]:
    """Fetch and apply the revocation feed of every partner we hold transcoded codes of.

    Returns the number of local codes revoked per partner; an unreachable partner is logged
    and skipped (its codes are retried next time).
    """
    from interop.partner import make_client_assertion

    at = int(time.time() if now is None else now)
    results: dict[str, int] = {}
    client = http or httpx.Client(timeout=10.0)
    try:
        for partner in trust.issuers.values():
            partner_api = partner.endpoints.get("partner_api")
            if partner.id == ctx.settings.issuer_id or not partner_api:
                continue
            if not _has_outstanding_transcodes(ctx, partner.id, at):
                continue
            with ctx.session() as session:
                cursor = session.get(PartnerRevocationCursor, partner.id)
            since = cursor.seq if cursor else 0
            assertion = make_client_assertion(
                partner_key, partner=ctx.settings.issuer_id, audience=partner_api
            )
            try:
                response = client.get(
                    partner_api.rstrip("/") + "/revocations",
                    params={"since": since},
                    headers={"Authorization": f"Bearer {assertion}"},
                )
                response.raise_for_status()
                document = str(response.json()["revocation_list"])
                results[partner.id] = len(apply_partner_revocations(ctx, partner, document, at))
            except (httpx.HTTPError, ValueError, KeyError, RequestError) as exc:
                logger.warning("revocations of %s not synced: %s", partner.id, exc)
    finally:
        if http is None:
            client.close()
    return results
