"""Revocation data of every trusted issuer, synced over HTTP and kept on disk (standard §10.4).

Each issuer publishes a signed list (`GET <endpoints.revocations>?since=SEQ`). The checkpoint
verifies it with a key the trust list holds as *active* for that issuer, merges the entries and
stores per issuer: `seq`, the revoked `jti`s with their `exp`, and `as_of` (the signed
`issued_at` of the last list applied). Nothing here is personal data: only `jti`s.

Verification fails closed: an issuer with no data, or data older than `max_age_s`, answers
`RevocationStatus.UNKNOWN`, which `verify_credential` turns into `status_unconfirmed`.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from healthcode.errors import ErrorCode, HealthcodeError, PeerError, VerificationError
from healthcode.fetch import PEER_BOUNDS, PeerAnswer, PeerClient, ReadBounds
from healthcode.revocation import verify_revocation_list
from healthcode.trust import IssuerEntry, RevocationStatus, TrustStore
from verifiers.published import PublishedRevocations

logger = logging.getLogger("verifiers.revocations")


@dataclass(slots=True)
class IssuerRevocations:
    """What is known about one issuer's revocations."""

    seq: int = 0
    as_of: float | None = None  # the issuer's signed time of the last list applied
    revoked: dict[str, int] = field(default_factory=dict)  # jti -> exp
    last_error: str | None = None
    last_attempt: float | None = None


class RevocationCache:
    """Per-issuer revocation state, synced from issuers and persisted as JSON in `directory`."""

    def __init__(self, directory: Path, *, max_age_s: int = 900, timeout_s: float = 5.0) -> None:
        self.directory = directory
        self.max_age_s = max_age_s
        self._timeout_s = timeout_s
        self._lock = threading.Lock()
        self._issuers: dict[str, IssuerRevocations] = {}
        self._load()

    # -- persistence
    @property
    def _path(self) -> Path:
        return self.directory / "revocations.json"

    def _load(self) -> None:
        try:
            data = json.loads(self._path.read_text("utf-8"))
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            # A damaged file means no data: verification fails closed until the next sync.
            logger.warning("ignoring unreadable revocation state %s: %s", self._path, exc)
            return
        for issuer_id, item in data.get("issuers", {}).items():
            self._issuers[issuer_id] = IssuerRevocations(
                seq=int(item["seq"]),
                as_of=item.get("as_of"),
                revoked={str(k): int(v) for k, v in item.get("revoked", {}).items()},
            )

    def _save(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        data = {
            "issuers": {
                issuer_id: {"seq": s.seq, "as_of": s.as_of, "revoked": s.revoked}
                for issuer_id, s in self._issuers.items()
            }
        }
        tmp = self._path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data), "utf-8")
        os.replace(tmp, self._path)  # atomic: a crash never leaves half a file

    # -- sync
    def apply(self, issuer: IssuerEntry, token: str, *, now: float | None = None) -> int:
        """Verify and merge one signed list; returns how many entries were new."""
        listed = verify_revocation_list(token, issuer)
        at = time.time() if now is None else now
        with self._lock:
            state = self._issuers.setdefault(issuer.id, IssuerRevocations())
            if listed.since > state.seq:
                raise VerificationError(
                    ErrorCode.INVALID_CLAIMS,
                    f"revocation list of {issuer.id!r} starts after seq {state.seq}; a gap",
                )
            if listed.seq < state.seq or (
                state.as_of is not None and listed.issued_at < state.as_of
            ):
                # An older list (replayed or from a lagging replica) must not roll data back.
                return 0
            added = sum(1 for jti in listed.entries if jti not in state.revoked)
            state.revoked.update(listed.entries)
            state.seq = listed.seq
            # Freshness is the issuer's signed time, never later than our own clock.
            state.as_of = min(listed.issued_at, at)
            state.revoked = {j: e for j, e in state.revoked.items() if e >= at - 600}
            state.last_error = None
            self._save()
        return added

    def sync_issuer(
        self, issuer: IssuerEntry, http: PeerClient, bounds: ReadBounds = PEER_BOUNDS.revocations
    ) -> int:
        """Fetch and apply the issuer's list since our `seq`; returns the entries added.

        The answer is read within `bounds` (bytes, deadline, JSON depth). A failure is noted
        in this issuer's `last_error` and raised: `PeerError` (unreachable, too slow, too
        large, malformed) or `VerificationError` (the list itself was refused).
        """
        url = issuer.endpoints.get("revocations")
        if not url:
            raise ValueError(f"issuer {issuer.id!r} has no revocations endpoint")
        with self._lock:
            state = self._issuers.setdefault(issuer.id, IssuerRevocations())
            state.last_attempt = time.time()
            since = state.seq
        try:
            answer = http.get(url, bounds, params={"since": since})
            if answer.status_code != 200:
                raise PeerError(
                    ErrorCode.UPSTREAM_UNAVAILABLE,
                    f"revocations of {issuer.id!r} answered {answer.status_code}",
                )
            return self.apply(issuer, _list_token(answer))
        except HealthcodeError as error:
            with self._lock:
                state.last_error = f"{error.code.value}: {error.message}"[:200]
            raise

    def sync(self, trust: TrustStore, http: PeerClient) -> dict[str, str]:
        """Sync every issuer with a revocations endpoint, one after another (a one-shot tool;
        the checkpoint syncs each issuer in its own worker, `healthcode.peersync`)."""
        outcomes: dict[str, str] = {}
        for issuer in trust.issuers.values():
            if not issuer.endpoints.get("revocations"):
                continue
            try:
                outcomes[issuer.id] = f"ok (+{self.sync_issuer(issuer, http)})"
            except HealthcodeError as error:
                outcomes[issuer.id] = "failed"
                logger.info("revocation sync of %s failed: %s", issuer.id, error.message)
        return outcomes

    # -- lookups
    def checker(
        self, now: float, published: PublishedRevocations | None = None
    ) -> BoundRevocationChecker:
        """A `RevocationChecker` for one verification at time `now`.

        `published` is the in-memory copy of issuers' `hc:revoked:{iss}` Redis sets: a member
        there is revoked at once, before the next sync. Its absence proves nothing (the set
        may be rebuilding), so freshness still comes from the signed lists only.
        """
        return BoundRevocationChecker(self, now, published)

    def state(self, issuer_id: str) -> IssuerRevocations | None:
        return self._issuers.get(issuer_id)

    def status(self, now: float) -> dict[str, Any]:
        """Per-issuer freshness for the staff screen and `/v1/status`."""
        out: dict[str, Any] = {}
        for issuer_id, state in self._issuers.items():
            age = None if state.as_of is None else int(now - state.as_of)
            out[issuer_id] = {
                "seq": state.seq,
                "as_of": state.as_of,
                "age_s": age,
                "fresh": age is not None and age <= self.max_age_s,
                "revoked_count": len(state.revoked),
                "last_error": state.last_error,
            }
        return out


