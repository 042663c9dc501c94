"""The table of changes before shipping; a change refers to its order by id."""

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


class OrderChange(Base):
    """A change before shipping (address, SKU swap, quantity): what was asked, by whom, what
    became of it and how its price difference was settled. Address parts are ciphertext."""

    __tablename__ = "order_changes"
    __table_args__ = (
        UniqueConstraint("order_id", "request_id"),
        CheckConstraint("kind IN ('address', 'swap', 'quantity')", name="kind"),
        CheckConstraint(
            "status IN ('applied', 'pending_approval', 'awaiting_payment', 'rejected', 'failed')",
            name="status",
        ),
        Index("ix_order_changes_status", "status", "requested_at"),
        # A payment's success finds its change (if any) by the payment's reference.
        Index("ix_order_changes_payment_reference", "payment_reference"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    # The client's id of the submission: the same id again is the same change.
    request_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    line_id: Mapped[int | None] = mapped_column(Integer)
    before: Mapped[dict[str, Any]] = mapped_column(JSON)
    after: Mapped[dict[str, Any]] = mapped_column(JSON)
    # buyer, or agent (acting on the buyer's behalf)
    requested_by_role: Mapped[str] = mapped_column(String(20))
    requested_by: Mapped[int] = mapped_column(Integer)
    difference_fen: Mapped[int] = mapped_column(default=0)
    refund_request_no: Mapped[str | None] = mapped_column(String(64))
    payment_reference: Mapped[str | None] = mapped_column(String(64))
    pay_url: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(String(200))
    requested_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[int | None] = mapped_column(Integer)
    applied_at: Mapped[datetime | None]
