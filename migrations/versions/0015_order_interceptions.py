"""ordering: interception and reship after shipping

An interception case per request to stop a shipped order's parcel (redirect to a new address,
or cancel), with the carrier's fee, who bears it, and the old and new shipments.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kuaidan.core.db

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = kuaidan.core.db.UTCDateTime
TABLE = "order_interceptions"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("cause", sa.String(30), nullable=False),
        sa.Column("bearer", sa.String(10), nullable=False),
        sa.Column("fee_fen", sa.Integer(), nullable=False),
        sa.Column("refund_fen", sa.Integer(), nullable=True),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("recipient_enc", sa.Text(), nullable=True),
        sa.Column("phone_enc", sa.Text(), nullable=True),
        sa.Column("district_enc", sa.Text(), nullable=True),
        sa.Column("line_enc", sa.Text(), nullable=True),
        sa.Column("province", sa.String(50), nullable=True),
        sa.Column("city", sa.String(50), nullable=True),
        sa.Column("postcode", sa.String(10), nullable=True),
        sa.Column("old_shipment", sa.String(32), nullable=False),
        sa.Column("new_shipment", sa.String(32), nullable=True),
        sa.Column("requested_by", sa.String(20), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("carrier_message", sa.String(200), nullable=True),
        sa.Column("requested_at", UTC(), nullable=False),
        sa.Column("updated_at", UTC(), nullable=False),
        sa.Column("finished_at", UTC(), nullable=True),
        sa.CheckConstraint(
            "kind IN ('redirect', 'cancel')", name=op.f("ck_order_interceptions_kind")
        ),
        sa.CheckConstraint(
            "status IN ('requested', 'intercepting', 'succeeded', 'failed', 'returned', "
            "'reshipped', 'refunded')",
            name=op.f("ck_order_interceptions_status"),
        ),
        sa.CheckConstraint(
            "bearer IN ('buyer', 'merchant')", name=op.f("ck_order_interceptions_bearer")
        ),
        sa.CheckConstraint("fee_fen >= 0", name=op.f("ck_order_interceptions_fee_nonneg")),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_order_interceptions_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_interceptions")),
    )
    op.create_index("ix_order_interceptions_order", TABLE, ["order_id", "id"])
    op.create_index("ix_order_interceptions_old_shipment", TABLE, ["old_shipment"])


def downgrade() -> None:
    op.drop_index("ix_order_interceptions_old_shipment", table_name=TABLE)
    op.drop_index("ix_order_interceptions_order", table_name=TABLE)
    op.drop_table(TABLE)
