"""Inventory use cases: stock levels per SKU (reservations arrive with ordering).

Writes open ``uow.atomic()`` (joining the caller's transaction); reads take no write lock.
"""

from __future__ import annotations

from collections.abc import Collection

from kuaidan.core.db import UnitOfWork
from kuaidan.core.errors import Conflict, NotFound
from kuaidan.inventory import repository
from kuaidan.inventory.domain import StockLevel, check_quantity
from kuaidan.inventory.models import StockLevelRow


def _level(row: StockLevelRow) -> StockLevel:
    return StockLevel(sku_id=row.sku_id, on_hand=row.on_hand, reserved=row.reserved)


async def create_stock(*, uow: UnitOfWork, sku_id: int, on_hand: int) -> StockLevel:
    """Start keeping stock for a new SKU."""
    check_quantity(on_hand)
    async with uow.atomic():
        await repository.insert(uow.session, sku_id=sku_id, on_hand=on_hand, now=uow.now())
        return StockLevel(sku_id=sku_id, on_hand=on_hand, reserved=0)


async def get_levels(*, uow: UnitOfWork, sku_ids: Collection[int]) -> dict[int, StockLevel]:
    """Stock of the given SKUs; SKUs without a stock row are absent."""
    rows = await repository.by_sku_ids(uow.session, set(sku_ids))
    return {row.sku_id: _level(row) for row in rows}


async def set_on_hand(*, uow: UnitOfWork, sku_id: int, on_hand: int) -> StockLevel:
    """Set the counted stock; it may not drop below the units already reserved (Conflict)."""
    check_quantity(on_hand)
    async with uow.atomic():
        changed = await repository.set_on_hand(
            uow.session, sku_id=sku_id, on_hand=on_hand, now=uow.now()
        )
        rows = await repository.by_sku_ids(uow.session, [sku_id])
        if not rows:
            raise NotFound(f"no stock is kept for SKU {sku_id}")
        level = _level(rows[0])
        if not changed:
            raise Conflict(
                f"on_hand {on_hand} is below the {level.reserved} units reserved for open orders",
                details={"sku_id": sku_id, "reserved": level.reserved},
            )
        return level
