"""ordering: carts, checkouts, idempotency keys, orders, lines, timeline

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kuaidan.core.db

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = kuaidan.core.db.UTCDateTime
ORDER_STATUSES = (
    "status IN ('pending_payment', 'paid', 'shipped', 'delivered', 'completed', 'cancelled')"
)


def upgrade() -> None:
    _create_carts()
    _create_checkouts()
    _create_orders()
    _create_order_lines()
    _create_order_events()


def _create_carts() -> None:
    op.create_table(
        "carts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("buyer_id", sa.Integer(), nullable=True),
        sa.Column("guest_key_hash", sa.String(64), nullable=True),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("updated_at", UTC(), nullable=False),
        sa.CheckConstraint(
            "(buyer_id IS NULL) <> (guest_key_hash IS NULL)", name=op.f("ck_carts_one_owner")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_carts")),
        sa.UniqueConstraint("buyer_id", name=op.f("uq_carts_buyer_id")),
        sa.UniqueConstraint("guest_key_hash", name=op.f("uq_carts_guest_key_hash")),
    )
    op.create_index("ix_carts_updated_at", "carts", ["updated_at"])
    op.create_table(
        "cart_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cart_id", sa.Integer(), nullable=False),
        sa.Column("sku_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("price_seen_fen", sa.Integer(), nullable=False),
        sa.Column("added_at", UTC(), nullable=False),
        sa.CheckConstraint(
            "quantity > 0 AND quantity <= 99", name=op.f("ck_cart_items_quantity_range")
        ),
        sa.CheckConstraint("price_seen_fen >= 0", name=op.f("ck_cart_items_price_nonneg")),
        sa.ForeignKeyConstraint(
            ["cart_id"],
            ["carts.id"],
            name=op.f("fk_cart_items_cart_id_carts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cart_items")),
        sa.UniqueConstraint("cart_id", "sku_id", name=op.f("uq_cart_items_cart_id_sku_id")),
    )


def _create_checkouts() -> None:
    op.create_table(
        "checkouts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("buyer_id", sa.Integer(), nullable=False),
        sa.Column("items_fen", sa.Integer(), nullable=False),
        sa.Column("shipping_fen", sa.Integer(), nullable=False),
        sa.Column("total_fen", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("payment_deadline", UTC(), nullable=False),
        sa.Column("payment_id", sa.Integer(), nullable=True),
        sa.Column("pay_url", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "items_fen >= 0 AND shipping_fen >= 0", name=op.f("ck_checkouts_amounts_nonneg")
        ),
        sa.CheckConstraint(
            "total_fen = items_fen + shipping_fen", name=op.f("ck_checkouts_total_adds_up")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checkouts")),
    )
    op.create_index("ix_checkouts_buyer", "checkouts", ["buyer_id", "id"])
    op.create_table(
        "idempotency_keys",
        sa.Column("buyer_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(100), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("checkout_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("expires_at", UTC(), nullable=False),
        sa.ForeignKeyConstraint(
            ["checkout_id"],
            ["checkouts.id"],
            name=op.f("fk_idempotency_keys_checkout_id_checkouts"),
        ),
        sa.PrimaryKeyConstraint("buyer_id", "key", name=op.f("pk_idempotency_keys")),
    )
    op.create_index(op.f("ix_idempotency_keys_expires_at"), "idempotency_keys", ["expires_at"])


def _order_columns() -> list[sa.Column[object]]:
    text = [
        sa.Column(name, sa.Text(), nullable=False)
        for name in ("recipient_enc", "phone_enc", "district_enc", "line_enc")
    ]
    times = [
        sa.Column(name, UTC(), nullable=True)
        for name in ("paid_at", "shipped_at", "delivered_at", "completed_at", "cancelled_at")
    ]
    return [
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("checkout_id", sa.Integer(), nullable=False),
        sa.Column("buyer_id", sa.Integer(), nullable=False),
        sa.Column("merchant_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("items_fen", sa.Integer(), nullable=False),
        sa.Column("shipping_fen", sa.Integer(), nullable=False),
        sa.Column("total_fen", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        *text,
        sa.Column("province", sa.String(50), nullable=False),
        sa.Column("city", sa.String(50), nullable=False),
        sa.Column("postcode", sa.String(10), nullable=True),
        sa.Column("note", sa.String(200), nullable=True),
        sa.Column("placed_at", UTC(), nullable=False),
        sa.Column("payment_deadline", UTC(), nullable=False),
        *times,
        sa.Column("cancel_reason", sa.String(200), nullable=True),
        sa.Column("carrier", sa.String(50), nullable=True),
        sa.Column("tracking_number", sa.String(64), nullable=True),
        sa.Column("refund_request_no", sa.String(64), nullable=True),
        sa.Column("refunded_at", UTC(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
    ]


def _create_orders() -> None:
    op.create_table(
        "orders",
        *_order_columns(),
        sa.CheckConstraint(ORDER_STATUSES, name=op.f("ck_orders_status")),
        sa.CheckConstraint(
            "items_fen >= 0 AND shipping_fen >= 0", name=op.f("ck_orders_amounts_nonneg")
        ),
        sa.CheckConstraint(
            "total_fen = items_fen + shipping_fen", name=op.f("ck_orders_total_adds_up")
        ),
        sa.CheckConstraint("version > 0", name=op.f("ck_orders_version_positive")),
        sa.ForeignKeyConstraint(
            ["checkout_id"], ["checkouts.id"], name=op.f("fk_orders_checkout_id_checkouts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
    )
    op.create_index(op.f("ix_orders_checkout_id"), "orders", ["checkout_id"])
    op.create_index("ix_orders_merchant_status", "orders", ["merchant_id", "status", "id"])
    op.create_index("ix_orders_buyer", "orders", ["buyer_id", "id"])
    op.create_index("ix_orders_due", "orders", ["status", "payment_deadline"])
    op.create_index("ix_orders_status_shipped_at", "orders", ["status", "shipped_at"])


def _create_order_lines() -> None:
    op.create_table(
        "order_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("sku_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("sku_label", sa.String(200), nullable=False),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("image", sa.String(300), nullable=True),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price_fen", sa.Integer(), nullable=False),
        sa.Column("total_fen", sa.Integer(), nullable=False),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_order_lines_quantity_positive")),
        sa.CheckConstraint("unit_price_fen >= 0", name=op.f("ck_order_lines_price_nonneg")),
        sa.CheckConstraint(
            "total_fen = unit_price_fen * quantity", name=op.f("ck_order_lines_total_adds_up")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_order_lines_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_lines")),
    )
    op.create_index(op.f("ix_order_lines_order_id"), "order_lines", ["order_id"])
    op.create_index(op.f("ix_order_lines_sku_id"), "order_lines", ["sku_id"])


def _create_order_events() -> None:
    op.create_table(
        "order_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("at", UTC(), nullable=False),
        sa.Column("actor", sa.String(20), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("from_status", sa.String(20), nullable=True),
        sa.Column("to_status", sa.String(20), nullable=True),
        sa.Column("note", sa.String(500), nullable=True),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_order_events_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_events")),
    )
    op.create_index(op.f("ix_order_events_order_id"), "order_events", ["order_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_order_events_order_id"), table_name="order_events")
    op.drop_table("order_events")
    op.drop_index(op.f("ix_order_lines_sku_id"), table_name="order_lines")
    op.drop_index(op.f("ix_order_lines_order_id"), table_name="order_lines")
    op.drop_table("order_lines")
    for name in (
        "ix_orders_status_shipped_at",
        "ix_orders_due",
        "ix_orders_buyer",
        "ix_orders_merchant_status",
    ):
        op.drop_index(name, table_name="orders")
    op.drop_index(op.f("ix_orders_checkout_id"), table_name="orders")
    op.drop_table("orders")
    op.drop_index(op.f("ix_idempotency_keys_expires_at"), table_name="idempotency_keys")
    op.drop_table("idempotency_keys")
    op.drop_index("ix_checkouts_buyer", table_name="checkouts")
    op.drop_table("checkouts")
    op.drop_table("cart_items")
    op.drop_index("ix_carts_updated_at", table_name="carts")
    op.drop_table("carts")
