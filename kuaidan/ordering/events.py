"""Events the ordering area publishes through the outbox, one per change of an order.

Each carries what another area needs without reading ordering's tables: the order's id and
public number, who bought from whom, and the money involved, in fen.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar


@dataclass(frozen=True, slots=True)
class OrderLineFacts:
    sku_id: int
    product_id: int
    quantity: int
    unit_price_fen: int


@dataclass(frozen=True, slots=True)
class OrderCreated:
    topic: ClassVar[str] = "order.created"

    order_id: int
    number: str
    checkout_reference: str
    buyer_id: int
    merchant_id: int
    total_fen: int
    currency: str
    placed_at: datetime
    payment_deadline: datetime
    lines: tuple[OrderLineFacts, ...]


@dataclass(frozen=True, slots=True)
class OrderPaid:
    topic: ClassVar[str] = "order.paid"

    order_id: int
    number: str
    buyer_id: int
    merchant_id: int
    total_fen: int
    currency: str
    paid_at: datetime


@dataclass(frozen=True, slots=True)
class OrderCancelled:
    topic: ClassVar[str] = "order.cancelled"

    order_id: int
    number: str
    buyer_id: int
    merchant_id: int
    total_fen: int
    currency: str
    cancelled_at: datetime
    actor: str  # buyer, merchant, agent, admin or system (expiry)
    reason: str
    was_paid: bool
    refund_fen: int  # requested back to the buyer; 0 when nothing was paid


@dataclass(frozen=True, slots=True)
class OrderShipped:
    topic: ClassVar[str] = "order.shipped"

    order_id: int
    number: str
    buyer_id: int
    merchant_id: int
    carrier: str
    tracking_number: str | None  # None until the carrier books a parcel the platform asked for
    shipped_at: datetime
    shipment_reference: str | None = None  # the shipment in the logistics area


@dataclass(frozen=True, slots=True)
class OrderDelivered:
    topic: ClassVar[str] = "order.delivered"

    order_id: int
    number: str
    buyer_id: int
    merchant_id: int
    delivered_at: datetime


@dataclass(frozen=True, slots=True)
class OrderCompleted:
    topic: ClassVar[str] = "order.completed"

    order_id: int
    number: str
    buyer_id: int
    merchant_id: int
    total_fen: int
    currency: str
    completed_at: datetime
    actor: str  # buyer or agent (confirmed receipt) or system (auto-complete)
