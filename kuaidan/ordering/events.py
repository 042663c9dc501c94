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


@dataclass(frozen=True, slots=True)
class OrderChanged:
    """A change before shipping was applied, requested for approval, rejected or failed."""

    topic: ClassVar[str] = "order.changed"

    order_id: int
    number: str
    buyer_id: int
    merchant_id: int
    change_id: int
    kind: str  # address, swap or quantity
    status: str  # applied, pending_approval, rejected, failed
    requested_by_role: str  # buyer or agent (on the buyer's behalf)
    difference_fen: int  # after − before; negative is refunded
    total_fen: int


@dataclass(frozen=True, slots=True)
class OrderInterceptionChanged:
    """Each step of an interception case (requested, intercepting, succeeded, failed,
    returned, reshipped, refunded), with the carrier's fee and who bears it."""

    topic: ClassVar[str] = "order.interception_changed"

    case_id: int
    order_id: int
    number: str
    buyer_id: int
    merchant_id: int
    kind: str  # redirect or cancel
    status: str
    fee_fen: int
    bearer: str  # buyer or merchant
    shipment_reference: str
    at: datetime


@dataclass(frozen=True, slots=True)
class AfterSalesChanged:
    """Each step of an after-sales case (requested, approved, rejected, escalated, disputed,
    ruled, returned, refunded, exchanged, closed). Merchant credit reads who decided and how
    (a rejection overturned by the platform, a request left unanswered); scorecards read the
    return parcels."""

    topic: ClassVar[str] = "order.after_sales_changed"

    case_id: int
    order_id: int
    number: str
    buyer_id: int
    merchant_id: int
    kind: str  # return, quality, exchange or missing
    step: str  # what happened (approve, reject, escalate, dispute, rule_for_buyer, …)
    status: str  # the case's status after it
    actor: str  # buyer, merchant, platform or system
    value_fen: int  # the claimed goods' value
    refund_fen: int | None  # what goes back to the buyer, once known
    return_shipping_fen: int | None
    return_bearer: str  # buyer or merchant
    at: datetime
