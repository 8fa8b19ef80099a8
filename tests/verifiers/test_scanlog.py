"""Scan log: retention purge and export, on SQLite and (marked) PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import Session

from verifiers.scanlog import EXPORT_COLUMNS, ScanLog, ScanRecord, export_csv, make_engine
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


@pytest.mark.postgres
def test_purge_and_export_postgres(postgres_database_url: str) -> None:
    engine = make_engine(postgres_database_url)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM checkpoint_scans"))
    try:
        _exercise(ScanLog(engine, "cp-1"))
    finally:
        with engine.begin() as connection:
            connection.execute(text("DELETE FROM checkpoint_scans"))
        engine.dispose()


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
