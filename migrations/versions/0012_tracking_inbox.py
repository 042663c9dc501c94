"""logistics: raw tracking pushes stored first, applied in batches

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kuaidan.core.db

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = kuaidan.core.db.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "logistics_tracking_inbox",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("received_at", UTC(), nullable=False),
        sa.Column("carrier_code", sa.String(length=30), nullable=False),
        sa.Column("tracking_number", sa.String(length=40), nullable=False),
        sa.Column("param", sa.Text(), nullable=False),
        sa.Column("sign", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("shipment_id", sa.Integer(), nullable=True),
        sa.Column("new_scans", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=200), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("applied_at", UTC(), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'applied', 'orphan', 'dead')",
            name=op.f("ck_logistics_tracking_inbox_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_logistics_tracking_inbox")),
        sa.UniqueConstraint("content_hash", name=op.f("uq_logistics_tracking_inbox_content_hash")),
    )
    op.create_index("ix_logistics_tracking_inbox_due", "logistics_tracking_inbox", ["status", "id"])
    op.create_index(
        "ix_logistics_tracking_inbox_parcel",
        "logistics_tracking_inbox",
        ["tracking_number", "carrier_code"],
    )


def downgrade() -> None:
    op.drop_index("ix_logistics_tracking_inbox_parcel", table_name="logistics_tracking_inbox")
    op.drop_index("ix_logistics_tracking_inbox_due", table_name="logistics_tracking_inbox")
    op.drop_table("logistics_tracking_inbox")
