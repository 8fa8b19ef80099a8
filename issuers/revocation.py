"""Revocation: recorded in the database, published to Redis and as a signed list (§5.3, §10.4).

The database is the source of truth. Redis holds `hc:revoked:{iss}` (a set of jtis) so a
verifier with Redis access checks a code in one round trip (`SISMEMBER`). When Redis is down or
slow, publishing degrades: a warning is logged, a circuit breaker stops further attempts for a
few seconds, and a background thread rebuilds the set from the database once Redis answers. A
request never fails, and never waits more than one short timeout, because of Redis.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

import redis
from sqlalchemy import ColumnElement, Engine, func
from sqlmodel import Session, col, select

from healthcode.keys import SigningKey
from healthcode.revocation import LISTED_PAST_EXPIRY_S, RevocationList, redis_key
from healthcode.server.redis_client import RedisClient, connect_redis
from healthcode.trust import RevocationStatus
from issuers.db import note_revoked
from issuers.models import IssuedCode, Revocation

logger = logging.getLogger("issuers.revocation")

_REBUILD_CHUNK = 5000
#: How far behind the newest published `seq` a catch-up looks again: transactions commit out of
#: sequence order, so a row with a lower seq can appear after a higher one was published.
_SEQ_LOOKBACK = 1000
_STAGING_TTL_S = 600


def _listed(at: int) -> ColumnElement[bool]:
    """Revocations still listed at `at`: unexpired, give or take the clock skew."""
    return col(Revocation.expires_at) + LISTED_PAST_EXPIRY_S >= at


def revoke_codes(session: Session, codes: Iterable[IssuedCode], at: int) -> list[str]:
    """Revoke the given codes in the caller's transaction: one feed entry (seq) per code.
    The session publishes them to Redis once that transaction commits (`db.note_revoked`)."""
    revoked = []
    for code in codes:
        entry = Revocation(jti=code.jti, expires_at=code.expires_at, revoked_at=at)
        session.add(entry)
        session.flush()  # assigns the sequence number
        code.revoked_at = at
        code.seq = entry.seq
        session.add(code)
        revoked.append(code.jti)
    note_revoked(session, revoked)
    return revoked


def revoke_outstanding(session: Session, subject: str, now: float | None = None) -> list[str]:
    """Revoke every unexpired, unrevoked code of `subject` in the caller's transaction."""
    at = int(time.time() if now is None else now)
    codes = session.exec(
        select(IssuedCode).where(
            IssuedCode.subject == subject,
            col(IssuedCode.revoked_at).is_(None),
            IssuedCode.expires_at + LISTED_PAST_EXPIRY_S >= at,
        )
    ).all()
    return revoke_codes(session, codes, at)


def active_revocations(session: Session, now: float | None = None) -> list[str]:
    at = int(time.time() if now is None else now)
    return list(session.exec(select(Revocation.jti).where(_listed(at))).all())


def signed_revocation_list(
    session: Session, issuer_id: str, key: SigningKey, since: int, now: float | None = None
) -> str:
    """The revocation feed after `since` as a compact JWS (uncompressed, standard §10.4)."""
    at = int(time.time() if now is None else now)
    rows = session.exec(
        select(Revocation)
        .where(col(Revocation.seq) > since, _listed(at))
        .order_by(col(Revocation.seq))
    ).all()
    latest = session.exec(select(func.max(Revocation.seq))).one()
    listed = RevocationList(
        iss=issuer_id,
        seq=max(int(latest or 0), since),
        since=since,
        issued_at=at,
        entries={row.jti: row.expires_at for row in rows},
    )
    return listed.sign(key)


@dataclass(frozen=True, slots=True)
class RevocationSnapshot:
    """The unexpired revocations in the database at one moment, and the highest `seq` seen."""

    jtis: list[str]
    seq: int


