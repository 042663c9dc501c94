"""Pure ordering rules: the order state machine, order numbers, checkout arithmetic. No I/O.

Every change of an order's status goes through :func:`transition`; an action that is not
allowed from the current status, or not by this actor, raises :class:`IllegalTransition`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from kuaidan.core.errors import Conflict, InvalidInput


class OrderStatus(StrEnum):
    PENDING_PAYMENT = "pending_payment"
    PAID = "paid"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class OrderAction(StrEnum):
    PAY = "pay"  # the payment provider confirmed the money
    SHIP = "ship"  # the merchant handed the parcel to a carrier
    DELIVER = "deliver"  # the carrier reported delivery
    CONFIRM_RECEIPT = "confirm_receipt"  # the buyer says it arrived
    AUTO_COMPLETE = "auto_complete"  # N days after delivery without a complaint
    CANCEL = "cancel"  # buyer, agent or merchant before shipping
    EXPIRE = "expire"  # unpaid for too long


class Actor(StrEnum):
    BUYER = "buyer"
    MERCHANT = "merchant"
    AGENT = "agent"
    ADMIN = "admin"
    SYSTEM = "system"


S, A = OrderStatus, OrderAction

TRANSITIONS: Mapping[tuple[OrderStatus, OrderAction], OrderStatus] = {
    (S.PENDING_PAYMENT, A.PAY): S.PAID,
    (S.PENDING_PAYMENT, A.CANCEL): S.CANCELLED,
    (S.PENDING_PAYMENT, A.EXPIRE): S.CANCELLED,
    (S.PAID, A.SHIP): S.SHIPPED,
    (S.PAID, A.CANCEL): S.CANCELLED,
    (S.SHIPPED, A.DELIVER): S.DELIVERED,
    # A buyer may confirm receipt before the carrier's delivery scan reaches us.
    (S.SHIPPED, A.CONFIRM_RECEIPT): S.COMPLETED,
    (S.DELIVERED, A.CONFIRM_RECEIPT): S.COMPLETED,
    (S.DELIVERED, A.AUTO_COMPLETE): S.COMPLETED,
}

# Who may take each action. The platform (system) acts on outside parties' word and on timers.
ACTORS: Mapping[OrderAction, frozenset[Actor]] = {
    A.PAY: frozenset({Actor.SYSTEM}),
    A.SHIP: frozenset({Actor.MERCHANT, Actor.ADMIN}),
    A.DELIVER: frozenset({Actor.SYSTEM, Actor.ADMIN}),
    A.CONFIRM_RECEIPT: frozenset({Actor.BUYER, Actor.AGENT}),
    A.AUTO_COMPLETE: frozenset({Actor.SYSTEM}),
    A.CANCEL: frozenset({Actor.BUYER, Actor.AGENT, Actor.MERCHANT, Actor.ADMIN, Actor.SYSTEM}),
    A.EXPIRE: frozenset({Actor.SYSTEM}),
}

TERMINAL = frozenset({S.COMPLETED, S.CANCELLED})
# Stock: reserved while the order is open and unshipped; consumed at shipping.
HOLDS_RESERVATION = frozenset({S.PENDING_PAYMENT, S.PAID})


class IllegalTransition(Conflict):
    code = "illegal_transition"


def transition(status: OrderStatus, action: OrderAction, *, actor: Actor) -> OrderStatus:
    """The status after ``action``; raises IllegalTransition, never silently does nothing."""
    target = TRANSITIONS.get((status, action))
    if target is None:
        raise IllegalTransition(
            f"an order that is {status.value} cannot {action.value.replace('_', ' ')}",
            details={"status": status.value, "action": action.value},
        )
    if actor not in ACTORS[action]:
        raise IllegalTransition(
            f"a {actor.value} cannot {action.value.replace('_', ' ')} an order",
            details={"status": status.value, "action": action.value, "actor": actor.value},
        )
    return target


def allowed_actions(status: OrderStatus, *, actor: Actor) -> list[OrderAction]:
    """What ``actor`` may do next, in a stable order (for buttons on pages)."""
    return [a for (s, a) in TRANSITIONS if s is status and actor in ACTORS[a]]


def requires_refund(status: OrderStatus, action: OrderAction) -> bool:
    """Cancelling an order that was paid gives the money back."""
    return action is A.CANCEL and status is S.PAID


# --- order numbers -------------------------------------------------------------------------

_ORDER_NO_SPACE = 10**10


def _round(value: int, round_no: int, key: bytes) -> int:
    digest = hashlib.blake2b(f"{round_no}:{value}".encode(), key=key, digest_size=8).digest()
    return int.from_bytes(digest, "big") % 100_000


def scramble(order_id: int, *, key: bytes) -> int:
    """A keyed permutation of 0 … 10¹⁰−1 (Feistel), so numbers don't reveal sales volume."""
    if not 0 <= order_id < _ORDER_NO_SPACE:
        raise ValueError("order id out of range for an order number")
    left, right = divmod(order_id, 100_000)
    for round_no in range(4):
        left, right = right, (left + _round(right, round_no, key)) % 100_000
    return left * 100_000 + right


