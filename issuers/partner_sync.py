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

A partner's feed is checked field by field before any of it is used (the one §10.4
parse-and-verify, `healthcode.revocation.verify_revocation_list`):
a wrong type, a missing key or a value out of range refuses the whole feed, as a checkpoint
does, so the partner's data go stale and transcodes of its codes fail closed. Each partner is
synced on its own: a bad feed, an unreachable partner or a database error while applying one
partner's feed is logged with the partner's id and the others are synced all the same.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlmodel import col, select

from healthcode.errors import (
    ErrorCode,
    HealthcodeError,
    PeerError,
    RequestError,
    VerificationError,
)
from healthcode.fetch import PEER_BOUNDS, PeerClient
from healthcode.keys import SigningKey
from healthcode.partner import PartnerClient
from healthcode.revocation import (
    LISTED_PAST_EXPIRY_S,
    MAX_SEQ,
    MAX_TIME,
    RevocationList,
    verify_revocation_list,
)
from healthcode.trust import IssuerEntry, RevocationStatus, TrustStore
from healthcode.trustclient import write_atomic
from issuers.context import IssuerContext
from issuers.models import IssuedCode, PartnerRevocationCursor
from issuers.revocation import revoke_codes

logger = logging.getLogger("issuers.partner_sync")

_QUERY_CHUNK = 500
#: Partner revocation data older than this makes a transcode fail closed (as at checkpoints).
MAX_PARTNER_DATA_AGE_S = 900
STORE_FILE = "partner-revocations.json"
#: The largest feed answer read from a partner (as checkpoints bound the lists they fetch).
MAX_PARTNER_FEED_BYTES = PEER_BOUNDS.revocations.max_bytes


def _stored_state(value: object) -> dict[str, Any] | None:
    """One partner's state as read from disk, or None when it is not what `apply` writes
    (that partner then has no data: stale, synced again from seq 0)."""
    if not isinstance(value, dict):
        return None
    seq, as_of, revoked = value.get("seq"), value.get("as_of"), value.get("revoked")
    if type(seq) is not int or not 0 <= seq <= MAX_SEQ:
        return None
    if as_of is not None and not (type(as_of) in (int, float) and 0 <= as_of <= MAX_TIME):
        return None
    if not isinstance(revoked, dict) or not all(
        isinstance(jti, str) and type(exp) is int for jti, exp in revoked.items()
    ):
        return None
    return {"seq": seq, "as_of": as_of, "revoked": revoked}


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
            for partner_id, value in loaded.items():
                state = _stored_state(value)
                if state is None:
                    logger.warning("ignoring unreadable stored revocations of %s", partner_id)
                else:
                    self._state[partner_id] = state

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

    def apply(self, partner: IssuerEntry, feed: RevocationList, now: float) -> None:
        """Merge a verified feed; expired entries are dropped."""
        with self._lock:
            known = self._state.setdefault(partner.id, {"seq": 0, "as_of": None, "revoked": {}})
            revoked = {**known["revoked"], **feed.entries}
            known["revoked"] = {
                jti: exp for jti, exp in revoked.items() if exp + LISTED_PAST_EXPIRY_S >= now
            }
            known["seq"] = max(known["seq"], feed.seq)
            # Fresh as of the partner's signed time, never later than our own clock: a partner
            # whose clock runs ahead must not keep its data "fresh" for longer.
            as_of = min(feed.issued_at, now)
            known["as_of"] = as_of if known["as_of"] is None else max(known["as_of"], as_of)
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
            except Exception:
                # E.g. the trust list cannot be read: the data stay stale and the transcode
                # fails closed (`status_unconfirmed`) rather than with a server error.
                logger.exception("revocations of %s not refreshed", issuer)
        if not self._store.fresh(issuer, now):
            return RevocationStatus.UNKNOWN
        if jti in self._store.revoked(issuer):
            return RevocationStatus.REVOKED
        return RevocationStatus.NOT_REVOKED


def _upstream(message: str) -> RequestError:
    return RequestError(ErrorCode.UPSTREAM_UNAVAILABLE, message)


