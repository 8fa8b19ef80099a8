"""job leases: a background job that must run once per round runs on one replica

Revision ID: 0008
Revises: 0005
Create Date: 2026-12-06 07:00:00

`job_lease` is `healthcode.server.leases.JobLease`: the session purge and the partner
revocation sync take their lease before each round (ADR 0025).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job_lease",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=128), nullable=False),
        sa.Column("expiry_s", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("job_lease")
