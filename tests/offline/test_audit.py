"""The print audit log on SQLite and PostgreSQL: all rows of a request, or none."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, delete

from offline.audit import (
    PrintRecord,
    actor_ref,
    now_utc,
    open_audit_log,
    recent_prints,
    record_prints,
)


def _record(jti: str, **overrides: object) -> PrintRecord:
    fields: dict[str, object] = {
        "at": now_utc(),
        "actor": "citizen:c3ViamVjdC1wc2V1ZG9ueW0tMDEyMzQ1",
        "actor_role": "citizen",
        "actor_ref": actor_ref("some-bearer-token"),
        "channel": "service",
        "action": "print_family",
        "subject": "c3ViamVjdC1wc2V1ZG9ueW0tMDEyMzQ1",
        "issuer": "cn-sc",
        "jti": jti,
        "layout": "a4",
        "format": "pdf",
    }
    fields.update(overrides)
    return PrintRecord(**fields)  # type: ignore[arg-type]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'audit.db'}"
    url: str = request.getfixturevalue("postgres_database_url")
    return url


def test_records_of_one_request_are_written_together(database_url: str) -> None:
    engine = open_audit_log(database_url)
    jtis = [secrets.token_urlsafe(16) for _ in range(2)]
    try:
        record_prints(engine, [_record(jti) for jti in jtis])

        latest = {row.jti for row in recent_prints(engine, limit=10)}
        assert set(jtis) <= latest
    finally:
        with Session(engine) as session:
            session.exec(delete(PrintRecord).where(PrintRecord.jti.in_(jtis)))  # type: ignore[attr-defined]
            session.commit()
        engine.dispose()


def test_a_failing_record_leaves_no_partial_write(database_url: str) -> None:
    engine = open_audit_log(database_url)
    good = secrets.token_urlsafe(16)
    try:
        with pytest.raises(IntegrityError):
            # The second row lacks a required column: the first must not stay behind.
            record_prints(engine, [_record(good), _record("x", actor_role=None)])

        assert good not in {row.jti for row in recent_prints(engine, limit=50)}
    finally:
        engine.dispose()


def test_actor_ref_is_not_the_token() -> None:
    token = "bearer-token-value-0123456789"

    assert token not in actor_ref(token)
    assert actor_ref(token) == actor_ref(token)
    assert len(actor_ref(token)) == 16


def test_an_audit_table_of_the_first_release_gets_the_new_columns(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old-audit.db'}"
    old = create_engine(url)
    with old.begin() as connection:
        connection.execute(
            text(
                "CREATE TABLE offline_print_audit (id INTEGER PRIMARY KEY, at DATETIME NOT NULL,"
                " actor_role VARCHAR(32) NOT NULL, actor_ref VARCHAR(32) NOT NULL,"
                " action VARCHAR(32) NOT NULL, subject VARCHAR(64) NOT NULL,"
                " issuer VARCHAR(64) NOT NULL, jti VARCHAR(64) NOT NULL,"
                " layout VARCHAR(8) NOT NULL, format VARCHAR(8) NOT NULL)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO offline_print_audit (at, actor_role, actor_ref, action, subject,"
                " issuer, jti, layout, format) VALUES ('2026-11-01 08:00:00', 'citizen',"
                " 'abcdef0123456789', 'print_me', 'c3ViamVjdA', 'cn-sc', 'old-jti', 'a4', 'pdf')"
            )
        )
    old.dispose()

    engine = open_audit_log(url)
    try:
        columns = {column["name"] for column in inspect(engine).get_columns("offline_print_audit")}
        assert {"actor", "channel"} <= columns
        record_prints(engine, [_record("new-jti")])
        rows = {row.jti: row for row in recent_prints(engine)}
        assert (rows["old-jti"].actor, rows["old-jti"].channel) == ("unrecorded", "service")
        assert rows["new-jti"].actor.startswith("citizen:")
    finally:
        engine.dispose()
