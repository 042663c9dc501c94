"""Pure rules of interception after shipping: when a buyer (or an agent for them) may ask the
carrier to stop a parcel, what the interception costs and who bears it, and the steps an
interception case goes through. No I/O.

A case moves ``requested → intercepting → succeeded | failed``; a succeeded one becomes
``returned`` when the parcel is back with the merchant, then ``reshipped`` (redirect: a new
parcel to the new address) or ``refunded`` (cancel).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from kuaidan.core.errors import Conflict


class InterceptionKind(StrEnum):
    REDIRECT = "redirect"  # send the parcel to a new address
    CANCEL = "cancel"  # bring it back and refund the order


class InterceptionCause(StrEnum):
    BUYER_CHANGED_MIND = "buyer_changed_mind"
    MERCHANT_ERROR = "merchant_error"  # wrong item, wrong address typed by the shop…


class Bearer(StrEnum):
    BUYER = "buyer"
    MERCHANT = "merchant"


class InterceptionStatus(StrEnum):
    REQUESTED = "requested"
    INTERCEPTING = "intercepting"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    RETURNED = "returned"
    RESHIPPED = "reshipped"
    REFUNDED = "refunded"


class InterceptionStep(StrEnum):
    SENT = "sent"  # the request went to the carrier
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    RETURNED = "returned"  # the parcel is back with the merchant
    RESHIPPED = "reshipped"
    REFUNDED = "refunded"


Is, St = InterceptionStatus, InterceptionStep

STEPS: Mapping[tuple[InterceptionStatus, InterceptionStep], InterceptionStatus] = {
    (Is.REQUESTED, St.SENT): Is.INTERCEPTING,
    (Is.REQUESTED, St.SUCCEEDED): Is.SUCCEEDED,
    (Is.REQUESTED, St.FAILED): Is.FAILED,
    (Is.INTERCEPTING, St.SUCCEEDED): Is.SUCCEEDED,
    (Is.INTERCEPTING, St.FAILED): Is.FAILED,
    (Is.SUCCEEDED, St.RETURNED): Is.RETURNED,
    # The parcel's return scan may be handled before the carrier's answer is.
    (Is.REQUESTED, St.RETURNED): Is.RETURNED,
    (Is.INTERCEPTING, St.RETURNED): Is.RETURNED,
    (Is.RETURNED, St.RESHIPPED): Is.RESHIPPED,
    (Is.RETURNED, St.REFUNDED): Is.REFUNDED,
}

OPEN = frozenset({Is.REQUESTED, Is.INTERCEPTING, Is.SUCCEEDED, Is.RETURNED})
FINISHED = frozenset({Is.FAILED, Is.RESHIPPED, Is.REFUNDED})


class InterceptionNotAllowed(Conflict):
    code = "interception_not_allowed"


def step(status: InterceptionStatus, what: InterceptionStep) -> InterceptionStatus | None:
    """The case's status after ``what``; None when the step does not apply (already taken,
    or out of turn): handlers of redelivered events then do nothing."""
    return STEPS.get((status, what))


def check_may_intercept(
    *,
    order_status: str,
    shipment_status: str | None,
    parcel_terminal: bool,
    has_tracking: bool,
    open_case: bool,
    refund_in_progress: bool,
) -> None:
    """Raise InterceptionNotAllowed unless the parcel can still be stopped: the order is
    shipped (not delivered), its parcel is booked and not at an end, no interception is open
    and no refund is under way."""
    if order_status != "shipped":
        raise InterceptionNotAllowed(
            "only a shipped order that is not delivered can be intercepted",
            details={"status": order_status},
        )
    if open_case:
        raise InterceptionNotAllowed("an interception of this order is already under way")
    if refund_in_progress:
        raise InterceptionNotAllowed("a refund of this order is already under way")
    if shipment_status is None or not has_tracking:
        raise InterceptionNotAllowed("the parcel is not booked with a carrier yet")
    if parcel_terminal or shipment_status in ("returning", "refused"):
        raise InterceptionNotAllowed(
            "the parcel can no longer be intercepted", details={"parcel": shipment_status}
        )


def bearer_of(cause: InterceptionCause) -> Bearer:
    """Who pays the carrier's fee: the buyer for a change of mind, the merchant for its error."""
    return Bearer.MERCHANT if cause is InterceptionCause.MERCHANT_ERROR else Bearer.BUYER


def refund_fen(*, total_fen: int, fee_fen: int, bearer: Bearer) -> int:
    """What a cancelled (intercepted) order gives back: the total, less the fee when the buyer
    bears it (never below zero)."""
    return max(total_fen - fee_fen, 0) if bearer is Bearer.BUYER else total_fen


STEP_WORDS: Mapping[InterceptionStatus, str] = {
    Is.REQUESTED: "已申请拦截 Interception requested",
    Is.INTERCEPTING: "已通知快递公司拦截 The carrier has been asked to stop the parcel",
    Is.SUCCEEDED: "拦截成功，包裹退回商家 Intercepted: the parcel is going back to the shop",
    Is.FAILED: "拦截失败，包裹继续派送 The carrier could not stop the parcel; it is delivered as "
    "planned",
    Is.RETURNED: "包裹已退回商家 The parcel is back with the shop",
    Is.RESHIPPED: "已按新地址重新发货 A new parcel is on its way to the new address",
    Is.REFUNDED: "已退款 The order is refunded",
}


@dataclass(frozen=True, slots=True)
class InterceptionView:
    """An interception case as buyers, merchants and agents see it."""

    case_id: int
    order_number: str
    kind: InterceptionKind
    status: InterceptionStatus
    cause: InterceptionCause
    bearer: Bearer
    fee_fen: int
    refund_fen: int | None
    currency: str
    old_shipment: str
    new_shipment: str | None
    new_address: str | None  # one line; None for a cancel
    requested_by: str  # buyer, agent or admin
    reason: str
    carrier_message: str | None
    requested_at: datetime
    updated_at: datetime

    @property
    def words(self) -> str:
        return STEP_WORDS[self.status]

    @property
    def is_open(self) -> bool:
        return self.status in OPEN

    @property
    def fee_charged(self) -> bool:
        """A failed interception costs nothing: the parcel went on as planned."""
        return self.status is not Is.FAILED
