"""Leases in the service's own database: a background job that must run once per round runs
on one replica at a time, whichever holds its lease.

A lease is a row `(name, holder, expiry_s)`. A replica takes it when it is free or expired
and keeps it by renewing before it expires; a replica that dies stops renewing, and another
takes over one `ttl_s` later. Taking is one conditional UPDATE, or an INSERT that the primary
key lets only one replica win: atomic on SQLite and PostgreSQL alike, no advisory-lock
dialect, no clock but the callers' (replicas' clocks agree to well within `ttl_s`).

The table is `JobLease` on the shared SQLModel metadata: services that create their tables
with `create_all` get it with them; the issuer's Alembic history creates it in a migration.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import time

from sqlalchemy import Engine, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlmodel import Field, Session, SQLModel, col

__all__ = ["MIN_LEASE_TTL_S", "JobLease", "Lease", "lease_ttl", "replica_name"]

logger = logging.getLogger("healthcode.leases")


class JobLease(SQLModel, table=True):
    """Who runs a once-per-round background job now, and until when (epoch seconds)."""

    __tablename__ = "job_lease"

    name: str = Field(primary_key=True, max_length=64)
    holder: str = Field(max_length=128)
    expiry_s: float  # epoch seconds, fractional (leases can be shorter than a second)


#: The shortest lease a job gets, however often it runs: a holder that is merely slow (a
#: loaded machine, a long GC pause) must not lose its lease between two rounds.
MIN_LEASE_TTL_S = 30.0


def lease_ttl(interval_s: float, rounds: float = 2.5) -> float:
    """A job's lease: `rounds` of its interval, and never under `MIN_LEASE_TTL_S`. A dead
    holder is replaced after that long; a clean shutdown hands the lease over at once."""
    return max(MIN_LEASE_TTL_S, rounds * interval_s)


def replica_name() -> str:
    """This process's name in leases: host, process id and a random part (a restarted
    process with a reused pid is a new holder)."""
    return f"{socket.gethostname()[:64]}:{os.getpid()}:{secrets.token_hex(4)}"


class Lease:
    """One job's lease as seen from this replica."""

    def __init__(
        self, engine: Engine, name: str, *, ttl_s: float, holder: str | None = None
    ) -> None:
        if ttl_s <= 0:
            raise ValueError(f"a lease needs a positive ttl (got {ttl_s})")
        self.engine = engine
        self.name = name
        self.ttl_s = ttl_s
        self.holder = holder or replica_name()

    def acquire(self, *, now: float | None = None) -> bool:
        """Take or renew the lease; True if this replica holds it until `now + ttl_s`.
        A database error answers False (the job waits for the next round), never raises."""
        at = time.time() if now is None else now
        try:
            with Session(self.engine) as session:
                renewed = session.execute(
                    update(JobLease)
                    .where(col(JobLease.name) == self.name)
                    .where((col(JobLease.holder) == self.holder) | (col(JobLease.expiry_s) < at))
                    .values(holder=self.holder, expiry_s=at + self.ttl_s)
                )
                session.commit()
                if renewed.rowcount == 1:  # type: ignore[attr-defined]
                    return True
                session.add(JobLease(name=self.name, holder=self.holder, expiry_s=at + self.ttl_s))
                try:
                    session.commit()
                except IntegrityError:
                    return False  # another replica holds it, or won the race to insert
                return True
        except SQLAlchemyError as exc:
            logger.warning("lease %s not taken: %s", self.name, type(exc).__name__)
            return False

    def release(self) -> None:
        """Give the lease up now (a clean shutdown), so another replica need not wait."""
        try:
            with Session(self.engine) as session:
                session.execute(
                    update(JobLease)
                    .where(col(JobLease.name) == self.name)
                    .where(col(JobLease.holder) == self.holder)
                    .values(expiry_s=0.0)
                )
                session.commit()
        except SQLAlchemyError as exc:
            logger.warning("lease %s not released: %s", self.name, type(exc).__name__)
