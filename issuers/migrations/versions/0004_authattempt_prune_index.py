"""authattempt index for pruning expired rows of every key

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 10:00:00

Each recorded login attempt deletes a bounded batch of its scope's expired rows, of any key
(issuers/limits.py); `ix_authattempt_scope_at` finds them without reading every row.
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("authattempt", schema=None) as batch_op:
        batch_op.create_index("ix_authattempt_scope_at", ["scope", "at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("authattempt", schema=None) as batch_op:
        batch_op.drop_index("ix_authattempt_scope_at")
