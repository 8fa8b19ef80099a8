"""An import killed with `kill -9` is marked interrupted, with its committed rows, at the next
start; importing the same file again finishes it and adds nothing twice."""

from __future__ import annotations

import io
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, func, select

from issuers.db import migrate
from issuers.feeds import FeedKind
from issuers.importer import import_feed
from issuers.models import AuditEntry, EventRecord
from tests.issuers.conftest import citizen_number, make_settings, running_issuer
from tests.issuers.test_import import cli_env

ROWS = 20_000
BATCH = 20


@pytest.fixture
def big_feed(tmp_path: Path) -> Path:
    """A lab feed long enough that an import of it, a batch of 20 rows per commit, is still
    running when its first batches are seen (a thousand transactions)."""
    start = datetime.now(UTC) - timedelta(days=2)
    lines = ["id_number,result,test,sampled_at"]
    for index in range(ROWS):
        sampled = (start + timedelta(seconds=index)).isoformat()
        lines.append(f"{citizen_number(index % 1000)},negative,pcr,{sampled}")
    path = tmp_path / "lab.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def _import_entries(database_url: str) -> list[AuditEntry]:
    engine = create_engine(database_url)
    try:
        with Session(engine) as session:
            query = select(AuditEntry).where(col(AuditEntry.action) == "import:lab_results")
            query = query.order_by(col(AuditEntry.id))
            return list(session.exec(query))
    finally:
        engine.dispose()


def _events(database_url: str) -> int:
    engine = create_engine(database_url)
    try:
        with Session(engine) as session:
            return int(session.exec(select(func.count()).select_from(EventRecord)).one())
    finally:
        engine.dispose()


@pytest.fixture
def killed_import(tmp_path: Path, redis_url: str, big_feed: Path) -> Iterator[str]:
    """Start `issuer import` of the big feed in its own process; kill -9 it once a few batches
    are committed. Yields the database URL."""
    settings = make_settings(tmp_path, redis_url)
    migrate(settings.database_url)
    env = cli_env(settings)
    command = [sys.executable, "-m", "issuers", "import", "--kind", "lab_results"]
    command += ["--batch-size", str(BATCH), "--quiet", str(big_feed)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        while True:
            assert process.poll() is None, "the import ended before it was seen running"
            try:
                entries = _import_entries(settings.database_url)
            except OperationalError:  # the importer holds the write lock this instant
                entries = []
            if entries and " 0 new rows" not in (entries[0].reason or ""):
                break  # at least one batch is committed
            time.sleep(0.05)
        process.kill()  # SIGKILL: no handler, no clean-up, nothing flushed
        process.wait(30)
        yield settings.database_url
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(30)
        assert process.stderr is not None
        process.stderr.close()


def test_a_killed_import_is_marked_at_the_next_start_and_a_rerun_finishes_it(
    killed_import: str, tmp_path: Path, redis_url: str, big_feed: Path
) -> None:
    database_url = killed_import
    [entry] = _import_entries(database_url)
    assert (entry.reason or "").startswith("running on ")  # nobody said otherwise yet
    committed = _events(database_url)
    assert 0 < committed < ROWS

    with running_issuer(make_settings(tmp_path, redis_url)) as issuer:
        [entry] = _import_entries(database_url)
        reason = entry.reason or ""
        assert reason.startswith("interrupted: the importing process stopped; "), reason
        # The count on the entry committed with the rows: it is exactly what is stored.
        assert f" {committed} new rows committed through line {committed + 1}." in reason
        assert "Import the same file again" in reason

        with big_feed.open(newline="") as stream:
            report = import_feed(
                issuer.context, stream, FeedKind.LAB_RESULTS, actor="test", batch_size=500
            )
        assert (report.accepted, report.duplicates) == (ROWS - committed, committed)
        assert _events(database_url) == ROWS
        again = import_feed(
            issuer.context,
            io.StringIO(big_feed.read_text(), newline=""),
            FeedKind.LAB_RESULTS,
            actor="test",
            batch_size=500,
        )
        assert (again.accepted, again.duplicates) == (0, ROWS)
    # The two reruns finished normally: only the killed import is marked.
    outcomes = [entry.reason or "" for entry in _import_entries(database_url)]
    assert len(outcomes) == 3
    assert outcomes[0].startswith("interrupted")
    assert all(reason.split(",")[0].endswith(" accepted") for reason in outcomes[1:]), outcomes
