"""Read models of ordering: what a cart, checkout or order page shows. Pure, no I/O.

Services build them from rows and other areas' value types; pages and the JSON API render them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from kuaidan.logistics.domain import (
    CarrierQuote,
    CaseStatus,
    ExceptionCaseInfo,
    ShipmentInfo,
    ShipmentStatus,
)
from kuaidan.ordering.domain import (
    Actor,
    OrderAction,
    OrderStatus,
    PriceChange,
    allowed_actions,
)


class LineProblem(StrEnum):
    GONE = "gone"  # the SKU no longer exists
    DELISTED = "delisted"  # product not listed, SKU inactive or shop suspended
    OUT_OF_STOCK = "out_of_stock"
    NOT_ENOUGH = "not_enough"  # fewer available than the quantity in the cart


def line_problem(*, quantity: int, available: int | None, orderable: bool) -> LineProblem | None:
    """Why a cart line can't be ordered now, if it can't (``available`` None: unknown SKU)."""
    if available is None:
        return LineProblem.GONE
    if not orderable:
        return LineProblem.DELISTED
    if available <= 0:
        return LineProblem.OUT_OF_STOCK
    return LineProblem.NOT_ENOUGH if quantity > available else None


@dataclass(frozen=True, slots=True)
class CartLine:
    sku_id: int
    product_id: int | None
    merchant_id: int | None
    title: str
    sku_label: str
    attributes: Mapping[str, str]
    image: str | None
    quantity: int
    price_seen_fen: int
    price_fen: int  # the current price (the seen one when the SKU is gone)
    available: int
    problem: LineProblem | None
    added_at: datetime

    @property
    def price_changed(self) -> bool:
        return self.price_fen != self.price_seen_fen

    @property
    def out_of_stock(self) -> bool:
        return self.problem is LineProblem.OUT_OF_STOCK

    @property
    def delisted(self) -> bool:
        return self.problem in (LineProblem.DELISTED, LineProblem.GONE)

    @property
    def orderable(self) -> bool:
        return self.problem is None

    @property
    def total_fen(self) -> int:
        return self.price_fen * self.quantity


@dataclass(frozen=True, slots=True)
class CartGroup:
    """A cart's lines of one merchant (they become one order)."""

    merchant_id: int | None
    merchant_name: str
    lines: tuple[CartLine, ...]

    @property
    def items_fen(self) -> int:
        return sum(line.total_fen for line in self.lines if line.orderable)


@dataclass(frozen=True, slots=True)
class CartView:
    groups: tuple[CartGroup, ...]
    currency: str = "CNY"

    @property
    def lines(self) -> list[CartLine]:
        return [line for group in self.groups for line in group.lines]

    @property
    def total_fen(self) -> int:
        """What the orderable lines cost now."""
        return sum(group.items_fen for group in self.groups)

    @property
    def quantity(self) -> int:
        return sum(line.quantity for line in self.lines)

    @property
    def has_problems(self) -> bool:
        return any(not line.orderable for line in self.lines)

    @property
    def price_changes(self) -> list[PriceChange]:
        return [
            PriceChange(line.sku_id, line.price_seen_fen, line.price_fen)
            for line in self.lines
            if line.orderable and line.price_changed
        ]


def group_cart_lines(
    lines: Iterable[CartLine], merchant_names: Mapping[int, str]
) -> tuple[CartGroup, ...]:
    """Lines per merchant in merchant order (vanished SKUs last), oldest line first."""
    by_merchant: dict[int | None, list[CartLine]] = {}
    for line in lines:
        by_merchant.setdefault(line.merchant_id, []).append(line)
    order = sorted(by_merchant, key=lambda m: (m is None, m or 0))
    return tuple(
        CartGroup(
            m,
            merchant_names.get(m, "") if m is not None else "",
            tuple(sorted(by_merchant[m], key=lambda line: (line.added_at, line.sku_id))),
        )
        for m in order
    )


@dataclass(frozen=True, slots=True)
class AddressSnapshot:
    """The delivery address as it was when the order was placed."""

    recipient: str
    phone: str
    province: str
    city: str
    district: str
    line: str
    postcode: str | None

    def one_line(self) -> str:
        parts = [self.province, self.city, self.district, self.line]
        return " ".join(part for part in parts if part)


