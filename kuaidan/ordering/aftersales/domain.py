"""Pure rules of after-sales, once an order is delivered: which requests a buyer may make and
until when, what each one refunds, who bears the return shipping, and the steps a case goes
through. No I/O.

Four kinds of request:

- **return**: seven days without a reason (the platform default; a category may set another
  window or none), the goods go back, the buyer bears the return shipping;
- **quality**: a fault with the goods, within the longer quality window; the goods go back and
  the merchant bears the return shipping;
- **exchange**: another colour or size of the same product, reserved when asked; the goods go
  back and the replacement is shipped once they are received;
- **missing**: something was not in the parcel; nothing goes back, the missing units are
  refunded.

A case starts ``requested``. The merchant approves or rejects it (with a reason) within the
answer window, or it is ``escalated`` to the platform. A rejection can be ``disputed`` by the
buyer; the platform then rules. Approved, a case that sends goods back waits for the return
parcel (``awaiting_return`` → ``returning``); when the shop receives it, the money goes back
(``refunding`` → ``refunded``) or the replacement leaves (``exchange_shipping`` → ``exchanged``).
A missing-items case goes straight to ``refunding``. A withdrawn, unsent or lost case ends
``closed``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from kuaidan.core.errors import Conflict, InvalidInput
from kuaidan.core.text import one_line


class CaseKind(StrEnum):
    RETURN = "return"  # no-reason return
    QUALITY = "quality"  # return for a fault: the merchant bears the return shipping
    EXCHANGE = "exchange"  # another colour/size of the same product
    MISSING = "missing"  # refund only: items missing from the parcel


class CaseStatus(StrEnum):
    REQUESTED = "requested"
    ESCALATED = "escalated"  # the merchant did not answer in time: the platform decides
    REJECTED = "rejected"  # by the merchant, with a reason; the buyer may dispute
    DISPUTED = "disputed"  # the buyer disputes the rejection: platform arbitration
    AWAITING_RETURN = "awaiting_return"  # approved; the buyer sends the goods back
    RETURNING = "returning"  # the return parcel is with the carrier
    REFUNDING = "refunding"  # the refund is asked of the payment provider
    REFUNDED = "refunded"
    EXCHANGE_SHIPPING = "exchange_shipping"  # goods received; the replacement is on its way
    EXCHANGED = "exchanged"
    CLOSED = "closed"  # withdrawn, ruled for the merchant, or not sent back in time


class CaseStep(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    ESCALATE = "escalate"
    DISPUTE = "dispute"
    RULE_FOR_BUYER = "rule_for_buyer"  # arbitration: the buyer is right
    RULE_FOR_MERCHANT = "rule_for_merchant"
    SEND_BACK = "send_back"  # the return parcel is booked or handed in
    RECEIVE = "receive"  # the shop received the return parcel
    REFUND_DONE = "refund_done"
    REPLACEMENT_DELIVERED = "replacement_delivered"
    WITHDRAW = "withdraw"  # by the buyer
    EXPIRE = "expire"  # a rejection not disputed, or goods not sent back, in time


class Actor(StrEnum):
    BUYER = "buyer"
    MERCHANT = "merchant"
    PLATFORM = "platform"  # an agent or admin
    SYSTEM = "system"  # timers and outside parties' word


class Bearer(StrEnum):
    BUYER = "buyer"
    MERCHANT = "merchant"


C, K, A = CaseStatus, CaseStep, Actor
Kd = CaseKind
_DECIDERS = frozenset({A.MERCHANT, A.PLATFORM})
_PLATFORM = frozenset({A.PLATFORM})
_SYSTEM = frozenset({A.SYSTEM})
_BUYER = frozenset({A.BUYER, A.PLATFORM})  # an agent may act for the buyer

# (status, step) → (status after, who may take the step). Approved, a missing-items case has
# nothing to send back and goes to refunding instead (next_status), as a received exchange
# goes to exchange_shipping.
STEPS: Mapping[tuple[CaseStatus, CaseStep], tuple[CaseStatus, frozenset[Actor]]] = {
    (C.REQUESTED, K.APPROVE): (C.AWAITING_RETURN, _DECIDERS),
    (C.REQUESTED, K.REJECT): (C.REJECTED, frozenset({A.MERCHANT})),
    (C.REQUESTED, K.ESCALATE): (C.ESCALATED, _SYSTEM),
    (C.ESCALATED, K.RULE_FOR_BUYER): (C.AWAITING_RETURN, _PLATFORM),
    (C.ESCALATED, K.RULE_FOR_MERCHANT): (C.CLOSED, _PLATFORM),
    (C.REJECTED, K.DISPUTE): (C.DISPUTED, _BUYER),
    (C.REJECTED, K.EXPIRE): (C.CLOSED, _SYSTEM),
    (C.DISPUTED, K.RULE_FOR_BUYER): (C.AWAITING_RETURN, _PLATFORM),
    (C.DISPUTED, K.RULE_FOR_MERCHANT): (C.CLOSED, _PLATFORM),
    (C.AWAITING_RETURN, K.SEND_BACK): (C.RETURNING, _BUYER),
    (C.AWAITING_RETURN, K.EXPIRE): (C.CLOSED, _SYSTEM),
    (C.RETURNING, K.RECEIVE): (C.REFUNDING, frozenset({A.MERCHANT, A.SYSTEM})),
    (C.REFUNDING, K.REFUND_DONE): (C.REFUNDED, _SYSTEM),
    (C.EXCHANGE_SHIPPING, K.REPLACEMENT_DELIVERED): (C.EXCHANGED, _SYSTEM),
    (C.REQUESTED, K.WITHDRAW): (C.CLOSED, _BUYER),
    (C.ESCALATED, K.WITHDRAW): (C.CLOSED, _BUYER),
    (C.REJECTED, K.WITHDRAW): (C.CLOSED, _BUYER),
    (C.DISPUTED, K.WITHDRAW): (C.CLOSED, _BUYER),
    (C.AWAITING_RETURN, K.WITHDRAW): (C.CLOSED, _BUYER),
}

OPEN = frozenset(
    {C.REQUESTED, C.ESCALATED, C.REJECTED, C.DISPUTED, C.AWAITING_RETURN, C.RETURNING,
     C.REFUNDING, C.EXCHANGE_SHIPPING}
)  # fmt: skip
# Cases whose units count as claimed: a closed or rejected-and-expired case frees them.
CLAIMING = OPEN | {C.REFUNDED, C.EXCHANGED}
# The platform's queue: cases waiting for an agent's decision.
FOR_PLATFORM = frozenset({C.ESCALATED, C.DISPUTED})
SENDS_GOODS_BACK = frozenset({Kd.RETURN, Kd.QUALITY, Kd.EXCHANGE})


class AfterSalesNotAllowed(Conflict):
    code = "after_sales_not_allowed"


class IllegalCaseStep(Conflict):
    code = "illegal_case_step"


def next_status(status: CaseStatus, what: CaseStep, kind: CaseKind, *, actor: Actor) -> CaseStatus:
    """The case's status after ``what``; IllegalCaseStep when it does not apply now or not to
    this actor. On receipt, an exchange ships its replacement instead of refunding."""
    found = STEPS.get((status, what))
    if found is None:
        raise IllegalCaseStep(
            f"a case that is {status.value} cannot {what.value.replace('_', ' ')}",
            details={"status": status.value, "step": what.value},
        )
    after, actors = found
    if actor not in actors:
        raise IllegalCaseStep(
            f"a {actor.value} cannot {what.value.replace('_', ' ')} this case",
            details={"status": status.value, "step": what.value, "actor": actor.value},
        )
    if what is K.RECEIVE and kind is Kd.EXCHANGE:
        return C.EXCHANGE_SHIPPING
    if after is C.AWAITING_RETURN and kind is Kd.MISSING:
        return C.REFUNDING
    return after


def may_take(status: CaseStatus, what: CaseStep, *, actor: Actor) -> bool:
    found = STEPS.get((status, what))
    return found is not None and actor in found[1]


def return_bearer(kind: CaseKind) -> Bearer:
    """Who pays for the parcel back: the merchant for a fault, the buyer for a change of mind
    (a no-reason return or an exchange)."""
    return Bearer.MERCHANT if kind is Kd.QUALITY else Bearer.BUYER


# --- windows ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AfterSalesPolicy:
    """The settings after-sales works under (filled from configuration by the caller)."""

    return_days: int = 7  # no-reason return and exchange, unless the category says otherwise
    quality_days: int = 15  # faults and missing items
    answer_hours: float = 48  # the merchant's time to answer before the platform decides
    dispute_days: int = 7  # the buyer's time to dispute a rejection
    send_back_days: int = 7  # the buyer's time to send the goods back once approved
    trusted_completed_orders: int = 3  # a buyer with this many completed orders and no
    trusted_lookback_days: int = 180  # case ruled against them lately is refunded at once


def window_days(kind: CaseKind, *, category_days: int | None, policy: AfterSalesPolicy) -> int:
    """How many days after delivery ``kind`` may be asked for a product whose category sets
    ``category_days`` (None: the platform default; 0: no no-reason return or exchange).
    Faults and missing items are never excluded by category."""
    if kind in (Kd.QUALITY, Kd.MISSING):
        return policy.quality_days
    return policy.return_days if category_days is None else category_days


def check_window(
    kind: CaseKind,
    *,
    delivered_at: datetime,
    now: datetime,
    category_days: int | None,
    policy: AfterSalesPolicy,
) -> None:
    days = window_days(kind, category_days=category_days, policy=policy)
    if days == 0:
        raise AfterSalesNotAllowed(
            "该类商品不支持七天无理由退换 This category has no no-reason return or exchange; "
            "a fault can still be reported as a quality return",
            details={"kind": kind.value},
        )
    if now > delivered_at + timedelta(days=days):
        raise AfterSalesNotAllowed(
            f"已超过{days}天售后期 The {days}-day window for this request has passed",
            details={"kind": kind.value, "days": days},
        )


ORDER_STATUSES = frozenset({"delivered", "completed"})


def check_order(status: str, *, delivered_at: datetime | None) -> datetime:
    """The moment the window counts from: a delivered (or completed) order's delivery."""
    if status not in ORDER_STATUSES or delivered_at is None:
        raise AfterSalesNotAllowed(
            "returns and exchanges are for delivered orders; before that, change or intercept "
            "the order",
            details={"status": status},
        )
    return delivered_at


