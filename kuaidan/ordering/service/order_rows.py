"""The order as ordering's sub-areas (after-sales, changes, interception) reach it: found by
its number for a viewer, locked, read again, its lines, its fields beside the status, its
timeline and its status moved through the state machine. They never import the core's models
or repository: this module is their door, and every call joins the caller's transaction."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from kuaidan.core.db import UnitOfWork
from kuaidan.ordering import repository
from kuaidan.ordering.models import Order, OrderLine
from kuaidan.ordering.readmodels import AddressSnapshot
from kuaidan.ordering.service._common import (
    actor_of,
    add_timeline,
    address_of,
    address_snapshot,
    change_status,
    number_of,
    order_reference,
    refresh_products,
    visible_order,
)


async def lock_order(uow: UnitOfWork, order_id: int) -> Order | None:
    """The order row, locked until the transaction ends (changes and shipping both take it)."""
    return await repository.lock_order(uow.session, order_id)


async def get_order(uow: UnitOfWork, order_id: int) -> Order | None:
    """The order row as the database has it now."""
    return await repository.get_order(uow.session, order_id)


async def orders_by_id(uow: UnitOfWork, order_ids: Collection[int]) -> dict[int, Order]:
    """Orders by id, in one query (queues of cases show each case's order)."""
    return await repository.orders_by_id(uow.session, order_ids)


async def lines_of(uow: UnitOfWork, order_ids: Collection[int]) -> dict[int, list[OrderLine]]:
    return await repository.lines_of(uow.session, order_ids)


async def change_order(
    uow: UnitOfWork, *, order_id: int, status: str, version: int, values: dict[str, Any]
) -> bool:
    """Apply ``values`` only if the order is still at ``status``/``version``; bump the version."""
    return await repository.change_order(
        uow.session, order_id=order_id, status=status, version=version, values=values
    )


async def set_order_fields(uow: UnitOfWork, order_id: int, values: dict[str, Any]) -> None:
    """Fields beside the status (address, refund bookkeeping); never the status itself."""
    await repository.set_order_fields(uow.session, order_id, values)


async def set_line(uow: UnitOfWork, line_id: int, values: dict[str, Any]) -> None:
    await repository.set_line(uow.session, line_id, values)


async def completed_orders_of(uow: UnitOfWork, *, buyer_id: int) -> int:
    """How many of the buyer's orders are completed (after-sales trust)."""
    return await repository.completed_orders_of(uow.session, buyer_id=buyer_id)


__all__ = [
    "AddressSnapshot",
    "Order",
    "OrderLine",
    "actor_of",
    "add_timeline",
    "address_of",
    "address_snapshot",
    "change_order",
    "change_status",
    "completed_orders_of",
    "get_order",
    "lines_of",
    "lock_order",
    "number_of",
    "order_reference",
    "orders_by_id",
    "refresh_products",
    "set_line",
    "set_order_fields",
    "visible_order",
]
