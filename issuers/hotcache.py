"""The citizen hot path's Redis state: revoked sessions and each citizen's current code (ADR 0022).

One round trip (a non-transactional pipeline) answers a citizen's request:

- `hc:<iss>:session-revoked:<sid>` exists while a logged-out citizen session's token is
  unexpired; `hc:<iss>:session-revoked-ready` says the set is complete (rebuilt from the
  database after Redis started empty). Without the marker the database decides.
- `hc:<iss>:code-answer:{<subject>}` holds the citizen's current phone code and profile as the
  answer bytes they are sent as (issuers/owncode.py `pack_entry`);
  `hc:<iss>:code-gen:{<subject>}` is bumped with every invalidation. The two share
  a hash tag (one cluster slot): a fill is a script that stores the entry only if the
  generation read before the database read is still current, so a fill racing a colour
  change can never store the old code after the change's invalidation.

Writes happen after the database commit (`invalidate`, called by the session hooks in
issuers/db.py). A write Redis refuses is queued and retried by a worker thread, which also
rebuilds the revoked-session set whenever its marker is missing. While Redis fails, a circuit
breaker keeps requests off it for `retry_interval_s` and they take the database path: never an
error, never more than one short timeout.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import redis
from sqlalchemy import Engine, select

from healthcode.server.fastredis import PipelinedRedis
from healthcode.server.metrics import BACKEND_ERRORS
from healthcode.server.redis_client import connect_redis, is_cluster_url
from issuers.models import AuthSession

logger = logging.getLogger("issuers.hotcache")

#: Revoked-session keys outlive their token's `exp` by this much (clock skew between replicas).
_SESSION_SKEW_S = 60
#: Generations live this long: far beyond any fill in flight.
_GENERATION_TTL_S = 2 * 24 * 3600
#: Pending invalidations kept per process while Redis refuses them; past this many the worker
#: deletes every cached code of this issuer instead once Redis answers.
_MAX_PENDING = 100_000

REDIS_ERRORS = BACKEND_ERRORS.labels("issuer", "redis")

_FILL_SCRIPT = """
if (redis.call('GET', KEYS[2]) or '') == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
  return 1
end
return 0
"""


def code_key(issuer_id: str, subject: str) -> str:
    """The key of a citizen's cached answers."""
    # "code-answer", not the earlier "code": entries in the old format are never read.
    return f"hc:{issuer_id}:code-answer:{{{subject}}}"


@dataclass(frozen=True, slots=True)
class Probe:
    """What one round trip told about a citizen's request."""

    session_revoked: bool
    #: the cached entry (orjson bytes), None on a miss
    entry: bytes | None
    #: the subject's generation when read ("" if none): a fill stores only if it still holds
    generation: str


