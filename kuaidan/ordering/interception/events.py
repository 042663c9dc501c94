"""What interception cases tell the others (the topic keeps its name)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar


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
