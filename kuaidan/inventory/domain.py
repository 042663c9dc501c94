"""Stock arithmetic and the stock value type shared with other areas. No I/O."""

from __future__ import annotations

from dataclasses import dataclass

from kuaidan.core.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class StockLevel:
    """Stock of one SKU: ``on_hand`` units in the warehouse, ``reserved`` by open orders."""

    sku_id: int
    on_hand: int
    reserved: int

    @property
    def available(self) -> int:
        """What buyers can still order: on_hand − reserved (never negative)."""
        return self.on_hand - self.reserved

    @property
    def in_stock(self) -> bool:
        return self.available > 0


def check_quantity(value: int, *, field: str = "on_hand") -> int:
    """A stock quantity: a non-negative whole number."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidInput(f"{field} must be a whole number ≥ 0", details={field: value})
    return value