# --- items -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OrderedLine:
    line_id: int
    sku_id: int
    product_id: int
    quantity: int
    unit_price_fen: int
    claimed: int  # units already in other (non-closed) cases


@dataclass(frozen=True, slots=True)
class Claim:
    """Units of one order line, named by its SKU (a SKU is on an order once)."""

    sku_id: int
    quantity: int


def check_items(kind: CaseKind, items: Sequence[Claim], lines: Mapping[int, OrderedLine]) -> None:
    """Each line once, each quantity within what was bought and not already claimed; an
    exchange is one line. ``lines`` are the order's, by SKU."""
    if not items:
        raise InvalidInput("choose at least one item", details={"field": "items"})
    if kind is Kd.EXCHANGE and len(items) != 1:
        raise InvalidInput("an exchange is for one item at a time", details={"field": "items"})
    seen: set[int] = set()
    for claim in items:
        line = lines.get(claim.sku_id)
        if line is None:
            raise InvalidInput("no such item in this order", details={"sku_id": claim.sku_id})
        if claim.sku_id in seen:
            raise InvalidInput("each item may appear once", details={"sku_id": claim.sku_id})
        seen.add(claim.sku_id)
        free = line.quantity - line.claimed
        if not 1 <= claim.quantity <= free:
            raise AfterSalesNotAllowed(
                f"at most {free} of this item can still be returned"
                if free
                else "this item is already in another after-sales request",
                details={"sku_id": claim.sku_id, "quantity": claim.quantity, "free": free},
            )


