"""Merchant use cases: merchant profiles, and webhook endpoints that receive order events.

Writes open ``uow.atomic()``. Reads take no write lock: they join the caller's transaction
when there is one, and otherwise run in the session's implicit read transaction.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Collection
from typing import Any, Protocol

from sqlalchemy.exc import IntegrityError

from kuaidan.core.db import UnitOfWork
from kuaidan.core.errors import Conflict, NotFound
from kuaidan.core.outbox import publish
from kuaidan.core.pagination import PageOf, PageRequest
from kuaidan.merchants import repository
from kuaidan.merchants.domain import (
    DEFAULT_CREDIT_SCORE,
    MAX_WEBHOOKS_PER_MERCHANT,
    SIGNATURE_HEADER,
    MerchantInfo,
    MerchantStatus,
    ReturnAddress,
    ShippingSettings,
    WebhookEndpointInfo,
    check_name,
    check_return_address,
    check_shipping,
    check_slug,
    check_webhook_topics,
    check_webhook_url,
    webhook_signature,
)
from kuaidan.merchants.events import WebhookDue
from kuaidan.merchants.models import Merchant, WebhookEndpoint


def _info(row: Merchant) -> MerchantInfo:
    return MerchantInfo(
        id=row.id,
        slug=row.slug,
        name=row.name,
        name_en=row.name_en,
        description=row.description,
        logo_path=row.logo_path,
        status=MerchantStatus(row.status),
        credit_score=row.credit_score,
        created_at=row.created_at,
        ship_from_province=row.ship_from_province,
        ship_from_city=row.ship_from_city,
        auto_book_carrier=row.auto_book_carrier,
    )


async def create_merchant(
    *, uow: UnitOfWork, slug: str, name: str, name_en: str, description: str = ""
) -> MerchantInfo:
    """Open a new, active merchant; a taken slug is a Conflict."""
    slug = check_slug(slug)
    row = Merchant(
        slug=slug,
        name=check_name(name, field="name"),
        name_en=check_name(name_en, field="name_en"),
        description=description.strip(),
        status=MerchantStatus.ACTIVE.value,
        credit_score=DEFAULT_CREDIT_SCORE,
        created_at=uow.now(),
    )
    async with uow.atomic():
        if await repository.by_slug(uow.session, slug) is not None:
            raise Conflict(f"the merchant slug {slug!r} is taken", details={"slug": slug})
        try:
            await repository.add(uow.session, row)
        except IntegrityError as exc:  # a concurrent insert won the race
            raise Conflict(f"the merchant slug {slug!r} is taken") from exc
        return _info(row)


async def get_merchant(*, uow: UnitOfWork, merchant_id: int) -> MerchantInfo:
    row = await repository.by_id(uow.session, merchant_id)
    if row is None:
        raise NotFound(f"no merchant {merchant_id}")
    return _info(row)


async def get_merchant_by_slug(*, uow: UnitOfWork, slug: str) -> MerchantInfo | None:
    row = await repository.by_slug(uow.session, slug)
    return _info(row) if row is not None else None


async def get_merchants(*, uow: UnitOfWork, ids: Collection[int]) -> dict[int, MerchantInfo]:
    """The merchants with the given ids (unknown ids are simply absent)."""
    rows = await repository.by_ids(uow.session, set(ids))
    return {row.id: _info(row) for row in rows}


async def list_merchants(
    *,
    uow: UnitOfWork,
    page: PageRequest,
    status: MerchantStatus | None = MerchantStatus.ACTIVE,
) -> PageOf[MerchantInfo]:
    """Merchants in id order; by default only active ones (what buyers may see)."""
    rows, total = await repository.page(
        uow.session, status=status.value if status else None, offset=page.offset, limit=page.size
    )
    return PageOf([_info(r) for r in rows], total=total, page=page.page, size=page.size)


async def get_shipping_settings(*, uow: UnitOfWork, merchant_id: int) -> ShippingSettings:
    info = await get_merchant(uow=uow, merchant_id=merchant_id)
    return ShippingSettings(info.ship_from_province, info.ship_from_city, info.auto_book_carrier)


async def set_shipping_settings(
    *, uow: UnitOfWork, merchant_id: int, settings: ShippingSettings
) -> ShippingSettings:
    """Change where the merchant ships from and whether paid orders book a carrier at once.
    The caller passes the place already named as logistics names places."""
    clean = check_shipping(settings)
    async with uow.atomic():
        changed = await repository.set_shipping(
            uow.session,
            merchant_id,
            province=clean.province,
            city=clean.city,
            auto_book_carrier=clean.auto_book_carrier,
        )
        if not changed:
            raise NotFound(f"no merchant {merchant_id}")
    return clean


# --- the return address --------------------------------------------------------------------

# Cipher contexts of the return address's personal parts, one per column.
RETURN_CONTEXTS = {
    "recipient": "merchants.return_recipient",
    "phone": "merchants.return_phone",
    "line": "merchants.return_line",
}


async def get_return_address(*, uow: UnitOfWork, merchant_id: int) -> ReturnAddress | None:
    """Where the shop wants returned parcels sent; None until it sets one."""
    row = await repository.by_id(uow.session, merchant_id)
    if row is None:
        raise NotFound(f"no merchant {merchant_id}")
    sealed = [getattr(row, f"return_{part}_enc") for part in RETURN_CONTEXTS]
    if row.return_province is None or row.return_city is None or None in sealed:
        return None
    opened = {
        part: uow.cipher.decrypt(value, context=context)
        for (part, context), value in zip(RETURN_CONTEXTS.items(), sealed, strict=True)
    }
    return ReturnAddress(province=row.return_province, city=row.return_city, **opened)


async def set_return_address(
    *, uow: UnitOfWork, merchant_id: int, address: ReturnAddress
) -> ReturnAddress:
    """Replace the shop's return address. The caller passes the place already named as
    logistics names places; recipient, phone and street line are stored encrypted."""
    clean = check_return_address(address)
    values: dict[str, str | None] = {
        f"return_{part}_enc": uow.cipher.encrypt(getattr(clean, part), context=context)
        for part, context in RETURN_CONTEXTS.items()
    }
    values.update(return_province=clean.province, return_city=clean.city)
    async with uow.atomic():
        if not await repository.set_return_address(uow.session, merchant_id, values=values):
            raise NotFound(f"no merchant {merchant_id}")
    return clean


# --- webhooks ------------------------------------------------------------------------------


class WebhookSender(Protocol):
    async def send(self, url: str, body: bytes, headers: dict[str, str]) -> int: ...


CIPHER_CONTEXT = "merchant_webhooks.secret"


def _endpoint_info(row: WebhookEndpoint) -> WebhookEndpointInfo:
    return WebhookEndpointInfo(
        id=row.id,
        merchant_id=row.merchant_id,
        url=row.url,
        topics=tuple(row.topics),
        active=row.active,
        created_at=row.created_at,
    )


async def register_webhook(
    *, uow: UnitOfWork, merchant_id: int, url: str, topics: list[str], allow_private: bool
) -> tuple[WebhookEndpointInfo, str]:
    """Add an endpoint; returns it and its signing secret, which is shown this once."""
    clean_url = check_webhook_url(url, allow_private=allow_private)
    clean_topics = check_webhook_topics(topics)
    secret = "whsec_" + secrets.token_urlsafe(32)
    async with uow.atomic():
        await get_merchant(uow=uow, merchant_id=merchant_id)
        if len(await repository.webhooks_of(uow.session, merchant_id)) >= MAX_WEBHOOKS_PER_MERCHANT:
            raise Conflict(f"at most {MAX_WEBHOOKS_PER_MERCHANT} webhook endpoints per merchant")
        row = await repository.add_webhook(
            uow.session,
            WebhookEndpoint(
                merchant_id=merchant_id,
                url=clean_url,
                secret_enc=uow.cipher.encrypt(secret, context=CIPHER_CONTEXT),
                topics=list(clean_topics),
                active=True,
                created_at=uow.now(),
            ),
        )
        return _endpoint_info(row), secret


async def list_webhooks(*, uow: UnitOfWork, merchant_id: int) -> list[WebhookEndpointInfo]:
    return [_endpoint_info(r) for r in await repository.webhooks_of(uow.session, merchant_id)]


async def delete_webhook(*, uow: UnitOfWork, merchant_id: int, endpoint_id: int) -> None:
    async with uow.atomic():
        row = await repository.webhook(uow.session, endpoint_id)
        if row is None or row.merchant_id != merchant_id or row.deleted_at is not None:
            raise NotFound("no such webhook endpoint")
        row.deleted_at, row.active = uow.now(), False


async def enqueue_webhooks(
    *, uow: UnitOfWork, event_id: int, topic: str, payload: dict[str, Any]
) -> int:
    """For an order event: one delivery per subscribed endpoint of the order's merchant."""
    merchant_id = payload.get("merchant_id")
    if not isinstance(merchant_id, int):
        return 0
    async with uow.atomic():
        ids = await repository.add_deliveries_for(
            uow.session,
            merchant_id=merchant_id,
            event_id=event_id,
            topic=topic,
            payload=payload,
            now=uow.now(),
        )
        for delivery_id in ids:
            await publish(uow, WebhookDue(delivery_id=delivery_id))
        return len(ids)


