"""An in-memory copy of the revocations issuers publish in Redis (`hc:revoked:{iss}`, ADR 0006).

A scan must never wait for the network: the scan handler runs on the event loop, so one slow
or black-holed Redis answer would stall every scan of the gate. A background job copies each
trusted issuer's set into memory (`refresh`), and the scan path only asks the copy
(`is_revoked`, a dict look-up).

The Redis sets may only *add* revocations (a set can be mid-rebuild, or empty after a Redis
restart); freshness still comes from the signed lists alone (`RevocationCache`). So the copy
keeps a `jti` it has seen for `carry_s` after Redis last listed it: long enough for a signed
list that contains it to be synced, or for the signed data to go stale (`status_unconfirmed`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import redis

from healthcode.revocation import redis_key
from healthcode.server.redis_client import RedisClient

logger = logging.getLogger("verifiers.published")

#: SSCAN batch size: large enough for few round trips, small enough not to block Redis.
_SCAN_COUNT = 1000


@dataclass(frozen=True, slots=True)
class MirrorStatus:
    """How current the copy is: the last complete refresh and the last failure."""

    synced_at: float | None
    failing_since: float | None
    last_error: str | None

    @property
    def current(self) -> bool:
        """True when the last refresh succeeded (the copy is as good as Redis)."""
        return self.synced_at is not None and self.last_error is None


class PublishedRevocations:
    """Issuers' published revocation sets, copied from Redis in the background."""

    def __init__(self, client: RedisClient, *, carry_s: float = 900.0) -> None:
        self._client = client
        self._carry_s = carry_s
        # issuer id -> jti -> when Redis last listed it; replaced whole, never mutated, so a
        # scan reading it from another thread always sees one complete copy.
        self._seen: dict[str, dict[str, float]] = {}
        self._refresh_lock = threading.Lock()
        self.status = MirrorStatus(synced_at=None, failing_since=None, last_error=None)

    def is_revoked(self, issuer: str, jti: str) -> bool:
        """True if the issuer published `jti` as revoked (no network: the in-memory copy)."""
        seen = self._seen.get(issuer)
        return seen is not None and jti in seen

    def refresh(self, issuer_ids: Iterable[str], *, now: float | None = None) -> bool:
        """Copy every issuer's set from Redis; on failure keep the old copy. Never raises."""
        with self._refresh_lock:
            at = time.time() if now is None else now
            fresh: dict[str, dict[str, float]] = {}
            try:
                for issuer_id in issuer_ids:
                    fresh[issuer_id] = self._copy(issuer_id, at)
            except redis.RedisError as exc:
                previous = self.status
                message = f"{type(exc).__name__}: {exc}"[:200]
                self.status = MirrorStatus(
                    synced_at=previous.synced_at,
                    failing_since=previous.failing_since or at,
                    last_error=message,
                )
                logger.info("published revocations not refreshed: %s", message)
                return False
            self._seen = fresh
            self.status = MirrorStatus(synced_at=at, failing_since=None, last_error=None)
            return True

    def _copy(self, issuer_id: str, at: float) -> dict[str, float]:
        copy = {
            _text(member): at
            for member in self._client.sscan_iter(redis_key(issuer_id), count=_SCAN_COUNT)
        }
        for jti, listed_at in self._seen.get(issuer_id, {}).items():
            if jti not in copy and at - listed_at <= self._carry_s:
                copy[jti] = listed_at
        return copy

    def to_json(self) -> dict[str, Any]:
        """For `/v1/status`: when the copy was last refreshed and what failed since."""
        status = self.status
        return {
            "synced_at": status.synced_at,
            "current": status.current,
            "failing_since": status.failing_since,
            "last_error": status.last_error,
            "revoked_count": sum(len(seen) for seen in self._seen.values()),
        }

    def close(self) -> None:
        self._client.close()


def _text(member: Any) -> str:
    return member.decode("utf-8", "replace") if isinstance(member, bytes) else str(member)
