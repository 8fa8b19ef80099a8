"""Scan log: retention purge and export, on SQLite and (marked) PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from verifiers.scanlog import ScanLog, export_csv, make_engine
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
