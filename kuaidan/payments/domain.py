"""Pure payment rules: statuses, exact fen ↔ yuan conversion, notification checks. No I/O.

The values here are what other areas receive from ``payments.service``: plain dataclasses,
never ORM rows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from kuaidan.core.errors import Conflict, DomainError, InvalidInput

_YUAN_RE = re.compile(r"^(0|[1-9][0-9]{0,11})(\.[0-9]{1,2})?$")


class PaymentStatus(StrEnum):
    CREATED = "created"
    SUCCEEDED = "succeeded"
    CLOSED = "closed"
    REFUNDED = "refunded"
    PARTIALLY_REFUNDED = "partially_refunded"
    HELD = "held"  # risk holds it: no pay link until the buyer verifies or an analyst approves
    BLOCKED = "blocked"  # risk blocked it: it is never paid


# A payment in one of these has money at the provider (possibly partly given back).
PAID_STATUSES = frozenset(
    {PaymentStatus.SUCCEEDED, PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED}
)
# Success may be recorded from these: a close races a late payment and the payment wins (and
# money that reaches a blocked payment is recorded, so that its orders' refund gives it back).
SUCCEEDABLE_STATUSES = frozenset(
    {PaymentStatus.CREATED, PaymentStatus.CLOSED, PaymentStatus.BLOCKED}
)


class RefundStatus(StrEnum):
    REQUESTED = "requested"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class TradeState(StrEnum):
    """A trade's state as the provider reports it (Alipay's names)."""

    NOT_EXIST = "NOT_EXIST"
    WAIT_BUYER_PAY = "WAIT_BUYER_PAY"
    TRADE_SUCCESS = "TRADE_SUCCESS"
    TRADE_FINISHED = "TRADE_FINISHED"
    TRADE_CLOSED = "TRADE_CLOSED"

    @property
    def is_paid(self) -> bool:
        return self in (TradeState.TRADE_SUCCESS, TradeState.TRADE_FINISHED)


class SignatureInvalid(DomainError):
    code = "signature_invalid"
    status = 400


class PaymentMismatch(DomainError):
    code = "payment_mismatch"
    status = 400


class RefundRefused(Conflict):
    code = "refund_refused"


class ProviderError(DomainError):
    """The provider could not be reached or answered something we cannot use."""

    code = "payment_provider_error"
    status = 502


def fen_to_yuan(fen: int) -> str:
    """12345 → ``"123.45"``: the provider's amount format, exactly."""
    if not isinstance(fen, int) or isinstance(fen, bool) or fen < 0:
        raise InvalidInput("an amount is a non-negative integer number of fen")
    whole, cents = divmod(fen, 100)
    return f"{whole}.{cents:02d}"


def yuan_to_fen(text: str) -> int:
    """``"123.45"`` → 12345; ``"1"`` and ``"1.5"`` are accepted; anything else is refused."""
    if not isinstance(text, str) or not _YUAN_RE.match(text):
        raise InvalidInput(f"not an amount in yuan: {text!r}")
    whole, _, frac = text.partition(".")
    return int(whole) * 100 + int((frac + "00")[:2])


@dataclass(frozen=True, slots=True)
class PaymentStart:
    payment_id: int
    reference: str
    status: PaymentStatus
    pay_url: str | None


@dataclass(frozen=True, slots=True)
class PaymentInfo:
    payment_id: int
    reference: str
    provider: str
    amount_fen: int
    currency: str
    status: PaymentStatus
    buyer_id: int
    subject: str
    provider_trade_no: str | None
    created_at: datetime
    paid_at: datetime | None
    refunded_fen: int


@dataclass(frozen=True, slots=True)
class RefundInfo:
    refund_id: int
    payment_id: int
    reference: str
    request_no: str
    amount_fen: int
    reason: str
    status: RefundStatus
    created_at: datetime
    done_at: datetime | None
    last_error: str | None


@dataclass(frozen=True, slots=True)
class Notification:
    """A verified asynchronous notification from the provider."""

    notify_id: str
    out_trade_no: str
    trade_no: str
    trade_status: TradeState
    amount_fen: int
    app_id: str
    paid_at: datetime | None
    # When the provider sent it (``notify_time``): a copy replayed long after is refused.
    sent_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ReturnInfo:
    """A verified browser return from the provider's pay page."""

    out_trade_no: str
    trade_no: str
    amount_fen: int
    app_id: str


@dataclass(frozen=True, slots=True)
class TradeStatus:
    reference: str
    state: TradeState
    trade_no: str | None = None
    amount_fen: int | None = None
    paid_at: datetime | None = None
    refunded_fen: int = 0


@dataclass(frozen=True, slots=True)
class RefundResult:
    succeeded: bool
    refunded_total_fen: int = 0
    error: str | None = None


@dataclass(frozen=True, slots=True)
class RefundCheck:
    """What the provider knows of one refund request: ``found`` with the amount refunded."""

    request_no: str
    found: bool
    amount_fen: int = 0


@dataclass(frozen=True, slots=True)
class CloseResult:
    """``paid`` is set when the trade could not be closed because the buyer had paid."""

    closed: bool
    paid: TradeStatus | None = None


def mismatch_problems(
    *,
    expected_app_id: str,
    app_id: str,
    expected_amount_fen: int,
    amount_fen: int,
    expected_currency: str,
    currency: str,
) -> list[str]:
    """Why a provider's message does not fit our payment; empty when it fits."""
    problems = []
    if app_id != expected_app_id:
        problems.append("app_id does not match")
    if amount_fen != expected_amount_fen:
        problems.append("amount does not match")
    if currency != expected_currency:
        problems.append("currency does not match")
    return problems