class HotCache:
    """Redis state of the citizen hot path for one issuer; thread- and task-safe."""

    def __init__(
        self,
        redis_url: str,
        issuer_id: str,
        engine: Engine,
        *,
        timeout_s: float,
        retry_interval_s: float,
    ) -> None:
        self._writer = connect_redis(redis_url, timeout_s=timeout_s)
        self._fill = self._writer.register_script(_FILL_SCRIPT)
        #: the probe's client: redis-py's asyncio pipeline costs most of the hot path's budget.
        #: A cluster (ADR 0024) is probed with redis-py's cluster pipeline in a thread instead.
        self._probe_client = (
            None if is_cluster_url(redis_url) else PipelinedRedis(redis_url, timeout_s=timeout_s)
        )
        self._issuer_id = issuer_id
        self._prefix = f"hc:{issuer_id}:"
        self._ready_key = f"hc:{issuer_id}:session-revoked-ready"
        self._engine = engine
        self._retry_interval_s = retry_interval_s
        self._open_until = 0.0
        self._lock = threading.Lock()
        self._pending_subjects: set[str] = set()
        self._pending_sessions: dict[str, int] = {}
        self._drop_every_code = False
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._worker: threading.Thread | None = None

    # -- keys

    def session_key(self, session_id: str) -> str:
        return f"{self._prefix}session-revoked:{session_id}"

    def code_key(self, subject: str) -> str:
        return code_key(self._issuer_id, subject)

    def generation_key(self, subject: str) -> str:
        return f"{self._prefix}code-gen:{{{subject}}}"

    # -- the request path (async, on the event loop)

    def usable(self) -> bool:
        return time.monotonic() >= self._open_until

    def _trip(self, error: Exception) -> None:
        REDIS_ERRORS.inc()
        if self.usable():
            logger.warning("redis unavailable (%s); citizen requests use the database", error)
        self._open_until = time.monotonic() + self._retry_interval_s
        self._wake.set()

    async def probe(self, session_id: str, subject: str) -> Probe | None:
        """Session revocation, cached entry and generation in one round trip; None when Redis
        cannot decide (down, or its revoked-session set not yet rebuilt): ask the database."""
        if not self.usable():
            return None
        commands = (
            ("GET", self._ready_key),
            ("EXISTS", self.session_key(session_id)),
            ("GET", self.code_key(subject)),
            ("GET", self.generation_key(subject)),
        )
        try:
            if self._probe_client is not None:
                replies = await self._probe_client.run(*commands)
            else:
                replies = await asyncio.to_thread(self._run_in_pipeline, commands)
            ready, revoked, entry, generation = replies
        except (redis.RedisError, OSError) as error:
            self._trip(error)
            return None
        if ready is None:
            self._wake.set()  # the worker rebuilds the set; meanwhile the database decides
            return None
        assert entry is None or isinstance(entry, bytes)
        return Probe(bool(revoked), entry, generation.decode() if generation else "")  # type: ignore[union-attr]

    async def fill(
        self, subject: str, probe: Probe, own_bump: int | bool | None, entry: bytes, ttl_s: int
    ) -> None:
        """Store a citizen's entry unless an invalidation came after the probe. `own_bump`:
        False if the request changed nothing of the citizen, else the generation its own
        commit set (None: unknown, so nothing is stored)."""
        if ttl_s <= 0 or not self.usable() or own_bump is None:
            return
        generation = probe.generation
        if own_bump is not False:
            if own_bump != int(generation or 0) + 1:
                return  # someone else invalidated too: the read may predate their change
            generation = str(own_bump)
        keys = [self.code_key(subject), self.generation_key(subject)]
        try:
            await asyncio.to_thread(self._fill, keys=keys, args=[generation, entry, ttl_s])
        except (redis.RedisError, OSError) as error:
            self._trip(error)

    def _run_in_pipeline(self, commands: tuple[tuple[str, str], ...]) -> list[Any]:
        with self._writer.pipeline(transaction=False) as pipe:
            for command in commands:
                pipe.execute_command(*command)
            return list(pipe.execute())

    # -- after database commits (any thread)

    def invalidate(
        self, subjects: Iterable[str] = (), sessions: Iterable[tuple[str, int]] = ()
    ) -> dict[str, int | None]:
        """Drop the cached entries of `subjects` and list the revoked `(session id, exp)`;
        queued for the worker when Redis refuses. Returns each subject's new generation (None
        when queued): a request that changed the citizen itself fills the cache only if the
        generation is its own bump of the one it probed."""
        subjects, sessions = set(subjects), list(sessions)
        if not subjects and not sessions:
            return {}
        if self.usable():
            try:
                return self._write(subjects, sessions)
            except (redis.RedisError, OSError) as error:
                self._trip(error)
        with self._lock:
            self._pending_sessions.update(sessions)
            self._pending_subjects |= subjects
            if len(self._pending_subjects) > _MAX_PENDING:
                self._pending_subjects.clear()
                self._drop_every_code = True
        self.start()
        return dict.fromkeys(subjects)

    def _write(self, subjects: set[str], sessions: list[tuple[str, int]]) -> dict[str, int | None]:
        now = int(time.time())
        ordered = sorted(subjects)
        with self._writer.pipeline(transaction=False) as pipe:
            for subject in ordered:
                pipe.incr(self.generation_key(subject))
                pipe.expire(self.generation_key(subject), _GENERATION_TTL_S)
                pipe.delete(self.code_key(subject))
            for session_id, expires_at in sessions:
                ttl = max(1, expires_at - now + _SESSION_SKEW_S)
                pipe.set(self.session_key(session_id), b"1", ex=ttl)
            results = pipe.execute()
        return {subject: int(results[3 * i]) for i, subject in enumerate(ordered)}

    # -- the worker thread

    def start(self) -> None:
        with self._lock:
            if self._worker is None and not self._stopping.is_set():
                self._worker = threading.Thread(target=self._run, name="hot cache", daemon=True)
                self._worker.start()

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(self._retry_interval_s)
            self._wake.clear()
            if self._stopping.is_set() or not self.usable():
                continue
            try:
                self.catch_up()
            except (redis.RedisError, OSError) as error:
                self._trip(error)
            except Exception:  # the database away: the next round retries
                logger.exception("hot cache catch-up failed; retrying")

    def catch_up(self) -> None:
        """Apply queued writes, and rebuild the revoked-session set if its marker is gone."""
        with self._lock:
            subjects, self._pending_subjects = self._pending_subjects, set()
            sessions, self._pending_sessions = self._pending_sessions, {}
            drop_all, self._drop_every_code = self._drop_every_code, False
        try:
            if drop_all:
                for key in self._writer.scan_iter(match=f"{self._prefix}code:*", count=1000):
                    self._writer.delete(key)
            self._write(subjects, list(sessions.items()))
        except BaseException:
            with self._lock:
                self._pending_subjects |= subjects
                self._pending_sessions.update(sessions)
                self._drop_every_code |= drop_all
            raise
        if sessions or not self._writer.exists(self._ready_key):
            self.rebuild_sessions()

    def rebuild_sessions(self) -> int:
        """List every revoked, unexpired session from the database, then set the marker."""
        now = int(time.time())
        query = select(AuthSession.id, AuthSession.expires_at).where(  # type: ignore[call-overload]
            AuthSession.revoked_at.is_not(None),  # type: ignore[union-attr]
            AuthSession.expires_at > now,
        )
        with self._engine.connect() as connection:
            rows = [(str(r[0]), int(r[1])) for r in connection.execute(query)]
        for start in range(0, len(rows), 1000):
            self._write(set(), rows[start : start + 1000])
        self._writer.set(self._ready_key, str(now))
        return len(rows)

    def close(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._worker is not None:
            self._worker.join(5)
        self._writer.close()

    async def aclose(self) -> None:
        """Close the request path's connections (on the event loop, at shutdown)."""
        if self._probe_client is not None:
            self._probe_client.close()
