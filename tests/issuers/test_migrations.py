"""The schema is created and upgraded by Alembic, repeatably."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, inspect, text

from issuers.db import downgrade, migrate

TABLES = {
    "citizen",
    "staffaccount",
    "otpchallenge",
    "eventrecord",
    "riskarearecord",
    "statuschange",
    "issuedcode",
    "revocation",
    "familybinding",
    "partnerrevocationcursor",
    "correction",
    "auditentry",
    "alembic_version",
}


def tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_creates_the_schema_and_a_second_run_is_a_no_op(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    assert tables(url) == set()
    migrate(url)
    assert tables(url) == TABLES
    before = (tmp_path / "fresh.db").read_bytes()
    migrate(url)
    assert tables(url) == TABLES
    assert (tmp_path / "fresh.db").read_bytes() == before
    downgrade(url)
    assert tables(url) == {"alembic_version"}


def test_upgrade_from_the_first_revision_keeps_issued_codes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    migrate(url, "0001")
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO issuedcode (jti, subject, kind, issued_at, expires_at, token) "
                    "VALUES ('j' || hex(randomblob(8)), 's', 'phone', 1, 2, 't')"
                )
            )
        migrate(url)
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT kind, source FROM issuedcode")).all()
    finally:
        engine.dispose()
    assert [tuple(row) for row in rows] == [("phone", None)]
    assert tables(url) == TABLES


def test_migrate_command_runs_from_the_environment(tmp_path: Path) -> None:
    env = {
        "HC_ISSUER_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "HC_ISSUER_DEMO_MODE": "1",
        "PATH": "/usr/bin:/bin",
    }
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "-m", "issuers", "migrate"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
    assert tables(env["HC_ISSUER_DATABASE_URL"]) == TABLES


def test_migrations_match_the_models(tmp_path: Path) -> None:
    """A model change without a migration fails here (`alembic revision --autogenerate`)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import MetaData
    from sqlmodel import SQLModel

    import issuers.models  # noqa: F401

    # Only the issuer's tables: other services may register theirs on the shared metadata.
    ours = MetaData()
    for name in TABLES - {"alembic_version"}:
        SQLModel.metadata.tables[name].to_metadata(ours)

    url = f"sqlite:///{tmp_path / 'check.db'}"
    migrate(url)
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), ours)
    finally:
        engine.dispose()
    assert differences == []
