"""Request and response models of the after-sales JSON routes (``extra="forbid"``)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from kuaidan.core.fields import Id, MultilineText, Quantity, RequestBody, ResponseBody, Text
from kuaidan.ordering.aftersales.domain import CaseView


class ClaimIn(RequestBody):
    sku_id: Id
    quantity: Quantity


class CaseCreate(RequestBody):
    """``return`` (no reason, within the category's window), ``quality`` (a fault: the shop
    pays the parcel back), ``exchange`` (one item, for ``exchange_sku_id``, another colour or
    size of the same product) or ``missing`` (refund only). ``request_id`` makes a double
    submission the same case."""

    kind: Literal["return", "quality", "exchange", "missing"]
    items: list[ClaimIn] = Field(min_length=1, max_length=50)
    reason: MultilineText = Field(min_length=1, max_length=500)
    request_id: Text = Field(min_length=1, max_length=64)
    exchange_sku_id: Id | None = None


class DecisionIn(RequestBody):
    approve: bool
    reason: MultilineText | None = Field(default=None, max_length=500)


class DisputeIn(RequestBody):
    reason: MultilineText = Field(min_length=1, max_length=500)


class SendBackIn(RequestBody):
    """Empty for a pickup the platform books; or the carrier and tracking number of a parcel
    the buyer sent."""

    carrier_code: Text | None = Field(default=None, max_length=20)
    tracking_number: Text | None = Field(default=None, max_length=40)


class CaseItemRead(ResponseBody):
    line_id: int
    sku_id: int
    title: str
    sku_label: str
    quantity: int
    unit_price_fen: int


class CaseStepRead(ResponseBody):
    at: datetime
    actor: str
    step: str
    status: str
    note: str | None


class CaseRead(ResponseBody):
    case_id: int
    order_number: str
    kind: str
    status: str
    words: str
    reason: str
    items: list[CaseItemRead]
    exchange_sku_id: int | None
    exchange_label: str | None
    value_fen: int
    refund_fen: int | None
    return_shipping_fen: int | None
    return_bearer: str
    currency: str
    return_shipment: str | None
    return_tracking: str | None
    replacement_shipment: str | None
    return_to: str | None
    answer_by: datetime | None
    decision_reason: str | None
    requested_by: str
    trusted: bool
    refunded_at: datetime | None
    requested_at: datetime
    updated_at: datetime
    steps: list[CaseStepRead]

    @classmethod
    def of(cls, view: CaseView) -> CaseRead:
        return cls(
            case_id=view.case_id, order_number=view.order_number, kind=view.kind.value,
            status=view.status.value, words=view.words, reason=view.reason,
            items=[CaseItemRead.model_validate(i, from_attributes=True) for i in view.items],
            exchange_sku_id=view.exchange_sku_id, exchange_label=view.exchange_label,
            value_fen=view.value_fen, refund_fen=view.refund_fen,
            return_shipping_fen=view.return_shipping_fen, return_bearer=view.return_bearer.value,
            currency=view.currency, return_shipment=view.return_shipment,
            return_tracking=view.return_tracking, replacement_shipment=view.replacement_shipment,
            return_to=view.return_to, answer_by=view.answer_by,
            decision_reason=view.decision_reason, requested_by=view.requested_by,
            trusted=view.trusted, refunded_at=view.refunded_at, requested_at=view.requested_at,
            updated_at=view.updated_at,
            steps=[CaseStepRead.model_validate(s, from_attributes=True) for s in view.steps],
        )  # fmt: skip
