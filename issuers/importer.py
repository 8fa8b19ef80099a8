"""Bulk import of official feeds: streamed, batched, idempotent, pseudonymised on read.

`import_feed` reads the CSV through `issuers.feeds.read_feed` (which pseudonymises the ID
column at once), inserts rows in batches with `ON CONFLICT (row_key) DO NOTHING` (the same file
twice adds nothing), recomputes the colour of every registered citizen a batch touched, and
commits batch by batch, so memory stays flat however long the file is. Rejected rows are
reported with their line and reason; they never stop the import.

Audit: the import's own entry (`import:<kind>`) is written and committed before the first
row, moved on in every batch's transaction ("running on <host>:<pid>: N new rows committed
through line L", exact because it commits with the rows) and given the outcome at the end. An
import whose process was killed keeps "running"; the next start of that host's issuer service
or import command marks it interrupted with those counts (`mark_interrupted_imports`).

Every event a batch adds is audited under its citizen's pseudonym (`feed_event:<kind>`)
in the batch's transaction. An import that stops part way (the database failed, the file could
not be read) raises `ImportInterrupted` with the report so far: every row up to
`committed_through_line` is stored, and importing the same file again finishes the job.
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TextIO

from sqlalchemy import Table, insert
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, select

from healthcode.errors import ErrorCode, HealthcodeError, RequestError
from issuers.context import IssuerContext
from issuers.events import Event, RiskArea
from issuers.feeds import FeedError, FeedKind, FeedRow, RejectedRow, read_feed
from issuers.models import AuditEntry, Citizen, EventRecord, RiskAreaRecord
from issuers.store import current_risk_areas, recompute

logger = logging.getLogger("issuers.importer")

#: Rejected rows listed in a report (all are counted); the rest are summarised.
MAX_LISTED_REJECTIONS = 1000

#: The audit reason of an import in progress; the owner is "<host>:<pid>" of its process.
_RUNNING = re.compile(r"running on (?P<host>.+):(?P<pid>[0-9]+): (?P<progress>.*)")


@dataclass
class ImportReport:
    """What an import did, row by row where it refused something."""

    kind: str
    rows: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected_count: int = 0
    rejected: list[RejectedRow] = field(default_factory=list)
    status_changes: int = 0
    revoked: int = 0
    #: the physical line of the last row read, and of the last row whose batch is committed
    last_line: int = 0
    committed_through_line: int = 0
    #: False while running and when the import stopped part way
    complete: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "rows": self.rows,
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected_count": self.rejected_count,
            "rejected": [
                {"line": row.line, "error": row.code.value, "reason": row.reason}
                for row in self.rejected
            ],
            "status_changes": self.status_changes,
            "revoked": self.revoked,
            "complete": self.complete,
            "last_line": self.last_line,
            "committed_through_line": self.committed_through_line,
        }

    def summary(self) -> str:
        """One line for the audit log: counts only, never row contents."""
        return (
            f"{self.accepted} accepted, {self.duplicates} duplicates, "
            f"{self.rejected_count} rejected, {self.status_changes} status changes; "
            f"rows committed through line {self.committed_through_line}"
        )


class ImportInterrupted(RequestError):
    """An import stopped part way; `report` says how far it got (also in the error body).

    Code `upstream_unavailable` when the database or the file failed under it, and
    `invalid_request` when the file turned out not to be UTF-8 text part way through.
    """

    def __init__(self, code: ErrorCode, report: ImportReport, cause: str) -> None:
        super().__init__(
            code,
            f"the {report.kind} import stopped at line {report.last_line} ({cause}); the "
            f"{report.accepted} new rows through line {report.committed_through_line} are "
            "stored. Import the same file again to finish: stored rows are skipped.",
            details={"report": report.to_json()},
        )
        self.report = report


def _insert_ignoring_duplicates(
    session: Session, table: Table, rows: Sequence[dict[str, Any]], returning: str
) -> list[Any]:
    """Insert rows, skipping those whose row_key exists; returns `returning` of new rows."""
    if not rows:
        return []
    dialect = session.get_bind().dialect.name
    insert = sqlite_insert if dialect == "sqlite" else postgresql_insert
    # One compiled statement executed with many parameter sets: SQLAlchemy batches it
    # ("insertmanyvalues") and caches the compilation, which a fresh VALUES list per batch defeats.
    statement = (
        insert(table)
        .on_conflict_do_nothing(index_elements=["row_key"])
        .returning(table.c[returning])
    )
    return list(session.execute(statement, list(rows)).scalars())


def _event_row(row: FeedRow, source: str, at: int) -> dict[str, Any]:
    record = row.record
    assert isinstance(record, Event)
    return {
        "subject": row.subject,
        "kind": record.kind.value,
        "occurred_at": int(record.occurred_at.timestamp()),
        "data": json.dumps(dict(record.data), ensure_ascii=False, sort_keys=True),
        "row_key": row.row_key,
        "source": source,
        "created_at": at,
    }


def _risk_area_row(row: FeedRow, at: int) -> dict[str, Any]:
    record = row.record
    assert isinstance(record, RiskArea)
    return {
        "area_code": record.area_code,
        "level": record.level,
        "valid_from": int(record.valid_from.timestamp()),
        "valid_until": None if record.valid_until is None else int(record.valid_until.timestamp()),
        "row_key": row.row_key,
        "created_at": at,
    }


def _recompute_subjects(
    ctx: IssuerContext,
    session: Session,
    subjects: set[str],
    *,
    actor: str,
    now: int,
    report: ImportReport,
) -> list[str]:
    if not subjects:
        return []
    citizens = session.exec(
        select(Citizen).where(col(Citizen.subject).in_(subjects)).with_for_update()
    ).all()
    revoked: list[str] = []
    if not citizens:
        return revoked
    areas = current_risk_areas(session, now)
    for citizen in citizens:
        before = (citizen.colour, citizen.reason)
        revoked += recompute(ctx, session, citizen, actor=actor, now=now, risk_areas=areas)
        if (citizen.colour, citizen.reason) != before:
            report.status_changes += 1
    return revoked


def _audit_events(
    session: Session, subjects: list[str], kind: FeedKind, *, actor: str, now: int, import_id: int
) -> None:
    """One audit entry per event added, under its citizen's pseudonym, in one statement."""
    if not subjects:
        return
    table = AuditEntry.__table__  # type: ignore[attr-defined]
    reason = f"import #{import_id}"
    session.execute(
        insert(table),
        [
            {
                "at": now,
                "actor": actor,
                "action": f"feed_event:{kind.value}",
                "subject": subject,
                "reason": reason,
            }
            for subject in subjects
        ],
    )