async def send_webhook(*, uow: UnitOfWork, delivery_id: int, sender: WebhookSender) -> bool:
    """Send one delivery with no transaction open; record the attempt; raise to be retried."""
    found = await repository.delivery_with_endpoint(uow.session, delivery_id)
    if found is None:
        return False
    delivery, endpoint = found
    if delivery.status == "sent" or not endpoint.active:
        return False
    body = json.dumps(
        {"id": delivery.event_id, "type": delivery.topic, "data": delivery.payload},
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()
    secret = uow.cipher.decrypt(endpoint.secret_enc, context=CIPHER_CONTEXT)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "kuaidan-webhooks/1",
        "Kuaidan-Event-Id": str(delivery.event_id),
        "Kuaidan-Event-Type": delivery.topic,
        SIGNATURE_HEADER: webhook_signature(secret, int(uow.now().timestamp()), body),
    }
    url = endpoint.url
    await uow.session.commit()  # end the read: no transaction stays open during the call
    try:
        code = await sender.send(url, body, headers)
    except Exception as exc:
        status_code = getattr(exc, "status_code", None)
        await _record(uow, delivery_id, "pending", status_code, str(exc))
        raise
    await _record(uow, delivery_id, "sent", code, None)
    return True


async def _record(
    uow: UnitOfWork, delivery_id: int, status: str, code: int | None, error: str | None
) -> None:
    async with uow.atomic():
        await repository.record_attempt(
            uow.session, delivery_id, status=status, status_code=code, error=error, now=uow.now()
        )


async def recent_deliveries(
    *, uow: UnitOfWork, merchant_id: int, limit: int = 50
) -> list[dict[str, Any]]:
    rows = await repository.deliveries_of(uow.session, merchant_id, limit=limit)
    return [
        {
            "id": r.id,
            "endpoint_id": r.endpoint_id,
            "event_id": r.event_id,
            "topic": r.topic,
            "status": r.status,
            "attempts": r.attempts,
            "last_status_code": r.last_status_code,
            "last_error": r.last_error,
            "created_at": r.created_at,
            "sent_at": r.sent_at,
        }
        for r in rows
    ]
