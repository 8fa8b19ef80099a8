"""Audit entries of the citizen hot path, committed in groups (ADR 0022).

A request hands its entry to `AuditBatcher.write` and is answered only once the transaction
holding the entry has committed: an acknowledged read is in the database, even if the process
is killed right after. One writer thread commits everything waiting in one transaction (a
group commit), so a thousand reads cost a few commits, not a thousand.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass

from sqlalchemy import Engine, insert

from healthcode.errors import ErrorCode, RequestError
from issuers.models import AuditEntry

logger = logging.getLogger("issuers.audit")

#: Entries per transaction at most: a long queue commits in several groups.
_MAX_GROUP = 1000
_AUDIT_TABLE = AuditEntry.__table__  # type: ignore[attr-defined]


@dataclass(slots=True)
class _Waiting:
    row: dict[str, object]
    loop: asyncio.AbstractEventLoop
    done: asyncio.Future[None]


def _settle(waiting: list[_Waiting], failed: bool) -> None:
    for item in waiting:
        if item.done.done():
            continue  # the request was cancelled (client gone): nothing to tell it
        if failed:
            item.done.set_exception(
                RequestError(
                    ErrorCode.UPSTREAM_UNAVAILABLE,
                    "the access could not be recorded in the audit log; try again shortly",
                )
            )
        else:
            item.done.set_result(None)


class AuditBatcher:
    """Group-committing audit writer for one process (a daemon thread, started on demand)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._queue: list[_Waiting] = []
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._stopping = False
        self._thread: threading.Thread | None = None

    async def write(self, *, actor: str, action: str, subject: str | None) -> None:
        """Record one entry; returns once it is committed (raises upstream_unavailable if the
        database refuses it: the caller must not answer as if it had been recorded)."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        row = {"at": int(time.time()), "actor": actor, "action": action, "subject": subject}
        with self._wake:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="audit", daemon=True)
                self._thread.start()
            self._queue.append(_Waiting(row, loop, done))
            self._wake.notify()
        await done

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._queue and not self._stopping:
                    self._wake.wait()
                if not self._queue:
                    return
                group, self._queue = self._queue[:_MAX_GROUP], self._queue[_MAX_GROUP:]
            failed = False
            try:
                with self._engine.begin() as connection:
                    connection.execute(insert(_AUDIT_TABLE), [item.row for item in group])
            except Exception:
                logger.exception("audit group commit of %d entries failed", len(group))
                failed = True
            by_loop: dict[asyncio.AbstractEventLoop, list[_Waiting]] = {}
            for item in group:
                by_loop.setdefault(item.loop, []).append(item)
            for loop, waiting in by_loop.items():
                if not loop.is_closed():
                    loop.call_soon_threadsafe(_settle, waiting, failed)

    def close(self) -> None:
        """Commit what is queued, then stop the thread."""
        with self._wake:
            self._stopping = True
            self._wake.notify()
            thread = self._thread
        if thread is not None:
            thread.join(10)