def unscramble(number: int, *, key: bytes) -> int:
    """The inverse of :func:`scramble`."""
    if not 0 <= number < _ORDER_NO_SPACE:
        raise ValueError("number out of range")
    left, right = divmod(number, 100_000)
    for round_no in reversed(range(4)):
        left, right = (right - _round(left, round_no, key)) % 100_000, left
    return left * 100_000 + right


def order_number(order_id: int, placed_at: datetime, *, key: bytes, zone: str) -> str:
    """Public number: ``KD`` + local date + 10 digits, e.g. ``KD202611250381946027``."""
    day = placed_at.astimezone(ZoneInfo(zone)).strftime("%Y%m%d")
    return f"KD{day}{scramble(order_id, key=key):010d}"


def parse_order_number(number: str, *, key: bytes) -> tuple[int, str]:
    """``(order id, local date yyyymmdd)``; the caller checks the date against the order's."""
    text = number.strip().upper()
    if len(text) != 20 or not text.startswith("KD") or not text[2:].isdigit():
        raise InvalidInput("an order number looks like KD followed by 18 digits")
    return unscramble(int(text[10:]), key=key), text[2:10]


# --- checkout arithmetic -------------------------------------------------------------------

MAX_LINE_QUANTITY = 99
MAX_LINES = 50


@dataclass(frozen=True, slots=True)
class Line:
    """A cart or order line as priced now: the SKU, its merchant, quantity and unit price."""

    sku_id: int
    product_id: int
    merchant_id: int
    quantity: int
    unit_price_fen: int

    @property
    def total_fen(self) -> int:
        return self.unit_price_fen * self.quantity


@dataclass(frozen=True, slots=True)
class MerchantGroup:
    merchant_id: int
    lines: tuple[Line, ...]

    @property
    def items_fen(self) -> int:
        return sum(line.total_fen for line in self.lines)


@dataclass(frozen=True, slots=True)
class PriceChange:
    sku_id: int
    seen_fen: int
    now_fen: int


@dataclass(frozen=True, slots=True)
class CheckoutPlan:
    groups: tuple[MerchantGroup, ...]
    shipping_fen: Mapping[int, int] = field(default_factory=dict)

    @property
    def items_fen(self) -> int:
        return sum(g.items_fen for g in self.groups)

    @property
    def total_fen(self) -> int:
        return self.items_fen + sum(self.shipping_fen.values())


def check_quantities(lines: Sequence[Line]) -> None:
    if not lines:
        raise InvalidInput("the cart is empty")
    if len(lines) > MAX_LINES:
        raise InvalidInput(f"at most {MAX_LINES} different items per checkout")
    seen: set[int] = set()
    for line in lines:
        if not 1 <= line.quantity <= MAX_LINE_QUANTITY:
            raise InvalidInput(
                f"quantity must be between 1 and {MAX_LINE_QUANTITY}",
                details={"sku_id": line.sku_id, "quantity": line.quantity},
            )
        if line.sku_id in seen:
            raise InvalidInput("each item may appear once", details={"sku_id": line.sku_id})
        seen.add(line.sku_id)


def group_by_merchant(lines: Iterable[Line]) -> tuple[MerchantGroup, ...]:
    """One group (one order) per merchant, in merchant order; lines keep SKU order."""
    by_merchant: dict[int, list[Line]] = {}
    for line in lines:
        by_merchant.setdefault(line.merchant_id, []).append(line)
    return tuple(
        MerchantGroup(m, tuple(sorted(ls, key=lambda line: line.sku_id)))
        for m, ls in sorted(by_merchant.items())
    )


def price_changes(seen_fen: Mapping[int, int], lines: Iterable[Line]) -> list[PriceChange]:
    """Lines whose price differs from what the buyer saw (the buyer must confirm the new one)."""
    return [
        PriceChange(line.sku_id, seen_fen[line.sku_id], line.unit_price_fen)
        for line in lines
        if line.sku_id in seen_fen and seen_fen[line.sku_id] != line.unit_price_fen
    ]


def payment_deadline(placed_at: datetime, ttl: timedelta) -> datetime:
    return placed_at + ttl


def is_overdue(*, status: OrderStatus, deadline: datetime, now: datetime) -> bool:
    return status is S.PENDING_PAYMENT and now >= deadline
