"""Scan log: retention purge and export, on SQLite and (marked) PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session

from verifiers.scanlog import (
    _TEXT_LIMITS,
    EXPORT_COLUMNS,
    ScanLog,
    ScanRecord,
    export_csv,
    make_engine,
)
from verifiers.settings import VerifierSettings

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def _record(days_ago: float, result: str = "green") -> dict[str, object]:
    return {
        "scanned_at": NOW - timedelta(days=days_ago),
        "mode": "qr",
        "actor": "dev-1",
        "subject": "c3ViamVjdC1wc2V1ZG9ueW0tMDE",
        "id_tail": "123X",
        "issuer": "cn-sc",
        "result": result,
        "error": None,
    }


def _exercise(log: ScanLog) -> None:
    log.record_scans([_record(30), _record(28.5), _record(27.9, "red"), _record(1)])
    assert log.purge(retention_days=28, now=NOW) == 2
    assert [r.result for r in log.scans()] == ["red", "green"]
    assert log.purge(retention_days=28, now=NOW) == 0
    since = log.scans(since=NOW - timedelta(days=2))
    assert [r.result for r in since] == ["green"]
    lines = "".join(export_csv(log.scans())).splitlines()
    assert lines[0] == "checkpoint_id,scanned_at,mode,actor,subject,id_tail,issuer,result,error"
    assert lines[1].startswith("cp-1,2026-10-04T")
    # Rows written with the driver's executemany read back through the ORM exactly as written,
    # to the microsecond, and alike rows written through SQLAlchemy compare with them.
    odd = NOW - timedelta(hours=5, microseconds=123456)
    log.record_scans([{**_record(0), "scanned_at": odd, "error": "bad_signature", "subject": None}])
    with Session(log.engine) as session:
        session.add(
            ScanRecord(checkpoint_id="cp-1", scanned_at=odd, mode="qr", actor="orm", result="error")
        )
        session.commit()
    written = [r for r in log.scans(since=odd - timedelta(microseconds=1)) if r.scanned_at]
    assert len(written) == 2
    for record in written:
        assert record.scanned_at.replace(tzinfo=UTC) == odd
    driver = next(r for r in written if r.actor == "dev-1")
    assert (driver.error, driver.subject, driver.id_tail) == ("bad_signature", None, "123X")
    assert log.scans(since=odd + timedelta(microseconds=1)) == []


def test_insert_covers_every_column_but_the_id() -> None:
    columns = [column.name for column in ScanRecord.__table__.columns]  # type: ignore[attr-defined]
    assert sorted(columns) == sorted(["id", *EXPORT_COLUMNS])


def test_purge_and_export_sqlite(tmp_path: Path) -> None:
    _exercise(ScanLog(make_engine(f"sqlite:///{tmp_path / 'scans.db'}"), "cp-1"))


def test_purge_refuses_zero_retention(tmp_path: Path) -> None:
    log = ScanLog(make_engine(f"sqlite:///{tmp_path / 'scans.db'}"), "cp-1")
    with pytest.raises(ValueError, match="retention_days"):
        log.purge(retention_days=0)


@pytest.fixture
def postgres_engine(postgres_database_url: str) -> Iterator[Engine]:
    """The test PostgreSQL with an empty scan table, emptied again afterwards."""
    engine = make_engine(postgres_database_url)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM checkpoint_scans"))
    try:
        yield engine
    finally:
        with engine.begin() as connection:
            connection.execute(text("DELETE FROM checkpoint_scans"))
        engine.dispose()


@pytest.mark.postgres
def test_purge_and_export_postgres(postgres_engine: Engine) -> None:
    _exercise(ScanLog(postgres_engine, "cp-1"))


def test_audit_records_are_purged_after_their_own_retention(tmp_path: Path) -> None:
    log = ScanLog(make_engine(f"sqlite:///{tmp_path / 'scans.db'}"), "cp-1")
    for days in (400, 181, 179, 30):
        log.audit(actor="staff1", action="assisted", at=NOW - timedelta(days=days))
    assert log.purge_audit(retention_days=180, now=NOW) == 2
    assert [round((NOW - _utc(a.at)).days) for a in log.audit_records()] == [179, 30]
    with pytest.raises(ValueError, match="retention_days"):
        log.purge_audit(retention_days=0)


def test_audit_retention_below_six_months_is_refused() -> None:
    VerifierSettings(demo_mode=True, audit_retention_days=180)
    with pytest.raises(ValueError, match="audit_retention_days"):
        VerifierSettings(demo_mode=True, audit_retention_days=28)


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _exercise_bad_rows(log: ScanLog, caplog: pytest.LogCaptureFixture) -> None:
    long_actor = "east gate scanner " * 10  # longer than the column's 80 characters
    refused = {**_record(1), "issuer": "cn-\x00sc"}  # PostgreSQL refuses NUL in text
    log.record_scans([_record(1), {**_record(1), "actor": long_actor}])
    log.record_scans([refused, _record(1, "red")])
    log.flush()
    rows = log.scans()
    actors = sorted(row.actor for row in rows)
    assert long_actor[:80] in actors  # cut to fit, not refused
    assert all(len(row.actor) <= 80 for row in rows)
    if log.engine.dialect.name == "postgresql":
        assert len(rows) == 3  # the refused row was dropped, the others written
        assert "1 of 4 scan records refused" in caplog.text
        assert "\x00" not in caplog.text  # the refused value is not logged
        assert "cn-" not in caplog.text
    else:
        assert len(rows) == 4
    # Nothing is stuck: the next scans are written.
    log.record_scans([_record(0)])
    log.flush()
    assert len(log.scans()) == len(rows) + 1


def _exercise_large_flush(log: ScanLog) -> None:
    # More rows than one INSERT statement holds, and a remainder: every row arrives as
    # recorded, in order, none lost or shifted at a statement boundary.
    records = [
        {
            **_record(0),
            "scanned_at": NOW + timedelta(microseconds=index),
            "subject": f"subject-{index:04d}",
            "id_tail": f"{index % 10000:04d}",
            "result": ("green", "yellow", "red")[index % 3],
            "error": None if index % 7 else "revoked",
        }
        for index in range(257)
    ]
    log.record_scans(records)
    log.flush()
    rows = log.scans()
    assert len(rows) == len(records)
    for record, row in zip(records, rows, strict=True):
        assert _utc(row.scanned_at) == record["scanned_at"]
        assert (row.subject, row.id_tail, row.result, row.error) == (
            record["subject"],
            record["id_tail"],
            record["result"],
            record["error"],
        )
        assert (row.checkpoint_id, row.mode, row.actor, row.issuer) == (
            "cp-1",
            "qr",
            "dev-1",
            "cn-sc",
        )


def test_a_large_flush_writes_every_row_sqlite(tmp_path: Path) -> None:
    log = ScanLog(make_engine(f"sqlite:///{tmp_path / 'scans.db'}"), "cp-1", flush_interval_s=60)
    try:
        _exercise_large_flush(log)
    finally:
        log.close()


@pytest.mark.postgres
def test_a_large_flush_writes_every_row_postgres(postgres_engine: Engine) -> None:
    log = ScanLog(postgres_engine, "cp-1", flush_interval_s=60)
    try:
        _exercise_large_flush(log)
    finally:
        log.close()


def test_a_bad_row_never_blocks_the_scan_log_sqlite(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    log = ScanLog(make_engine(f"sqlite:///{tmp_path / 'scans.db'}"), "cp-1", flush_interval_s=60)
    try:
        _exercise_bad_rows(log, caplog)
    finally:
        log.close()


@pytest.mark.postgres
def test_a_bad_row_never_blocks_the_scan_log_postgres(
    postgres_engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    log = ScanLog(postgres_engine, "cp-1", flush_interval_s=60)
    try:
        _exercise_bad_rows(log, caplog)
    finally:
        log.close()


def test_an_unreachable_database_keeps_a_bounded_buffer(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    database = tmp_path / "scans.db"
    log = ScanLog(make_engine(f"sqlite:///{database}"), "cp-1", flush_interval_s=60)
    log.max_pending = 5
    with log.engine.begin() as connection:
        connection.execute(text("DROP TABLE checkpoint_scans"))  # every insert now fails
    log.record_scans([_record(1, "red")] + [_record(1)] * 6)
    with pytest.raises(Exception, match="checkpoint_scans"):
        log.flush()
    assert "2 oldest scan records dropped" in caplog.text
    ScanRecord.metadata.create_all(log.engine)  # the database is back
    log.record_scans([_record(0, "yellow")])
    log.close()
    # The buffer kept the newest five and the new one, in order; the red record was dropped.
    assert [row.result for row in log.scans()] == ["green"] * 4 + ["yellow"]


def test_every_text_column_has_its_limit_applied() -> None:
    assert dict(_TEXT_LIMITS) == {
        "checkpoint_id": 64,
        "mode": 16,
        "actor": 80,
        "subject": 64,
        "id_tail": 4,
        "issuer": 64,
        "result": 16,
        "error": 40,
    }
