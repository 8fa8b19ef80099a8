"""Revocation: recorded in the database, published to Redis and as a signed list (§5.3, §10.4).

The database is the source of truth. Redis holds `hc:revoked:{iss}` (a set of jtis) so a
verifier with Redis access checks a code in one round trip (`SISMEMBER`). When Redis is down,
publishing degrades: the jtis wait in memory, a warning is logged, and the next publish or the
periodic retry rebuilds the set from the database. A request never fails because of Redis.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable

import orjson
import redis
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from healthcode.jws import sign_compact
from healthcode.keys import SigningKey
from healthcode.trust import RevocationStatus
from issuers.models import IssuedCode, Revocation

logger = logging.getLogger("issuers.revocation")

#: Entries stay listed this long past their `exp` (the verifiers' clock skew, standard §4.3).
SKEW_S = 120
_REBUILD_CHUNK = 5000


def redis_key(issuer_id: str) -> str:
    return f"hc:revoked:{issuer_id}"


def revoke_codes(session: Session, codes: Iterable[IssuedCode], at: int) -> list[str]:
    """Revoke the given codes in the caller's transaction: one feed entry (seq) per code."""
    revoked = []
    for code in codes:
        entry = Revocation(jti=code.jti, expires_at=code.expires_at, revoked_at=at)
        session.add(entry)
        session.flush()  # assigns the sequence number
        code.revoked_at = at
        code.seq = entry.seq
        session.add(code)
        revoked.append(code.jti)
    return revoked


def revoke_outstanding(session: Session, subject: str, now: float | None = None) -> list[str]:
    """Revoke every unexpired, unrevoked code of `subject` in the caller's transaction."""
    at = int(time.time() if now is None else now)
    codes = session.exec(
        select(IssuedCode).where(
            IssuedCode.subject == subject,
            col(IssuedCode.revoked_at).is_(None),
            IssuedCode.expires_at + SKEW_S >= at,
        )
    ).all()
    return revoke_codes(session, codes, at)


def active_revocations(session: Session, now: float | None = None) -> list[str]:
    at = int(time.time() if now is None else now)
    return list(
        session.exec(select(Revocation.jti).where(Revocation.expires_at + SKEW_S >= at)).all()
    )


def signed_revocation_list(
    session: Session, issuer_id: str, key: SigningKey, since: int, now: float | None = None
) -> str:
    """The revocation feed after `since` as a compact JWS (uncompressed, standard §10.4)."""
    at = int(time.time() if now is None else now)
    rows = session.exec(
        select(Revocation)
        .where(col(Revocation.seq) > since, Revocation.expires_at + SKEW_S >= at)
        .order_by(col(Revocation.seq))
    ).all()
    latest = session.exec(select(func.max(Revocation.seq))).one()
    payload = {
        "iss": issuer_id,
        "seq": max(int(latest or 0), since),
        "issued_at": at,
        "since": since,
        "entries": [{"jti": row.jti, "exp": row.expires_at} for row in rows],
    }
    return sign_compact(orjson.dumps(payload), key, compress=False)


class RevocationPublisher:
    """Publishes revoked jtis to Redis; tolerates Redis outages and catches up later."""

    def __init__(self, redis_url: str, issuer_id: str, engine: Engine) -> None:
        self.key = redis_key(issuer_id)
        self._engine = engine
        self._client = redis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
        self._lock = threading.Lock()
        self._needs_rebuild = True
        self.last_error: str | None = None

    @property
    def healthy(self) -> bool:
        return not self._needs_rebuild

    def publish(self, jtis: Iterable[str]) -> bool:
        """SADD the jtis; on failure remember to rebuild from the database. True if published."""
        jtis = list(jtis)
        with self._lock:
            if self._needs_rebuild:
                return self._rebuild_locked()
            if not jtis:
                return True
            try:
                self._client.sadd(self.key, *jtis)
            except redis.RedisError as exc:
                self._failed(exc)
                return False
            return True

    def rebuild(self) -> bool:
        """Replace the Redis set with the database's unexpired revocations (atomic RENAME)."""
        with self._lock:
            return self._rebuild_locked()

    def retry(self) -> bool:
        """Called periodically: rebuild if an earlier publish failed."""
        with self._lock:
            return self._rebuild_locked() if self._needs_rebuild else True

    def _rebuild_locked(self) -> bool:
        with Session(self._engine) as session:
            jtis = active_revocations(session)
        staging = f"{self.key}:rebuild"
        try:
            pipe = self._client.pipeline(transaction=True)
            pipe.delete(staging)
            for start in range(0, len(jtis), _REBUILD_CHUNK):
                pipe.sadd(staging, *jtis[start : start + _REBUILD_CHUNK])
            if jtis:
                pipe.rename(staging, self.key)
            else:
                pipe.delete(self.key)
            pipe.execute()
        except redis.RedisError as exc:
            self._failed(exc)
            return False
        if self._needs_rebuild and self.last_error is not None:
            logger.warning("revocations republished to Redis (%d entries)", len(jtis))
        self._needs_rebuild = False
        self.last_error = None
        return True

    def _failed(self, exc: Exception) -> None:
        self._needs_rebuild = True
        self.last_error = type(exc).__name__
        logger.warning(
            "Redis unavailable (%s): revocations kept in the database, retrying",
            type(exc).__name__,
        )

    def close(self) -> None:
        self._client.close()


class RedisRevocationChecker:
    """A `RevocationChecker` reading `SISMEMBER hc:revoked:{iss} jti` (for verifiers, tests)."""

    def __init__(self, client: redis.Redis) -> None:
        self._client = client

    def revocation_status(self, issuer: str, jti: str) -> RevocationStatus:
        try:
            member = self._client.sismember(redis_key(issuer), jti)
        except redis.RedisError:
            return RevocationStatus.UNKNOWN
        return RevocationStatus.REVOKED if member else RevocationStatus.NOT_REVOKED
