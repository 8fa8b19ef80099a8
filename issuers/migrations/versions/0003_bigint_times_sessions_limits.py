"""64-bit times, login sessions and attempt limits, override expiry

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 10:00:00

- Every epoch-seconds column becomes BIGINT: a 32-bit INTEGER on PostgreSQL ends in January
  2038 ("integer out of range" for a risk area listed until 2040).
- `authsession` (server-side sessions: logout, disabled accounts) and `authattempt` (rolling
  windows of login failures and one-time codes sent); `staffaccount.disabled_at`.
- `citizen.override_until`, `citizen.evidence_after` and `correction.override_until`: an
  official's override ends (docs/rules.md §6).
"""

from __future__ import annotations

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
