"""The purge job as the running service schedules it (background tasks on, a tiny interval)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from healthcode import TrustStore
from tests.verifiers.conftest import MakeSettings, start_checkpoint


def test_background_purge_job_deletes_old_scans_and_audits(
    make_settings: MakeSettings, trust_store: TrustStore
) -> None:
    settings = make_settings(background_tasks=True, purge_interval_s=0.2)
    running = start_checkpoint(settings, trust_store)
    try:
        log = running.service.scan_log
        now = datetime.now(UTC)
        scan = {"mode": "qr", "actor": "dev-1", "result": "green"}
        log.record_scans(
            [
                {**scan, "scanned_at": now - timedelta(days=29)},
                {**scan, "scanned_at": now - timedelta(days=1)},
            ]
        )
        log.audit(actor="staff1", action="assisted", at=now - timedelta(days=181))
        log.audit(actor="staff1", action="assisted", at=now - timedelta(days=170))
        # The purge deletes, then records its own audit line: wait for all three. The
        # deadline only ends a wait that would never succeed; it bounds nothing measured.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            purged = len(log.scans()) == 1 and not _old_audits(running.service)
            if purged and any(a.action == "purge" for a in log.audit_records()):
                break
            time.sleep(0.1)
        assert [r.scanned_at.date() for r in log.scans()] == [(now - timedelta(days=1)).date()]
        assert not _old_audits(running.service)
        purges = [a for a in log.audit_records() if a.action == "purge"]
        assert purges
        assert purges[0].actor == "purge-job"
        assert purges[0].detail == "scans=1 audit=1 retention_days=28/180"
        # The job keeps running: a new old row goes too.
        log.record_scans([{**scan, "scanned_at": now - timedelta(days=40)}])
        deadline = time.monotonic() + 120
        while len(log.scans()) != 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(log.scans()) == 1
    finally:
        running.server.stop()


def _old_audits(service: object) -> list[object]:
    cutoff = datetime.now(UTC) - timedelta(days=180)
    records = service.scan_log.audit_records()  # type: ignore[attr-defined]
    return [a for a in records if a.at.replace(tzinfo=UTC) < cutoff]
