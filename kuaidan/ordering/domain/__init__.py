"""Pure ordering rules: the order state machine, order numbers, checkout arithmetic. No I/O.

Every change of an order's status goes through :func:`transition`; an action that is not
allowed from the current status, or not by this actor, raises :class:`IllegalTransition`.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from kuaidan.core.errors import Conflict, InvalidInput
from kuaidan.core.text import one_line


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
    RETURN = "return"  # an intercepted parcel came back to the merchant: cancelled, refunded


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
    # A parcel whose delivery scan never reaches us still completes after the same wait.
    (S.SHIPPED, A.AUTO_COMPLETE): S.COMPLETED,
    # The buyer cancelled after shipping: the carrier intercepted the parcel and brought it back.
    (S.SHIPPED, A.RETURN): S.CANCELLED,
}

# Who may take each action. The platform (system) acts on outside parties' word and on timers.
ACTORS: Mapping[OrderAction, frozenset[Actor]] = {
    A.PAY: frozenset({Actor.SYSTEM}),
    # The platform ships for merchants who opted in to booking a carrier when paid.
    A.SHIP: frozenset({Actor.MERCHANT, Actor.ADMIN, Actor.SYSTEM}),
    A.DELIVER: frozenset({Actor.SYSTEM, Actor.ADMIN}),
    A.CONFIRM_RECEIPT: frozenset({Actor.BUYER, Actor.AGENT}),
    A.AUTO_COMPLETE: frozenset({Actor.SYSTEM}),
    A.CANCEL: frozenset({Actor.BUYER, Actor.AGENT, Actor.MERCHANT, Actor.ADMIN, Actor.SYSTEM}),
    A.EXPIRE: frozenset({Actor.SYSTEM}),
    A.RETURN: frozenset({Actor.SYSTEM}),
}


class TimelineAction(StrEnum):
    """Timeline entries that are not transitions (those carry an OrderAction's value)."""

    PLACED = "placed"
    REFUND_REQUESTED = "refund_requested"
    REFUNDED = "refunded"
    BOOKED = "shipment_booked"  # the carrier gave a tracking number
    BOOKING_FAILED = "booking_failed"  # the carrier refused; the merchant ships again
    REBOOKED = "rebooked"  # shipped again with another carrier after a refused booking
    AUTO_BOOK_FAILED = "auto_book_failed"  # no carrier could be booked on payment
    EXCEPTION = "shipment_exception"  # a case opened on the parcel
    EXCEPTION_RESOLVED = "exception_resolved"
    RESHIPPED = "reshipped"  # a new parcel for the same order


# Each step of an interception case is on the order's timeline as ``interception_<status>``.
# From a step that leaves the parcel held (asked to stop, stopped, on its way back) until one
# that ends the case, nobody has received anything: the order is not completed automatically.
PARCEL_HELD_ACTIONS = (
    "interception_requested",
    "interception_intercepting",
    "interception_succeeded",
    "interception_returned",
)
PARCEL_RELEASED_ACTIONS = (
    "interception_failed",
    "interception_reshipped",
    "interception_refunded",
)

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


# --- numbers of checkouts, holders of stock, refunds ---------------------------------------

# Numbers carry a local date; it is fixed to the marketplace's home zone (not the display
# setting), so changing how times are shown can never change or break an issued number.
NUMBER_ZONE = "Asia/Shanghai"


# A stored reference: ``KC`` + local date + 20 random digits. Random, not derived from the row
# id, so a reset or restored database never issues a reference the provider already knows.
REFERENCE_RANDOM_DIGITS = 20
_STORED_LENGTH = 10 + REFERENCE_RANDOM_DIGITS
_DERIVED_LENGTH = 20


def new_checkout_reference(created_at: datetime) -> str:
    """A new checkout's reference (and its payment's trade number): stored with the row."""
    digits = secrets.randbelow(10**REFERENCE_RANDOM_DIGITS)
    return f"KC{local_day(created_at)}{digits:0{REFERENCE_RANDOM_DIGITS}d}"


def checkout_reference(checkout_id: int, created_at: datetime, *, key: bytes) -> str:
    """The derived reference of a checkout written before references were stored: ``KC`` +
    local date + its scrambled id (10 digits)."""
    return f"KC{local_day(created_at)}{scramble(checkout_id, key=key):010d}"


@dataclass(frozen=True, slots=True)
class ParsedReference:
    """A checkout reference read back: ``text`` as issued, its local date, and the checkout id
    when it is a derived (older) one; a stored one is looked up by ``text``."""

    text: str
    day: str
    checkout_id: int | None = None


def parse_checkout_reference(reference: str, *, key: bytes) -> ParsedReference:
    """The reference's parts; the caller checks the date against the row's."""
    text = reference.strip().upper()
    if len(text) not in (_STORED_LENGTH, _DERIVED_LENGTH) or not (
        text.startswith("KC") and text[2:].isdigit()
    ):
        raise InvalidInput("a checkout reference looks like KC followed by 28 digits")
    if len(text) == _STORED_LENGTH:
        return ParsedReference(text, text[2:10])
    return ParsedReference(text, text[2:10], unscramble(int(text[10:]), key=key))


def local_day(moment: datetime) -> str:
    """The ``yyyymmdd`` a number issued at ``moment`` carries."""
    return moment.astimezone(ZoneInfo(NUMBER_ZONE)).strftime("%Y%m%d")


def stock_holder(order_id: int) -> str:
    """Who holds an order's reservation in the inventory area."""
    return f"order:{order_id}"


def refund_request_no(order_id: int, cause: str) -> str:
    """A refund's dedupe number: derived from the order, so a retried request is the same one."""
    return f"order-{order_id}-{cause}"


def order_id_of_refund(request_no: str) -> int | None:
    """The order a refund request number was made for (None if it is not one of ours)."""
    parts = request_no.split("-")
    if len(parts) == 3 and parts[0] == "order" and parts[1].isdigit():
        return int(parts[1])
    return None


# --- errors of placement -------------------------------------------------------------------


class PriceChanged(Conflict):
    """A price moved since the buyer saw it; they confirm by sending the new prices back."""

    code = "price_changed"


class IdempotencyKeyReuse(Conflict):
    code = "idempotency_key_reuse"


class UnknownItem(InvalidInput):
    code = "unknown_item"


class ItemUnavailable(Conflict):
    code = "item_unavailable"


def price_changed_error(changes: Sequence[PriceChange]) -> PriceChanged:
    return PriceChanged(
        "prices changed since you saw them; confirm the new prices to place the order",
        details={
            "changes": [
                {"sku_id": c.sku_id, "seen_fen": c.seen_fen, "now_fen": c.now_fen} for c in changes
            ]
        },
    )


# --- policy and request checks -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OrderingPolicy:
    """The settings ordering works under (filled from configuration by the caller)."""

    payment_ttl: timedelta = timedelta(minutes=15)
    auto_complete_after: timedelta = timedelta(days=10)
    currency: str = "CNY"


IDEMPOTENCY_KEY_MAX = 100
IDEMPOTENCY_TTL = timedelta(hours=24)
_PRINTABLE = re.compile(r"^[\x20-\x7e]{1,100}$")


def check_idempotency_key(key: str) -> str:
    if not _PRINTABLE.match(key) or not key.strip():
        raise InvalidInput(
            f"the Idempotency-Key is 1 to {IDEMPOTENCY_KEY_MAX} printable ASCII characters"
        )
    return key


def request_hash(body: Mapping[str, Any]) -> str:
    """SHA-256 of the request's canonical JSON (sorted keys, no spaces)."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


GUEST_KEY_RE = re.compile(r"^[A-Za-z0-9_-]{32,100}$")


def check_guest_key(key: str) -> str:
    if not GUEST_KEY_RE.match(key):
        raise InvalidInput("a cart key is 32 to 100 letters, digits, '-' or '_'")
    return key


def hash_guest_key(key: str) -> str:
    """Guest carts are stored under the key's SHA-256: a database leak reveals no live key."""
    return hashlib.sha256(check_guest_key(key).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class CartOwner:
    """Whose cart: a signed-in buyer's, or a guest's (by the key in their cookie or header)."""

    buyer_id: int | None = None
    guest_key: str | None = None

    def __post_init__(self) -> None:
        if (self.buyer_id is None) == (self.guest_key is None):
            raise ValueError("a cart belongs to a buyer or to a guest key, not both")
        if self.guest_key is not None:
            check_guest_key(self.guest_key)

    @classmethod
    def buyer(cls, buyer_id: int) -> CartOwner:
        return cls(buyer_id=buyer_id)

    @classmethod
    def guest(cls, key: str) -> CartOwner:
        return cls(guest_key=key)


CARRIER_RE = re.compile(r"^[\w .&()'-]{2,50}$")
TRACKING_RE = re.compile(r"^[A-Za-z0-9-]{6,40}$")


def check_shipment(carrier: str, tracking_number: str) -> tuple[str, str]:
    """A carrier name (2–50 characters) and a tracking number (6–40 letters, digits, '-')."""
    name, tracking = " ".join(carrier.split()), tracking_number.strip().upper()
    if not CARRIER_RE.match(name):
        raise InvalidInput("enter the carrier's name", details={"field": "carrier"})
    if not TRACKING_RE.match(tracking):
        raise InvalidInput(
            "a tracking number is 6 to 40 letters, digits or '-'",
            details={"field": "tracking_number"},
        )
    return name, tracking


def clean_reason(reason: str, *, max_length: int = 200) -> str:
    text = one_line(reason, field="reason")
    if not text:
        raise InvalidInput("say why", details={"field": "reason"})
    if len(text) > max_length:
        raise InvalidInput(f"at most {max_length} characters", details={"field": "reason"})
    return text


def clean_note(note: str | None, *, max_length: int = 200) -> str | None:
    text = one_line(note or "", field="note")
    if len(text) > max_length:
        raise InvalidInput(f"a note has at most {max_length} characters", details={"field": "note"})
    return text or None


REQUEST_ID_MAX = 64


def check_request_id(request_id: str) -> str:
    """A client's id of a submission (a change, an after-sales request): the same id again is
    the same submission."""
    text = request_id.strip()
    if not text or len(text) > REQUEST_ID_MAX or not text.isprintable():
        raise InvalidInput(
            f"a request id is 1 to {REQUEST_ID_MAX} printable characters",
            details={"field": "request_id"},
        )
    return text
