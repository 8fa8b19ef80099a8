"""The scan journal: answered scans survive a crash before their batch reaches the database."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from verifiers.scanjournal import ScanJournal
from verifiers.scanlog import ScanLog, make_engine

NOW = datetime(2026, 12, 6, 6, 0, tzinfo=UTC)


def _scan(index: int) -> dict[str, object]:
    return {
        "scanned_at": NOW + timedelta(seconds=index, microseconds=index),
        "mode": "qr",
        "actor": f"device-{index % 3}",
        "subject": f"pseudonym-{index}",
        "id_tail": "123X",
        "issuer": "cn-sc",
        "result": "green",
        "error": None,
    }


def _open(tmp_path: Path) -> ScanLog:
    # A flush interval far longer than the test: nothing reaches the database by itself.
    return ScanLog(
        make_engine(f"sqlite:///{tmp_path / 'scans.db'}"),
        "cp-1",
        flush_interval_s=3600,
        journal_path=tmp_path / "state" / "scan-journal.jsonl",
    )


def _subjects(log: ScanLog) -> list[str | None]:
    return [record.subject for record in log.scans()]


def test_records_not_yet_flushed_are_replayed_at_start_up(tmp_path: Path) -> None:
    crashed = _open(tmp_path)
    crashed.record_scans([_scan(i) for i in range(5)])
    crashed.record_scan(**{**_scan(5), "scanned_at": NOW + timedelta(seconds=5)})  # type: ignore[arg-type]
    # The process dies here: no flush, no close (the buffer in memory is gone).
    reopened = _open(tmp_path)
    assert _subjects(reopened) == [f"pseudonym-{i}" for i in range(6)]
    first = reopened.scans()[0]
    assert first.scanned_at.replace(tzinfo=UTC) == NOW
    assert (first.actor, first.id_tail, first.issuer) == ("device-0", "123X", "cn-sc")
    assert reopened.journal is not None
    assert reopened.journal.path.read_bytes() == b""  # all in the database: journal emptied


def test_replay_never_writes_a_row_twice(tmp_path: Path) -> None:
    log = _open(tmp_path)
    log.record_scans([_scan(i) for i in range(3)])
    assert log.journal is not None
    journal = log.journal.path.read_bytes()
    log.flush()
    # A crash after the commit but before the journal was emptied: the same lines are back.
    log.journal.path.write_bytes(journal)
    log.record_scans([_scan(3)])  # and one more, after them, not yet flushed
    reopened = _open(tmp_path)
    assert _subjects(reopened) == [f"pseudonym-{i}" for i in range(4)]
    reopened.record_scans([_scan(4)])
    reopened.close()
    assert _subjects(_open(tmp_path)) == [f"pseudonym-{i}" for i in range(5)]


def test_a_torn_last_line_is_dropped_and_cut(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    log = _open(tmp_path)
    log.record_scans([_scan(0)])
    assert log.journal is not None
    with log.journal.path.open("ab") as journal:
        journal.write(b'[2,"cp-1","2026-12-06T06:00:01')  # a write cut by the crash
    reopened = _open(tmp_path)
    assert _subjects(reopened) == ["pseudonym-0"]
    assert "torn" in caplog.text
    reopened.record_scans([_scan(1)])
    reopened.close()
    assert _subjects(_open(tmp_path)) == ["pseudonym-0", "pseudonym-1"]


def test_appends_in_a_deferred_block_share_one_background_sync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = ScanJournal(tmp_path / "journal.jsonl")
    synced: list[int] = []
    monkeypatch.setattr("verifiers.scanjournal._sync", synced.append)
    row = ("cp-1", NOW.isoformat(), "qr", "d", None, None, None, "red", None)
    with journal.deferred():
        for _ in range(4):
            journal.append([row])
            journal.sync_unless_grouped()
    assert synced == []  # nothing synced inside the block, nor by leaving it
    loop = asyncio.new_event_loop()
    try:
        done = loop.create_future()
        journal.when_durable(journal.mark(), lambda: done.set_result(journal.synced_seq), loop)
        assert loop.run_until_complete(done) == 4  # one sync, past all four
        assert len(synced) == 1
        ran: list[bool] = []
        journal.when_durable(4, lambda: ran.append(True), loop)  # durable already: at once
        assert ran == [True]
    finally:
        loop.close()
    journal.append([row])
    journal.sync_unless_grouped()
    assert len(synced) == 2  # outside a block, each append is synced at once
    journal.close()
    assert [seq for seq, _ in journal.read()] == [1, 2, 3, 4, 5]