class BoundRevocationChecker:
    """Answers `revocation_status` as of one verification time; exposes `as_of` for notes."""

    __slots__ = ("_cache", "_now", "_published", "as_of")

    def __init__(
        self, cache: RevocationCache, now: float, published: PublishedRevocations | None = None
    ) -> None:
        self._cache = cache
        self._now = now
        self._published = published
        self.as_of: float | None = None

    def revocation_status(self, issuer: str, jti: str) -> RevocationStatus:
        state = self._cache.state(issuer)
        if state is not None and jti in state.revoked:
            self.as_of = state.as_of
            return RevocationStatus.REVOKED
        if self._published is not None and self._published.is_revoked(issuer, jti):
            return RevocationStatus.REVOKED
        if state is None or state.as_of is None:
            return RevocationStatus.UNKNOWN
        self.as_of = state.as_of
        if self._now - state.as_of > self._cache.max_age_s:
            return RevocationStatus.UNKNOWN
        return RevocationStatus.NOT_REVOKED


def _list_token(answer: PeerAnswer) -> str:
    """The compact JWS from either answer shape: the issuer API's JSON or the partner API's."""
    content_type = answer.headers.get("content-type", "")
    if "json" not in content_type:
        return answer.text.strip()
    body: Any = answer.json()  # depth-bounded: PeerError upstream_malformed
    if isinstance(body, Mapping):
        for name in ("revocation_list", "revocations", "list"):
            if isinstance(body.get(name), str):
                return str(body[name])
    elif isinstance(body, str):
        return body
    raise VerificationError(
        ErrorCode.UPSTREAM_MALFORMED, "revocation answer holds no 'revocation_list' JWS"
    )
