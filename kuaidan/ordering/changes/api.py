"""JSON routes of changes before shipping: the buyer (or an agent on the buyer's behalf)
changes the delivery address, swaps a line's colour/size or changes its quantity; the
merchant marks packing started and approves or rejects the changes asked for after it.

Every change carries a ``request_id`` (the client's id of the submission): sending the same
one again answers the first change instead of changing the order twice.
"""

from __future__ import annotations

from fastapi import APIRouter, status

from kuaidan import deps
from kuaidan.core.fields import Id
from kuaidan.ordering.changes import service
from kuaidan.ordering.changes.schemas import (
    AddressChangeCreate,
    ChangeDecision,
    ChangeRead,
    LineChangeCreate,
)

router = APIRouter(tags=["ordering: changes"], dependencies=[deps.CsrfProtected])


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
