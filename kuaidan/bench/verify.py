"""After a flash sale, the database is asked what really happened: orders, stock, invariants."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text

from kuaidan.bootstrap import Container
from kuaidan.inventory import service as inventory


@dataclass(frozen=True, slots=True)
class SaleCheck:
    """The database's account of a flash sale of ``stock`` units."""

    stock: int
    orders_in_db: int
    units_reserved: int
    on_hand: int
    acknowledged: int
    missing: list[str]
    audit: list[str]

    @property
    def oversold(self) -> int:
        return max(0, self.units_reserved - self.stock, self.orders_in_db - self.stock)

    @property
    def problems(self) -> list[str]:
        found = list(self.audit)
        if self.oversold:
            found.append(f"oversold by {self.oversold}")
        if self.missing:
            found.append(f"{len(self.missing)} acknowledged orders are missing")
        if self.acknowledged != self.orders_in_db:
            found.append(
                f"{self.acknowledged} acknowledged but {self.orders_in_db} in the database"
            )
        return found


ORDERS_OF_SKU = text("SELECT count(DISTINCT l.order_id) FROM order_lines l WHERE l.sku_id = :sku")


async def check_sale(
    container: Container, *, sku_id: int, stock: int, acknowledged: int, missing: list[str]
) -> SaleCheck:
    uow = container.unit_of_work()
    try:
        orders = int((await uow.session.execute(ORDERS_OF_SKU, {"sku": sku_id})).scalar() or 0)
        level = (await inventory.get_levels(uow=uow, sku_ids=[sku_id]))[sku_id]
        problems = await inventory.audit(uow=uow, sku_ids=[sku_id])
        return SaleCheck(
            stock=stock,
            orders_in_db=orders,
            units_reserved=level.reserved,
            on_hand=level.on_hand,
            acknowledged=acknowledged,
            missing=missing,
            audit=problems,
        )
    finally:
        await uow.close()
