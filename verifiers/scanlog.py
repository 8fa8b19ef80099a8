"""The scan log and the audit log (SQLModel; SQLite by default, PostgreSQL by URL).

A scan record holds the checkpoint id, time, mode, a pseudonymous subject (never an ID
number), the ID tail, the result and the error code. Records older than the retention (28 days
by default) are purged by `purge`; audit records by `purge_audit` after their own, longer
retention (180 days at least, verifiers/README.md). Exports go to health officials only and
are audited by the caller.
"""

from __future__ import annotations

import csv
import functools
import io
import logging
import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Connection, Engine, event, insert
from sqlalchemy.exc import DataError, IntegrityError
from sqlmodel import Field, Session, SQLModel, col, create_engine, delete, select

from verifiers.scanjournal import ScanJournal, decode_row, read_mark, write_mark

logger = logging.getLogger("verifiers.scanlog")


class ScanRecord(SQLModel, table=True):
    """One verification at a checkpoint."""

    __tablename__ = "checkpoint_scans"

    id: int | None = Field(default=None, primary_key=True)
    checkpoint_id: str = Field(max_length=64)
    scanned_at: datetime = Field(index=True)
    mode: str = Field(max_length=16)  # qr, image, id_card, assisted, batch
    actor: str = Field(max_length=80)  # device id or staff username
    subject: str | None = Field(default=None, max_length=64)  # pseudonym only
    id_tail: str | None = Field(default=None, max_length=4)
    issuer: str | None = Field(default=None, max_length=64)
    result: str = Field(max_length=16)  # green, yellow, red, card, unconfirmed, error
    error: str | None = Field(default=None, max_length=40)


class AuditRecord(SQLModel, table=True):
    """Who did what with personal data (look-ups, exports) or with credentials."""

    __tablename__ = "checkpoint_audit"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(index=True)
    actor: str = Field(max_length=80)
    action: str = Field(max_length=40)
    subject: str | None = Field(default=None, max_length=64)
    detail: str | None = Field(default=None, max_length=400)


#: The length limit of each text column: values are cut to fit before they are buffered, so a
#: long value (a device name, an issuer id) never makes PostgreSQL refuse a whole batch.
_TEXT_LIMITS: tuple[tuple[str, int], ...] = tuple(
    (column.name, column.type.length)
    for column in ScanRecord.__table__.columns  # type: ignore[attr-defined]
    if isinstance(getattr(column.type, "length", None), int)
)

#: Scan records held in memory at most while the database is unreachable (about 100 MB); past
#: it the oldest are dropped and counted in the log, so an outage cannot exhaust memory.
MAX_PENDING_SCANS = 200_000

EXPORT_COLUMNS = (
    "checkpoint_id",
    "scanned_at",
    "mode",
    "actor",
    "subject",
    "id_tail",
    "issuer",
    "result",
    "error",
)

#: A buffered scan record: the EXPORT_COLUMNS values in order, text already cut to fit.
ScanRow = tuple[str, datetime, str, str, str | None, str | None, str | None, str, str | None]

#: (position in a ScanRow, length limit) of every text column.
_ROW_LIMITS = tuple((EXPORT_COLUMNS.index(name), limit) for name, limit in _TEXT_LIMITS)