def claimed_units(cases: Iterable[tuple[str, Sequence[Mapping[str, Any]]]]) -> dict[int, int]:
    """Units per SKU already in a case that still holds them, from each case's (status,
    items): every case but a closed one."""
    claimed: dict[int, int] = {}
    for status, items in cases:
        if CaseStatus(status) not in CLAIMING:
            continue
        for item in items:
            sku_id = int(item["sku_id"])
            claimed[sku_id] = claimed.get(sku_id, 0) + int(item["quantity"])
    return claimed


def items_fen(items: Sequence[Claim], lines: Mapping[int, OrderedLine]) -> int:
    return sum(lines[c.sku_id].unit_price_fen * c.quantity for c in items)


def refund_fen(
    kind: CaseKind,
    *,
    value_fen: int,
    shipping_fen: int | None,
    bearer: Bearer,
    booked_by_platform: bool,
    refundable_fen: int,
) -> int:
    """What the buyer gets back, never more than the order still has to refund.

    The goods' value; for a return parcel the platform booked (and pays the carrier for), less
    its price when the buyer bears it; for a parcel the buyer sent and paid for, plus its price
    at the carrier's tariff when the merchant bears it. An exchange refunds nothing."""
    if kind is Kd.EXCHANGE:
        return 0
    amount = value_fen
    if shipping_fen:
        if booked_by_platform and bearer is Bearer.BUYER:
            amount -= shipping_fen
        elif not booked_by_platform and bearer is Bearer.MERCHANT:
            amount += shipping_fen
    return max(min(amount, refundable_fen), 0)