@dataclass(frozen=True, slots=True)
class OrderLineView:
    sku_id: int
    product_id: int
    title: str
    sku_label: str
    attributes: Mapping[str, str]
    image: str | None
    quantity: int
    unit_price_fen: int
    total_fen: int


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    at: datetime
    actor: str
    actor_id: int | None
    action: str
    from_status: str | None
    to_status: str | None
    note: str | None


@dataclass(frozen=True, slots=True)
class OrderSummary:
    """An order as a line of a list."""

    id: int
    number: str
    checkout_reference: str
    buyer_id: int
    merchant_id: int
    merchant_name: str
    status: OrderStatus
    total_fen: int
    currency: str
    placed_at: datetime
    payment_deadline: datetime
    item_count: int
    first_title: str
    first_image: str | None


@dataclass(frozen=True, slots=True)
class OrderView:
    """Everything an order page shows; ``actions_for`` gives the buttons per viewer."""

    summary: OrderSummary
    items_fen: int
    shipping_fen: int
    paid_at: datetime | None
    shipped_at: datetime | None
    delivered_at: datetime | None
    completed_at: datetime | None
    cancelled_at: datetime | None
    cancel_reason: str | None
    carrier: str | None
    tracking_number: str | None
    note: str | None
    refund_request_no: str | None
    refunded_at: datetime | None
    shipment_reference: str | None
    address: AddressSnapshot
    lines: tuple[OrderLineView, ...]
    timeline: tuple[TimelineEntry, ...]

    @property
    def number(self) -> str:
        return self.summary.number

    @property
    def status(self) -> OrderStatus:
        return self.summary.status

    def actions_for(self, actor: Actor) -> list[OrderAction]:
        return allowed_actions(self.status, actor=actor)


@dataclass(frozen=True, slots=True)
class CheckoutView:
    reference: str
    buyer_id: int
    items_fen: int
    shipping_fen: int
    total_fen: int
    currency: str
    created_at: datetime
    payment_deadline: datetime
    payment_id: int | None
    pay_url: str | None
    orders: tuple[OrderSummary, ...]

    @property
    def awaiting_payment(self) -> bool:
        return any(o.status is OrderStatus.PENDING_PAYMENT for o in self.orders)


@dataclass(frozen=True, slots=True)
class CheckoutResult:
    """What placing returns; ``created`` is False when an idempotent retry replays it."""

    checkout: CheckoutView
    orders: tuple[OrderView, ...]
    created: bool


# --- shipping and tracking ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CarrierOption:
    """A carrier the platform proposes for an order, with why it ranks where it does."""

    quote: CarrierQuote
    reasons: tuple[str, ...]
    best: bool


def carrier_options(quotes: list[CarrierQuote]) -> list[CarrierOption]:
    """The quotes (best first) with plain reasons: cheapest, fastest, most punctual, status."""
    if not quotes:
        return []
    cheapest = min(q.price_fen for q in quotes)
    fastest = min(q.promise_days for q in quotes)
    punctual = max(q.quality.on_time_rate for q in quotes)
    options = []
    for index, quote in enumerate(quotes):
        reasons = [
            f"评分 {quote.score:.1f} score",
            f"承诺 {quote.promise_days} 天 promised in {quote.promise_days} days",
            f"准时率 {quote.quality.on_time_rate:.0%} on time",
        ]
        if quote.price_fen == cheapest:
            reasons.append("最便宜 cheapest")
        if quote.promise_days == fastest:
            reasons.append("最快 fastest")
        if quote.quality.on_time_rate == punctual:
            reasons.append("最准时 most punctual")
        if quote.status.value == "probation":
            reasons.append("考察期，降级排序 on probation: ranked lower")
        options.append(CarrierOption(quote, tuple(reasons), best=index == 0))
    return options


@dataclass(frozen=True, slots=True)
class TrackingView:
    """What the buyer's order page shows of the parcel: the current shipment (with its scans,
    newest first), earlier ones (a refused booking, a lost parcel), exception cases, rating."""

    shipment: ShipmentInfo | None
    earlier: tuple[ShipmentInfo, ...]
    cases: tuple[ExceptionCaseInfo, ...]
    rating: int | None
    mark: str

    @property
    def open_cases(self) -> tuple[ExceptionCaseInfo, ...]:
        return tuple(c for c in self.cases if c.status is CaseStatus.OPEN)

    @property
    def can_rate(self) -> bool:
        delivered = self.shipment is not None and self.shipment.status is ShipmentStatus.DELIVERED
        return delivered and self.rating is None

    @property
    def booking_failed(self) -> bool:
        return self.shipment is not None and self.shipment.booking == "failed"
