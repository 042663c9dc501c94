"""JSON routes of payments, and the provider's notification endpoint.

The notification endpoint speaks the provider's protocol, not ours: a form-encoded POST
answered with the plain text ``success`` or ``failure``. It carries no cookie and takes no
session, so it sits outside the CSRF check and outside the OpenAPI document of our API.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import PlainTextResponse

from kuaidan import deps
from kuaidan.core.errors import NotFound
from kuaidan.payments import service
from kuaidan.payments.schemas import PaymentRead

MAX_NOTIFICATION_FIELDS = 50


router = APIRouter(tags=["payments"])


@router.post("/payments/notify/sandbox", include_in_schema=False)
async def sandbox_notification(request: Request, uow: deps.Uow) -> PlainTextResponse:
    """The sandbox's asynchronous notification: ``success`` once applied (or already applied)."""
    form = await request.form(max_fields=MAX_NOTIFICATION_FIELDS)
    params = {key: value for key, value in form.items() if isinstance(value, str)}
    if not params.get("sign") or not params.get("notify_id"):
        return PlainTextResponse("failure", status_code=400)
    outcome = await service.handle_notification(uow=uow, params=params)
    if outcome.accepted:
        return PlainTextResponse("success")
    return PlainTextResponse("failure", status_code=400)


@router.get("/payments/{reference}", summary="One of my payments")
async def get_payment(
    reference: Annotated[str, Path(max_length=64)], user: deps.Buyer, uow: deps.Uow
) -> PaymentRead:
    payment = await service.get_payment(uow=uow, reference=reference)
    if payment is None or payment.buyer_id != user.id:
        raise NotFound("no such payment")
    return PaymentRead.model_validate(payment)
