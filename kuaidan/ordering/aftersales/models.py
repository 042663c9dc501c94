"""The tables of after-sales cases and their steps; a case refers to its order by id."""

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

AFTER_SALES_KINDS = "kind IN ('return', 'quality', 'exchange', 'missing')"
AFTER_SALES_STATUSES = (
    "status IN ('requested', 'escalated', 'rejected', 'disputed', 'awaiting_return', "
    "'returning', 'refunding', 'refunded', 'exchange_shipping', 'exchanged', 'closed')"
)


class AfterSalesCase(Base):
    """A request after delivery (return, return for a fault, exchange, refund for missing
    items) and what became of it: the shop's or the platform's decision, the parcel back, the
    refund or the replacement. The shop's return address is ciphertext, as every address."""

    __tablename__ = "after_sales_cases"
    __table_args__ = (
        UniqueConstraint("order_id", "request_id"),
        CheckConstraint(AFTER_SALES_KINDS, name="kind"),
        CheckConstraint(AFTER_SALES_STATUSES, name="status"),
        CheckConstraint("return_bearer IN ('buyer', 'merchant')", name="bearer"),
        CheckConstraint("value_fen >= 0", name="value_nonneg"),
        CheckConstraint("version > 0", name="version_positive"),
        # The timers (answer, dispute, send back) find their due cases by status and due time.
        Index("ix_after_sales_cases_due", "status", "due_at"),
        Index("ix_after_sales_cases_merchant", "merchant_id", "status", "id"),
        # Logistics' events find a case by its return or replacement parcel.
        Index("ix_after_sales_cases_return_shipment", "return_shipment"),
        Index("ix_after_sales_cases_replacement_shipment", "replacement_shipment"),
        Index("ix_after_sales_cases_refund", "refund_request_no"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    buyer_id: Mapped[int] = mapped_column(Integer, index=True)
    merchant_id: Mapped[int] = mapped_column(Integer)
    # The client's id of the submission: the same id again is the same case.
    request_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(String(500))
    # [{line_id, sku_id, product_id, title, sku_label, quantity, unit_price_fen}]
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    exchange_sku_id: Mapped[int | None] = mapped_column(Integer)
    exchange_label: Mapped[str | None] = mapped_column(String(200))
    value_fen: Mapped[int]
    refund_fen: Mapped[int | None]
    return_shipping_fen: Mapped[int | None]
    return_bearer: Mapped[str] = mapped_column(String(10))
    currency: Mapped[str] = mapped_column(String(3))
    return_recipient_enc: Mapped[str | None] = mapped_column(Text)
    return_phone_enc: Mapped[str | None] = mapped_column(Text)
    return_line_enc: Mapped[str | None] = mapped_column(Text)
    return_province: Mapped[str | None] = mapped_column(String(10))
    return_city: Mapped[str | None] = mapped_column(String(50))
    return_shipment: Mapped[str | None] = mapped_column(String(32))
    return_tracking: Mapped[str | None] = mapped_column(String(64))
    # platform (a pickup it booked and pays for) or buyer (a parcel the buyer sent and paid)
    return_booked_by: Mapped[str | None] = mapped_column(String(10))
    replacement_shipment: Mapped[str | None] = mapped_column(String(32))
    refund_request_no: Mapped[str | None] = mapped_column(String(64))
    refund_requested_at: Mapped[datetime | None]
    refunded_at: Mapped[datetime | None]
    # buyer, or agent (acting on the buyer's behalf)
    requested_by: Mapped[str] = mapped_column(String(20))
    requested_by_id: Mapped[int] = mapped_column(Integer)
    # Refunded when the goods are handed in rather than when the shop receives them.
    trusted: Mapped[bool] = mapped_column(default=False)
    # The next timer: the shop's answer, the buyer's dispute, or the goods sent back.
    due_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(20))  # merchant or platform
    decided_by_id: Mapped[int | None] = mapped_column(Integer)
    decision_reason: Mapped[str | None] = mapped_column(String(500))
    requested_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    # Every step is a conditional update on (status, version): one of two racers wins.
    version: Mapped[int] = mapped_column(default=1)


class AfterSalesStep(Base):
    """A case's own timeline: every step, who took it and what they said."""

    __tablename__ = "after_sales_steps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(
        ForeignKey("after_sales_cases.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[int | None] = mapped_column(Integer)
    step: Mapped[str] = mapped_column(String(30))
    status: Mapped[str] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(String(500))
