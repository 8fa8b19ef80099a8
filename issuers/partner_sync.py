"""Partners' revocation data at this issuer, and transcoded codes following their source
(standard §10.3).

A code transcoded from a partner's credential records its source as `iss/jti`. This module
reads each partner's signed revocation feed (§10.4, through the partner API with a client
assertion), verifies it with the partner's `active` keys from the trust list and keeps, per
partner, the feed's `seq`, every revoked `jti` until it expires and `as_of` (the feed's signed
`issued_at`) in `PartnerRevocations` (a JSON file beside the trust cache; public data only).

Two uses: `/transcode` checks the source against it and fails closed when the partner's data
is older than `max_age_s` (`RevocationStatus.UNKNOWN` → `status_unconfirmed`); each sync
revokes every outstanding local code whose source is among *all* the partner's known
revocations, so a code transcoded after its source was revoked (and synced) is revoked too.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx
import jwt
from sqlmodel import col, select

from healthcode.errors import ErrorCode, HealthcodeError, RequestError
from healthcode.keys import SigningKey
from healthcode.trust import IssuerEntry, KeyStatus, RevocationStatus, TrustStore
from healthcode.trustclient import write_atomic
from issuers.context import IssuerContext
from issuers.models import IssuedCode, PartnerRevocationCursor
from issuers.revocation import SKEW_S, revoke_codes

logger = logging.getLogger("issuers.partner_sync")

_QUERY_CHUNK = 500
#: Partner revocation data older than this makes a transcode fail closed (as at checkpoints).
MAX_PARTNER_DATA_AGE_S = 900
STORE_FILE = "partner-revocations.json"


class PartnerRevocations:
    """What this issuer knows of its partners' revocations, kept on disk across restarts."""

    def __init__(self, path: Path, *, max_age_s: int = MAX_PARTNER_DATA_AGE_S) -> None:
        self.path = Path(path)
        self.max_age_s = max_age_s
        self._lock = threading.Lock()
        self._state: dict[str, dict[str, Any]] = {}
        try:
            loaded = json.loads(self.path.read_bytes())
        except (OSError, ValueError):
            loaded = {}
        if isinstance(loaded, dict):
            self._state = {k: v for k, v in loaded.items() if isinstance(v, dict)}

    @classmethod
    def for_context(cls, ctx: IssuerContext) -> PartnerRevocations:
        return cls(ctx.settings.trust_cache_dir / STORE_FILE)

    def seq(self, partner_id: str) -> int:
        with self._lock:
            return int(self._state.get(partner_id, {}).get("seq", 0))

    def fresh(self, partner_id: str, now: float) -> bool:
        with self._lock:
            as_of = self._state.get(partner_id, {}).get("as_of")
        return isinstance(as_of, int | float) and now - as_of <= self.max_age_s

    def revoked(self, partner_id: str) -> set[str]:
        with self._lock:
            return set(self._state.get(partner_id, {}).get("revoked", {}))

    def apply(self, partner: IssuerEntry, data: Mapping[str, Any], now: float) -> None:
        """Merge a verified feed payload; expired entries are dropped."""
        entries = {
            str(entry["jti"]): int(entry.get("exp", 0))
            for entry in data.get("entries", [])
            if isinstance(entry, dict) and isinstance(entry.get("jti"), str)
        }
        issued_at = data.get("issued_at")
        with self._lock:
            known = self._state.setdefault(partner.id, {"seq": 0, "as_of": None, "revoked": {}})
            revoked = {**known.get("revoked", {}), **entries}
            known["revoked"] = {jti: exp for jti, exp in revoked.items() if exp + SKEW_S >= now}
            known["seq"] = max(int(known.get("seq", 0)), int(data.get("seq", 0)))
            if isinstance(issued_at, int | float):
                known["as_of"] = max(float(known.get("as_of") or 0), float(issued_at))
            snapshot = json.dumps(self._state).encode("utf-8")
        try:
            write_atomic(self.path, snapshot)
        except OSError as exc:  # kept in memory; written again with the next feed
            logger.error("cannot write %s: %s", self.path, exc)

    def checker(self, refresh: Callable[[str], None] | None = None) -> PartnerRevocationChecker:
        return PartnerRevocationChecker(self, refresh)


