"""The table of interception cases; a case refers to its order by id."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from kuaidan.core.db import Base


class OrderInterception(Base):
    """A request to stop a shipped order's parcel (redirect or cancel) and what came of it.

    The new address of a redirect is personal data: ciphertext only, province/city in clear.
    """

    __tablename__ = "order_interceptions"
    __table_args__ = (
        CheckConstraint("kind IN ('redirect', 'cancel')", name="kind"),
        CheckConstraint(
            "status IN ('requested', 'intercepting', 'succeeded', 'failed', 'returned', "
            "'reshipped', 'refunded')",
            name="status",
        ),
        CheckConstraint("bearer IN ('buyer', 'merchant')", name="bearer"),
        CheckConstraint("fee_fen >= 0", name="fee_nonneg"),
        Index("ix_order_interceptions_order", "order_id", "id"),
        Index("ix_order_interceptions_old_shipment", "old_shipment"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(20))
    cause: Mapped[str] = mapped_column(String(30))
    bearer: Mapped[str] = mapped_column(String(10))
    fee_fen: Mapped[int]
    refund_fen: Mapped[int | None]
    currency: Mapped[str] = mapped_column(String(3))
    recipient_enc: Mapped[str | None] = mapped_column(Text)
    phone_enc: Mapped[str | None] = mapped_column(Text)
    district_enc: Mapped[str | None] = mapped_column(Text)
    line_enc: Mapped[str | None] = mapped_column(Text)
    province: Mapped[str | None] = mapped_column(String(50))
    city: Mapped[str | None] = mapped_column(String(50))
    postcode: Mapped[str | None] = mapped_column(String(10))
    old_shipment: Mapped[str] = mapped_column(String(32))
    new_shipment: Mapped[str | None] = mapped_column(String(32))
    requested_by: Mapped[str] = mapped_column(String(20))
    requested_by_id: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(200))
    carrier_message: Mapped[str | None] = mapped_column(String(200))
    requested_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
