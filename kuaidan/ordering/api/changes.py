"""JSON routes of changes before shipping: the buyer (or an agent on the buyer's behalf)
changes the delivery address, swaps a line's colour/size or changes its quantity; the
merchant marks packing started and approves or rejects the changes asked for after it.

Every change carries a ``request_id`` (the client's id of the submission): sending the same
one again answers the first change instead of changing the order twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, status
from pydantic import Field

from kuaidan import deps
from kuaidan.core.fields import Id, MultilineText, Quantity, RequestBody, Text
from kuaidan.ordering import service
from kuaidan.ordering.domain.changes import ChangeInfo
from kuaidan.ordering.schemas import Strict

router = APIRouter(tags=["ordering: changes"], dependencies=[deps.CsrfProtected])

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


class ChangeRead(Strict):
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


@router.get("/orders/{number}/changes", summary="The order's changes before shipping")
async def list_changes(uow: deps.Uow, user: deps.CurrentUser, number: str) -> list[ChangeRead]:
    return [ChangeRead.of(c) for c in await service.list_changes(uow=uow, number=number, by=user)]


@router.post(
    "/orders/{number}/changes/address",
    status_code=status.HTTP_201_CREATED,
    summary="Deliver to another address",
)
async def change_address(
    uow: deps.Uow, user: deps.CurrentUser, number: str, body: AddressChangeCreate
) -> ChangeRead:
    """Buyer or agent, before shipping, at most 5 times. 409 ``change_not_allowed`` once
    shipped or cancelled, ``change_limit_reached`` past the limit."""
    info = await service.change_address(
        uow=uow, number=number, by=user, address_id=body.address_id, request_id=body.request_id
    )
    return ChangeRead.of(info)


@router.post(
    "/orders/{number}/changes/line",
    status_code=status.HTTP_201_CREATED,
    summary="Swap a line's colour/size or change its quantity",
)
async def change_line(
    uow: deps.Uow, user: deps.CurrentUser, number: str, body: LineChangeCreate
) -> ChangeRead:
    """New stock is reserved and the old released in one transaction, or nothing changes:
    409 ``out_of_stock`` / ``purchase_limit``, 422 ``not_same_product`` for another product's
    SKU, 409 ``change_amount_unpaid`` for a change of amount before the order is paid. A
    dearer change of a paid order is ``awaiting_payment`` with ``pay_url``: it is applied when
    the extra payment succeeds, and fails if it is not made within the payment window."""
    info = await service.change_line(
        uow=uow, number=number, by=user, sku_id=body.sku_id, new_sku_id=body.new_sku_id,
        quantity=body.quantity, request_id=body.request_id,
    )  # fmt: skip
    return ChangeRead.of(info)


@router.post(
    "/merchant/orders/{number}/packing",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Mark packing started",
)
async def start_packing(uow: deps.Uow, staff: deps.Merchant, number: str) -> None:
    """After it, changes wait for the shop's approval (automatic after the configured hours)."""
    await service.start_packing(uow=uow, number=number, by=staff)


@router.post(
    "/merchant/orders/{number}/changes/{change_id}/decision",
    summary="Approve or reject a pending change",
)
async def decide_change(
    uow: deps.Uow, staff: deps.Merchant, number: str, change_id: Id, body: ChangeDecision
) -> ChangeRead:
    info = await service.decide_change(
        uow=uow, number=number, change_id=change_id, by=staff, approve=body.approve,
        reason=body.reason,
    )  # fmt: skip
    return ChangeRead.of(info)
