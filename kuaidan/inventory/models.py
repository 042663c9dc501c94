"""inventory tables: stock levels, reservations and the stock movement ledger."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from kuaidan.core.db import Base

BigId = BigInteger().with_variant(Integer(), "sqlite")


class StockLevelRow(Base):
    """Stock per SKU. Reserving is one conditional update that keeps available ≥ 0:

    ``UPDATE stock_levels SET reserved = reserved + :n WHERE sku_id = :id
    AND on_hand - reserved >= :n``.
    """

    __tablename__ = "stock_levels"
    __table_args__ = (
        CheckConstraint("on_hand >= 0", name="on_hand_nonneg"),
        CheckConstraint("reserved >= 0", name="reserved_nonneg"),
        CheckConstraint("reserved <= on_hand", name="reserved_within_on_hand"),
        CheckConstraint(
            "per_buyer_limit IS NULL OR per_buyer_limit > 0", name="per_buyer_limit_positive"
        ),
    )

    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"), primary_key=True)
    on_hand: Mapped[int] = mapped_column(default=0, server_default="0")
    reserved: Mapped[int] = mapped_column(default=0, server_default="0")
    version: Mapped[int] = mapped_column(default=1, server_default="1")
    updated_at: Mapped[datetime]
    per_buyer_limit: Mapped[int | None]


class ReservationRow(Base):
    """Units of one SKU held for a holder (e.g. ``order:123``): open, then released or consumed.

    ``stock_levels.reserved`` is always the sum of the open reservations of its SKU.
    """

    __tablename__ = "reservations"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("status IN ('open', 'released', 'consumed')", name="status"),
        Index("ix_reservations_sku_id_status", "sku_id", "status"),
        Index("ix_reservations_buyer_id_sku_id", "buyer_id", "sku_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("stock_levels.sku_id"))
    holder: Mapped[str] = mapped_column(String(64), index=True)
    buyer_id: Mapped[int | None]
    quantity: Mapped[int]
    status: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    reason: Mapped[str | None] = mapped_column(String(200))
    # The lease of the process that granted a flash hold; cleared when an order adopts it.
    lease_id: Mapped[int | None] = mapped_column(BigId, index=True)


class HoldLeaseRow(Base):
    """A serving process's lease on its flash holds, renewed every second or so.

    A lease whose ``expires_at`` has passed belongs to a process that died (or stalled): its
    holds that no order adopted go back on sale.
    """

    __tablename__ = "hold_leases"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int]
    started_at: Mapped[datetime]
    renewed_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)


class StockMovementRow(Base):
    """The stock ledger: signed changes of ``on_hand`` (sold units are negative).

    For every SKU, on_hand = initial + restocks + adjustments − sold = the sum of its rows.
    """

    __tablename__ = "stock_movements"
    __table_args__ = (
        CheckConstraint("kind IN ('initial', 'restock', 'adjust', 'sold')", name="kind"),
        CheckConstraint(
            "(kind = 'initial' AND quantity >= 0) OR (kind = 'restock' AND quantity > 0)"
            " OR (kind = 'adjust' AND quantity <> 0) OR (kind = 'sold' AND quantity < 0)",
            name="quantity_sign",
        ),
        Index("ix_stock_movements_sku_id_id", "sku_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("stock_levels.sku_id"))
    kind: Mapped[str] = mapped_column(String(10))
    quantity: Mapped[int]
    reference: Mapped[str | None] = mapped_column(String(200))
    at: Mapped[datetime]
