"""Audit entries of the citizen hot path, committed in groups (ADR 0022).

A request hands its entry to `AuditBatcher.write` and is answered only once the transaction
holding the entry has committed: an acknowledged read is in the database, even if the process
is killed right after. The entries handed in during one turn of the event loop are committed
together, in one transaction at the start of the next turn (a group commit), so a thousand reads
cost a few commits, not a thousand.

On SQLite the commit runs on the event loop itself: a thread would cost a GIL hand-over per
group (and up to a switch interval of waiting, 5 ms) on every request, which is most of the hot
path's budget, and a commit without fsync is shorter than that. On PostgreSQL the commit waits
for the server's log flush, so it is sent over psycopg's asyncio connection, one group in
flight at a time, while the loop goes on: one INSERT of the whole group (arrays unnested), its
own transaction, no thread. On SQLite the batcher's own connection never checkpoints the
write-ahead log (a checkpoint fsyncs, up to 200 ms on a busy disk, which would stall every
request): a background thread checkpoints once a second instead, off the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, insert

from healthcode.errors import ErrorCode, RequestError
from healthcode.server.metrics import BACKEND_ERRORS
from issuers.models import AuditEntry

if TYPE_CHECKING:  # the `postgres` extra; a SQLite deployment runs without it
    import psycopg

logger = logging.getLogger("issuers.audit")

_AUDIT_TABLE = AuditEntry.__table__  # type: ignore[attr-defined]
#: A group as one statement: four arrays, whatever the group's size (one prepared plan).
_POSTGRES_INSERT = (
    f"INSERT INTO {_AUDIT_TABLE.name} (at, actor, action, subject) "  # noqa: S608 (the model's name)
    "SELECT * FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[])"
)
_CONNECT_TIMEOUT_S = 5
#: A group not committed by then is answered upstream_unavailable: a stuck database must not
#: hold every citizen's request forever (an entry committed later is an access that was
#: refused, recorded: the safe side).
_COMMIT_TIMEOUT_S = 10.0


def _settle(waiting: list[asyncio.Future[None]], failure: RequestError | None) -> None:
    for done in waiting:
        if done.done():
            continue  # the request was cancelled (client gone): nobody to tell
        if failure is None:
            done.set_result(None)
        else:
            done.set_exception(failure)


def _failed(rows: list[dict[str, object]]) -> RequestError:
    """Log a group that could not be committed; the refusal its requests are answered with."""
    logger.exception("audit group commit of %d entries failed", len(rows))
    BACKEND_ERRORS.labels("issuer", "database").inc()
    return RequestError(
        ErrorCode.UPSTREAM_UNAVAILABLE,
        "the access could not be recorded in the audit log; try again shortly",
    )


class AuditBatcher:
    """Group-committing audit writer for the request path of one event loop."""

    def __init__(self, engine: Engine, checkpoint_interval_s: float = 1.0) -> None:
        self._engine = engine
        self._sqlite = engine.dialect.name == "sqlite"
        self._connection: Connection | None = None
        self._rows: list[dict[str, object]] = []
        self._waiting: list[asyncio.Future[None]] = []
        self._stopping = threading.Event()
        self._checkpointer: threading.Thread | None = None
        self._checkpoint_interval_s = checkpoint_interval_s
        self._scheduled = False
        self._in_flight = False
        self._postgres: psycopg.AsyncConnection[Any] | None = None
        self._in_flight_task: asyncio.Task[RequestError | None] | None = None

    def _connected(self) -> Connection:
        if self._connection is None:
            self._connection = self._engine.connect()
            if self._sqlite:
                self._connection.exec_driver_sql("PRAGMA wal_autocheckpoint=0")
                self._connection.commit()  # ends the transaction SQLAlchemy began for it
            # One checkpoint thread for the batcher's life: a failed group drops the
            # connection and the next reconnects, which must not start another thread each.
            if self._sqlite and self._checkpointer is None:
                self._checkpointer = threading.Thread(
                    target=self._checkpoint, name="wal checkpoint", daemon=True
                )
                self._checkpointer.start()
        return self._connection

    def _checkpoint(self) -> None:
        while not self._stopping.wait(self._checkpoint_interval_s):
            try:
                with self._engine.connect() as connection:
                    connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
            except Exception:  # the next round retries; commits go on meanwhile
                logger.warning("write-ahead log checkpoint failed", exc_info=True)

    async def write(self, *, actor: str, action: str, subject: str | None) -> None:
        """Record one entry; returns once it is committed (raises upstream_unavailable if the
        database refuses it: the caller must not answer as if it had been recorded)."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._rows.append(
            {"at": int(time.time()), "actor": actor, "action": action, "subject": subject}
        )
        self._waiting.append(done)
        if not self._scheduled and not self._in_flight:
            self._scheduled = True
            loop.call_soon(self._commit)
        await done

    def _commit(self) -> None:
        self._scheduled = False
        rows, self._rows = self._rows, []
        waiting, self._waiting = self._waiting, []
        if not rows:
            return
        if self._sqlite:
            _settle(waiting, self._insert(rows))
            return
        # A server database: the commit waits for the server's log flush (milliseconds on a
        # busy disk) while the loop goes on; entries handed over meanwhile form the next
        # group (one commit in flight at a time).
        self._in_flight = True
        task = asyncio.get_running_loop().create_task(self._insert_postgres(rows))
        task.add_done_callback(functools.partial(self._committed, waiting))
        self._in_flight_task = task  # a task nobody holds may be collected mid-flight

    def _committed(self, waiting: list[asyncio.Future[None]], future: asyncio.Future[Any]) -> None:
        self._in_flight = False
        _settle(waiting, future.result())
        if self._rows and not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._commit)

    def _insert(self, rows: list[dict[str, object]]) -> RequestError | None:
        try:
            connection = self._connected()
            with connection.begin():
                connection.execute(insert(_AUDIT_TABLE), rows)
        except Exception:
            self._disconnect()
            return _failed(rows)
        return None

    async def _insert_postgres(self, rows: list[dict[str, object]]) -> RequestError | None:
        try:
            if self._postgres is None or self._postgres.closed:  # (re)connect
                import psycopg  # installed with the postgres extra; SQLite never gets here

                url = self._engine.url.set(drivername="postgresql")
                self._postgres = await psycopg.AsyncConnection.connect(
                    url.render_as_string(hide_password=False),
                    autocommit=True,  # the INSERT is its own transaction: committed when answered
                    connect_timeout=_CONNECT_TIMEOUT_S,
                )
            columns = ([row[name] for row in rows] for name in ("at", "actor", "action", "subject"))
            async with asyncio.timeout(_COMMIT_TIMEOUT_S):
                await self._postgres.execute(_POSTGRES_INSERT, tuple(columns))
        except Exception:
            if self._postgres is not None:
                self._postgres.pgconn.finish()  # reconnect for the next group
                self._postgres = None
            return _failed(rows)
        return None

    def _disconnect(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                connection.close()

    def close(self) -> None:
        """Stop the checkpoint thread and close the connection (at shutdown)."""
        self._stopping.set()
        if self._postgres is not None:
            self._postgres.pgconn.finish()
            self._postgres = None
        if self._checkpointer is not None:
            self._checkpointer.join(5)
        self._disconnect()
