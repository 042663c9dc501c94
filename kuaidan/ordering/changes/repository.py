"""SQL on the changes before shipping. Nothing here commits."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kuaidan.ordering.changes.models import OrderChange


async def add(session: AsyncSession, *rows: Any) -> None:
    session.add_all(rows)
    await session.flush()


async def changes_of(session: AsyncSession, order_id: int) -> list[OrderChange]:
    rows = await session.scalars(
        select(OrderChange)
        .where(OrderChange.order_id == order_id)
        .order_by(OrderChange.id)
        .execution_options(populate_existing=True)
    )
    return list(rows.all())


async def get_change(session: AsyncSession, change_id: int) -> OrderChange | None:
    return await session.get(OrderChange, change_id, populate_existing=True)


async def change_by_request(
    session: AsyncSession, order_id: int, request_id: str
) -> OrderChange | None:
    return await session.scalar(
        select(OrderChange).where(
            OrderChange.order_id == order_id, OrderChange.request_id == request_id
        )
    )


async def change_by_payment(session: AsyncSession, reference: str) -> OrderChange | None:
    return await session.scalar(
        select(OrderChange).where(OrderChange.payment_reference == reference)
    )


async def set_change(session: AsyncSession, change_id: int, values: dict[str, Any]) -> None:
    await session.execute(update(OrderChange).where(OrderChange.id == change_id).values(**values))


async def due_changes(
    session: AsyncSession, *, status: str, before: datetime, limit: int
) -> list[tuple[int, int]]:
    """(change id, order id) of changes in ``status`` requested before ``before``, oldest first."""
    rows = await session.execute(
        select(OrderChange.id, OrderChange.order_id)
        .where(OrderChange.status == status, OrderChange.requested_at < before)
        .order_by(OrderChange.requested_at, OrderChange.id)
        .limit(limit)
    )
    return [(int(a), int(b)) for a, b in rows.all()]
