"""SQL on the stock_levels table."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kuaidan.inventory.models import StockLevelRow


async def insert(session: AsyncSession, *, sku_id: int, on_hand: int, now: datetime) -> None:
    session.add(StockLevelRow(sku_id=sku_id, on_hand=on_hand, reserved=0, updated_at=now))
    await session.flush()


async def by_sku_ids(session: AsyncSession, sku_ids: Collection[int]) -> Sequence[StockLevelRow]:
    if not sku_ids:
        return []
    query = (
        select(StockLevelRow)
        .where(StockLevelRow.sku_id.in_(sku_ids))
        .order_by(StockLevelRow.sku_id)
        .execution_options(populate_existing=True)
    )
    rows = await session.scalars(query)
    return rows.all()


async def set_on_hand(session: AsyncSession, *, sku_id: int, on_hand: int, now: datetime) -> bool:
    """Set on_hand unless it would fall below what is reserved; False when nothing changed."""
    result = await session.execute(
        update(StockLevelRow)
        .where(StockLevelRow.sku_id == sku_id, StockLevelRow.reserved <= on_hand)
        .values(on_hand=on_hand, version=StockLevelRow.version + 1, updated_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
