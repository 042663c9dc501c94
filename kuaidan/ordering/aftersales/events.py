"""What after-sales cases tell the others (the topic keeps its name)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar


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
