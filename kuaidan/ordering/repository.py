"""SQL on the ordering tables: carts, idempotency keys, checkouts, orders, lines, timeline.

Nothing here commits. A change of an order's status is one conditional UPDATE on
``(id, status, version)``, so of two racing changes exactly one matches.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Table,
    bindparam,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from kuaidan.ordering.domain import PARCEL_HELD_ACTIONS, PARCEL_RELEASED_ACTIONS
from kuaidan.ordering.models import (
    Cart,
    CartItem,
    Checkout,
    IdempotencyKey,
    Order,
    OrderEvent,
    OrderLine,
)

# --- carts ---------------------------------------------------------------------------------


async def find_cart(
    session: AsyncSession, *, buyer_id: int | None = None, guest_key_hash: str | None = None
) -> Cart | None:
    if buyer_id is not None:
        return await session.scalar(select(Cart).where(Cart.buyer_id == buyer_id))
    return await session.scalar(select(Cart).where(Cart.guest_key_hash == guest_key_hash))


async def create_cart(
    session: AsyncSession, *, buyer_id: int | None, guest_key_hash: str | None, now: datetime
) -> Cart:
    """Insert the cart, or return the one a concurrent request inserted first."""
    row = Cart(buyer_id=buyer_id, guest_key_hash=guest_key_hash, created_at=now, updated_at=now)
    try:
        async with session.begin_nested():
            session.add(row)
    except IntegrityError:
        found = await find_cart(session, buyer_id=buyer_id, guest_key_hash=guest_key_hash)
        if found is None:
            raise
        return found
    return row


async def cart_items(session: AsyncSession, cart_id: int) -> list[CartItem]:
    rows = await session.scalars(
        select(CartItem).where(CartItem.cart_id == cart_id).order_by(CartItem.id)
    )
    return list(rows.all())


async def add_cart_item(session: AsyncSession, item: CartItem) -> None:
    session.add(item)
    await session.flush()


async def delete_cart_items(session: AsyncSession, cart_id: int, sku_ids: Collection[int]) -> int:
    result = await session.execute(
        delete(CartItem).where(CartItem.cart_id == cart_id, CartItem.sku_id.in_(list(sku_ids)))
    )
    return int(getattr(result, "rowcount", 0))


async def touch_cart(session: AsyncSession, cart_id: int, now: datetime) -> None:
    await session.execute(update(Cart).where(Cart.id == cart_id).values(updated_at=now))


async def delete_cart(session: AsyncSession, cart_id: int) -> None:
    await session.execute(delete(CartItem).where(CartItem.cart_id == cart_id))
    await session.execute(delete(Cart).where(Cart.id == cart_id))


async def prune_guest_carts(session: AsyncSession, *, idle_since: datetime) -> int:
    stale = select(Cart.id).where(Cart.guest_key_hash.is_not(None), Cart.updated_at < idle_since)
    await session.execute(delete(CartItem).where(CartItem.cart_id.in_(stale)))
    result = await session.execute(
        delete(Cart).where(Cart.guest_key_hash.is_not(None), Cart.updated_at < idle_since)
    )
    return int(getattr(result, "rowcount", 0))


# --- idempotency keys ----------------------------------------------------------------------


# Every placement asks first (nearly always in vain), so the read is built once.
_IDEMPOTENCY_KEY = (
    select(IdempotencyKey)
    .where(IdempotencyKey.buyer_id == bindparam("buyer_id"), IdempotencyKey.key == bindparam("key"))
    .execution_options(populate_existing=True)
)


async def get_idempotency_key(
    session: AsyncSession, buyer_id: int, key: str
) -> IdempotencyKey | None:
    """The stored key, read afresh from the database (a concurrent placement may have set it)."""
    return await session.scalar(_IDEMPOTENCY_KEY, {"buyer_id": buyer_id, "key": key})


async def add_idempotency_key(session: AsyncSession, row: IdempotencyKey) -> None:
    """Flushed at once: a concurrent request with the same key waits here, then fails."""
    session.add(row)
    await session.flush()


async def prune_idempotency_keys(session: AsyncSession, *, now: datetime) -> int:
    result = await session.execute(delete(IdempotencyKey).where(IdempotencyKey.expires_at < now))
    return int(getattr(result, "rowcount", 0))


# --- placement: Core statements on the hot path --------------------------------------------
# A placement writes its key, checkout, orders, lines and first timeline rows and reads none of
# them back; Core statements cost a fraction of the ORM's unit of work for the same SQL. Each is
# built once, with bound parameters: building a statement and its cache key on every call costs
# about as much as running it.

IDEMPOTENCY_KEYS: Table = IdempotencyKey.__table__  # type: ignore[assignment]
CHECKOUTS: Table = Checkout.__table__  # type: ignore[assignment]
ORDERS: Table = Order.__table__  # type: ignore[assignment]
ORDER_LINES: Table = OrderLine.__table__  # type: ignore[assignment]
ORDER_EVENTS: Table = OrderEvent.__table__  # type: ignore[assignment]

_INSERT_KEY = insert(IDEMPOTENCY_KEYS)
# The WHERE parameters are named apart from the columns: a parameter named like a column of an
# UPDATE sets that column.
_SET_KEY_CHECKOUT = update(IDEMPOTENCY_KEYS).where(
    IDEMPOTENCY_KEYS.c.buyer_id == bindparam("where_buyer_id"),
    IDEMPOTENCY_KEYS.c.key == bindparam("where_key"),
)
_INSERT_CHECKOUT = insert(CHECKOUTS).returning(CHECKOUTS.c.id)
_SET_CHECKOUT_PAYMENT = update(CHECKOUTS).where(CHECKOUTS.c.id == bindparam("checkout_id"))
_INSERT_ORDERS = insert(ORDERS).returning(ORDERS.c.id, sort_by_parameter_order=True)
_INSERT_LINES = insert(ORDER_LINES)
_INSERT_TIMELINE = insert(ORDER_EVENTS)


async def insert_idempotency_key(session: AsyncSession, values: dict[str, Any]) -> None:
    """At once: a concurrent request with the same key waits here, then fails."""
    await session.execute(_INSERT_KEY, values)


async def set_idempotency_checkout(
    session: AsyncSession, *, buyer_id: int, key: str, checkout_id: int
) -> None:
    await session.execute(
        _SET_KEY_CHECKOUT,
        {"where_buyer_id": buyer_id, "where_key": key, "checkout_id": checkout_id},
    )


async def insert_checkout(session: AsyncSession, values: dict[str, Any]) -> int:
    """The new checkout's id."""
    result = await session.execute(_INSERT_CHECKOUT, values)
    return int(result.scalar_one())