def is_trusted(*, completed_orders: int, ruled_against: int, policy: AfterSalesPolicy) -> bool:
    """A buyer refunded as soon as the goods are handed to the carrier, not on receipt."""
    return completed_orders >= policy.trusted_completed_orders and ruled_against == 0


def clean_text(text: str, *, field: str, low: int = 1, high: int = 500) -> str:
    value = one_line(text, field=field)
    if not low <= len(value) <= high:
        raise InvalidInput(f"{field} needs {low} to {high} characters", details={"field": field})
    return value


STATUS_WORDS: Mapping[CaseStatus, str] = {
    C.REQUESTED: "等待商家处理 Waiting for the shop's answer",
    C.ESCALATED: "商家未及时处理，平台介入 The shop did not answer in time; the platform decides",
    C.REJECTED: "商家已拒绝 The shop refused (you can ask the platform to arbitrate)",
    C.DISPUTED: "平台仲裁中 The platform is arbitrating",
    C.AWAITING_RETURN: "请寄回商品 Approved: send the goods back",
    C.RETURNING: "退货包裹运输中 The return parcel is on its way to the shop",
    C.REFUNDING: "退款处理中 The refund is on its way",
    C.REFUNDED: "退款成功 Refunded",
    C.EXCHANGE_SHIPPING: "换货商品已发出 The replacement is on its way to you",
    C.EXCHANGED: "换货完成 Exchanged",
    C.CLOSED: "售后已关闭 Closed",
}

KIND_WORDS: Mapping[CaseKind, str] = {
    Kd.RETURN: "七天无理由退货 No-reason return",
    Kd.QUALITY: "质量问题退货 Return for a fault",
    Kd.EXCHANGE: "换货 Exchange",
    Kd.MISSING: "少件仅退款 Refund for missing items",
}


@dataclass(frozen=True, slots=True)
class CaseItemView:
    line_id: int
    sku_id: int
    title: str
    sku_label: str
    quantity: int
    unit_price_fen: int


@dataclass(frozen=True, slots=True)
class CaseStepView:
    at: datetime
    actor: str
    step: str
    status: str
    note: str | None


@dataclass(frozen=True, slots=True)
class CaseView:
    """An after-sales case as buyers, merchants and agents see it."""

    case_id: int
    order_number: str
    kind: CaseKind
    status: CaseStatus
    reason: str
    items: tuple[CaseItemView, ...]
    exchange_sku_id: int | None
    exchange_label: str | None
    value_fen: int
    refund_fen: int | None
    return_shipping_fen: int | None
    return_bearer: Bearer
    currency: str
    return_shipment: str | None
    return_tracking: str | None
    replacement_shipment: str | None
    return_to: str | None  # the shop's return address, one line, once approved
    answer_by: datetime | None
    decision_reason: str | None
    requested_by: str
    trusted: bool
    refunded_at: datetime | None
    requested_at: datetime
    updated_at: datetime
    steps: tuple[CaseStepView, ...]

    @property
    def words(self) -> str:
        return STATUS_WORDS[self.status]

    @property
    def kind_words(self) -> str:
        return KIND_WORDS[self.kind]

    @property
    def is_open(self) -> bool:
        return self.status in OPEN