def _flush_batch(
    ctx: IssuerContext,
    batch: list[FeedRow],
    kind: FeedKind,
    *,
    actor: str,
    now: int,
    report: ImportReport,
    import_id: int,
) -> None:
    """Insert one batch, audit it and recompute the citizens it touched, in one transaction."""
    if not batch:
        return
    with ctx.session() as session:
        if kind is FeedKind.RISK_AREAS:
            table = RiskAreaRecord.__table__  # type: ignore[attr-defined]
            rows = [_risk_area_row(row, now) for row in batch]
            inserted = _insert_ignoring_duplicates(session, table, rows, "row_key")
            revoked: list[str] = []
        else:
            table = EventRecord.__table__  # type: ignore[attr-defined]
            rows = [_event_row(row, f"feed:{kind.value}", now) for row in batch]
            inserted = _insert_ignoring_duplicates(session, table, rows, "subject")
            _audit_events(session, inserted, kind, actor=actor, now=now, import_id=import_id)
            revoked = _recompute_subjects(
                ctx, session, set(inserted), actor=actor, now=now, report=report
            )
        # The progress on the import's entry commits with the rows it counts.
        entry = session.get(AuditEntry, import_id)
        if entry is not None:
            entry.reason = _running(report.accepted + len(inserted), batch[-1].line)
            session.add(entry)
        session.commit()
    report.accepted += len(inserted)
    report.duplicates += len(batch) - len(inserted)
    report.revoked += len(revoked)
    report.committed_through_line = batch[-1].line


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _running(accepted: int, line: int) -> str:
    return f"running on {_owner()}: {accepted} new rows committed through line {line}"


def _recompute_everyone(ctx: IssuerContext, *, actor: str, now: int, report: ImportReport) -> None:
    """After a risk-area change every citizen's itinerary may match: recompute all, paged."""
    last_id = 0
    while True:
        with ctx.session() as session:
            citizens = session.exec(
                select(Citizen)
                .where(col(Citizen.id) > last_id)
                .order_by(col(Citizen.id))
                .limit(500)
                .with_for_update()
            ).all()
            if not citizens:
                return
            areas = current_risk_areas(session, now)
            revoked: list[str] = []
            for citizen in citizens:
                before = (citizen.colour, citizen.reason)
                revoked += recompute(ctx, session, citizen, actor=actor, now=now, risk_areas=areas)
                if (citizen.colour, citizen.reason) != before:
                    report.status_changes += 1
            session.commit()
            last_id = int(citizens[-1].id or 0)
        report.revoked += len(revoked)


def _start_audit(ctx: IssuerContext, kind: FeedKind, *, actor: str, now: int) -> int:
    """The import's audit entry, committed before any row is written; returns its id."""
    with ctx.session() as session:
        entry = AuditEntry(
            at=now,
            actor=actor,
            action=f"import:{kind.value}",
            subject=None,
            reason=_running(0, 1),
        )
        session.add(entry)
        session.commit()
        assert entry.id is not None
        return entry.id


def _finish_audit(ctx: IssuerContext, import_id: int, outcome: str) -> None:
    """Record the outcome on the import's audit entry (it says "running" until then)."""
    try:
        with ctx.session() as session:
            entry = session.get(AuditEntry, import_id)
            if entry is not None:
                entry.reason = outcome[:500]
                session.add(entry)
                session.commit()
    except SQLAlchemyError as exc:
        # The database that stopped the import may refuse this too; the entry then keeps
        # "running" until the next start marks it, and the caller reports the real failure.
        logger.warning("import #%d: outcome not recorded (%s)", import_id, type(exc).__name__)


