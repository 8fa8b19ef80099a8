"""Replay protection and rate limits for partner calls, shared by every replica (§10.1, §10.5).

Both live in Redis so that N replicas behind a load balancer refuse a replayed assertion and
share one per-partner budget. Both checks are one pipelined round trip. If Redis cannot be
reached the call is refused (`upstream_unavailable`): without replay protection an intercepted
assertion could be replayed, so the API fails closed.
"""

from __future__ import annotations

import threading
from typing import Protocol

import redis

from healthcode.errors import ErrorCode, RequestError, TrustUnavailable

__all__ = ["MemoryPartnerGuard", "PartnerGuard", "RateLimitedError", "RedisPartnerGuard"]

RATE_WINDOW_S = 60  # fixed window of the per-partner limit (§10.5: "per minute")


class RateLimitedError(RequestError):
    """Over the partner's limit; the HTTP layer sends `retry_after` as the Retry-After header."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(ErrorCode.RATE_LIMITED, message)
        self.retry_after = retry_after


class PartnerGuard(Protocol):
    """Admits one authenticated partner call: jti not seen before, partner under its limit."""

    def admit(self, *, partner: str, jti: str, expires_at: int, now: float) -> None: ...


def _window(now: float) -> tuple[int, int]:
    """(window number, seconds until the next window starts, at least 1)."""
    window = int(now // RATE_WINDOW_S)
    return window, max(1, int((window + 1) * RATE_WINDOW_S - now + 0.999))


def _refuse(partner: str, used: int, limit: int, retry_after: int) -> RateLimitedError:
    return RateLimitedError(
        f"partner {partner!r} made {used} calls this minute, the limit is {limit}; "
        f"retry after {retry_after} s",
        retry_after=retry_after,
    )


def _replayed() -> RequestError:
    return RequestError(
        ErrorCode.ASSERTION_REPLAYED, "this assertion jti was already used; sign a new one"
    )


class RedisPartnerGuard:
    """The guard for production: Redis `SET NX EX` for jtis, a fixed-window counter per partner."""

    def __init__(self, redis_url: str, *, limit_per_minute: int, skew_s: int = 120) -> None:
        self._redis = redis.Redis.from_url(
            redis_url, socket_connect_timeout=1.0, socket_timeout=1.0
        )
        self.limit_per_minute = limit_per_minute
        self.skew_s = skew_s

    def admit(self, *, partner: str, jti: str, expires_at: int, now: float) -> None:
        """Raise assertion_replayed, rate_limited or upstream_unavailable; else return."""
        window, retry_after = _window(now)
        # The jti is kept until the assertion could no longer pass the time checks anyway.
        jti_ttl = max(1, int(expires_at + self.skew_s - now) + 1)
        rate_key = f"hc:partner:rate:{partner}:{window}"
        try:
            pipe = self._redis.pipeline(transaction=False)
            pipe.set(f"hc:partner:jti:{partner}:{jti}", 1, nx=True, ex=jti_ttl)
            pipe.set(rate_key, 0, nx=True, ex=RATE_WINDOW_S * 2)
            pipe.incr(rate_key)
            first_use, _, used = pipe.execute()
        except redis.RedisError as exc:
            raise TrustUnavailable(
                ErrorCode.UPSTREAM_UNAVAILABLE,
                f"replay and rate-limit storage (Redis) is unreachable ({type(exc).__name__}); "
                "partner calls are refused until it is back",
            ) from exc
        if not first_use:
            raise _replayed()
        if int(used) > self.limit_per_minute:
            raise _refuse(partner, int(used), self.limit_per_minute, retry_after)

    def close(self) -> None:
        self._redis.close()


class MemoryPartnerGuard:
    """In-process guard for a single replica without Redis (embedded demo only)."""

    def __init__(self, *, limit_per_minute: int) -> None:
        self.limit_per_minute = limit_per_minute
        self._lock = threading.Lock()
        self._jtis: dict[tuple[str, str], int] = {}
        self._counts: dict[tuple[str, int], int] = {}

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
