"""JSON routes of payments, and the provider's notification endpoint.

A payment held by risk is verified by its buyer with the one-time code sent to them
(``/verify``; a new code from ``/verification-code``).

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
from kuaidan.payments.schemas import CodeSent, PaymentRead, VerifyRequest, VerifyResult

MAX_NOTIFICATION_FIELDS = 50


router = APIRouter(tags=["payments"])


@router.post("/payments/notify/{provider}", include_in_schema=False)
async def provider_notification(
    provider: Annotated[str, Path(max_length=20)], request: Request, uow: deps.Uow
) -> PlainTextResponse:
    """The configured provider's asynchronous notification: ``success`` once applied (or
    already applied). Another provider's path is 404: only one provider is configured."""
    if provider != service.provider_name(uow=uow):
        return PlainTextResponse("failure", status_code=404)
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


@router.post(
    "/payments/{reference}/verify",
    summary="Verify a held payment with the one-time code",
    dependencies=[deps.CsrfProtected],
)
async def verify_payment(
    reference: Annotated[str, Path(max_length=64)],
    body: VerifyRequest,
    user: deps.Buyer,
    uow: deps.Uow,
) -> VerifyResult:
    """The buyer whose payment risk held for verification: the right code releases it and
    answers with the pay link. A wrong one is 422 ``verification_failed`` with
    ``tries_left``; the last allowed wrong one is 403 ``payment_blocked`` (the orders are
    cancelled). An expired code: ask for a new one. 409 when the payment is not held."""
    started = await service.verify_payment(
        uow=uow, reference=reference, buyer_id=user.id, code=body.code
    )
    return VerifyResult(reference=started.reference, status=started.status, pay_url=started.pay_url)


@router.post(
    "/payments/{reference}/verification-code",
    summary="Send a new one-time code for a held payment",
    dependencies=[deps.CsrfProtected],
)
async def resend_code(
    reference: Annotated[str, Path(max_length=64)], user: deps.Buyer, uow: deps.Uow
) -> CodeSent:
    """The buyer of a payment held for verification: a new code replaces the last one (at most
    five per payment, one a minute: 429 ``rate_limited`` otherwise)."""
    expires_at = await service.resend_code(uow=uow, reference=reference, buyer_id=user.id)
    return CodeSent(reference=reference, expires_at=expires_at)
