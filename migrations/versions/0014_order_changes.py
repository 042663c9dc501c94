"""ordering: changes before shipping (address, SKU, quantity) with approvals

Orders get ``packing_started_at`` (after it, changes wait for the merchant's approval) and
``order_changes`` records every change asked for, its outcome and its price difference.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kuaidan.core.db

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = kuaidan.core.db.UTCDateTime
KINDS = "kind IN ('address', 'swap', 'quantity')"
STATUSES = "status IN ('applied', 'pending_approval', 'awaiting_payment', 'rejected', 'failed')"


def upgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("packing_started_at", UTC(), nullable=True))
    op.create_table(
        "order_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("line_id", sa.Integer(), nullable=True),
        sa.Column("before", sa.JSON(), nullable=False),
        sa.Column("after", sa.JSON(), nullable=False),
        sa.Column("requested_by_role", sa.String(20), nullable=False),
        sa.Column("requested_by", sa.Integer(), nullable=False),
        sa.Column("difference_fen", sa.Integer(), nullable=False),
        sa.Column("refund_request_no", sa.String(64), nullable=True),
        sa.Column("payment_reference", sa.String(64), nullable=True),
        sa.Column("pay_url", sa.Text(), nullable=True),
        sa.Column("reason", sa.String(200), nullable=True),
        sa.Column("requested_at", UTC(), nullable=False),
        sa.Column("decided_at", UTC(), nullable=True),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("applied_at", UTC(), nullable=True),
        sa.CheckConstraint(KINDS, name=op.f("ck_order_changes_kind")),
        sa.CheckConstraint(STATUSES, name=op.f("ck_order_changes_status")),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_order_changes_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_changes")),
        sa.UniqueConstraint(
            "order_id", "request_id", name=op.f("uq_order_changes_order_id_request_id")
        ),
    )
    op.create_index(op.f("ix_order_changes_order_id"), "order_changes", ["order_id"])
    op.create_index(op.f("ix_order_changes_status"), "order_changes", ["status", "requested_at"])
    op.create_index(
        op.f("ix_order_changes_payment_reference"), "order_changes", ["payment_reference"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_order_changes_payment_reference"), table_name="order_changes")
    op.drop_index(op.f("ix_order_changes_status"), table_name="order_changes")
    op.drop_index(op.f("ix_order_changes_order_id"), table_name="order_changes")
    op.drop_table("order_changes")
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("packing_started_at")
