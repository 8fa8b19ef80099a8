"""The print audit log: who printed whose code, when (its own database).

Rows hold the actor's role, a reference to the actor's session (a hash prefix of the bearer
token, never the token), the action, the pseudonymous subject (`sub` of the printed credential)
and the credential's `jti`. No ID number, no name.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlmodel import Field, Session, SQLModel, create_engine, select

__all__ = [
    "PrintRecord",
    "actor_ref",
    "now_utc",
    "open_audit_log",
    "recent_prints",
    "record_prints",
]


class PrintRecord(SQLModel, table=True):
    """One printed code."""

    __tablename__ = "offline_print_audit"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(index=True)
    actor_role: str = Field(max_length=32)
    actor_ref: str = Field(max_length=32)
    action: str = Field(max_length=32)
    subject: str = Field(index=True, max_length=64)
    issuer: str = Field(max_length=64)
    jti: str = Field(max_length=64)
    layout: str = Field(max_length=8)
    format: str = Field(max_length=8)


def open_audit_log(database_url: str) -> Engine:
    """Engine for the audit database, with its table created."""
    connect_args = {"check_same_thread": False} if database_url.startswith("sqlite") else {}
    engine = create_engine(database_url, connect_args=connect_args)
    SQLModel.metadata.create_all(engine, tables=[PrintRecord.__table__])  # type: ignore[attr-defined]
    return engine


def actor_ref(bearer_token: str) -> str:
    """A stable reference to the caller's session that cannot be replayed as a token."""
    return hashlib.sha256(bearer_token.encode()).hexdigest()[:16]


def record_prints(engine: Engine, records: Sequence[PrintRecord]) -> None:
    """Write the records of one print request in one transaction (all or none)."""
    with Session(engine) as session:
        for record in records:
            session.add(record)
        session.commit()


def recent_prints(engine: Engine, limit: int = 100) -> list[PrintRecord]:
    """The latest records, newest first."""
    with Session(engine) as session:
        statement = select(PrintRecord).order_by(PrintRecord.id.desc()).limit(limit)  # type: ignore[union-attr]
        return list(session.exec(statement))


def now_utc() -> datetime:
    """The time stamped on a record."""
    return datetime.now(UTC)
