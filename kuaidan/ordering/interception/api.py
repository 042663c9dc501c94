"""JSON routes of interception after shipping: the buyer (or an agent for them) asks the
carrier to stop a shipped order's parcel (redirect to a new address, or cancel), and anyone
who may see the order follows the case step by step."""

from __future__ import annotations

from fastapi import APIRouter, status

from kuaidan import deps
from kuaidan.ordering.interception import service as interception
from kuaidan.ordering.interception.domain import (
    InterceptionCause,
    InterceptionKind,
)
from kuaidan.ordering.interception.schemas import (
    InterceptionCreate,
    InterceptionRead,
)

router = APIRouter(tags=["ordering"], dependencies=[deps.CsrfProtected])


@router.post(
    "/orders/{number}/interceptions",
    status_code=status.HTTP_201_CREATED,
    summary="Ask the carrier to stop a shipped parcel (redirect or cancel)",
)
async def request_interception(
    uow: deps.Uow, user: deps.CurrentUser, number: str, body: InterceptionCreate
) -> InterceptionRead:
    """The order's buyer, or an agent/admin on the buyer's behalf (audited). 409
    ``interception_not_allowed`` when the order is not shipped, the parcel is delivered or on
    its way back, or a case or refund is under way; 422 for a bad address; 404 for an order
    the caller cannot see."""
    address = None
    if body.address is not None:
        address = interception.NewAddress(**body.address.model_dump())
    view = await interception.request_interception(
        uow=uow,
        number=number,
        by=user,
        kind=InterceptionKind(body.kind),
        reason=body.reason,
        address=address,
        cause=InterceptionCause(body.cause) if body.cause else None,
    )
    return InterceptionRead.of(view)


@router.get("/orders/{number}/interceptions", summary="The order's interception cases")
async def list_interceptions(
    uow: deps.Uow, user: deps.CurrentUser, number: str
) -> list[InterceptionRead]:
    """Newest first, each with its step, fee and who bears it."""
    views = await interception.list_interceptions(uow=uow, number=number, viewer=user)
    return [InterceptionRead.of(view) for view in views]
