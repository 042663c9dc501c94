"""payments: payment intents, notifications, refunds

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kuaidan.core.db

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = kuaidan.core.db.UTCDateTime
PAYMENT_STATUSES = "status IN ('created', 'succeeded', 'closed', 'refunded', 'partially_refunded')"
REFUND_STATUSES = "status IN ('requested', 'succeeded', 'failed')"


def upgrade() -> None:
    op.create_table(
        "payments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(64), nullable=False),
        sa.Column("provider", sa.String(20), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("buyer_id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(256), nullable=False),
        sa.Column("provider_trade_no", sa.String(64), nullable=True),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("paid_at", UTC(), nullable=True),
        sa.Column("refunded_fen", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint(PAYMENT_STATUSES, name=op.f("ck_payments_status")),
        sa.CheckConstraint("amount_fen > 0", name=op.f("ck_payments_amount_positive")),
        sa.CheckConstraint(
            "refunded_fen >= 0 AND refunded_fen <= amount_fen", name=op.f("ck_payments_refunded")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
        sa.UniqueConstraint("reference", name=op.f("uq_payments_reference")),
    )
    op.create_index(op.f("ix_payments_buyer_id"), "payments", ["buyer_id"])
    op.create_table(
        "payment_notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(20), nullable=False),
        sa.Column("notify_id", sa.String(64), nullable=True),
        sa.Column("out_trade_no", sa.String(64), nullable=True),
        sa.Column("received_at", UTC(), nullable=False),
        sa.Column("verified", sa.Boolean(), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_notifications")),
        sa.UniqueConstraint("notify_id", name=op.f("uq_payment_notifications_notify_id")),
    )
    op.create_index(
        op.f("ix_payment_notifications_out_trade_no"), "payment_notifications", ["out_trade_no"]
    )
    op.create_table(
        "refunds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("payment_id", sa.Integer(), nullable=False),
        sa.Column("request_no", sa.String(64), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(256), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("done_at", UTC(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.CheckConstraint(REFUND_STATUSES, name=op.f("ck_refunds_status")),
        sa.CheckConstraint("amount_fen > 0", name=op.f("ck_refunds_amount_positive")),
        sa.ForeignKeyConstraint(
            ["payment_id"],
            ["payments.id"],
            name=op.f("fk_refunds_payment_id_payments"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refunds")),
        sa.UniqueConstraint("request_no", name=op.f("uq_refunds_request_no")),
    )
    op.create_index(op.f("ix_refunds_payment_id"), "refunds", ["payment_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_refunds_payment_id"), table_name="refunds")
    op.drop_table("refunds")
    op.drop_index(op.f("ix_payment_notifications_out_trade_no"), table_name="payment_notifications")
    op.drop_table("payment_notifications")
    op.drop_index(op.f("ix_payments_buyer_id"), table_name="payments")
    op.drop_table("payments")