# How far the provider's clock may run behind ours when it dates a payment.
PROVIDER_CLOCK_SKEW = timedelta(minutes=2)


def trade_problems(
    *, expected_amount_fen: int, payment_created_at: datetime, trade: TradeStatus
) -> list[str]:
    """Why a trade the provider reports paid cannot be this payment's; empty when it can.

    A trade with another amount, with no trade number, or paid before our payment existed
    (its reference was issued before, by a database since reset or restored) is never
    taken as our payment: the caller records the disagreement instead.
    """
    problems = []
    if trade.amount_fen != expected_amount_fen:
        problems.append("amount does not match")
    if not trade.trade_no:
        problems.append("no trade number")
    if trade.paid_at is not None and trade.paid_at < payment_created_at - PROVIDER_CLOCK_SKEW:
        problems.append("paid before this payment existed")
    return problems


def check_refund(
    *, status: PaymentStatus, paid_fen: int, committed_fen: int, amount_fen: int
) -> None:
    """Refuse a refund of nothing, of an unpaid payment, or past what is left to give back.

    ``committed_fen`` counts refunds already done and those still in flight.
    """
    if amount_fen <= 0:
        raise InvalidInput("a refund is a positive amount of fen")
    if status not in PAID_STATUSES:
        raise RefundRefused(f"a {status.value} payment cannot be refunded")
    if committed_fen + amount_fen > paid_fen:
        left = max(paid_fen - committed_fen, 0)
        raise RefundRefused(
            "the refund exceeds what was paid",
            details={"refundable_fen": left, "requested_fen": amount_fen},
        )


def status_after_refunds(*, paid_fen: int, refunded_fen: int) -> PaymentStatus:
    if refunded_fen <= 0:
        return PaymentStatus.SUCCEEDED
    if refunded_fen >= paid_fen:
        return PaymentStatus.REFUNDED
    return PaymentStatus.PARTIALLY_REFUNDED


# --- reconciliation: our records against the provider's ------------------------------------


class FindingKind(StrEnum):
    PAID_WITHOUT_NOTIFICATION = "paid_without_notification"  # recovered: recorded as paid
    NOTIFICATION_WITHOUT_ORDER = "notification_without_order"
    AMOUNT_MISMATCH = "amount_mismatch"
    STATUS_MISMATCH = "status_mismatch"  # paid here, not paid at the provider
    REFUND_MISMATCH = "refund_mismatch"


FINDING_KINDS = tuple(kind.value for kind in FindingKind)


@dataclass(frozen=True, slots=True)
class Discrepancy:
    """One thing reconciliation found; ``key`` is the same however often it is found again."""

    kind: FindingKind
    reference: str
    detail: str
    expected_fen: int | None = None
    actual_fen: int | None = None
    request_no: str = ""

    @property
    def key(self) -> str:
        return f"{self.kind.value}:{self.reference}:{self.request_no}"


def compare_trade(
    *, reference: str, status: PaymentStatus, amount_fen: int, trade: TradeStatus
) -> Discrepancy | None:
    """Our payment against the provider's trade; None when they agree."""
    paid_here = status in PAID_STATUSES
    if trade.state == TradeState.NOT_EXIST or trade.amount_fen is None:
        if paid_here:
            return Discrepancy(
                FindingKind.STATUS_MISMATCH, reference, "paid here, no trade at the provider"
            )
        return None
    if trade.amount_fen != amount_fen:
        return Discrepancy(
            FindingKind.AMOUNT_MISMATCH,
            reference,
            f"the provider's trade is {trade.state.value} for another amount",
            expected_fen=amount_fen,
            actual_fen=trade.amount_fen,
        )
    if trade.state.is_paid and status in SUCCEEDABLE_STATUSES:
        return Discrepancy(
            FindingKind.PAID_WITHOUT_NOTIFICATION,
            reference,
            f"paid at the provider, {status.value} here",
            expected_fen=amount_fen,
            actual_fen=trade.amount_fen,
        )
    refunded_trade_closed = (
        trade.state == TradeState.TRADE_CLOSED and status == PaymentStatus.REFUNDED
    )
    if paid_here and not trade.state.is_paid and not refunded_trade_closed:
        return Discrepancy(
            FindingKind.STATUS_MISMATCH,
            reference,
            f"{status.value} here, {trade.state.value} at the provider",
        )
    return None


def compare_refund(
    *, reference: str, status: RefundStatus, amount_fen: int, check: RefundCheck
) -> Discrepancy | None:
    """Our finished refund against the provider's record of the same request number."""
    if status == RefundStatus.SUCCEEDED and (not check.found or check.amount_fen != amount_fen):
        made = "not made" if not check.found else "made for another amount"
        return Discrepancy(
            FindingKind.REFUND_MISMATCH,
            reference,
            f"refund {check.request_no} succeeded here, {made} at the provider",
            expected_fen=amount_fen,
            actual_fen=check.amount_fen if check.found else 0,
            request_no=check.request_no,
        )
    if status == RefundStatus.FAILED and check.found:
        return Discrepancy(
            FindingKind.REFUND_MISMATCH,
            reference,
            f"refund {check.request_no} failed here, made at the provider",
            expected_fen=0,
            actual_fen=check.amount_fen,
            request_no=check.request_no,
        )
    return None


@dataclass(frozen=True, slots=True)
class ReconciliationReport:
    run_id: int
    started_at: datetime
    finished_at: datetime | None
    window_start: datetime
    trigger: str
    payments_checked: int
    errors: int
    new_findings: int


@dataclass(frozen=True, slots=True)
class Finding:
    id: int
    run_id: int
    kind: FindingKind
    reference: str
    detail: str
    expected_fen: int | None
    actual_fen: int | None
    resolution: str
    found_at: datetime
