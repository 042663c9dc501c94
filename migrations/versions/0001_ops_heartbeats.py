"""ops: heartbeat table used by the readiness probe

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kuaidan.core.db

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ops_heartbeats",
        sa.Column("node", sa.String(200), nullable=False),
        sa.Column("beat_at", kuaidan.core.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("node", name=op.f("pk_ops_heartbeats")),
    )


def downgrade() -> None:
    op.drop_table("ops_heartbeats")
