"""Request and response models of the interception JSON routes (``extra="forbid"``)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from kuaidan.core.fields import RequestBody, ResponseBody, Text
from kuaidan.ordering.interception.domain import (
    InterceptionView,
)


class NewAddressIn(RequestBody):
    recipient: Text = Field(min_length=1, max_length=50)
    phone: Text = Field(min_length=5, max_length=32)
    province: Text = Field(min_length=1, max_length=50, examples=["浙江省"])
    city: Text = Field(min_length=1, max_length=50, examples=["杭州市"])
    district: Text = Field(default="", max_length=50)
    line: Text = Field(min_length=1, max_length=200)
    postcode: Text | None = Field(default=None, max_length=10)


class InterceptionCreate(RequestBody):
    """``redirect`` with the new ``address``, or ``cancel`` (the order is refunded once the
    parcel is back, less the carrier's fee when the buyer bears it). ``cause`` is an agent's
    word only: ``merchant_error`` puts the fee on the merchant."""

    kind: Literal["redirect", "cancel"]
    reason: Text = Field(min_length=1, max_length=200)
    address: NewAddressIn | None = None
    cause: Literal["buyer_changed_mind", "merchant_error"] | None = None


class InterceptionRead(ResponseBody):
    """A case: ``fee_fen`` is the carrier's fee for the parcel's zone, ``fee_charged_fen`` what
    of it is charged (0 for a failed interception: the parcel went on as planned)."""

    case_id: int
    order_number: str
    kind: str
    status: str
    words: str
    cause: str
    bearer: str
    fee_fen: int
    fee_charged_fen: int
    refund_fen: int | None
    currency: str
    old_shipment: str
    new_shipment: str | None
    new_address: str | None
    requested_by: str
    reason: str
    carrier_message: str | None
    requested_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, view: InterceptionView) -> InterceptionRead:
        return cls(
            case_id=view.case_id, order_number=view.order_number, kind=view.kind.value,
            status=view.status.value, words=view.words, cause=view.cause.value,
            bearer=view.bearer.value, fee_fen=view.fee_fen,
            fee_charged_fen=view.fee_fen if view.fee_charged else 0, refund_fen=view.refund_fen,
            currency=view.currency, old_shipment=view.old_shipment,
            new_shipment=view.new_shipment, new_address=view.new_address,
            requested_by=view.requested_by, reason=view.reason,
            carrier_message=view.carrier_message, requested_at=view.requested_at,
            updated_at=view.updated_at,
        )  # fmt: skip