def verify_partner_feed(document: str, partner: IssuerEntry) -> RevocationList:
    """A partner's revocation list through the one §10.4 parse-and-verify; a refusal is
    `upstream_unavailable` naming the partner and what is wrong."""
    try:
        return verify_revocation_list(document, partner)
    except VerificationError as exc:
        raise _upstream(
            f"{exc.message}; it is refused, and transcodes of {partner.id} codes fail closed "
            f"until {partner.id} serves a valid one (§10.4)"
        ) from exc


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
    feed = verify_partner_feed(document, partner)
    store = store or PartnerRevocations.for_context(ctx)
    store.apply(partner, feed, at)
    known = store.revoked(partner.id)
    prefix = f"{partner.id}/"
    revoked: list[str] = []
    with ctx.session() as session:
        outstanding = session.exec(
            select(IssuedCode).where(
                col(IssuedCode.source).startswith(prefix),
                col(IssuedCode.revoked_at).is_(None),
                IssuedCode.expires_at + LISTED_PAST_EXPIRY_S >= at,
            )
        ).all()
        hit = [code for code in outstanding if (code.source or "")[len(prefix) :] in known]
        for start in range(0, len(hit), _QUERY_CHUNK):
            revoked += revoke_codes(session, hit[start : start + _QUERY_CHUNK], at)
        cursor = session.get(PartnerRevocationCursor, partner.id) or PartnerRevocationCursor(
            issuer=partner.id
        )
        cursor.seq = max(cursor.seq, feed.seq)
        cursor.synced_at = at
        session.add(cursor)
        session.commit()
    return revoked


def fetch_partner_revocations(partner: IssuerEntry, since: int, client: PartnerClient) -> str:
    """GET the partner's signed feed after `since` with a client assertion (§10.4), read
    within the bounds of a revocation list (`PEER_BOUNDS.revocations`)."""
    partner_api = partner.endpoints.get("partner_api")
    if not partner_api:
        raise _upstream(f"{partner.id} lists no partner_api")
    try:
        response = client.revocations(partner_api, since)
        if not response.ok:
            raise _upstream(
                f"revocations of {partner.id} not fetched: it answered {response.status_code}"
            )
        answer = response.json()
    except PeerError as exc:
        raise _upstream(f"revocations of {partner.id} not fetched: {exc.message}") from exc
    document = answer.get("revocation_list") if isinstance(answer, dict) else None
    if not isinstance(document, str):
        raise _upstream(f"{partner.id}'s revocations answer holds no 'revocation_list' string")
    return document


@dataclass(frozen=True)
class PartnerSyncReport:
    """What one round of `sync_partner_revocations` did, partner by partner."""

    #: partner id -> local codes revoked in this round (partners with none are left out)
    revoked: dict[str, int]
    #: partner id -> why its feed was not synced (tried again next round)
    failed: dict[str, str]
    #: partners whose feed was fetched and applied
    synced: tuple[str, ...]

    @property
    def complete(self) -> bool:
        """True when no partner failed."""
        return not self.failed


def sync_partner_revocations(
    ctx: IssuerContext,
    trust: TrustStore,
    partner_key: SigningKey,
    *,
    http: PeerClient | None = None,
    now: float | None = None,
    store: PartnerRevocations | None = None,
    only: str | None = None,
) -> PartnerSyncReport:
    """Fetch and apply every partner's revocation feed (or `only` one partner's).

    Every partner is synced, not only those with outstanding transcodes: /transcode needs
    fresh data to accept a source at all. A partner that fails (unreachable, a refused feed,
    a database error while applying it) is logged with its id, named in the report's
    `failed` and skipped until the next round; it never stops the others.
    """
    at = int(time.time() if now is None else now)
    store = store or PartnerRevocations.for_context(ctx)
    revoked: dict[str, int] = {}
    failed: dict[str, str] = {}
    synced: list[str] = []
    client = PartnerClient(partner_key, partner=ctx.settings.issuer_id, http=http or ctx.peers)
    try:
        for partner in trust.issuers.values():
            if partner.id == ctx.settings.issuer_id or not partner.endpoints.get("partner_api"):
                continue
            if only is not None and partner.id != only:
                continue
            try:
                document = fetch_partner_revocations(partner, store.seq(partner.id), client)
                count = len(apply_partner_revocations(ctx, partner, document, at, store=store))
            except RequestError as exc:
                logger.warning("revocations of %s not synced: %s", partner.id, exc.message)
                failed[partner.id] = exc.message
                continue
            except Exception as exc:
                # A database or programming error with this partner's feed: the others must
                # still be synced, and this one is tried again next round.
                logger.exception(
                    "revocations of %s not synced: unexpected %s; retried next round",
                    partner.id,
                    type(exc).__name__,
                )
                failed[partner.id] = f"unexpected {type(exc).__name__} (see the service log)"
                continue
            synced.append(partner.id)
            if count:
                revoked[partner.id] = count
    finally:
        client.close()
    return PartnerSyncReport(revoked=revoked, failed=failed, synced=tuple(synced))
