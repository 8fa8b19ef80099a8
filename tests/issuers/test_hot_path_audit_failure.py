"""A cached citizen read whose audit entry cannot be committed is refused (ADR 0022).

An acknowledged read must be in the audit log. When the group commit fails, the requests of
the group are answered 503 upstream_unavailable: never 200 (an unrecorded access answered) and
never 500. Once the table is writable again, the next read is answered and audited.

The table is made unwritable in the test's own database: on SQLite a trigger that aborts every
insert, on PostgreSQL the table renamed (in the test's own schema).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import httpx
import pytest
import redis
from sqlalchemy import Engine, create_engine, func, text
from sqlmodel import Session, select

from issuers.models import AuditEntry
from issuers.owncode import READ_CODE
from tests.issuers.conftest import IssuerService, citizen_number, metric_sample

AUDIT_TABLE = AuditEntry.__table__.name  # type: ignore[attr-defined]
CODE = "/v1/me/code"
#: Reads sent at once while the table is unwritable: some share one group commit.
CONCURRENT_READS = 8


@pytest.fixture
def database(database_url: str) -> Iterator[Engine]:
    """The test's database, opened apart from the issuer's own engine."""
    engine = create_engine(database_url)
    yield engine
    engine.dispose()


def _break_audit_table(database: Engine) -> None:
    with database.begin() as connection:
        if database.dialect.name == "sqlite":
            connection.execute(
                text(
                    f"CREATE TRIGGER refuse_audit BEFORE INSERT ON {AUDIT_TABLE} "
                    "BEGIN SELECT RAISE(ABORT, 'audit log unwritable'); END"
                )
            )
        else:
            connection.execute(text(f"ALTER TABLE {AUDIT_TABLE} RENAME TO audit_elsewhere"))


def _restore_audit_table(database: Engine) -> None:
    with database.begin() as connection:
        if database.dialect.name == "sqlite":
            connection.execute(text("DROP TRIGGER refuse_audit"))
        else:
            connection.execute(text(f"ALTER TABLE audit_elsewhere RENAME TO {AUDIT_TABLE}"))


def _code_reads(database: Engine, subject: str) -> int:
    with Session(database) as session:
        count = session.exec(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == READ_CODE, AuditEntry.subject == subject)
        ).one()
    return int(count)


def _checkpointers() -> int:
    """Threads checkpointing a SQLite write-ahead log (issuers/auditbatch.py)."""
    return sum(thread.name == "wal checkpoint" for thread in threading.enumerate())


def _fill_cache(
    issuer: IssuerService, redis_url: str, number: str, headers: dict[str, str]
) -> None:
    """Read the code (a miss: the database path) until Redis holds it."""
    hot = issuer.context.hot
    assert hot is not None
    client = redis.Redis.from_url(redis_url)
    try:
        key = hot.code_key(issuer.subject(number))
        assert not client.exists(key)
        for _ in range(50):
            answer = issuer.http.get(CODE, headers=headers)
            assert answer.status_code == 200, answer.text
            if client.exists(key):
                return
    finally:
        client.close()
    raise AssertionError("the code never reached the cache")


def _concurrent_reads(issuer: IssuerService, headers: dict[str, str]) -> list[httpx.Response]:
    """CONCURRENT_READS code reads sent together, each on its own connection."""
    answers: list[httpx.Response] = []
    lock = threading.Lock()
    start = threading.Barrier(CONCURRENT_READS)

    def read() -> None:
        with httpx.Client(base_url=issuer.url, timeout=30) as http:
            start.wait()
            answer = http.get(CODE, headers=headers)
        with lock:
            answers.append(answer)

    threads = [threading.Thread(target=read) for _ in range(CONCURRENT_READS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def test_a_cached_read_that_cannot_be_audited_is_refused(
    any_issuer: IssuerService, redis_url: str, database: Engine
) -> None:
    number = citizen_number(31)
    any_issuer.register(number, "张三")
    headers = any_issuer.citizen_headers(number)
    subject = any_issuer.subject(number)
    _fill_cache(any_issuer, redis_url, number, headers)
    hit = any_issuer.http.get(CODE, headers=headers)
    assert hit.status_code == 200, hit.text
    audited = _code_reads(database, subject)
    before = any_issuer.http.get("/metrics").text
    checkpointers = _checkpointers()

    _break_audit_table(database)
    refused = [any_issuer.http.get(CODE, headers=headers)]
    refused += _concurrent_reads(any_issuer, headers)
    for answer in refused:
        assert answer.status_code == 503, answer.text
        assert answer.json()["error"] == "upstream_unavailable"
        assert answer.headers["x-request-id"]
        assert "status_version" not in answer.json()
    after = any_issuer.http.get("/metrics").text
    counted = {"service": "issuer", "code": "upstream_unavailable"}
    assert metric_sample(after, "hc_errors_total", **counted) - metric_sample(
        before, "hc_errors_total", **counted
    ) == len(refused)
    failed = {"service": "issuer", "backend": "database"}
    assert metric_sample(after, "hc_backend_errors_total", **failed) > metric_sample(
        before, "hc_backend_errors_total", **failed
    )

    _restore_audit_table(database)
    assert _code_reads(database, subject) == audited  # no refused read was recorded
    again = any_issuer.http.get(CODE, headers=headers)
    assert again.status_code == 200, again.text
    assert again.content == hit.content  # still the cached answer
    assert _code_reads(database, subject) == audited + 1
    assert all(answer.status_code == 200 for answer in _concurrent_reads(any_issuer, headers))
    assert _code_reads(database, subject) == audited + 1 + CONCURRENT_READS
    # Each failed group reconnects; none leaves a checkpoint thread of its own behind.
    assert _checkpointers() == checkpointers
