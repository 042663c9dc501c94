"""Pure rules of changes before shipping: which order may change and how, the limits, when the
merchant must approve, and the price difference a change makes. No I/O; ``now`` is passed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from kuaidan.core.errors import Conflict, InvalidInput
from kuaidan.ordering.domain import MAX_LINE_QUANTITY, OrderStatus


class ChangeKind(StrEnum):
    ADDRESS = "address"  # deliver somewhere else
    SWAP = "swap"  # another colour/size (SKU) of the same product
    QUANTITY = "quantity"  # more or fewer units of a line


class ChangeStatus(StrEnum):
    APPLIED = "applied"  # the order carries it
    PENDING_APPROVAL = "pending_approval"  # packing started: the merchant decides
    # A dearer change of a paid order: applied when its extra payment arrives.
    AWAITING_PAYMENT = "awaiting_payment"
    REJECTED = "rejected"  # the merchant said no
    FAILED = "failed"  # could not be applied (shipped meanwhile, no stock, unpaid in time)


OPEN_STATUSES = frozenset({ChangeStatus.PENDING_APPROVAL, ChangeStatus.AWAITING_PAYMENT})
CHANGEABLE = frozenset({OrderStatus.PENDING_PAYMENT, OrderStatus.PAID})
MAX_ADDRESS_CHANGES = 5
DEFAULT_APPROVAL_WAIT = timedelta(hours=12)


class ChangeNotAllowed(Conflict):
    code = "change_not_allowed"


class ChangeLimitReached(Conflict):
    code = "change_limit_reached"


class ChangeAmountWhileUnpaid(Conflict):
    code = "change_amount_unpaid"


class NotSameProduct(InvalidInput):
    code = "not_same_product"


@dataclass(frozen=True, slots=True)
class OrderFacts:
    """What the rules need to know of an order."""

    status: OrderStatus
    refund_in_progress: bool
    packing_started: bool
    address_changes: int
    open_change: bool


def check_changeable(facts: OrderFacts, kind: ChangeKind) -> None:
    """Raise a clear 409 when the order can no longer change before shipping."""
    if facts.status not in CHANGEABLE:
        raise ChangeNotAllowed(
            f"an order that is {facts.status.value} cannot be changed before shipping",
            details={"status": facts.status.value},
        )
    if facts.refund_in_progress:
        raise ChangeNotAllowed("a refund of this order is in progress")
    if facts.open_change:
        raise ChangeNotAllowed("another change of this order is still open")
    if kind is ChangeKind.ADDRESS and facts.address_changes >= MAX_ADDRESS_CHANGES:
        raise ChangeLimitReached(
            f"the address may be changed at most {MAX_ADDRESS_CHANGES} times",
            details={"limit": MAX_ADDRESS_CHANGES},
        )


def needs_approval(facts: OrderFacts) -> bool:
    """Once the merchant started packing, a change waits for the merchant's approval."""
    return facts.status is OrderStatus.PAID and facts.packing_started


def approval_due(requested_at: datetime, wait: timedelta, *, now: datetime) -> bool:
    """An unanswered request is approved automatically after ``wait``."""
    return now >= requested_at + wait


def check_quantity(quantity: int) -> int:
    if isinstance(quantity, bool) or not 1 <= quantity <= MAX_LINE_QUANTITY:
        raise InvalidInput(
            f"quantity must be between 1 and {MAX_LINE_QUANTITY}",
            details={"field": "quantity", "quantity": quantity},
        )
    return quantity


def check_swap(
    *, line_product_id: int, line_sku_id: int, new_product_id: int, new_sku_id: int
) -> None:
    if new_sku_id == line_sku_id:
        raise InvalidInput("choose another colour or size", details={"field": "sku_id"})
    if new_product_id != line_product_id:
        raise NotSameProduct(
            "a line can only be swapped for another colour or size of the same product",
            details={"field": "sku_id"},
        )


@dataclass(frozen=True, slots=True)
class Difference:
    """What a change does to the money: positive means the buyer pays more."""

    before_fen: int
    after_fen: int

    @property
    def amount_fen(self) -> int:
        return self.after_fen - self.before_fen

    @property
    def refund_fen(self) -> int:
        return max(0, -self.amount_fen)

    @property
    def extra_fen(self) -> int:
        return max(0, self.amount_fen)


def line_difference(
    *, old_unit_fen: int, old_quantity: int, new_unit_fen: int, new_quantity: int
) -> Difference:
    return Difference(old_unit_fen * old_quantity, new_unit_fen * new_quantity)


def check_settlement(status: OrderStatus, difference: Difference) -> None:
    """An unpaid order's payment is open at the provider for its total: a change that alters
    the amount waits until the order is paid (or the buyer cancels and orders again). On a
    paid order a cheaper change is refunded, a dearer one waits for its extra payment."""
    if status is OrderStatus.PENDING_PAYMENT and difference.amount_fen != 0:
        raise ChangeAmountWhileUnpaid(
            "this change alters the amount to pay: pay the order first, then change it",
            details={"difference_fen": difference.amount_fen},
        )


def needs_extra_payment(status: OrderStatus, difference: Difference) -> bool:
    """A paid order that a change makes dearer: the buyer pays the difference first."""
    return status is OrderStatus.PAID and difference.extra_fen > 0


def payment_overdue(since: datetime, ttl: timedelta, *, now: datetime) -> bool:
    """An extra payment not made within the order payment window fails the change."""
    return now >= since + ttl


def change_payment_reference(change_id: int, token: str) -> str:
    """The extra payment's reference at the provider: the change's id and a random part."""
    return f"chg-{change_id}-{token}"


def change_stock_holder(change_id: int) -> str:
    """Who holds the units a dearer change needs while its extra payment is awaited."""
    return f"change:{change_id}"


def change_extra_refund_no(change_id: int) -> str:
    """The refund of an extra payment that came too late (the change had failed)."""
    return f"change-{change_id}-extra-refund"


def change_refund_no(change_id: int) -> str:
    """The partial refund's dedupe number, derived from the change: a retry is the same one."""
    return f"change-{change_id}-refund"


@dataclass(frozen=True, slots=True)
class ChangeInfo:
    """A change as buyers, merchants and agents see it (addresses already in plain text)."""

    id: int
    order_number: str
    kind: ChangeKind
    status: ChangeStatus
    summary: str  # "地址 → 上海 上海 …", "颜色 Black → Red", "数量 1 → 2"
    requested_by_role: str
    requested_by: int
    difference_fen: int
    refund_request_no: str | None
    reason: str | None
    requested_at: datetime
    decided_at: datetime | None
    applied_at: datetime | None
    payment_reference: str | None = None
    pay_url: str | None = None  # the provider's page for the extra payment, while awaited
