"""SQL on the interception cases. Nothing here commits."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kuaidan.ordering.interception.models import OrderInterception


async def add(session: AsyncSession, *rows: Any) -> None:
    session.add_all(rows)
    await session.flush()


async def interceptions_of(session: AsyncSession, order_id: int) -> list[OrderInterception]:
    """The order's interception cases, oldest first."""
    rows = await session.scalars(
        select(OrderInterception)
        .where(OrderInterception.order_id == order_id)
        .order_by(OrderInterception.id)
        .execution_options(populate_existing=True)
    )
    return list(rows.all())


async def interception_for_shipment(
    session: AsyncSession, *, reference: str
) -> OrderInterception | None:
    """The latest case that stopped (or tried to stop) parcel ``reference``."""
    return await session.scalar(
        select(OrderInterception)
        .where(OrderInterception.old_shipment == reference)
        .order_by(OrderInterception.id.desc())
        .limit(1)
        .execution_options(populate_existing=True)
    )


async def change_interception(
    session: AsyncSession, *, case_id: int, status: str, values: dict[str, Any]
) -> bool:
    """Apply ``values`` only if the case is still at ``status`` (one of two racers wins)."""
    result = await session.execute(
        update(OrderInterception)
        .where(OrderInterception.id == case_id, OrderInterception.status == status)
        .values(**values)
        .execution_options(synchronize_session="fetch")
    )
    return int(getattr(result, "rowcount", 0)) == 1
