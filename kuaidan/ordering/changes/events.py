"""What the changes before shipping tell the others (the topic keeps its name)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


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
