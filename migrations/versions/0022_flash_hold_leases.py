"""inventory: flash holds belong to the lease of the process that granted them

Each serving process holds a row in ``hold_leases`` and renews it every second or so; a
flash hold records its lease, and a hold whose lease stopped being renewed (the process died)
is released within seconds instead of after the hold time.

Revision ID: 0022
Revises: 0020
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kuaidan.core.db

revision: str = "0022"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC = kuaidan.core.db.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "hold_leases",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", UTC(), nullable=False),
        sa.Column("renewed_at", UTC(), nullable=False),
        sa.Column("expires_at", UTC(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hold_leases")),
    )
    op.create_index("ix_hold_leases_expires_at", "hold_leases", ["expires_at"])
    with op.batch_alter_table("reservations") as batch:
        batch.add_column(sa.Column("lease_id", BigId, nullable=True))
    op.create_index("ix_reservations_lease_id", "reservations", ["lease_id"])


def downgrade() -> None:
    op.drop_index("ix_reservations_lease_id", table_name="reservations")
    with op.batch_alter_table("reservations") as batch:
        batch.drop_column("lease_id")
    op.drop_index("ix_hold_leases_expires_at", table_name="hold_leases")
    op.drop_table("hold_leases")
