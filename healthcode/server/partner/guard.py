"""Replay protection and rate limits for partner calls, shared by every replica (§10.1, §10.5).

Both live in Redis so that N replicas behind a load balancer refuse a replayed assertion and
share one per-partner budget. Both checks are one atomic round trip (a Lua script), and only a
jti not seen before counts against the partner: a replay spends nothing of its budget. If Redis
cannot be reached the call is refused (`upstream_unavailable`): without replay protection an
intercepted assertion could be replayed, so the API fails closed.

Keys are scoped to the callee (`hc:partner:{callee}:...`), so provinces sharing a Redis never
share budgets or jtis. Before any ES256 verification a caller address that sent too many
refused assertions this minute (forged, authenticated but refused, replayed: the router calls
`note_failure` for each) is refused (`screen`): a flood of them costs one Redis read each, not
a signature check. The address is the one the ASGI server reports (interop/README.md: which
proxy headers that trusts).
"""

from __future__ import annotations

import threading
from typing import Protocol

import redis

from healthcode.config import CLOCK_SKEW_S
from healthcode.errors import ErrorCode, RateLimited, RequestError, TrustUnavailable
from healthcode.server.redis_client import connect_redis, slot_tag

__all__ = ["MemoryPartnerGuard", "PartnerGuard", "RedisPartnerGuard"]

RATE_WINDOW_S = 60  # fixed window of the per-partner limit (§10.5: "per minute")


#: Failed assertions per caller address per minute before it is refused unverified (§10.5).
DEFAULT_FAILURE_LIMIT_PER_MINUTE = 60


class PartnerGuard(Protocol):
    """Admits one authenticated partner call: jti not seen before, partner under its limit."""

    def admit(self, *, partner: str, jti: str, expires_at: int, now: float) -> None: ...

    def screen(self, *, client: str, now: float) -> None:
        """Before verification: refuse an address over its failed-assertion budget."""
        ...

    def note_failure(self, *, client: str, now: float) -> None:
        """Count an assertion from `client` that did not verify (never raises)."""
        ...


