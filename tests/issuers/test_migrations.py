"""The schema is created and upgraded by Alembic, repeatably, on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import MetaData, create_engine, inspect, text

from issuers.db import downgrade, migrate

TABLES = {
    "citizen",
    "staffaccount",
    "authsession",
    "authattempt",
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
#: A time after January 2038, when a signed 32-bit epoch column overflows.
AFTER_2038 = 2_208_988_800  # 2040-01-01T00:00:00Z


def tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def schema_dump(url: str) -> dict[str, object]:
    """Every table's columns (name, type, nullability) and indexes: what a re-run must keep."""
    engine = create_engine(url)
    try:
        inspector = inspect(engine)
        return {
            name: (
                [(c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(name)],
                sorted(
                    (i["name"] or "", tuple(i["column_names"])) for i in inspector.get_indexes(name)
                ),
            )
            for name in sorted(inspector.get_table_names())
        }
    finally:
        engine.dispose()


def test_upgrade_creates_the_schema_a_second_run_is_a_no_op_and_downgrade_undoes_it(
    database_url: str,
) -> None:
    assert tables(database_url) == set()
    migrate(database_url)
    assert tables(database_url) == TABLES
    before = schema_dump(database_url)
    migrate(database_url)
    assert schema_dump(database_url) == before
    downgrade(database_url, "0002")
    assert "authsession" not in tables(database_url)
    migrate(database_url)
    assert schema_dump(database_url) == before
    downgrade(database_url)
    assert tables(database_url) == {"alembic_version"}


def test_upgrade_from_the_first_revision_keeps_data_and_widens_time_columns(
    database_url: str,
) -> None:
    migrate(database_url, "0001")
    engine = create_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO issuedcode (jti, subject, kind, issued_at, expires_at, token) "
                    "VALUES ('j1', 's', 'phone', 1, 2, 't')"
                )
            )
        migrate(database_url)
        with engine.begin() as connection:
            rows = connection.execute(text("SELECT kind, source FROM issuedcode")).all()
            # Before 0003 PostgreSQL refused this: "integer out of range".
            connection.execute(
                text(
                    "INSERT INTO riskarearecord "
                    "(area_code, level, valid_from, valid_until, row_key, created_at) "
                    "VALUES ('510104', 'high', 1, :until, 'k', 1)"
                ),
                {"until": AFTER_2038},
            )
            stored = connection.execute(text("SELECT valid_until FROM riskarearecord")).scalar()
    finally:
        engine.dispose()
    assert [tuple(row) for row in rows] == [("phone", None)]
    assert stored == AFTER_2038
    assert tables(database_url) == TABLES


def test_migrate_command_runs_from_the_environment(database_url: str) -> None:
    env = {
        "HC_ISSUER_DATABASE_URL": database_url,
        "HC_ISSUER_DEMO_MODE": "1",
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
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
    assert tables(database_url) == TABLES


def test_migrations_match_the_models(database_url: str) -> None:
    """A model change without a migration fails here (`alembic revision --autogenerate`),
    types included (an INTEGER where the model says BIGINT is a difference)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlmodel import SQLModel

    import issuers.models  # noqa: F401

    # Only the issuer's tables: other services may register theirs on the shared metadata.
    ours = MetaData()
    for name in TABLES - {"alembic_version"}:
        SQLModel.metadata.tables[name].to_metadata(ours)

    migrate(database_url)
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, ours)
    finally:
        engine.dispose()
    assert differences == []


@pytest.mark.parametrize("revision", ["0001", "0002"])
def test_every_time_column_is_64_bit_after_the_upgrade(database_url: str, revision: str) -> None:
    migrate(database_url, revision)
    migrate(database_url)
    engine = create_engine(database_url)
    try:
        inspector = inspect(engine)
        narrow = [
            f"{table}.{column['name']}"
            for table in inspector.get_table_names()
            for column in inspector.get_columns(table)
            if column["name"].endswith(("_at", "_until", "_from"))
            or column["name"] in ("at", "status_until")
            if str(column["type"]).upper() != "BIGINT"
        ]
    finally:
        engine.dispose()
    assert narrow == []


def test_sqlite_file_from_the_command_is_repeatable(tmp_path: Path) -> None:
    """The documented step on a fresh file: the bytes do not change on a second run."""
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    migrate(url)
    before = (tmp_path / "fresh.db").read_bytes()
    migrate(url)
    assert (tmp_path / "fresh.db").read_bytes() == before
