"""Feed import: idempotent, row-level rejections, streamed in batches, CLI with a report."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlmodel import func, select

from issuers.feeds import FeedKind
from issuers.importer import import_feed
from issuers.models import AuditEntry, EventRecord
from tests.issuers.conftest import (
    TEST_SUBJECT_SECRET,
    TEST_TOKEN_SECRET,
    IssuerService,
    citizen_number,
)
from tests.issuers.helpers import lab_csv, recent


def events(svc: IssuerService) -> int:
    with svc.context.session() as session:
        return int(session.exec(select(func.count()).select_from(EventRecord)).one())


def test_same_file_twice_adds_nothing_and_bad_rows_are_reported(issuer: IssuerService) -> None:
    good = [(citizen_number(n), "negative", "pcr", recent(2)) for n in range(60, 65)]
    bad_id = (citizen_number(65)[:-1] + "Y", "negative", "pcr", recent())
    bad_result = (citizen_number(66), "maybe", "pcr", recent())
    future = (citizen_number(67), "negative", "pcr", recent(-48))
    data = lab_csv(*good, bad_id, bad_result, future)
    first = import_feed(
        issuer.context,
        io.StringIO(data.decode(), newline=""),
        FeedKind.LAB_RESULTS,
        actor="test",
        batch_size=2,
    )
    assert (first.rows, first.accepted, first.duplicates, first.rejected_count) == (8, 5, 0, 3)
    assert [row.line for row in first.rejected] == [7, 8, 9]
    assert next(row.code.value for row in first.rejected) == "invalid_id_number"
    assert all(bad_id[0] not in row.reason for row in first.rejected)
    second = import_feed(
        issuer.context,
        io.StringIO(data.decode(), newline=""),
        FeedKind.LAB_RESULTS,
        actor="test",
        batch_size=2,
    )
    assert (second.accepted, second.duplicates, second.rejected_count) == (0, 5, 3)
    assert events(issuer) == 5
    with issuer.context.session() as session:
        audits = session.exec(
            select(AuditEntry).where(AuditEntry.action == "import:lab_results")
        ).all()
    assert len(audits) == 2


def test_risk_area_feed_turns_visitors_yellow(issuer: IssuerService) -> None:
    id_number = citizen_number(68)
    issuer.register(id_number, "周八")
    headers = issuer.citizen_headers(id_number)
    yesterday = (datetime.now(UTC) + timedelta(hours=8) - timedelta(days=1)).date().isoformat()
    declared = issuer.http.post(
        "/v1/me/declarations",
        json={"kind": "itinerary", "data": {"area_code": "510107", "visited_on": yesterday}},
        headers=headers,
    )
    assert declared.status_code == 201
    assert declared.json()["colour"] == "green"
    start = (datetime.now(UTC) - timedelta(days=3)).replace(microsecond=0).isoformat()
    feed = f"area_code,level,valid_from,valid_until\n510107,medium,{start},\n".encode()
    from issuers.auth import Role

    official = issuer.staff_headers(Role.HEALTH_OFFICIAL)
    report = issuer.http.post("/v1/feeds/risk_areas", content=feed, headers=official).json()
    assert report["accepted"] == 1
    assert report["status_changes"] == 1
    me = issuer.http.get("/v1/me", headers=headers).json()
    assert (me["colour"], me["reason"]) == ("yellow", "risk_area")


def test_cli_import_prints_a_report(issuer: IssuerService, tmp_path: Path) -> None:
    path = tmp_path / "lab.csv"
    rows = [(citizen_number(n), "negative", "antigen", recent()) for n in range(70, 75)]
    path.write_bytes(lab_csv(*rows, ("12345", "negative", "pcr", recent())))
    settings = issuer.settings
    env = {
        **os.environ,
        "HC_ISSUER_DATABASE_URL": settings.database_url,
        "HC_ISSUER_REDIS_URL": settings.redis_url or "",
        "HC_ISSUER_KEY_DIR": str(settings.key_dir),
        "HC_ISSUER_TOKEN_SECRET": TEST_TOKEN_SECRET,
        "HC_ISSUER_SUBJECT_SECRET": TEST_SUBJECT_SECRET,
    }
    command = [sys.executable, "-m", "issuers", "import", "--kind", "lab_results", str(path)]
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "5 accepted" in done.stderr
    assert "1 rejected" in done.stderr
    assert "invalid_id_number" in done.stderr
    again = subprocess.run(
        [*command[:-1], "--json", str(path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    report = json.loads(again.stdout)
    assert (report["accepted"], report["duplicates"]) == (0, 5)
    assert events(issuer) == 5
