"""ordering: after-sales cases after delivery

Returns (no-reason and for a fault), exchanges and refunds for missing items, each a case
with its own timeline of steps.

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kuaidan.core.db

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = kuaidan.core.db.UTCDateTime
CASES = "after_sales_cases"
STEPS = "after_sales_steps"


def upgrade() -> None:
    op.create_table(
        CASES,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("buyer_id", sa.Integer(), nullable=False),
        sa.Column("merchant_id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("exchange_sku_id", sa.Integer(), nullable=True),
        sa.Column("exchange_label", sa.String(200), nullable=True),
        sa.Column("value_fen", sa.Integer(), nullable=False),
        sa.Column("refund_fen", sa.Integer(), nullable=True),
        sa.Column("return_shipping_fen", sa.Integer(), nullable=True),
        sa.Column("return_bearer", sa.String(10), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("return_recipient_enc", sa.Text(), nullable=True),
        sa.Column("return_phone_enc", sa.Text(), nullable=True),
        sa.Column("return_line_enc", sa.Text(), nullable=True),
        sa.Column("return_province", sa.String(10), nullable=True),
        sa.Column("return_city", sa.String(50), nullable=True),
        sa.Column("return_shipment", sa.String(32), nullable=True),
        sa.Column("return_tracking", sa.String(64), nullable=True),
        sa.Column("return_booked_by", sa.String(10), nullable=True),
        sa.Column("replacement_shipment", sa.String(32), nullable=True),
        sa.Column("refund_request_no", sa.String(64), nullable=True),
        sa.Column("refund_requested_at", UTC(), nullable=True),
        sa.Column("refunded_at", UTC(), nullable=True),
        sa.Column("requested_by", sa.String(20), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), nullable=False),
        sa.Column("trusted", sa.Boolean(), nullable=False),
        sa.Column("due_at", UTC(), nullable=True),
        sa.Column("decided_by", sa.String(20), nullable=True),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decision_reason", sa.String(500), nullable=True),
        sa.Column("requested_at", UTC(), nullable=False),
        sa.Column("updated_at", UTC(), nullable=False),
        sa.Column("finished_at", UTC(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('return', 'quality', 'exchange', 'missing')",
            name=op.f("ck_after_sales_cases_kind"),
        ),
        sa.CheckConstraint(
            "status IN ('requested', 'escalated', 'rejected', 'disputed', 'awaiting_return', "
            "'returning', 'refunding', 'refunded', 'exchange_shipping', 'exchanged', 'closed')",
            name=op.f("ck_after_sales_cases_status"),
        ),
        sa.CheckConstraint(
            "return_bearer IN ('buyer', 'merchant')", name=op.f("ck_after_sales_cases_bearer")
        ),
        sa.CheckConstraint("value_fen >= 0", name=op.f("ck_after_sales_cases_value_nonneg")),
        sa.CheckConstraint("version > 0", name=op.f("ck_after_sales_cases_version_positive")),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_after_sales_cases_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_after_sales_cases")),
        sa.UniqueConstraint(
            "order_id", "request_id", name=op.f("uq_after_sales_cases_order_id_request_id")
        ),
    )
    op.create_index("ix_after_sales_cases_order_id", CASES, ["order_id"])
    op.create_index("ix_after_sales_cases_buyer_id", CASES, ["buyer_id"])
    op.create_index("ix_after_sales_cases_due", CASES, ["status", "due_at"])
    op.create_index("ix_after_sales_cases_merchant", CASES, ["merchant_id", "status", "id"])
    op.create_index("ix_after_sales_cases_return_shipment", CASES, ["return_shipment"])
    op.create_index("ix_after_sales_cases_replacement_shipment", CASES, ["replacement_shipment"])
    op.create_index("ix_after_sales_cases_refund", CASES, ["refund_request_no"])
    op.create_table(
        STEPS,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("at", UTC(), nullable=False),
        sa.Column("actor", sa.String(20), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("step", sa.String(30), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("note", sa.String(500), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            [f"{CASES}.id"],
            name=op.f("fk_after_sales_steps_case_id_after_sales_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_after_sales_steps")),
    )
    op.create_index("ix_after_sales_steps_case_id", STEPS, ["case_id"])


def downgrade() -> None:
    op.drop_index("ix_after_sales_steps_case_id", table_name=STEPS)
    op.drop_table(STEPS)
    for name in (
        "ix_after_sales_cases_refund",
        "ix_after_sales_cases_replacement_shipment",
        "ix_after_sales_cases_return_shipment",
        "ix_after_sales_cases_merchant",
        "ix_after_sales_cases_due",
        "ix_after_sales_cases_buyer_id",
        "ix_after_sales_cases_order_id",
    ):
        op.drop_index(name, table_name=CASES)
    op.drop_table(CASES)
