"""JSON routes for merchant staff: webhook endpoints that receive signed order events."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from kuaidan.accounts.domain import UserInfo
from kuaidan.core.errors import Forbidden
from kuaidan.core.fields import Id
from kuaidan.deps import CsrfProtected, Merchant, Uow
from kuaidan.merchants import service
from kuaidan.merchants.schemas import (
    WebhookCreate,
    WebhookCreated,
    WebhookDeliveryRead,
    WebhookRead,
)

router = APIRouter(prefix="/merchant", tags=["merchant"], dependencies=[CsrfProtected])


def _merchant_id(user: UserInfo) -> int:
    if user.merchant_id is None:
        raise Forbidden("this account is not linked to a merchant")
    return user.merchant_id


@router.get("/webhooks", summary="The merchant's webhook endpoints")
async def list_webhooks(uow: Uow, user: Merchant) -> list[WebhookRead]:
    """Merchant staff only."""
    endpoints = await service.list_webhooks(uow=uow, merchant_id=_merchant_id(user))
    return [WebhookRead.of(e) for e in endpoints]


@router.post("/webhooks", status_code=201, summary="Add a webhook endpoint")
async def create_webhook(
    request: Request, uow: Uow, user: Merchant, body: WebhookCreate
) -> WebhookCreated:
    """Merchant staff only. The signing secret is in this response and never again."""
    settings = request.app.state.container.settings
    info, secret = await service.register_webhook(
        uow=uow,
        merchant_id=_merchant_id(user),
        url=body.url,
        topics=body.topics,
        allow_private=settings.webhook_allow_private,
    )
    return WebhookCreated(**WebhookRead.of(info).model_dump(), secret=secret)


@router.delete("/webhooks/{endpoint_id}", status_code=204, summary="Remove a webhook endpoint")
async def delete_webhook(endpoint_id: Id, uow: Uow, user: Merchant) -> Response:
    """Merchant staff only; another merchant's endpoint is not found."""
    await service.delete_webhook(uow=uow, merchant_id=_merchant_id(user), endpoint_id=endpoint_id)
    return Response(status_code=204)


@router.get("/webhook-deliveries", summary="Recent webhook deliveries and their outcome")
async def list_deliveries(uow: Uow, user: Merchant) -> list[WebhookDeliveryRead]:
    """Merchant staff only: the last 50 deliveries to any of the merchant's endpoints."""
    rows = await service.recent_deliveries(uow=uow, merchant_id=_merchant_id(user))
    return [WebhookDeliveryRead(**row) for row in rows]
