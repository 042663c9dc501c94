"""SQL on the merchants tables: profiles, webhook endpoints and deliveries."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kuaidan.merchants.models import Merchant, WebhookDelivery, WebhookEndpoint


async def add(session: AsyncSession, merchant: Merchant) -> Merchant:
    session.add(merchant)
    await session.flush()
    return merchant


async def by_id(session: AsyncSession, merchant_id: int) -> Merchant | None:
    return await session.get(Merchant, merchant_id)


async def by_slug(session: AsyncSession, slug: str) -> Merchant | None:
    return await session.scalar(select(Merchant).where(Merchant.slug == slug))


# Every placement reads its shops with this, so it is built once.
_BY_IDS = select(Merchant).where(Merchant.id.in_(bindparam("ids", expanding=True)))


async def by_ids(session: AsyncSession, ids: Collection[int]) -> Sequence[Merchant]:
    if not ids:
        return []
    result = await session.scalars(_BY_IDS, {"ids": list(ids)})
    return result.all()


async def page(
    session: AsyncSession, *, status: str | None, offset: int, limit: int
) -> tuple[Sequence[Merchant], int]:
    """One page of merchants, oldest first (id order), and the total count."""
    query = select(Merchant)
    if status is not None:
        query = query.where(Merchant.status == status)
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.scalars(query.order_by(Merchant.id).offset(offset).limit(limit))
    return rows.all(), int(total or 0)


async def set_shipping(
    session: AsyncSession,
    merchant_id: int,
    *,
    province: str | None,
    city: str | None,
    auto_book_carrier: bool,
) -> bool:
    result = await session.execute(
        update(Merchant)
        .where(Merchant.id == merchant_id)
        .values(
            ship_from_province=province, ship_from_city=city, auto_book_carrier=auto_book_carrier
        )
        .execution_options(synchronize_session="fetch")
    )
    return int(getattr(result, "rowcount", 0)) == 1


async def set_return_address(
    session: AsyncSession, merchant_id: int, *, values: dict[str, str | None]
) -> bool:
    """Write the return address's columns (``return_*``) as given; False for no merchant."""
    result = await session.execute(
        update(Merchant)
        .where(Merchant.id == merchant_id)
        .values(**values)
        .execution_options(synchronize_session="fetch")
    )
    return int(getattr(result, "rowcount", 0)) == 1


# --- webhooks ------------------------------------------------------------------------------


async def add_webhook(session: AsyncSession, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    session.add(endpoint)
    await session.flush()
    return endpoint


async def webhooks_of(session: AsyncSession, merchant_id: int) -> Sequence[WebhookEndpoint]:
    rows = await session.scalars(
        select(WebhookEndpoint)
        .where(WebhookEndpoint.merchant_id == merchant_id, WebhookEndpoint.deleted_at.is_(None))
        .order_by(WebhookEndpoint.id)
    )
    return rows.all()


async def webhook(session: AsyncSession, endpoint_id: int) -> WebhookEndpoint | None:
    return await session.get(WebhookEndpoint, endpoint_id)


async def add_deliveries_for(
    session: AsyncSession,
    *,
    merchant_id: int,
    event_id: int,
    topic: str,
    payload: dict[str, Any],
    now: datetime,
) -> list[int]:
    """A pending delivery per active endpoint of the merchant subscribed to ``topic``."""
    endpoints = [
        e for e in await webhooks_of(session, merchant_id) if e.active and topic in e.topics
    ]
    if not endpoints:  # most shops: one read per order event, nothing else
        return []
    already = set(
        (
            await session.scalars(
                select(WebhookDelivery.endpoint_id).where(WebhookDelivery.event_id == event_id)
            )
        ).all()
    )
    created = []
    for endpoint in endpoints:
        if endpoint.id not in already:
            row = WebhookDelivery(
                endpoint_id=endpoint.id,
                event_id=event_id,
                topic=topic,
                payload=payload,
                status="pending",
                attempts=0,
                created_at=now,
            )
            session.add(row)
            created.append(row)
    await session.flush()
    return [row.id for row in created]


async def delivery_with_endpoint(
    session: AsyncSession, delivery_id: int
) -> tuple[WebhookDelivery, WebhookEndpoint] | None:
    row = (
        await session.execute(
            select(WebhookDelivery, WebhookEndpoint)
            .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
            .where(WebhookDelivery.id == delivery_id)
        )
    ).first()
    return None if row is None else (row[0], row[1])


async def record_attempt(
    session: AsyncSession,
    delivery_id: int,
    *,
    status: str,
    status_code: int | None,
    error: str | None,
    now: datetime,
) -> None:
    await session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id)
        .values(
            status=status,
            attempts=WebhookDelivery.attempts + 1,
            last_status_code=status_code,
            last_error=error,
            sent_at=now if status == "sent" else None,
        )
    )


async def deliveries_of(
    session: AsyncSession, merchant_id: int, *, limit: int
) -> Sequence[WebhookDelivery]:
    rows = await session.scalars(
        select(WebhookDelivery)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(WebhookEndpoint.merchant_id == merchant_id)
        .order_by(WebhookDelivery.id.desc())
        .limit(limit)
    )
    return rows.all()
