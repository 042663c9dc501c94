"""Ordering tables: carts, checkouts, idempotency keys, orders, lines and the order timeline.

Other areas' rows (users, SKUs, merchants, addresses) are referred to by id only: the ordering
area keeps snapshots of what it needs (title, price, address) so an order reads the same
forever, whatever happens to the catalog later.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from kuaidan.core.db import Base

ORDER_STATUSES = (
    "status IN ('pending_payment', 'paid', 'shipped', 'delivered', 'completed', 'cancelled')"
)


class Cart(Base):
    """A buyer's cart, or a guest's (found by the hash of a token kept in the guest's cookie)."""

    __tablename__ = "carts"
    __table_args__ = (
        CheckConstraint("(buyer_id IS NULL) <> (guest_key_hash IS NULL)", name="one_owner"),
        Index("ix_carts_updated_at", "updated_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    buyer_id: Mapped[int | None] = mapped_column(Integer, unique=True)
    guest_key_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class CartItem(Base):
    __tablename__ = "cart_items"
    __table_args__ = (
        UniqueConstraint("cart_id", "sku_id"),
        CheckConstraint("quantity > 0 AND quantity <= 99", name="quantity_range"),
        CheckConstraint("price_seen_fen >= 0", name="price_nonneg"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cart_id: Mapped[int] = mapped_column(ForeignKey("carts.id", ondelete="CASCADE"))
    sku_id: Mapped[int] = mapped_column(Integer)
    quantity: Mapped[int]
    # The unit price the buyer saw when adding: a different price at checkout must be confirmed.
    price_seen_fen: Mapped[int]
    added_at: Mapped[datetime]


class Checkout(Base):
    """One placement: one order per merchant, paid together in one payment.

    Its public reference (KC…, also the payment's trade number at the provider) is random and
    stored, so that it never repeats after the database is reset or restored while the provider
    keeps the old trades. Checkouts written before it was stored (NULL) keep the reference
    derived from id and created_at.
    """

    __tablename__ = "checkouts"
    __table_args__ = (
        CheckConstraint("items_fen >= 0 AND shipping_fen >= 0", name="amounts_nonneg"),
        CheckConstraint("total_fen = items_fen + shipping_fen", name="total_adds_up"),
        Index("ix_checkouts_buyer", "buyer_id", "id"),
        Index("ix_checkouts_reference", "reference", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reference: Mapped[str | None] = mapped_column(String(32))
    buyer_id: Mapped[int] = mapped_column(Integer)
    items_fen: Mapped[int]
    shipping_fen: Mapped[int]
    total_fen: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    created_at: Mapped[datetime]
    payment_deadline: Mapped[datetime]
    payment_id: Mapped[int | None] = mapped_column(Integer)
    pay_url: Mapped[str | None] = mapped_column(Text)


class IdempotencyKey(Base):
    """A placement request remembered for ≥ 24 h: same key + same body → the same checkout.

    The row is inserted first in the placing transaction: a concurrent duplicate waits on the
    primary key (PostgreSQL) or on the write lock (SQLite), then reads the stored result.
    """

    __tablename__ = "idempotency_keys"

    buyer_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Indexed alone too: the sold-out edge asks whether a key was ever placed, by anyone.
    key: Mapped[str] = mapped_column(String(100), primary_key=True, index=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    checkout_id: Mapped[int | None] = mapped_column(ForeignKey("checkouts.id"))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint(ORDER_STATUSES, name="status"),
        CheckConstraint("items_fen >= 0 AND shipping_fen >= 0", name="amounts_nonneg"),
        CheckConstraint("total_fen = items_fen + shipping_fen", name="total_adds_up"),
        CheckConstraint("version > 0", name="version_positive"),
        Index("ix_orders_merchant_status", "merchant_id", "status", "id"),
        Index("ix_orders_buyer", "buyer_id", "id"),
        Index("ix_orders_due", "status", "payment_deadline"),
        Index("ix_orders_status_shipped_at", "status", "shipped_at"),
    )

    # The public number (KD…) is derived from id and placed_at by a keyed permutation and
    # parsed back to the id (ordering.domain), so it costs no column and no extra write.
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    checkout_id: Mapped[int] = mapped_column(ForeignKey("checkouts.id"), index=True)
    # The checkout's stored reference (NULL: derived, for orders written before it was stored).
    checkout_reference: Mapped[str | None] = mapped_column(String(32))
    buyer_id: Mapped[int] = mapped_column(Integer)
    merchant_id: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))
    items_fen: Mapped[int]
    shipping_fen: Mapped[int]
    total_fen: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    # Delivery address snapshot: personal data only as ciphertext; province/city in clear.
    recipient_enc: Mapped[str] = mapped_column(Text)
    phone_enc: Mapped[str] = mapped_column(Text)
    district_enc: Mapped[str] = mapped_column(Text)
    line_enc: Mapped[str] = mapped_column(Text)
    province: Mapped[str] = mapped_column(String(50))
    city: Mapped[str] = mapped_column(String(50))
    postcode: Mapped[str | None] = mapped_column(String(10))
    note: Mapped[str | None] = mapped_column(String(200))
    placed_at: Mapped[datetime]
    payment_deadline: Mapped[datetime]
    paid_at: Mapped[datetime | None]
    shipped_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    cancel_reason: Mapped[str | None] = mapped_column(String(200))
    carrier: Mapped[str | None] = mapped_column(String(50))
    tracking_number: Mapped[str | None] = mapped_column(String(64))
    # The order's current shipment in the logistics area (a reship or rebooking replaces it).
    shipment_reference: Mapped[str | None] = mapped_column(String(32))
    refund_request_no: Mapped[str | None] = mapped_column(String(64))
    refunded_at: Mapped[datetime | None]
    # The merchant started packing: changes before shipping then need the merchant's approval.
    packing_started_at: Mapped[datetime | None]
    # Every change is a conditional update on (status, version): one of two racers wins.
    version: Mapped[int] = mapped_column(default=1)


class OrderLine(Base):
    __tablename__ = "order_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("unit_price_fen >= 0", name="price_nonneg"),
        CheckConstraint("total_fen = unit_price_fen * quantity", name="total_adds_up"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    sku_id: Mapped[int] = mapped_column(Integer, index=True)
    product_id: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    sku_label: Mapped[str] = mapped_column(String(200))
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON)
    image: Mapped[str | None] = mapped_column(String(300))
    quantity: Mapped[int]
    unit_price_fen: Mapped[int]
    total_fen: Mapped[int]


class OrderEvent(Base):
    """The order's timeline: every transition and change, with who did it and why."""

    __tablename__ = "order_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[int | None] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(40))
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str | None] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(String(500))
