"""Request and response models of the changes' JSON routes (``extra="forbid"``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field

from kuaidan.core.fields import Id, MultilineText, Quantity, RequestBody, ResponseBody, Text
from kuaidan.ordering.changes.domain import ChangeInfo

RequestId = Annotated[
    Text, Field(min_length=1, max_length=64, description="The client's id of this submission.")
]


class AddressChangeCreate(RequestBody):
    address_id: Id = Field(description="One of the buyer's addresses.")
    request_id: RequestId


class LineChangeCreate(RequestBody):
    """Swap (``new_sku_id``: another colour/size of the same product) and/or ``quantity``."""

    sku_id: Id = Field(description="The line's SKU now.")
    new_sku_id: Id | None = None
    quantity: Quantity | None = Field(None, description="1 to 99.")
    request_id: RequestId


class ChangeDecision(RequestBody):
    approve: bool
    reason: MultilineText = Field("", max_length=200)


class ChangeRead(ResponseBody):
    id: int
    order_number: str
    kind: str
    status: str
    summary: str
    requested_by_role: str
    difference_fen: int
    refund_request_no: str | None
    reason: str | None
    requested_at: datetime
    decided_at: datetime | None
    applied_at: datetime | None
    payment_reference: str | None
    pay_url: str | None = Field(description="While awaiting payment: the provider's page.")

    @classmethod
    def of(cls, info: ChangeInfo) -> ChangeRead:
        return cls(
            id=info.id,
            order_number=info.order_number,
            kind=info.kind.value,
            status=info.status.value,
            summary=info.summary,
            requested_by_role=info.requested_by_role,
            difference_fen=info.difference_fen,
            refund_request_no=info.refund_request_no,
            reason=info.reason,
            requested_at=info.requested_at,
            decided_at=info.decided_at,
            applied_at=info.applied_at,
            payment_reference=info.payment_reference,
            pay_url=info.pay_url,
        )