class PartnerRevocationChecker:
    """`RevocationChecker` for /transcode: revoked, not revoked, or unknown (stale: fail
    closed). A partner whose data is stale is synced once on the spot through `refresh`."""

    def __init__(
        self, store: PartnerRevocations, refresh: Callable[[str], None] | None = None
    ) -> None:
        self._store = store
        self._refresh = refresh

    def revocation_status(self, issuer: str, jti: str) -> RevocationStatus:
        now = time.time()
        if not self._store.fresh(issuer, now) and self._refresh is not None:
            try:
                self._refresh(issuer)
            except HealthcodeError as error:
                logger.warning("revocations of %s unavailable: %s", issuer, error.message)
        if not self._store.fresh(issuer, now):
            return RevocationStatus.UNKNOWN
        if jti in self._store.revoked(issuer):
            return RevocationStatus.REVOKED
        return RevocationStatus.NOT_REVOKED


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
    ctx: IssuerContext,
    partner: IssuerEntry,
    document: str,
    now: float | None = None,
    *,
    store: PartnerRevocations | None = None,
) -> list[str]:
    """Take a partner's feed, then revoke every outstanding local code transcoded from any
    source the partner has revoked so far (not only from this feed's new entries)."""
    at = int(time.time() if now is None else now)
    data = verify_revocation_list(document, partner)
    store = store or PartnerRevocations.for_context(ctx)
    store.apply(partner, data, at)
    known = store.revoked(partner.id)
    prefix = f"{partner.id}/"
    revoked: list[str] = []
    with ctx.session() as session:
        outstanding = session.exec(
            select(IssuedCode).where(
                col(IssuedCode.source).startswith(prefix),
                col(IssuedCode.revoked_at).is_(None),
                IssuedCode.expires_at + SKEW_S >= at,
            )
        ).all()
        hit = [code for code in outstanding if (code.source or "")[len(prefix) :] in known]
        for start in range(0, len(hit), _QUERY_CHUNK):
            revoked += revoke_codes(session, hit[start : start + _QUERY_CHUNK], at)
        cursor = session.get(PartnerRevocationCursor, partner.id) or PartnerRevocationCursor(
            issuer=partner.id
        )
        cursor.seq = max(cursor.seq, int(data.get("seq", 0)))
        cursor.synced_at = at
        session.add(cursor)
        session.commit()
    ctx.publish(revoked)
    return revoked


def fetch_partner_revocations(
    ctx: IssuerContext,
    partner: IssuerEntry,
    partner_key: SigningKey,
    since: int,
    http: httpx.Client,
) -> str:
    """GET the partner's signed feed after `since` with a client assertion (§10.4)."""
    from interop.partner import make_client_assertion

    partner_api = partner.endpoints.get("partner_api")
    if not partner_api:
        raise _upstream(f"{partner.id} lists no partner_api")
    assertion = make_client_assertion(
        partner_key, partner=ctx.settings.issuer_id, audience=partner_api
    )
    try:
        response = http.get(
            partner_api.rstrip("/") + "/revocations",
            params={"since": since},
            headers={"Authorization": f"Bearer {assertion}"},
        )
        response.raise_for_status()
        return str(response.json()["revocation_list"])
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
        raise _upstream(f"revocations of {partner.id} not fetched: {type(exc).__name__}") from exc


def sync_partner_revocations(
    ctx: IssuerContext,
    trust: TrustStore,
    partner_key: SigningKey,
    *,
    http: httpx.Client | None = None,
    now: float | None = None,
    store: PartnerRevocations | None = None,
    only: str | None = None,
) -> dict[str, int]:
    """Fetch and apply every partner's revocation feed (or `only` one partner's).

    Every partner is synced, not only those with outstanding transcodes: /transcode needs
    fresh data to accept a source at all. Returns the number of local codes revoked per
    partner, for partners where it is > 0; an unreachable partner is logged and skipped.
    """
    at = int(time.time() if now is None else now)
    store = store or PartnerRevocations.for_context(ctx)
    results: dict[str, int] = {}
    client = http or httpx.Client(timeout=10.0)
    try:
        for partner in trust.issuers.values():
            if partner.id == ctx.settings.issuer_id or not partner.endpoints.get("partner_api"):
                continue
            if only is not None and partner.id != only:
                continue
            try:
                document = fetch_partner_revocations(
                    ctx, partner, partner_key, store.seq(partner.id), client
                )
                count = len(apply_partner_revocations(ctx, partner, document, at, store=store))
            except RequestError as exc:
                logger.warning("revocations of %s not synced: %s", partner.id, exc.message)
                continue
            if count:
                results[partner.id] = count
    finally:
        if http is None:
            client.close()
    return results