def make_engine(database_url: str) -> Engine:
    """An engine for the URL; SQLite gets WAL so scans and exports do not block each other."""
    if database_url.startswith("sqlite"):
        engine = create_engine(database_url, connect_args={"check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _pragmas(connection: Any, _record: Any) -> None:
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

    else:
        engine = create_engine(database_url, pool_pre_ping=True)
    SQLModel.metadata.create_all(engine)
    return engine


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class ScanLog:
    """Writes scan and audit records; purges and exports scans.

    With `flush_interval_s` set, scan records are buffered in memory and written by a
    background thread in one transaction per interval: a commit per scan would cost four times
    the verification itself. With a `journal_path`, buffered records are also appended to a
    local journal that is synced before the scan is answered (`journal.group_commit()` shares
    one sync among the scans of a batch) and replayed here at start-up, so a crash loses no
    answered scan (ADR 0020). Without one, a crash loses at most the last interval of scan
    records. Audit records are written at once. Reads flush first, so they see every scan.
    """

    def __init__(
        self,
        engine: Engine,
        checkpoint_id: str,
        *,
        flush_interval_s: float | None = None,
        journal_path: Path | None = None,
    ) -> None:
        self.engine = engine
        self.checkpoint_id = checkpoint_id
        self.journal: ScanJournal | None = None
        if journal_path is not None:
            self.journal = self._replay(journal_path)
        self._pending: list[ScanRow] = []
        self.max_pending = MAX_PENDING_SCANS
        self._dropped = 0  # records dropped since the last flush (buffer full)
        self._journaled = self.journal.seq if self.journal is not None else 0
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if flush_interval_s is not None:
            self._thread = threading.Thread(
                target=self._flush_loop, args=(flush_interval_s,), daemon=True
            )
            self._thread.start()

    def record_scans(self, records: Sequence[dict[str, Any]]) -> None:
        """Record scans (buffered if configured; else in one transaction, all or nothing).

        Each record names `scanned_at`, `mode`, `actor` and `result`; `subject`, `id_tail`,
        `issuer` and `error` may be left out (None).
        """
        self._add(
            [
                _fit_row(
                    (
                        self.checkpoint_id,
                        item["scanned_at"],
                        item["mode"],
                        item["actor"],
                        item.get("subject"),
                        item.get("id_tail"),
                        item.get("issuer"),
                        item["result"],
                        item.get("error"),
                    )
                )
                for item in records
            ]
        )

    def record_scan(
        self,
        scanned_at: datetime,
        mode: str,
        actor: str,
        subject: str | None,
        id_tail: str | None,
        issuer: str | None,
        result: str,
        error: str | None,
    ) -> None:
        """Record one scan: `record_scans` for the one record a scan request makes."""
        row = (self.checkpoint_id, scanned_at, mode, actor, subject, id_tail, issuer, result, error)
        self._add([_fit_row(row)])

    def _replay(self, path: Path) -> ScanJournal:
        """Insert the journal's rows the database lacks (a crash before their batch)."""
        with self.engine.begin() as connection:
            mark = read_mark(connection, self.checkpoint_id)
        journal = ScanJournal(path, first_seq=mark)
        missing = [(seq, decode_row(row)) for seq, row in journal.read() if seq > mark]
        if missing:
            with self.engine.begin() as connection:
                _insert_scans(connection, [cast(ScanRow, row) for _, row in missing])
                write_mark(connection, self.checkpoint_id, missing[-1][0])
            logger.warning(
                "scan journal: %d scan records answered before a crash were written at start-up",
                len(missing),
            )
        journal.truncate_if(max(mark, missing[-1][0] if missing else 0))
        return journal

    def _add(self, rows: list[ScanRow]) -> None:
        journal = self.journal
        with self._lock:
            self._pending.extend(rows)
            self._bound_pending()
            if journal is not None:
                self._journaled = journal.append(rows)
        if self._thread is None:
            self.flush()
        elif journal is not None:
            journal.sync_unless_grouped()

    def flush(self) -> None:
        """Write every buffered scan record now."""
        with self._write_lock:
            with self._lock:
                rows, self._pending = self._pending, []
                dropped, self._dropped = self._dropped, 0
                # The journal number of the last of these rows: the new watermark.
                journaled = self._journaled
            if dropped:
                logger.warning(
                    "scan log buffer full (%d records): %d oldest scan records dropped; "
                    "check the database connection",
                    self.max_pending,
                    dropped,
                )
            if not rows:
                return
            try:
                # One executemany in one transaction: all rows or none.
                with self.engine.begin() as connection:
                    _insert_scans(connection, rows)
                    if self.journal is not None:
                        write_mark(connection, self.checkpoint_id, journaled)
            except (DataError, IntegrityError):
                # A value the database refuses: write row by row, so one bad record is
                # dropped (and counted) instead of blocking every record after it forever.
                self._insert_one_by_one(rows)
                if self.journal is not None:
                    with self.engine.begin() as connection:
                        write_mark(connection, self.checkpoint_id, journaled)
            except Exception:
                with self._lock:  # the database is unavailable: keep them, in order
                    self._pending[:0] = rows
                    self._bound_pending()
                raise
            if self.journal is not None:
                # Every journal row up to the watermark is in the database now: unless more
                # came meanwhile, the journal starts again empty.
                self.journal.truncate_if(journaled)

    def _bound_pending(self) -> None:
        # Called with self._lock held.
        overflow = len(self._pending) - self.max_pending
        if overflow > 0:
            del self._pending[:overflow]
            self._dropped += overflow

    def _insert_one_by_one(self, rows: list[ScanRow]) -> None:
        refused: dict[str, int] = {}
        for index, row in enumerate(rows):
            try:
                with self.engine.begin() as connection:
                    _insert_scans(connection, [row])
            except (DataError, IntegrityError) as error:
                # Count by the driver error's class only: its message can quote the values.
                kind = type(error.orig).__name__
                refused[kind] = refused.get(kind, 0) + 1
            except Exception:
                with self._lock:
                    self._pending[:0] = rows[index:]
                    self._bound_pending()
                raise
        if refused:
            logger.error(
                "%d of %d scan records refused by the database and dropped (%s)",
                sum(refused.values()),
                len(rows),
                ", ".join(f"{kind}: {count}" for kind, count in sorted(refused.items())),
            )

    def _flush_loop(self, interval_s: float) -> None:
        while not self._stop.wait(interval_s):
            try:
                self.flush()
            except Exception:  # the database may be briefly unavailable; keep the rows
                logger.exception("scan log flush failed; retrying")

    def close(self) -> None:
        """Stop the flusher and write what is buffered."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        self.flush()
        if self.journal is not None:
            self.journal.close()

    def audit(
        self,
        *,
        actor: str,
        action: str,
        subject: str | None = None,
        detail: str | None = None,
        at: datetime | None = None,
    ) -> None:
        """Append one audit record, committed before this returns."""
        # One plain INSERT: an ID-card read writes one, and the ORM's unit of work cost more
        # than the rest of the read's database work.
        with self.engine.begin() as connection:
            connection.execute(
                insert(AuditRecord).values(
                    at=at or datetime.now(UTC),
                    actor=actor,
                    action=action,
                    subject=subject,
                    detail=detail,
                )
            )

    def purge(self, *, retention_days: int, now: datetime | None = None) -> int:
        """Delete scan records older than the retention; returns how many were deleted."""
        if retention_days < 1:
            raise ValueError("retention_days must be at least 1")
        cutoff = (now or datetime.now(UTC)) - timedelta(days=retention_days)
        self.flush()
        with Session(self.engine) as session:
            result = session.exec(delete(ScanRecord).where(col(ScanRecord.scanned_at) < cutoff))
            session.commit()
            return int(result.rowcount)

    def purge_audit(self, *, retention_days: int, now: datetime | None = None) -> int:
        """Delete audit records older than their retention; returns how many were deleted."""
        if retention_days < 1:
            raise ValueError("retention_days must be at least 1")
        cutoff = (now or datetime.now(UTC)) - timedelta(days=retention_days)
        with Session(self.engine) as session:
            result = session.exec(delete(AuditRecord).where(col(AuditRecord.at) < cutoff))
            session.commit()
            return int(result.rowcount)

    def scans(
        self, *, since: datetime | None = None, until: datetime | None = None, limit: int = 100_000
    ) -> list[ScanRecord]:
        """Scan records in time order within [since, until)."""
        self.flush()
        query = select(ScanRecord).order_by(col(ScanRecord.scanned_at), col(ScanRecord.id))
        if since is not None:
            query = query.where(col(ScanRecord.scanned_at) >= since)
        if until is not None:
            query = query.where(col(ScanRecord.scanned_at) < until)
        with Session(self.engine) as session:
            return list(session.exec(query.limit(limit)))

    def audit_records(self) -> list[AuditRecord]:
        with Session(self.engine) as session:
            return list(session.exec(select(AuditRecord).order_by(col(AuditRecord.id))))


def _fit_row(row: ScanRow) -> ScanRow:
    """The row with each text value cut to its column's length (the row itself if all fit)."""
    values: tuple[Any, ...] = row  # indexed by position below: one type for every member
    for index, limit in _ROW_LIMITS:
        value = values[index]
        if value is not None and len(value) > limit:
            fitted = list(values)
            for position, most in _ROW_LIMITS:
                if fitted[position] is not None:
                    fitted[position] = fitted[position][:most]
            return cast(ScanRow, tuple(fitted))
    return row


def _insert_scans(connection: Connection, rows: Sequence[ScanRow]) -> None:
    """Insert scan rows with multi-row INSERTs on the driver, skipping SQLAlchemy's per-row work.

    Every scan of a busy checkpoint ends up here, and compiling and binding each row through
    SQLAlchemy cost more than a tenth of a scan (docs/performance-checkpoint.md). The values
    are the ones SQLAlchemy would bind: on SQLite a datetime is stored in SQLAlchemy's own text
    format (so ORM reads, comparisons and purges see the same values); other drivers take the
    datetime as it is. tests/verifiers/test_scanlog.py reads the rows back on both databases.
    """
    dialect = connection.dialect
    marker = _MARKERS.get(dialect.paramstyle)
    if marker is None:  # an unusual driver: the slow way
        connection.execute(
            insert(ScanRecord), [dict(zip(EXPORT_COLUMNS, row, strict=True)) for row in rows]
        )
        return
    sqlite = dialect.name == "sqlite"
    # Up to _ROWS_PER_INSERT rows in one statement: one execute, one step of the database for
    # all of them (a statement per row cost as much again as the values themselves).
    for start in range(0, len(rows), _ROWS_PER_INSERT):
        chunk = rows[start : start + _ROWS_PER_INSERT]
        values: list[Any] = []
        for row in chunk:
            values += (row[0], _sqlite_datetime(row[1]), *row[2:]) if sqlite else row
        connection.exec_driver_sql(_multi_row_insert(marker, len(chunk)), tuple(values))


#: Rows per INSERT statement: 900 values, within every SQLite's limit of 999 parameters.
_ROWS_PER_INSERT = 100

#: The parameter marker of each DBAPI parameter style we use (sqlite3: qmark; psycopg: format).
_MARKERS = {"qmark": "?", "format": "%s", "pyformat": "%s"}


@functools.lru_cache(maxsize=2 * _ROWS_PER_INSERT)
def _multi_row_insert(marker: str, rows: int) -> str:
    """INSERT of `rows` scan rows, every column but the id (a test checks this)."""
    # Built from constants only (table and column names, markers), never from input.
    columns = ", ".join(EXPORT_COLUMNS)
    row = "(" + ", ".join([marker] * len(EXPORT_COLUMNS)) + ")"
    return (
        f"INSERT INTO {ScanRecord.__tablename__} ({columns}) VALUES "  # noqa: S608
        + ", ".join([row] * rows)
    )


def _sqlite_datetime(moment: datetime) -> str:
    # SQLAlchemy's SQLite DATETIME storage format (it drops tzinfo: the values are UTC). One
    # %-format of a tuple: the cheapest of the spellings measured, for every scan's row.
    return "%04d-%02d-%02d %02d:%02d:%02d.%06d" % (  # noqa: UP031
        moment.year,
        moment.month,
        moment.day,
        moment.hour,
        moment.minute,
        moment.second,
        moment.microsecond,
    )


def scan_to_row(record: ScanRecord) -> dict[str, Any]:
    """A JSON-ready export row."""
    row = {name: getattr(record, name) for name in EXPORT_COLUMNS}
    row["scanned_at"] = _utc(record.scanned_at).strftime("%Y-%m-%dT%H:%M:%SZ")
    return row


def export_csv(records: Sequence[ScanRecord]) -> Iterator[str]:
    """CSV text (header first), produced row by row."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=EXPORT_COLUMNS)
    writer.writeheader()
    yield buffer.getvalue()
    for record in records:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(scan_to_row(record))
        yield buffer.getvalue()