class RevocationPublisher:
    """Publishes revoked jtis to Redis without ever making a request wait on Redis.

    - `publish()` (called by requests after their commit) does at most one `SADD` with a short
      timeout, and only when Redis is healthy and no other thread is writing to it (a
      non-blocking lock); otherwise it queues the jtis for the worker thread and returns.
    - A failed write opens a circuit breaker: nothing talks to Redis for `retry_interval_s`;
      then the worker rebuilds the set from the database (half-open) and, on success, closes
      the circuit. Rebuilds run only in the worker, at start-up and from the CLI.
    - Every `retry_interval_s` the worker also adds revocations other processes committed
      (`seq` beyond what it has published), so a revocation whose publication failed in a
      CLI import or another replica still reaches Redis; hourly it rebuilds to drop expired
      jtis.
    - A rebuild replaces the set atomically (RENAME of a staging set) and then re-adds every
      revocation newer than its snapshot, so a jti another process added meanwhile survives.
    """

    def __init__(
        self,
        redis_url: str,
        issuer_id: str,
        engine: Engine,
        *,
        timeout_s: float = 0.5,
        rebuild_timeout_s: float = 5.0,
        retry_interval_s: float = 5.0,
        prune_interval_s: float = 3600.0,
    ) -> None:
        self.key = redis_key(issuer_id)
        self._engine = engine
        self._client = connect_redis(redis_url, timeout_s=timeout_s)
        # A rebuild sends thousands of members per command: it gets longer to answer.
        self._bulk_client = connect_redis(
            redis_url, timeout_s=rebuild_timeout_s, connect_timeout_s=timeout_s
        )
        self._retry_interval_s = retry_interval_s
        self._prune_interval_s = prune_interval_s
        self._pending: list[str] = []
        self._pending_lock = threading.Lock()  # only ever held to append to or swap the list
        self._io_lock = threading.Lock()  # one writer to Redis at a time
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._worker: threading.Thread | None = None
        self._needs_rebuild = True
        self._circuit_open_until = 0.0  # monotonic; no Redis I/O before it after a failure
        self._published_seq = 0
        self._next_catch_up = 0.0
        self._next_prune = time.monotonic() + prune_interval_s
        self.last_error: str | None = None

    @property
    def healthy(self) -> bool:
        """Whether the last write to Redis worked (False until the first rebuild did)."""
        return not self._needs_rebuild

    # -- called by requests

    def publish(self, jtis: Iterable[str]) -> bool:
        """Add freshly committed revocations to Redis, or queue them; never blocks on Redis
        for longer than one short timeout. True if they are in Redis now."""
        jtis = list(jtis)
        if not jtis:
            return True
        if (
            not self._needs_rebuild
            and time.monotonic() >= self._circuit_open_until
            and self._io_lock.acquire(blocking=False)
        ):
            try:
                self._client.sadd(self.key, *jtis)
                return True
            except redis.RedisError as exc:
                self._failed(exc)
            finally:
                self._io_lock.release()
        with self._pending_lock:
            self._pending.extend(jtis)
        self._start_worker()
        self._wake.set()
        return False

    # -- the worker thread

    def start(self) -> None:
        """Start the background worker (the app does at start-up; `publish` does on demand)."""
        self._start_worker()

    def _start_worker(self) -> None:
        if self._worker is not None or self._stopping.is_set():
            return
        with self._pending_lock:
            if self._worker is None:
                self._worker = threading.Thread(
                    target=self._run, name=f"revocations {self.key}", daemon=True
                )
                self._worker.start()

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(self._retry_interval_s)
            self._wake.clear()
            try:
                self.step()
            except Exception:  # the worker must outlive any one failure (a bug is logged)
                logger.exception("revocation publisher step failed")

    def step(self) -> None:
        """One round of the worker: rebuild if needed or due, else write queued jtis and
        catch up with other processes' revocations. Skipped while the circuit is open."""
        now = time.monotonic()
        if now < self._circuit_open_until:
            return
        with self._io_lock:
            if self._needs_rebuild or now >= self._next_prune:
                if not self._rebuild_locked():
                    return
                self._next_prune = now + self._prune_interval_s
                self._next_catch_up = now + self._retry_interval_s
            if not self._drain_locked():
                return
            if now >= self._next_catch_up:
                self._catch_up_locked()
                self._next_catch_up = now + self._retry_interval_s

    def flush(self, timeout_s: float = 2.0) -> bool:
        """Wait (at most `timeout_s`) until queued jtis are in Redis; True if they are."""
        deadline = time.monotonic() + timeout_s
        while True:
            with self._pending_lock:
                idle = not self._pending
            if idle and not self._needs_rebuild:
                return True
            if time.monotonic() >= deadline:
                return False
            if self._worker is None:
                self.step()
            else:
                self._wake.set()
            time.sleep(0.02)

    def close(self) -> None:
        """Write what is queued (briefly, if Redis answers), stop the worker, disconnect."""
        with self._pending_lock:
            queued = bool(self._pending)
        if queued and not self._needs_rebuild:
            self.flush(timeout_s=2.0)
        self._stopping.set()
        self._wake.set()
        if self._worker is not None:
            self._worker.join(timeout=10)
        self._client.close()
        self._bulk_client.close()

    # -- synchronous operations (start-up, CLI, tests)

    def rebuild(self) -> bool:
        """Replace the Redis set with the database's unexpired revocations; True on success."""
        with self._io_lock:
            return self._rebuild_locked()

    def retry(self) -> bool:
        """Rebuild now if an earlier write failed (ignores the circuit breaker's wait)."""
        with self._io_lock:
            if self._needs_rebuild and not self._rebuild_locked():
                return False
            return self._drain_locked()

    def snapshot(self) -> RevocationSnapshot:
        """The database's unexpired revocations (the first half of a rebuild)."""
        at = int(time.time())
        with Session(self._engine) as session:
            rows = session.exec(select(Revocation.jti, Revocation.seq).where(_listed(at))).all()
        return RevocationSnapshot(
            [jti for jti, _ in rows], max((s or 0 for _, s in rows), default=0)
        )

    def swap_in(self, snapshot: RevocationSnapshot) -> bool:
        """Make `snapshot` the Redis set, then re-add everything revoked since (the second
        half of a rebuild); True on success."""
        with self._io_lock:
            return self._swap_in_locked(snapshot)

    # -- internals (called with the I/O lock held)

    def _rebuild_locked(self) -> bool:
        try:
            # A black-holed Redis costs one short timeout here, not the bulk client's long one.
            self._client.ping()
        except redis.RedisError as exc:
            self._failed(exc)
            return False
        return self._swap_in_locked(self.snapshot())

    def _swap_in_locked(self, snapshot: RevocationSnapshot) -> bool:
        # A staging key of our own: two replicas rebuilding at once must not mix their sets.
        staging = f"{self.key}:rebuild:{secrets.token_hex(6)}"
        try:
            client = self._bulk_client
            client.delete(staging)
            for start in range(0, len(snapshot.jtis), _REBUILD_CHUNK):
                pipe = client.pipeline(transaction=False)
                pipe.sadd(staging, *snapshot.jtis[start : start + _REBUILD_CHUNK])
                pipe.expire(staging, _STAGING_TTL_S)  # a crash mid-rebuild leaves no garbage
                pipe.execute()
            if snapshot.jtis:
                client.rename(staging, self.key)
            else:
                client.delete(self.key)
            # Another process may have committed and added a jti after our snapshot; the
            # RENAME just dropped it. Re-add everything from shortly before the snapshot on.
            newest = self._add_since_locked(snapshot.seq - _SEQ_LOOKBACK)
        except redis.RedisError as exc:
            self._failed(exc)
            with contextlib.suppress(redis.RedisError):
                self._client.delete(staging)
            return False
        self._published_seq = max(snapshot.seq, newest)
        if self._needs_rebuild and self.last_error is not None:
            logger.warning("revocations republished to Redis (%d entries)", len(snapshot.jtis))
        self._needs_rebuild = False
        self._circuit_open_until = 0.0
        self.last_error = None
        return True

    def _add_since_locked(self, after_seq: int) -> int:
        """SADD every unexpired revocation with `seq > after_seq`; returns the highest seq."""
        at = int(time.time())
        with Session(self._engine) as session:
            rows = session.exec(
                select(Revocation.jti, Revocation.seq)
                .where(
                    col(Revocation.seq) > after_seq,
                    _listed(at),
                )
                .order_by(col(Revocation.seq))
            ).all()
        for start in range(0, len(rows), _REBUILD_CHUNK):
            chunk = rows[start : start + _REBUILD_CHUNK]
            self._bulk_client.sadd(self.key, *(jti for jti, _ in chunk))
        return max((seq or 0 for _, seq in rows), default=after_seq)

    def _drain_locked(self) -> bool:
        with self._pending_lock:
            jtis, self._pending = self._pending, []
        if not jtis:
            return True
        try:
            for start in range(0, len(jtis), _REBUILD_CHUNK):
                self._client.sadd(self.key, *jtis[start : start + _REBUILD_CHUNK])
        except redis.RedisError as exc:
            # They are in the database: the rebuild that follows the failure restores them.
            self._failed(exc)
            return False
        return True

    def _catch_up_locked(self) -> None:
        # Commits can land out of sequence order: look back a little behind the high mark.
        try:
            newest = self._add_since_locked(self._published_seq - _SEQ_LOOKBACK)
        except redis.RedisError as exc:
            self._failed(exc)
            return
        self._published_seq = max(self._published_seq, newest)

    def _failed(self, exc: Exception) -> None:
        was_healthy = not self._needs_rebuild or self.last_error is None
        self._needs_rebuild = True
        self._circuit_open_until = time.monotonic() + self._retry_interval_s
        self.last_error = type(exc).__name__
        if was_healthy:
            logger.warning(
                "Redis unavailable (%s): revocations kept in the database, retrying every %g s",
                type(exc).__name__,
                self._retry_interval_s,
            )
        self._wake.set()


class RedisRevocationChecker:
    """A `RevocationChecker` reading `SISMEMBER hc:revoked:{iss} jti` (for verifiers, tests)."""

    def __init__(self, client: RedisClient) -> None:
        self._client = client

    def revocation_status(self, issuer: str, jti: str) -> RevocationStatus:
        try:
            member = self._client.sismember(redis_key(issuer), jti)
        except redis.RedisError:
            return RevocationStatus.UNKNOWN
        return RevocationStatus.REVOKED if member else RevocationStatus.NOT_REVOKED