def _interruption(exc: Exception) -> tuple[ErrorCode, str] | None:
    """The code and a cause (never row contents) of a failure that stops an import part way;
    None for a bug, which is re-raised as it is."""
    if isinstance(exc, HealthcodeError):
        return exc.code, exc.code.value
    if isinstance(exc, UnicodeDecodeError):
        return ErrorCode.INVALID_REQUEST, "the file is not UTF-8 text from here on"
    if isinstance(exc, SQLAlchemyError):
        return ErrorCode.UPSTREAM_UNAVAILABLE, f"the database failed: {type(exc).__name__}"
    if isinstance(exc, OSError):
        return ErrorCode.UPSTREAM_UNAVAILABLE, f"the file could not be read: {type(exc).__name__}"
    return None


def import_feed(
    ctx: IssuerContext,
    stream: TextIO,
    kind: FeedKind,
    *,
    actor: str,
    now: float | None = None,
    batch_size: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import a CSV feed from `stream`; raises FeedError (nothing written) on a wrong header,
    and `ImportInterrupted` (with the report so far) when it stops part way.

    `progress(rows_read)` is called after each batch.
    """
    at = int(time.time() if now is None else now)
    size = batch_size or ctx.settings.import_batch_size
    report = ImportReport(kind=kind.value)
    rows = read_feed(
        stream, kind, subject_secret=ctx.settings.subject_key, now=datetime.fromtimestamp(at, UTC)
    )
    # The header is checked on the first read: a refused feed leaves no trace but its answer.
    try:
        first = next(rows, None)
    except UnicodeDecodeError:
        raise FeedError(f"the {kind.value} feed is not UTF-8 text") from None
    import_id = _start_audit(ctx, kind, actor=actor, now=at)
    try:
        _import_rows(ctx, _chain(first, rows), kind, actor, at, size, report, import_id, progress)
    except Exception as exc:
        interruption = _interruption(exc)
        cause = interruption[1] if interruption is not None else type(exc).__name__
        outcome = f"interrupted at line {report.last_line} ({cause}); {report.summary()}"
        _finish_audit(ctx, import_id, outcome)
        if interruption is None:
            raise
        raise ImportInterrupted(interruption[0], report, cause) from exc
    report.complete = True
    _finish_audit(ctx, import_id, report.summary())
    if progress is not None:
        progress(report.rows)
    return report


def _chain(
    first: FeedRow | RejectedRow | None, rest: Iterator[FeedRow | RejectedRow]
) -> Iterator[FeedRow | RejectedRow]:
    if first is None:
        return
    yield first
    yield from rest


def _import_rows(
    ctx: IssuerContext,
    rows: Iterator[FeedRow | RejectedRow],
    kind: FeedKind,
    actor: str,
    at: int,
    size: int,
    report: ImportReport,
    import_id: int,
    progress: Callable[[int], None] | None,
) -> None:
    batch: list[FeedRow] = []
    valid_rows = 0
    for row in rows:
        report.rows += 1
        report.last_line = row.line
        if isinstance(row, RejectedRow):
            report.rejected_count += 1
            if len(report.rejected) < MAX_LISTED_REJECTIONS:
                report.rejected.append(row)
            if not batch:
                report.committed_through_line = row.line
            continue
        valid_rows += 1
        batch.append(row)
        if len(batch) >= size:
            _flush_batch(ctx, batch, kind, actor=actor, now=at, report=report, import_id=import_id)
            batch = []
            if progress is not None:
                progress(report.rows)
    _flush_batch(ctx, batch, kind, actor=actor, now=at, report=report, import_id=import_id)
    report.committed_through_line = report.last_line
    # Any valid risk-area row, new or already stored, recomputes everyone: so importing the
    # same file again also finishes the recomputation of an import that stopped part way.
    if kind is FeedKind.RISK_AREAS and valid_rows:
        _recompute_everyone(ctx, actor=actor, now=at, report=report)


def mark_interrupted_imports(ctx: IssuerContext) -> int:
    """Mark this host's imports whose process is gone as interrupted; returns how many.

    Called at start-up (the issuer service, the import command). Imports of other hosts are
    left to their own next start: from here it cannot be told whether they still run.
    """
    host = socket.gethostname()
    marked = 0
    with ctx.session() as session:
        entries = session.exec(
            select(AuditEntry).where(
                col(AuditEntry.action).startswith("import:"),
                col(AuditEntry.reason).startswith("running on "),
            )
        ).all()
        for entry in entries:
            match = _RUNNING.fullmatch(entry.reason or "")
            if match is None or match["host"] != host or _alive(int(match["pid"])):
                continue
            entry.reason = (
                f"interrupted: the importing process stopped; {match['progress']}. Import the "
                "same file again to finish: stored rows are skipped."
            )[:500]
            session.add(entry)
            marked += 1
        session.commit()
    if marked:
        logger.warning("%d feed import(s) found interrupted and marked so", marked)
    return marked


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # this process is only starting: no import of its own runs yet
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True
