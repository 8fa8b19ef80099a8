"""The print audit log: who printed whose code, when (its own database).

One row per printed code: the actor as the issuer names it in its own audit log
(`citizen:<pseudonym>`, `counter_staff:<username>`; `local:<os user>` for a token file printed
with the CLI), the actor's role, a reference to the session (a hash prefix of the bearer token,
never the token), the channel (`service` or `cli`), the action, the pseudonymous subject (`sub`
of the printed credential) and the credential's `jti`. No ID number, no name.

Joining with the issuer's audit: the `jti` is the issuer's `IssuedCode.jti`, whose `subject`
and `issued_at` match the issuer's `read_code:offline` audit entry, and `actor` is that entry's
`actor` verbatim.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Final

from sqlalchemy import Engine, inspect, text
from sqlmodel import Field, Session, SQLModel, create_engine, select

__all__ = [
    "PrintRecord",
    "actor_ref",
    "now_utc",
    "open_audit_log",
    "recent_prints",
    "record_prints",
]

#: Columns added after the first release: (name, DDL type, default for rows written before).
_ADDED_COLUMNS: Final = (
    ("actor", "VARCHAR(96)", "unrecorded"),
    ("channel", "VARCHAR(16)", "service"),
)


class PrintRecord(SQLModel, table=True):
    """One printed code."""

    __tablename__ = "offline_print_audit"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(index=True)
    actor: str = Field(index=True, max_length=96)
    actor_role: str = Field(max_length=32)
    actor_ref: str = Field(max_length=32)
    channel: str = Field(max_length=16)
    action: str = Field(max_length=32)
    subject: str = Field(index=True, max_length=64)
    issuer: str = Field(max_length=64)
    jti: str = Field(index=True, max_length=64)
    layout: str = Field(max_length=8)
    format: str = Field(max_length=8)


def open_audit_log(database_url: str) -> Engine:
    """Engine for the audit database, with its table created (or brought up to date)."""
    connect_args = {"check_same_thread": False} if database_url.startswith("sqlite") else {}
    engine = create_engine(database_url, connect_args=connect_args)
    table = PrintRecord.__table__  # type: ignore[attr-defined]
    existing = inspect(engine)
    if existing.has_table(table.name):
        present = {column["name"] for column in existing.get_columns(table.name)}
        with engine.begin() as connection:
            for name, ddl_type, default in _ADDED_COLUMNS:
                if name not in present:
                    # Constant DDL from the tuple above, never from input.
                    connection.execute(
                        text(
                            f"ALTER TABLE {table.name} ADD COLUMN {name} {ddl_type} "
                            f"NOT NULL DEFAULT '{default}'"
                        )
                    )
    SQLModel.metadata.create_all(engine, tables=[table])
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
