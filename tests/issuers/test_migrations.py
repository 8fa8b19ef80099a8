"""The schema is created and upgraded by Alembic, repeatably, on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
import time
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
    "familyrequest",
    "partnerrevocationcursor",
    "correction",
    "auditentry",
    "job_lease",
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


DAY = 86400
POSITIVE = '{"result": "positive", "test": "pcr"}'


def _insert_pre_0003_overrides(url: str, decided_at: int) -> dict[str, int]:
    """Rows as revision 0002 left them, where an override had no end and hid every event:

    - `s-over`: overridden green at `decided_at` after a positive; a second positive recorded
      10 minutes after the decision; an older, superseded override correction;
    - `s-kept`: overridden yellow a day earlier, only a positive recorded before that;
    - `s-plain`: no override, a rejected correction.

    Returns the ids of the events (the ids of another subject's events interleave).
    """
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            for subject, override, updated_at in (
                ("s-over", "green", decided_at),
                ("s-kept", "yellow", decided_at - DAY),
                ("s-plain", None, decided_at),
            ):
                connection.execute(
                    text(
                        "INSERT INTO citizen (subject, masked_name, id_tail, name_hmac, "
                        "division_code, colour, reason, reason_zh, reason_en, rule_id, "
                        "rules_version, status_until, override_colour, override_note, updated_at) "
                        "VALUES (:subject, '*x', '0000', 'h', '510104', :colour, 'none', '', '', "
                        ":rule, 'v1', NULL, :override, :note, :at)"
                    ),
                    {
                        "subject": subject,
                        "colour": override or "green",
                        "rule": "default" if override is None else "official-override",
                        "override": override,
                        "note": None if override is None else "lab mix-up",
                        "at": updated_at,
                    },
                )
            ids: dict[str, int] = {}
            for name, subject, created_at in (
                ("kept", "s-kept", decided_at - 2 * DAY),
                ("judged", "s-over", decided_at - 3600),
                ("other", "s-plain", decided_at - 60),
                ("after", "s-over", decided_at + 600),
            ):
                ids[name] = connection.execute(
                    text(
                        "INSERT INTO eventrecord "
                        "(subject, kind, occurred_at, data, row_key, source, created_at) "
                        "VALUES (:subject, 'lab_result', :at, :data, :key, 'lab', :at) "
                        "RETURNING id"
                    ),
                    {"subject": subject, "at": created_at, "data": POSITIVE, "key": name},
                ).scalar_one()
            for subject, state, override, at in (
                ("s-over", "accepted", "yellow", decided_at - 5 * DAY),
                ("s-over", "accepted", "green", decided_at),
                ("s-kept", "accepted", "yellow", decided_at - DAY),
                ("s-plain", "rejected", None, decided_at),
            ):
                connection.execute(
                    text(
                        "INSERT INTO correction (subject, filed_by, reason, state, "
                        "decision_note, override_colour, decided_by, decided_at, created_at) "
                        "VALUES (:subject, 'citizen', 'r', :state, 'n', :override, 'o', :at, :at)"
                    ),
                    {"subject": subject, "state": state, "override": override, "at": at},
                )
    finally:
        engine.dispose()
    return ids


def test_upgrade_gives_standing_overrides_their_expiry_and_judged_evidence(
    database_url: str,
) -> None:
    """0003 adds `override_until` and `evidence_after`. An override decided before it gets
    what `decide_correction` records (docs/rules.md §6): an expiry 14 days after the decision
    (also the citizen's `status_until`, so the expiry is acted on), and as judged evidence the
    citizen's newest event recorded by the time of the decision, not every event up to the
    migration: a positive recorded after the decision is new evidence."""
    decided_at = int(time.time()) - 2 * DAY
    migrate(database_url, "0002")
    ids = _insert_pre_0003_overrides(database_url, decided_at)
    migrate(database_url)
    engine = create_engine(database_url)
    try:
        with engine.begin() as connection:
            citizens = {
                row.subject: (row.override_until, row.evidence_after, row.status_until)
                for row in connection.execute(
                    text(
                        "SELECT subject, override_until, evidence_after, status_until FROM citizen"
                    )
                )
            }
            corrections = sorted(
                (row.subject, row.decided_at, row.override_until)
                for row in connection.execute(
                    text("SELECT subject, decided_at, override_until FROM correction")
                )
            )
    finally:
        engine.dispose()
    assert ids["judged"] < ids["other"] < ids["after"]
    expiry, kept_expiry = decided_at + 14 * DAY, decided_at + 13 * DAY
    assert citizens == {
        "s-over": (expiry, ids["judged"], expiry),
        "s-kept": (kept_expiry, ids["kept"], kept_expiry),
        "s-plain": (None, None, None),
    }
    assert corrections == [
        ("s-kept", decided_at - DAY, kept_expiry),
        ("s-over", decided_at - 5 * DAY, decided_at + 9 * DAY),
        ("s-over", decided_at, expiry),
        ("s-plain", decided_at, None),
    ]


def test_a_migrated_override_ends_as_the_application_expects(
    database_url: str, tmp_path: Path
) -> None:
    """The issuer's own rules on migrated rows: the overridden positive stays judged until the
    override expires, and a positive recorded after the decision ends the override."""
    from issuers.context import IssuerContext
    from issuers.store import citizen_by_subject, recompute, refresh_if_lapsed
    from tests.issuers.conftest import make_settings

    decided_at = int(time.time()) - 2 * DAY
    migrate(database_url, "0002")
    _insert_pre_0003_overrides(database_url, decided_at)
    migrate(database_url)
    ctx = IssuerContext.create(make_settings(tmp_path, None, database_url=database_url))
    now = int(time.time())
    try:
        with ctx.session() as session:
            kept = citizen_by_subject(session, "s-kept")
            recompute(ctx, session, kept, actor="test", now=now)
            assert (kept.colour, kept.rule_id) == ("yellow", "official-override")
            assert refresh_if_lapsed(ctx, session, kept, now=decided_at + 13 * DAY - 1) == []
            refresh_if_lapsed(ctx, session, kept, now=decided_at + 13 * DAY)
            # Expired; the positive the official judged no longer counts.
            assert (kept.colour, kept.rule_id, kept.override_colour) == ("green", "default", None)

            over = citizen_by_subject(session, "s-over")
            recompute(ctx, session, over, actor="test", now=now)
            ended = (over.colour, over.rule_id, over.override_colour)
            assert ended == ("red", "positive-pcr", None)
            session.rollback()
    finally:
        ctx.close()
