"""Feed import: idempotent, row-level rejections, streamed in batches, CLI with a report."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlmodel import col, func, select

from issuers.auth import Role
from issuers.feeds import FeedKind
from issuers.importer import import_feed
from issuers.models import AuditEntry, EventRecord, RiskAreaRecord
from issuers.settings import IssuerSettings
from tests.issuers.conftest import (
    TEST_SUBJECT_SECRET,
    TEST_TOKEN_SECRET,
    IssuerService,
    citizen_number,
    make_settings,
    running_issuer,
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
    env = cli_env(issuer.settings)
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


def test_every_event_a_feed_adds_is_audited_under_its_citizen(issuer: IssuerService) -> None:
    registered, unregistered = citizen_number(76), citizen_number(77)
    issuer.register(registered, "冯九")
    data = lab_csv(
        (registered, "negative", "pcr", recent(3)), (unregistered, "negative", "pcr", recent(3))
    )
    for _ in range(2):  # the second import adds nothing, so it audits no event
        import_feed(
            issuer.context,
            io.StringIO(data.decode(), newline=""),
            FeedKind.LAB_RESULTS,
            actor="health_official:o",
        )
    with issuer.context.session() as session:
        entries = session.exec(
            select(AuditEntry).where(AuditEntry.action == "feed_event:lab_results")
        ).all()
        imports = session.exec(
            select(AuditEntry).where(AuditEntry.action == "import:lab_results")
        ).all()
    assert sorted(e.subject or "" for e in entries) == sorted(
        [issuer.subject(registered), issuer.subject(unregistered)]
    )
    assert {e.actor for e in entries} == {"health_official:o"}
    assert {e.reason for e in entries} == {f"import #{imports[0].id}"}
    assert [e.reason for e in imports] == [
        "2 accepted, 0 duplicates, 0 rejected, 0 status changes; rows committed through line 3",
        "0 accepted, 2 duplicates, 0 rejected, 0 status changes; rows committed through line 3",
    ]


def _fail_on_insert(database_url: str, occurred_at: int) -> Callable[[], None]:
    """A real database failure while inserting one row (a trigger); returns its removal."""
    engine = create_engine(database_url)
    with engine.begin() as connection:
        if engine.dialect.name == "sqlite":
            connection.execute(
                text(
                    "CREATE TRIGGER fail_import BEFORE INSERT ON eventrecord "
                    f"WHEN NEW.occurred_at = {occurred_at} "
                    "BEGIN SELECT RAISE(ABORT, 'simulated disk failure'); END"
                )
            )
        else:
            connection.execute(
                text(
                    "CREATE FUNCTION fail_import() RETURNS trigger AS $$ BEGIN "
                    f"IF NEW.occurred_at = {occurred_at} THEN "
                    "RAISE EXCEPTION 'simulated disk failure'; END IF; RETURN NEW; END $$ "
                    "LANGUAGE plpgsql"
                )
            )
            connection.execute(
                text(
                    "CREATE TRIGGER fail_import BEFORE INSERT ON eventrecord "
                    "FOR EACH ROW EXECUTE FUNCTION fail_import()"
                )
            )

    def remove() -> None:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "DROP TRIGGER fail_import"
                    + ("" if engine.dialect.name == "sqlite" else " ON eventrecord")
                )
            )
        engine.dispose()

    return remove


def test_an_import_that_dies_part_way_reports_how_far_it_got_and_a_rerun_finishes(
    tmp_path: Path, redis_url: str, database_url: str
) -> None:
    settings = make_settings(tmp_path, redis_url, database_url=database_url, import_batch_size=2)
    with running_issuer(settings) as svc:
        base = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=5)
        rows = [
            (citizen_number(n), "negative", "pcr", (base + timedelta(minutes=n)).isoformat())
            for n in range(80, 90)
        ]
        # The 7th data row (line 8) fails: batches of lines 2-3, 4-5 and 6-7 are committed.
        remove = _fail_on_insert(
            svc.settings.database_url, int((base + timedelta(minutes=86)).timestamp())
        )
        official = svc.staff_headers(Role.HEALTH_OFFICIAL)
        answer = svc.http.post("/v1/feeds/lab_results", content=lab_csv(*rows), headers=official)
        assert answer.status_code == 503, answer.text
        body = answer.json()
        assert body["error"] == "upstream_unavailable"
        assert "Import the same file again" in body["message"]
        report = body["report"]
        assert (report["accepted"], report["committed_through_line"], report["complete"]) == (
            6,
            7,
            False,
        )
        assert events(svc) == 6
        with svc.context.session() as session:
            (entry,) = session.exec(
                select(AuditEntry).where(AuditEntry.action == "import:lab_results")
            ).all()
        assert entry.reason is not None
        assert entry.reason.startswith("interrupted at line 9 (the database failed")
        assert "rows committed through line 7" in entry.reason
        remove()
        again = svc.http.post("/v1/feeds/lab_results", content=lab_csv(*rows), headers=official)
        assert again.status_code == 200, again.text
        assert (again.json()["accepted"], again.json()["duplicates"]) == (4, 6)
        assert events(svc) == 10


def test_a_risk_area_listed_past_2038_is_stored(any_issuer: IssuerService) -> None:
    """A 32-bit time column answered 500 "integer out of range" on PostgreSQL."""
    official = any_issuer.staff_headers(Role.HEALTH_OFFICIAL)
    start = (datetime.now(UTC) - timedelta(days=1)).replace(microsecond=0).isoformat()
    feed = (
        "area_code,level,valid_from,valid_until\n"
        f"510104,high,{start},2040-01-01T00:00+08:00\n"
        f"510105,medium,{start},2100-06-30T00:00+08:00\n"
    ).encode()
    answer = any_issuer.http.post("/v1/feeds/risk_areas", content=feed, headers=official)
    assert answer.status_code == 200, answer.text
    assert answer.json()["accepted"] == 2
    with any_issuer.context.session() as session:
        stored = sorted(r.valid_until or 0 for r in session.exec(select(RiskAreaRecord)).all())
    assert stored[0] == int(datetime(2040, 1, 1, tzinfo=UTC).timestamp()) - 8 * 3600


def test_a_feed_ending_inside_a_character_is_refused_and_changes_nothing(
    issuer: IssuerService,
) -> None:
    official = issuer.staff_headers(Role.HEALTH_OFFICIAL)
    data = lab_csv((citizen_number(78), "阳性", "pcr", recent())) + "阳".encode()[:2]
    answer = issuer.http.post("/v1/feeds/lab_results", content=data, headers=official)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"] == "invalid_request"
    assert events(issuer) == 0
    with issuer.context.session() as session:
        audits = session.exec(
            select(AuditEntry).where(col(AuditEntry.action).startswith("import"))
        ).all()
    assert audits == []


def cli_env(settings: IssuerSettings) -> dict[str, str]:
    """The environment of an `issuer` command working on these settings' database and keys."""
    return {
        **os.environ,
        "HC_ISSUER_DATABASE_URL": settings.database_url,
        "HC_ISSUER_REDIS_URL": settings.redis_url or "",
        "HC_ISSUER_KEY_DIR": str(settings.key_dir),
        "HC_ISSUER_TOKEN_SECRET": TEST_TOKEN_SECRET,
        "HC_ISSUER_SUBJECT_SECRET": TEST_SUBJECT_SECRET,
    }


