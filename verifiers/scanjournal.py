"""A local append-only journal of scan records, fsync'd before a verdict is shown (ADR 0020).

The scan log writes its rows to the database in batches (a commit per scan would cost more
than the verification). Until a batch is committed, the rows live here too: one JSON line per
row, numbered, written and `fdatasync`'d before the scan's answer leaves the process. Scans
answered in one event-loop pass share one sync (group commit). At start-up the journal is
replayed: rows numbered past the database's watermark are inserted, in the same transaction
that moves the watermark, so a row is never lost and never written twice.

Group commit: the scan fast path appends a batch's rows inside `deferred()`, then asks
`when_durable` to write the batch's answers once a background thread has synced past them.
The event loop goes on reading and verifying the next batch meanwhile, and one sync covers
every row appended while the previous one ran: the sync's latency delays answers, it does not
cap the rate.

A line that does not parse can only be the last one, cut by the crash before its sync; its
scan was never answered, so it is dropped (and counted in the log).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Connection, insert, select, update
from sqlmodel import Field, SQLModel

__all__ = ["ScanJournal", "ScanJournalMark", "decode_row", "read_mark", "write_mark"]

logger = logging.getLogger("verifiers.scanjournal")

_sync = getattr(os, "fdatasync", os.fsync)


class ScanJournal:
    """Numbered scan rows in an append-only file; `sync` makes everything appended durable."""

    def __init__(self, path: Path, *, first_seq: int = 0) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        # A crash during a write can leave a torn last line (never synced, so never
        # answered); cut it, or the next append would be glued to it.
        data = path.read_bytes()
        if data and not data.endswith(b"\n"):
            os.ftruncate(self._fd, data.rfind(b"\n") + 1)
            logger.warning("scan journal %s: torn last line cut (never synced or answered)", path)
        self._lock = threading.Lock()
        self._local = threading.local()
        #: The number of the last row appended (rows are numbered 1, 2, ... across restarts).
        self.seq = max(first_seq, self._last_seq_on_disk())
        #: Every row numbered up to this is on disk.
        self.synced_seq = self.seq
        #: (mark, callback, event loop) waiting for the background sync.
        self._waiting: list[tuple[int, Callable[[], None], Any]] = []
        self._wake = threading.Event()
        self._closed = False
        self._syncer: threading.Thread | None = None

    def _last_seq_on_disk(self) -> int:
        last = 0
        for seq, _row in self.read():
            last = seq
        return last

    def append(self, rows: Sequence[tuple[Any, ...]]) -> int:
        """Append rows, not yet durable (see `sync_unless_grouped`); returns the number of the
        last one. Called with the scan log's lock held, so the numbers follow its buffer."""
        with self._lock:
            lines = []
            for row in rows:
                self.seq += 1
                lines.append(orjson.dumps((self.seq, *row)))
            os.write(self._fd, b"\n".join(lines) + b"\n")
            return self.seq

    def mark(self) -> int:
        """The number of the last row appended so far."""
        return self.seq

    def sync_unless_grouped(self) -> None:
        """Sync now, unless this thread is inside `deferred()` (its caller syncs)."""
        if not getattr(self._local, "deferred", 0):
            self.sync_to(self.seq)

    def sync(self) -> None:
        """Make every row appended so far durable."""
        self.sync_to(self.seq)

    def sync_to(self, mark: int) -> None:
        """Make every row numbered up to `mark` durable (nothing to do if it already is)."""
        with self._lock:
            if self.synced_seq >= mark:
                return
            target = self.seq
        _sync(self._fd)  # covers everything written before it, whoever wrote it
        with self._lock:
            self.synced_seq = max(self.synced_seq, target)

    @contextmanager
    def deferred(self) -> Iterator[None]:
        """Appends in this thread inside the block are not synced; the caller syncs them
        (`sync_to` or `when_durable`) before anyone is told they happened."""
        self._local.deferred = getattr(self._local, "deferred", 0) + 1
        try:
            yield
        finally:
            self._local.deferred -= 1

    def when_durable(self, mark: int, callback: Callable[[], None], loop: Any) -> None:
        """Run `callback` on event loop `loop` once rows up to `mark` are durable (at once, in
        this call, if they already are)."""
        with self._lock:
            if self.synced_seq < mark:
                self._waiting.append((mark, callback, loop))
                if self._syncer is None:
                    self._syncer = threading.Thread(
                        target=self._sync_loop, name="scan-journal-sync", daemon=True
                    )
                    self._syncer.start()
                self._wake.set()
                return
        callback()

    def _sync_loop(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            if self._closed:
                return
            with self._lock:
                target = self.seq
            _sync(self._fd)
            with self._lock:
                self.synced_seq = max(self.synced_seq, target)
                ready = [item for item in self._waiting if item[0] <= self.synced_seq]
                self._waiting = [item for item in self._waiting if item[0] > self.synced_seq]
                if self._waiting:
                    self._wake.set()
            for _, callback, loop in ready:
                with contextlib.suppress(RuntimeError):  # the loop closed: nobody to answer
                    loop.call_soon_threadsafe(callback)

    def truncate_if(self, committed_seq: int) -> bool:
        """Empty the file if every row in it is committed (numbered up to `committed_seq`)."""
        with self._lock:
            if committed_seq < self.seq:
                return False
            os.ftruncate(self._fd, 0)
            _sync(self._fd)
            self.synced_seq = self.seq
            return True

    def read(self) -> Iterator[tuple[int, tuple[Any, ...]]]:
        """The (number, row) pairs in the file, skipping a torn last line."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return
        lines = data.split(b"\n")
        torn = 0
        for line in lines:
            if not line:
                continue
            try:
                values = orjson.loads(line)
                seq, row = int(values[0]), tuple(values[1:])
            except (orjson.JSONDecodeError, ValueError, TypeError, IndexError):
                torn += 1
                continue
            yield seq, row
        if torn:
            logger.warning(
                "scan journal %s: %d torn line(s) skipped (never answered)", self.path, torn
            )

    def close(self) -> None:
        self.sync()
        self._closed = True
        self._wake.set()
        if self._syncer is not None:
            self._syncer.join(10)
        os.close(self._fd)


def decode_row(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """A journal row back as a scan row: the time (second value) as a datetime again."""
    return (row[0], datetime.fromisoformat(row[1]), *row[2:])


class ScanJournalMark(SQLModel, table=True):
    """The number of the last journal row the database holds, per checkpoint (the watermark)."""

    __tablename__ = "checkpoint_scan_journal"

    checkpoint_id: str = Field(primary_key=True, max_length=64)
    seq: int


_MARKS = ScanJournalMark.__table__  # type: ignore[attr-defined]


def read_mark(connection: Connection, checkpoint_id: str) -> int:
    """The watermark of `checkpoint_id` (0 before its first committed row)."""
    found = connection.execute(
        select(_MARKS.c.seq).where(_MARKS.c.checkpoint_id == checkpoint_id)
    ).scalar()
    return int(found or 0)


def write_mark(connection: Connection, checkpoint_id: str, seq: int) -> None:
    """Move the watermark, inside the transaction that inserted the rows up to `seq`."""
    moved = connection.execute(
        update(_MARKS).where(_MARKS.c.checkpoint_id == checkpoint_id).values(seq=seq)
    )
    if not moved.rowcount:
        connection.execute(insert(_MARKS).values(checkpoint_id=checkpoint_id, seq=seq))