def _window(now: float) -> tuple[int, int]:
    """(window number, seconds until the next window starts, at least 1)."""
    window = int(now // RATE_WINDOW_S)
    return window, max(1, int((window + 1) * RATE_WINDOW_S - now + 0.999))


def _refuse(partner: str, used: int, limit: int, retry_after: int) -> RateLimited:
    return RateLimited(
        f"partner {partner!r} made {used} calls this minute, the limit is {limit}; "
        f"retry after {retry_after} s",
        retry_after=retry_after,
    )


def _redis_down(exc: Exception) -> TrustUnavailable:
    return TrustUnavailable(
        ErrorCode.UPSTREAM_UNAVAILABLE,
        f"replay and rate-limit storage (Redis) is unreachable ({type(exc).__name__}); "
        "partner calls are refused until it is back",
    )


#: Admission in one atomic round trip: record the jti if new, and only then count the call
#: against the partner, so a replayed assertion (anyone who captured one can resend it) never
#: spends the partner's budget. Returns -1 for a replay, else the calls in this window.
_ADMIT_SCRIPT = """
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
  return -1
end
local used = redis.call('INCR', KEYS[2])
if used == 1 then
  redis.call('EXPIRE', KEYS[2], ARGV[2])
end
return used
"""


def _replayed() -> RequestError:
    return RequestError(
        ErrorCode.ASSERTION_REPLAYED, "this assertion jti was already used; sign a new one"
    )


class RedisPartnerGuard:
    """The guard for production: Redis `SET NX EX` for jtis, a fixed-window counter per partner."""

    def __init__(
        self,
        redis_url: str,
        *,
        callee: str,
        limit_per_minute: int,
        failure_limit_per_minute: int = DEFAULT_FAILURE_LIMIT_PER_MINUTE,
        skew_s: int = CLOCK_SKEW_S,
    ) -> None:
        self._redis = connect_redis(redis_url, timeout_s=1.0)
        # One hash tag per callee: the admission script's two keys share a cluster slot.
        self._prefix = f"hc:partner:{slot_tag(callee)}"
        # EVALSHA, falling back to EVAL once after a Redis restart (redis-py's Script).
        self._admit = self._redis.register_script(_ADMIT_SCRIPT)
        self.limit_per_minute = limit_per_minute
        self.failure_limit_per_minute = failure_limit_per_minute
        self.skew_s = skew_s

    def screen(self, *, client: str, now: float) -> None:
        """Raise rate_limited for an address over its failure budget. Redis unreachable is
        left to `admit`, which fails closed after authentication, so the refusal is audited."""
        window, retry_after = _window(now)
        try:
            failures = self._redis.get(f"{self._prefix}:fail:{client}:{window}")
        except redis.RedisError:
            return
        if failures is not None and int(failures) >= self.failure_limit_per_minute:
            raise RateLimited(
                f"{int(failures)} client assertions from this address failed this minute; "
                f"retry after {retry_after} s",
                retry_after=retry_after,
            )

    def note_failure(self, *, client: str, now: float) -> None:
        window, _ = _window(now)
        key = f"{self._prefix}:fail:{client}:{window}"
        try:
            pipe = self._redis.pipeline(transaction=False)
            pipe.incr(key)
            pipe.expire(key, RATE_WINDOW_S * 2)
            pipe.execute()
        except redis.RedisError:
            pass  # the next screen() fails closed on its own

    def admit(self, *, partner: str, jti: str, expires_at: int, now: float) -> None:
        """Raise assertion_replayed, rate_limited or upstream_unavailable; else return."""
        window, retry_after = _window(now)
        # The jti is kept until the assertion could no longer pass the time checks anyway.
        jti_ttl = max(1, int(expires_at + self.skew_s - now) + 1)
        rate_key = f"{self._prefix}:rate:{partner}:{window}"
        jti_key = f"{self._prefix}:jti:{partner}:{jti}"
        try:
            used = int(self._admit(keys=[jti_key, rate_key], args=[jti_ttl, RATE_WINDOW_S * 2]))
        except redis.RedisError as exc:
            raise _redis_down(exc) from exc
        if used < 0:
            raise _replayed()
        if used > self.limit_per_minute:
            raise _refuse(partner, used, self.limit_per_minute, retry_after)

    def close(self) -> None:
        self._redis.close()


class MemoryPartnerGuard:
    """In-process guard for a single replica without Redis (demo mode only: a second replica
    would accept an assertion this one has seen)."""

    def __init__(
        self,
        *,
        limit_per_minute: int,
        failure_limit_per_minute: int = DEFAULT_FAILURE_LIMIT_PER_MINUTE,
    ) -> None:
        self.limit_per_minute = limit_per_minute
        self.failure_limit_per_minute = failure_limit_per_minute
        self._lock = threading.Lock()
        self._jtis: dict[tuple[str, str], int] = {}
        self._counts: dict[tuple[str, int], int] = {}
        self._failures: dict[tuple[str, int], int] = {}

    def screen(self, *, client: str, now: float) -> None:
        window, retry_after = _window(now)
        with self._lock:
            failures = self._failures.get((client, window), 0)
        if failures >= self.failure_limit_per_minute:
            raise RateLimited(
                f"{failures} client assertions from this address failed this minute; "
                f"retry after {retry_after} s",
                retry_after=retry_after,
            )

    def note_failure(self, *, client: str, now: float) -> None:
        window, _ = _window(now)
        with self._lock:
            self._failures = {k: n for k, n in self._failures.items() if k[1] >= window}
            self._failures[(client, window)] = self._failures.get((client, window), 0) + 1

    def admit(self, *, partner: str, jti: str, expires_at: int, now: float) -> None:
        """Same answers as the Redis guard, for one process."""
        window, retry_after = _window(now)
        with self._lock:
            self._jtis = {k: exp for k, exp in self._jtis.items() if exp + 600 >= now}
            self._counts = {k: n for k, n in self._counts.items() if k[1] >= window}
            if (partner, jti) in self._jtis:
                raise _replayed()
            self._jtis[(partner, jti)] = expires_at
            used = self._counts.get((partner, window), 0) + 1
            self._counts[(partner, window)] = used
        if used > self.limit_per_minute:
            raise _refuse(partner, used, self.limit_per_minute, retry_after)
