"""Events the payments area emits (frozen dataclasses, delivered through the outbox).

``payment.succeeded`` is published exactly once per payment, in the transaction that marks it
succeeded. The ``*.requested`` events are the payments area's own work orders: a handler makes
the outside call that a use case may not make with its transaction open.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar


@dataclass(frozen=True, slots=True)
class PaymentSucceeded:
    topic: ClassVar[str] = "payment.succeeded"
    payment_id: int
    reference: str
    amount_fen: int
    currency: str
    provider_trade_no: str
    paid_at: datetime


@dataclass(frozen=True, slots=True)
class PaymentCloseRequested:
    topic: ClassVar[str] = "payment.close_requested"
    payment_id: int
    reference: str


@dataclass(frozen=True, slots=True)
class RefundRequested:
    topic: ClassVar[str] = "refund.requested"
    refund_id: int
    payment_id: int
    reference: str
    amount_fen: int
    request_no: str


@dataclass(frozen=True, slots=True)
class RefundSucceeded:
    topic: ClassVar[str] = "refund.succeeded"
    refund_id: int
    payment_id: int
    reference: str
    amount_fen: int
    request_no: str


@dataclass(frozen=True, slots=True)
class RefundFailed:
    topic: ClassVar[str] = "refund.failed"
    refund_id: int
    payment_id: int
    reference: str
    amount_fen: int
    request_no: str
    error: str


@dataclass(frozen=True, slots=True)
class PaymentHeld:
    """Risk held the payment: no pay link until the buyer verifies (``verify``) or an analyst
    approves (``hold``); ``held_until`` is when the hold expires."""

    topic: ClassVar[str] = "payment.held"
    payment_id: int
    reference: str
    buyer_id: int
    action: str
    score: int
    held_until: datetime


@dataclass(frozen=True, slots=True)
class PaymentReleased:
    """A hold ended well: the buyer may pay at ``pay_url`` until ``pay_deadline``."""

    topic: ClassVar[str] = "payment.released"
    payment_id: int
    reference: str
    pay_url: str
    pay_deadline: datetime


@dataclass(frozen=True, slots=True)
class PaymentBlocked:
    """Risk blocked the payment (at once, after wrong codes, or by an analyst)."""

    topic: ClassVar[str] = "payment.blocked"
    payment_id: int
    reference: str
    reason: str


@dataclass(frozen=True, slots=True)
class PaymentHoldExpired:
    """Nobody verified or approved the held payment in time; it is closed."""

    topic: ClassVar[str] = "payment.hold_expired"
    payment_id: int
    reference: str
