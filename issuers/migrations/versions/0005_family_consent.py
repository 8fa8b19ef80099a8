"""family binding consent: how each binding was made, and adults' pending requests

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 06:30:00

Binding an adult who has an account needs their consent (`familyrequest`); a minor bound
without consent is bound only until 18 (`familybinding.minor_until`). Bindings made before
this revision are marked `legacy`: they were made by ID number and name alone.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("familybinding", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "bound_by",
                sa.String(length=16),
                nullable=False,
                server_default="legacy",
            )
        )
        batch_op.add_column(sa.Column("minor_until", sa.BigInteger(), nullable=True))
        batch_op.create_index(
            "ix_familybinding_dependent_subject", ["dependent_subject"], unique=False
        )
    with op.batch_alter_table("familybinding", schema=None) as batch_op:
        batch_op.alter_column("bound_by", server_default=None)
    op.create_table(
        "familyrequest",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("guardian_subject", sa.String(length=64), nullable=False),
        sa.Column("dependent_subject", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("answered_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("familyrequest", schema=None) as batch_op:
        batch_op.create_index(
            "ix_familyrequest_guardian_subject", ["guardian_subject"], unique=False
        )
        batch_op.create_index(
            "ix_familyrequest_dependent_subject", ["dependent_subject"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("familyrequest", schema=None) as batch_op:
        batch_op.drop_index("ix_familyrequest_dependent_subject")
        batch_op.drop_index("ix_familyrequest_guardian_subject")
    op.drop_table("familyrequest")
    with op.batch_alter_table("familybinding", schema=None) as batch_op:
        batch_op.drop_index("ix_familybinding_dependent_subject")
        batch_op.drop_column("minor_until")
        batch_op.drop_column("bound_by")