async def set_checkout_payment(
    session: AsyncSession, checkout_id: int, *, payment_id: int, pay_url: str | None
) -> None:
    await session.execute(
        _SET_CHECKOUT_PAYMENT,
        {"checkout_id": checkout_id, "payment_id": payment_id, "pay_url": pay_url},
    )


async def insert_orders(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> list[int]:
    """One statement for all ``rows``; their ids in the same order."""
    result = await session.execute(_INSERT_ORDERS, list(rows))
    return [int(order_id) for order_id in result.scalars()]


async def insert_lines(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    await session.execute(_INSERT_LINES, list(rows))


async def insert_timeline(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    await session.execute(_INSERT_TIMELINE, list(rows))


# --- checkouts and orders ------------------------------------------------------------------


async def add(session: AsyncSession, *rows: Any) -> None:
    session.add_all(rows)
    await session.flush()


async def get_checkout(session: AsyncSession, checkout_id: int) -> Checkout | None:
    return await session.get(Checkout, checkout_id)


async def checkout_by_reference(session: AsyncSession, reference: str) -> Checkout | None:
    found = await session.execute(select(Checkout).where(Checkout.reference == reference))
    return found.scalar_one_or_none()


async def get_order(session: AsyncSession, order_id: int) -> Order | None:
    return await session.get(Order, order_id, populate_existing=True)


async def orders_of_checkout(session: AsyncSession, checkout_id: int) -> list[Order]:
    rows = await session.scalars(
        select(Order)
        .where(Order.checkout_id == checkout_id)
        .order_by(Order.id)
        .execution_options(populate_existing=True)
    )
    return list(rows.all())


async def lines_of(session: AsyncSession, order_ids: Collection[int]) -> dict[int, list[OrderLine]]:
    by_order: dict[int, list[OrderLine]] = {order_id: [] for order_id in order_ids}
    if not by_order:
        return by_order
    rows = await session.scalars(
        select(OrderLine).where(OrderLine.order_id.in_(list(by_order))).order_by(OrderLine.id)
    )
    for row in rows:
        by_order[row.order_id].append(row)
    return by_order


async def timeline_of(session: AsyncSession, order_id: int) -> list[OrderEvent]:
    return (await timelines_of(session, [order_id]))[order_id]


async def timelines_of(
    session: AsyncSession, order_ids: Collection[int]
) -> dict[int, list[OrderEvent]]:
    by_order: dict[int, list[OrderEvent]] = {order_id: [] for order_id in order_ids}
    if not by_order:
        return by_order
    rows = await session.scalars(
        select(OrderEvent).where(OrderEvent.order_id.in_(list(by_order))).order_by(OrderEvent.id)
    )
    for row in rows:
        by_order[row.order_id].append(row)
    return by_order


async def list_orders(
    session: AsyncSession,
    *,
    buyer_id: int | None = None,
    merchant_id: int | None = None,
    statuses: Sequence[str] = (),
    offset: int,
    limit: int,
) -> tuple[list[Order], int]:
    """A buyer's or a merchant's orders, newest first, optionally of some statuses only."""
    where = (
        [Order.buyer_id == buyer_id] if buyer_id is not None else [Order.merchant_id == merchant_id]
    )
    if statuses:
        where.append(Order.status.in_(list(statuses)))
    total = await session.scalar(select(func.count()).select_from(Order).where(*where))
    rows = await session.scalars(
        select(Order).where(*where).order_by(Order.id.desc()).offset(offset).limit(limit)
    )
    return list(rows.all()), int(total or 0)


async def change_order(
    session: AsyncSession, *, order_id: int, status: str, version: int, values: dict[str, Any]
) -> bool:
    """Apply ``values`` only if the order is still at ``status``/``version``; bump the version."""
    result = await session.execute(
        update(Order)
        .where(Order.id == order_id, Order.status == status, Order.version == version)
        .values(**values, version=version + 1)
    )
    return int(getattr(result, "rowcount", 0)) == 1


async def set_order_fields(session: AsyncSession, order_id: int, values: dict[str, Any]) -> None:
    """Fields beside the status (refund bookkeeping); never the status itself."""
    await session.execute(update(Order).where(Order.id == order_id).values(**values))


async def overdue_checkouts(session: AsyncSession, *, now: datetime, limit: int) -> list[int]:
    """Checkouts with an order still unpaid past its deadline, oldest first."""
    rows = await session.scalars(
        select(Order.checkout_id)
        .where(Order.status == "pending_payment", Order.payment_deadline <= now)
        .group_by(Order.checkout_id)
        .order_by(Order.checkout_id)
        .limit(limit)
    )
    return list(rows.all())


async def due_for_auto_complete(
    session: AsyncSession, *, cutoff: datetime, limit: int
) -> list[int]:
    """Shipped or delivered orders whose last move (delivery, else shipping) is before cutoff."""
    rows = await session.scalars(
        select(Order.id)
        .where(
            Order.status.in_(["shipped", "delivered"]),
            Order.shipped_at < cutoff,
            or_(Order.delivered_at.is_(None), Order.delivered_at < cutoff),
            # A parcel being intercepted (or on its way back) is not delivered to anyone yet.
            ~_parcel_held(),
        )
        .order_by(Order.id)
        .limit(limit)
    )
    return list(rows.all())


def _parcel_held() -> ColumnElement[bool]:
    """Whether the order's latest interception step on its timeline leaves the parcel held."""
    step = aliased(OrderEvent)
    latest = (
        select(func.max(step.id))
        .where(
            step.order_id == Order.id,
            step.action.in_(PARCEL_HELD_ACTIONS + PARCEL_RELEASED_ACTIONS),
        )
        .correlate(Order)
        .scalar_subquery()
    )
    return exists().where(OrderEvent.id == latest, OrderEvent.action.in_(PARCEL_HELD_ACTIONS))


async def has_timeline_entry(
    session: AsyncSession, order_id: int, *, action: str, note_prefix: str
) -> bool:
    """Whether the order's timeline holds an ``action`` entry whose note starts so (handlers
    use it to do their part once)."""
    found = await session.scalar(
        select(OrderEvent.id)
        .where(
            OrderEvent.order_id == order_id,
            OrderEvent.action == action,
            OrderEvent.note.startswith(note_prefix, autoescape=True),
        )
        .limit(1)
    )
    return found is not None


async def last_timeline_id(session: AsyncSession, order_id: int) -> int:
    found = await session.scalar(
        select(func.max(OrderEvent.id)).where(OrderEvent.order_id == order_id)
    )
    return int(found or 0)


# --- what the after-order cases change ------------------------------------------------------


async def lock_order(session: AsyncSession, order_id: int) -> Order | None:
    """The order row, locked until the transaction ends (PostgreSQL ``FOR UPDATE``; SQLite's
    write transaction already excludes other writers). Changes and shipping both take it."""
    return await session.scalar(
        select(Order)
        .where(Order.id == order_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


async def get_line(session: AsyncSession, order_id: int, line_id: int) -> OrderLine | None:
    return await session.scalar(
        select(OrderLine)
        .where(OrderLine.id == line_id, OrderLine.order_id == order_id)
        .execution_options(populate_existing=True)
    )


async def set_line(session: AsyncSession, line_id: int, values: dict[str, Any]) -> None:
    await session.execute(update(OrderLine).where(OrderLine.id == line_id).values(**values))


async def completed_orders_of(session: AsyncSession, *, buyer_id: int) -> int:
    found = await session.scalar(
        select(func.count(Order.id)).where(Order.buyer_id == buyer_id, Order.status == "completed")
    )
    return int(found or 0)


async def orders_by_id(session: AsyncSession, order_ids: Collection[int]) -> dict[int, Order]:
    """Orders by id, in one query (queues of cases show each case's order)."""
    if not order_ids:
        return {}
    rows = await session.scalars(select(Order).where(Order.id.in_(sorted(set(order_ids)))))
    return {row.id: row for row in rows.all()}


async def placed_keys(session: AsyncSession, keys: Collection[str]) -> set[str]:
    """Those of ``keys`` any buyer placed (or is placing) a checkout with."""
    found = await session.scalars(
        select(IdempotencyKey.key).where(IdempotencyKey.key.in_(sorted(set(keys)))).distinct()
    )
    return set(found.all())
