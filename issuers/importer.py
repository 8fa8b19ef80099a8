"""Bulk import of official feeds: streamed, batched, idempotent, pseudonymised on read.

`import_feed` reads the CSV through `issuers.feeds.read_feed` (which pseudonymises the ID
column at once), inserts rows in batches with `ON CONFLICT (row_key) DO NOTHING` (the same file
twice adds nothing), recomputes the colour of every registered citizen a batch touched, and
commits batch by batch, so memory stays flat however long the file is. Rejected rows are
reported with their line and reason; they never stop the import.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TextIO

from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from issuers.audit import audit
from issuers.context import IssuerContext
from issuers.events import Event, RiskArea
from issuers.feeds import FeedKind, FeedRow, RejectedRow, read_feed
from issuers.models import Citizen, EventRecord, RiskAreaRecord
from issuers.store import current_risk_areas, recompute

#: Rejected rows listed in a report (all are counted); the rest are summarised.
MAX_LISTED_REJECTIONS = 1000


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
        }


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


def _flush_batch(
    ctx: IssuerContext,
    batch: list[FeedRow],
    kind: FeedKind,
    *,
    actor: str,
    now: int,
    report: ImportReport,
) -> None:
    """Insert one batch and recompute the citizens it touched, in one transaction."""
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
            revoked = _recompute_subjects(
                ctx, session, set(inserted), actor=actor, now=now, report=report
            )
        session.commit()
    report.accepted += len(inserted)
    report.duplicates += len(batch) - len(inserted)
    report.revoked += len(revoked)
    ctx.publish(revoked)


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
        ctx.publish(revoked)


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
    """Import a CSV feed from `stream`; raises FeedError (nothing written) on a wrong header.

    `progress(rows_read)` is called after each batch.
    """
    at = int(time.time() if now is None else now)
    size = batch_size or ctx.settings.import_batch_size
    report = ImportReport(kind=kind.value)
    batch: list[FeedRow] = []
    rows = read_feed(
        stream, kind, subject_secret=ctx.settings.subject_key, now=datetime.fromtimestamp(at, UTC)
    )
    for row in rows:
        report.rows += 1
        if isinstance(row, RejectedRow):
            report.rejected_count += 1
            if len(report.rejected) < MAX_LISTED_REJECTIONS:
                report.rejected.append(row)
            continue
        batch.append(row)
        if len(batch) >= size:
            _flush_batch(ctx, batch, kind, actor=actor, now=at, report=report)
            batch = []
            if progress is not None:
                progress(report.rows)
    _flush_batch(ctx, batch, kind, actor=actor, now=at, report=report)
    if kind is FeedKind.RISK_AREAS and report.accepted:
        _recompute_everyone(ctx, actor=actor, now=at, report=report)
    with ctx.session() as session:
        audit(
            session,
            actor=actor,
            action=f"import:{kind.value}",
            subject=None,
            now=at,
            reason=f"{report.accepted} accepted, {report.duplicates} duplicates, "
            f"{report.rejected_count} rejected",
        )
        session.commit()
    if progress is not None:
        progress(report.rows)
    return report