def test_cli_import_of_a_bad_file_prints_a_code_and_exits_2(
    issuer: IssuerService, tmp_path: Path
) -> None:
    not_utf8 = tmp_path / "latin1.csv"
    not_utf8.write_bytes(lab_csv((citizen_number(79), "negative", "pcr", recent())) + b"\xe9\n")
    cut = tmp_path / "cut.csv"
    cut.write_bytes(lab_csv((citizen_number(79), "negative", "pcr", recent())) + "阳".encode()[:1])
    wrong_header = tmp_path / "header.csv"
    wrong_header.write_bytes(b"id,colour\n1,red\n")
    cases = {
        tmp_path / "missing.csv": "is not a file",
        tmp_path: "is not a file",
        not_utf8: "latin1.csv is not UTF-8 text (byte",
        cut: "ends inside a character",
        wrong_header: "first line must be the header",
    }
    for path, message in cases.items():
        done = subprocess.run(
            [sys.executable, "-m", "issuers", "import", "--kind", "lab_results", str(path)],
            env=cli_env(issuer.settings),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 2, (path, done.stderr)
        last = done.stderr.strip().splitlines()[-1]  # after the progress bar, if it started
        assert last.startswith("issuer: invalid_request: "), done.stderr
        assert message in last
        assert "Traceback" not in done.stderr
    assert events(issuer) == 0
