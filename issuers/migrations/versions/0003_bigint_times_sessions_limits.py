"""64-bit times, login sessions and attempt limits, override expiry

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 10:00:00

- Every epoch-seconds column becomes BIGINT: a 32-bit INTEGER on PostgreSQL ends in January
  2038 ("integer out of range" for a risk area listed until 2040).
- `authsession` (server-side sessions: logout, disabled accounts) and `authattempt` (rolling
  windows of login failures and one-time codes sent); `staffaccount.disabled_at`.
- `citizen.override_until`, `citizen.evidence_after` and `correction.override_until`: an
  official's override ends (docs/rules.md §6). Overrides decided before this revision get
  the values `decide_correction` records (`_backfill_overrides`).
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

#: (table, column, nullable) of every epoch-seconds column, plus the partner cursor's sequence.
_TIME_COLUMNS: tuple[tuple[str, str, bool], ...] = (
    ("auditentry", "at", False),
    ("citizen", "status_until", True),
    ("citizen", "updated_at", False),
    ("correction", "decided_at", True),
    ("correction", "created_at", False),
    ("eventrecord", "occurred_at", False),
    ("eventrecord", "created_at", False),
    ("familybinding", "created_at", False),
    ("issuedcode", "issued_at", False),
    ("issuedcode", "expires_at", False),
    ("issuedcode", "revoked_at", True),
    ("otpchallenge", "expires_at", False),
    ("partnerrevocationcursor", "seq", False),
    ("partnerrevocationcursor", "synced_at", False),
    ("revocation", "expires_at", False),
    ("revocation", "revoked_at", False),
    ("riskarearecord", "valid_from", False),
    ("riskarearecord", "valid_until", True),
    ("riskarearecord", "created_at", False),
    ("staffaccount", "created_at", False),
    ("statuschange", "changed_at", False),
)


def _retype(old: type[sa.types.TypeEngine[int]], new: type[sa.types.TypeEngine[int]]) -> None:
    tables: dict[str, list[tuple[str, bool]]] = {}
    for table, column, nullable in _TIME_COLUMNS:
        tables.setdefault(table, []).append((column, nullable))
    for table, columns in tables.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column, nullable in columns:
                batch_op.alter_column(
                    column, existing_type=old(), type_=new(), existing_nullable=nullable
                )


#: What an override decided before this revision lasts: the default of `override_days`
#: (issuers.corrections.DEFAULT_OVERRIDE_DAYS, copied: a migration must not change with the code).
_OVERRIDE_DAYS = 14


def _backfill_overrides() -> None:
    """Give every override decided under 0002 (which never ended and hid every event) what
    `decide_correction` now records, measured from the decision, not from this migration:

    - `correction.override_until` = its `decided_at` + 14 days, for accepted overrides;
    - `citizen.override_until` = that of the decision that set the citizen's override (the
      newest accepted override correction; accepting one without an override cleared it);
    - `citizen.evidence_after` = the id of the citizen's newest event recorded by the decision:
      the official judged those. Later events are new evidence (docs/rules.md §6) -- counting
      everything up to the migration as judged would hide for good a positive recorded after
      the decision; leaving it NULL would count the overridden positive again and end the
      override at the next re-evaluation;
    - `citizen.status_until` no later than the expiry, so the issuer re-evaluates then (0002
      kept no `until` for an override).

    A citizen with an override but no accepted correction (not made by the service) is
    treated as decided now.
    """
    bind = op.get_bind()
    lifetime_s = _OVERRIDE_DAYS * 86400
    bind.execute(
        sa.text(
            "UPDATE correction SET override_until = decided_at + :lifetime "
            "WHERE state = 'accepted' AND override_colour IS NOT NULL "
            "AND decided_at IS NOT NULL AND override_until IS NULL"
        ),
        {"lifetime": lifetime_s},
    )
    overridden = bind.execute(
        sa.text(
            "SELECT citizen.id, citizen.subject, citizen.status_until, ("
            "  SELECT MAX(correction.decided_at) FROM correction"
            "  WHERE correction.subject = citizen.subject AND correction.state = 'accepted'"
            "  AND correction.override_colour IS NOT NULL"
            ") AS decided_at FROM citizen WHERE citizen.override_colour IS NOT NULL"
        )
    ).all()
    now = int(time.time())
    for row in overridden:
        decided_at = now if row.decided_at is None else int(row.decided_at)
        judged = bind.execute(
            sa.text(
                "SELECT MAX(id) FROM eventrecord WHERE subject = :subject AND created_at <= :at"
            ),
            {"subject": row.subject, "at": decided_at},
        ).scalar()
        until = decided_at + lifetime_s
        status_until = until if row.status_until is None else min(int(row.status_until), until)
        bind.execute(
            sa.text(
                "UPDATE citizen SET override_until = :until, evidence_after = :judged, "
                "status_until = :status_until WHERE id = :id"
            ),
            {
                "until": until,
                "judged": int(judged or 0),
                "status_until": status_until,
                "id": row.id,
            },
        )


def upgrade() -> None:
    _retype(sa.Integer, sa.BigInteger)
    op.create_table(
        "authsession",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("principal", sa.String(length=120), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("revoked_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("authsession", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_authsession_principal"), ["principal"], unique=False)
    op.create_table(
        "authattempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("authattempt", schema=None) as batch_op:
        batch_op.create_index("ix_authattempt_scope_key_at", ["scope", "key", "at"], unique=False)
    with op.batch_alter_table("staffaccount", schema=None) as batch_op:
        batch_op.add_column(sa.Column("disabled_at", sa.BigInteger(), nullable=True))
    with op.batch_alter_table("citizen", schema=None) as batch_op:
        batch_op.add_column(sa.Column("override_until", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("evidence_after", sa.Integer(), nullable=True))
    with op.batch_alter_table("correction", schema=None) as batch_op:
        batch_op.add_column(sa.Column("override_until", sa.BigInteger(), nullable=True))
    _backfill_overrides()


def downgrade() -> None:
    with op.batch_alter_table("correction", schema=None) as batch_op:
        batch_op.drop_column("override_until")
    with op.batch_alter_table("citizen", schema=None) as batch_op:
        batch_op.drop_column("evidence_after")
        batch_op.drop_column("override_until")
    with op.batch_alter_table("staffaccount", schema=None) as batch_op:
        batch_op.drop_column("disabled_at")
    with op.batch_alter_table("authattempt", schema=None) as batch_op:
        batch_op.drop_index("ix_authattempt_scope_key_at")
    op.drop_table("authattempt")
    with op.batch_alter_table("authsession", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_authsession_principal"))
    op.drop_table("authsession")
    # PostgreSQL refuses this when a stored time is past 2038 (it no longer fits 32 bits).
    _retype(sa.BigInteger, sa.Integer)
