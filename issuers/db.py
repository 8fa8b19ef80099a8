"""Engine, sessions and the migration step (Alembic, programmatic: no alembic.ini needed)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, event
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, create_engine

from healthcode.errors import ErrorCode, RequestError

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
logger = logging.getLogger("issuers.db")

#: Where a session's unit of work keeps the jtis it revoked until its transaction ends.
_REVOKED = "hc.revoked"
Publish = Callable[[list[str]], object]


def make_engine(database_url: str) -> Engine:
    """An engine for SQLite (file, WAL, foreign keys) or PostgreSQL (by URL)."""
    if database_url.startswith("sqlite"):
        engine = create_engine(database_url, connect_args={"check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(connection: object, _record: object) -> None:
            cursor = connection.cursor()  # type: ignore[attr-defined]
            # WAL lets the API read while an import writes; busy_timeout waits instead of failing.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=10000")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    return create_engine(database_url, pool_pre_ping=True)


def _conflict() -> RequestError:
    # The constraint's own message names the duplicate value; it is never passed on.
    return RequestError(
        ErrorCode.CONFLICT,
        "a concurrent request created the same record (duplicate registration, binding, "
        "account or declaration); reload and retry",
    )


class IssuerSession(Session):
    """The issuer's unit of work.

    - A unique-constraint violation is `conflict`, not a 500. The services check for
      duplicates before writing, but two identical requests at the same moment both pass that
      check; the database's constraint then refuses the second, and this turns that refusal
      into the same answer the check gives.
    - Codes revoked in it (`note_revoked`, called by `revocation.revoke_codes`) are published
      by `publish` once its transaction commits, and forgotten if it rolls back: no caller
      publishes by hand, and a rolled-back change never reaches Redis.
    """

    def __init__(self, engine: Engine, *, publish: Publish | None = None, **kwargs: Any) -> None:
        super().__init__(engine, **kwargs)
        self.publish_revoked = publish

    def flush(self, objects: Sequence[Any] | None = None) -> None:
        try:
            super().flush(objects)
        except IntegrityError:
            raise _conflict() from None

    def commit(self) -> None:
        try:
            super().commit()
        except IntegrityError:
            self.rollback()
            raise _conflict() from None

    def close(self) -> None:
        self.info.pop(_REVOKED, None)  # closed without a commit: nothing was revoked
        super().close()


def note_revoked(session: Session, jtis: Iterable[str]) -> None:
    """Record jtis revoked in `session`'s transaction, to publish once it commits."""
    session.info.setdefault(_REVOKED, []).extend(jtis)


@event.listens_for(IssuerSession, "after_commit")
def _publish_committed(session: Session) -> None:
    revoked = session.info.pop(_REVOKED, None)
    publish = getattr(session, "publish_revoked", None)
    if revoked and publish is not None:
        try:
            publish(revoked)
        except Exception:  # committed is committed: the publisher's catch-up adds them later
            logger.exception("publishing %d revoked codes after commit failed", len(revoked))


@event.listens_for(IssuerSession, "after_soft_rollback")
def _forget_rolled_back(session: Session, _previous: object) -> None:
    # Every rollback, a savepoint's included: forgetting too much only delays publication
    # until the publisher's catch-up; publishing a rolled-back revocation would turn a valid
    # code red.
    session.info.pop(_REVOKED, None)


class Invalidator(Protocol):
    """Told after each commit which citizens changed and which sessions ended (HotCache)."""

    def invalidate(
        self, subjects: Iterable[str] = (), sessions: Iterable[tuple[str, int]] = ()
    ) -> dict[str, int | None]: ...


#: `Session.info` keys: the invalidator, the subjects changed and the sessions revoked so far,
#: and after a commit each changed subject's new cache generation (None: not known).
INVALIDATOR, CHANGED_SUBJECTS, REVOKED_SESSIONS = "hc_invalidator", "hc_subjects", "hc_sessions"
GENERATIONS = "hc_generations"


def session(
    engine: Engine, publish: Publish | None = None, invalidator: Invalidator | None = None
) -> Session:
    """A unit of work that keeps loaded objects usable after commit (`IssuerSession`) and
    hands revoked jtis to `publish` after each commit; `invalidator` hears after each commit
    of every citizen or code row it changed and every login it ended (ADR 0022)."""
    opened = IssuerSession(engine, publish=publish, expire_on_commit=False)
    if invalidator is not None:
        opened.info[INVALIDATOR] = invalidator
    return opened


@event.listens_for(IssuerSession, "after_flush")
def _collect_changes(session: Session, _context: object) -> None:
    if INVALIDATOR not in session.info:
        return
    from issuers.models import Citizen, IssuedCode

    changed: set[str] = session.info.setdefault(CHANGED_SUBJECTS, set())
    for row in (*session.new, *session.dirty, *session.deleted):
        if isinstance(row, Citizen) or (isinstance(row, IssuedCode) and row not in session.new):
            changed.add(row.subject)
    # A new code row leaves a cached answer true: it is a printed code, a checkpoint
    # look-up's short credential, or a phone code issued by the miss that will fill the
    # cache. Dropping the entry for it made every look-up of a citizen send their phone's
    # next requests to the database at once, all queueing on the citizen's row lock.


@event.listens_for(IssuerSession, "after_commit")
def _invalidate_committed(session: Session) -> None:
    invalidator = session.info.get(INVALIDATOR)
    subjects = session.info.pop(CHANGED_SUBJECTS, set())
    sessions = session.info.pop(REVOKED_SESSIONS, [])
    if invalidator is not None and (subjects or sessions):
        session.info[GENERATIONS] = invalidator.invalidate(subjects, sessions)


@event.listens_for(IssuerSession, "after_soft_rollback")
def _forget_changes(session: Session, _previous: object) -> None:
    session.info.pop(CHANGED_SUBJECTS, None)
    session.info.pop(REVOKED_SESSIONS, None)


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def migrate(database_url: str, revision: str = "head") -> None:
    """Create or upgrade the schema to `revision`; running it again is a no-op."""
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str = "base") -> None:
    """Undo migrations down to `revision` (tests and rollbacks)."""
    command.downgrade(alembic_config(database_url), revision)
