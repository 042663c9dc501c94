"""SQL on the ordering tables: carts, idempotency keys, checkouts, orders, lines, timeline.

Nothing here commits. A change of an order's status is one conditional UPDATE on
``(id, status, version)``, so of two racing changes exactly one matches.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, delete, exists, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kuaidan.ordering.models import (
    AfterSalesCase,
    AfterSalesStep,
    Cart,
    CartItem,
    Checkout,
    IdempotencyKey,
    Order,
    OrderChange,
    OrderEvent,
    OrderInterception,
    OrderLine,
)

# Interception steps after which the parcel is not on its way to the buyer as planned.
OPEN_INTERCEPTIONS = ("requested", "intercepting", "succeeded", "returned")


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
            ~exists().where(
                OrderInterception.order_id == Order.id,
                OrderInterception.status.in_(OPEN_INTERCEPTIONS),
            ),
        )
        .order_by(Order.id)
        .limit(limit)
    )
    return list(rows.all())


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


# --- changes before shipping ---------------------------------------------------------------


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


# --- interception cases --------------------------------------------------------------------


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


# --- after-sales cases ---------------------------------------------------------------------


async def after_sales_of(session: AsyncSession, order_id: int) -> list[AfterSalesCase]:
    """The order's after-sales cases, oldest first."""
    rows = await session.scalars(
        select(AfterSalesCase)
        .where(AfterSalesCase.order_id == order_id)
        .order_by(AfterSalesCase.id)
        .execution_options(populate_existing=True)
    )
    return list(rows.all())


async def get_after_sales(session: AsyncSession, case_id: int) -> AfterSalesCase | None:
    return await session.scalar(
        select(AfterSalesCase)
        .where(AfterSalesCase.id == case_id)
        .execution_options(populate_existing=True)
    )


async def after_sales_by_request(
    session: AsyncSession, order_id: int, request_id: str
) -> AfterSalesCase | None:
    return await session.scalar(
        select(AfterSalesCase).where(
            AfterSalesCase.order_id == order_id, AfterSalesCase.request_id == request_id
        )
    )


async def after_sales_by_shipment(session: AsyncSession, reference: str) -> AfterSalesCase | None:
    """The case whose return parcel, or replacement parcel, is ``reference``."""
    return await session.scalar(
        select(AfterSalesCase)
        .where(
            or_(
                AfterSalesCase.return_shipment == reference,
                AfterSalesCase.replacement_shipment == reference,
            )
        )
        .limit(1)
        .execution_options(populate_existing=True)
    )


async def after_sales_by_refund(session: AsyncSession, request_no: str) -> AfterSalesCase | None:
    return await session.scalar(
        select(AfterSalesCase)
        .where(AfterSalesCase.refund_request_no == request_no)
        .execution_options(populate_existing=True)
    )


async def change_after_sales(
    session: AsyncSession, *, case_id: int, status: str, version: int, values: dict[str, Any]
) -> bool:
    """Apply ``values`` only if the case is still at ``status``/``version``; bump the version."""
    result = await session.execute(
        update(AfterSalesCase)
        .where(
            AfterSalesCase.id == case_id,
            AfterSalesCase.status == status,
            AfterSalesCase.version == version,
        )
        .values(**values, version=version + 1)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0)) == 1


async def after_sales_steps(
    session: AsyncSession, case_ids: Collection[int]
) -> dict[int, list[AfterSalesStep]]:
    """Each case's steps, oldest first, in one query."""
    found: dict[int, list[AfterSalesStep]] = {case_id: [] for case_id in case_ids}
    if not found:
        return found
    rows = await session.scalars(
        select(AfterSalesStep)
        .where(AfterSalesStep.case_id.in_(found))
        .order_by(AfterSalesStep.case_id, AfterSalesStep.id)
    )
    for row in rows.all():
        found[row.case_id].append(row)
    return found


async def due_after_sales(
    session: AsyncSession, *, statuses: Collection[str], now: datetime, limit: int
) -> list[int]:
    """Cases at one of ``statuses`` whose timer (``due_at``) has run out, oldest first."""
    rows = await session.scalars(
        select(AfterSalesCase.id)
        .where(
            AfterSalesCase.status.in_(list(statuses)),
            AfterSalesCase.due_at.is_not(None),
            AfterSalesCase.due_at <= now,
        )
        .order_by(AfterSalesCase.due_at, AfterSalesCase.id)
        .limit(limit)
    )
    return list(rows.all())


async def list_after_sales(
    session: AsyncSession,
    *,
    merchant_id: int | None = None,
    buyer_id: int | None = None,
    statuses: Collection[str] | None = None,
    limit: int = 100,
) -> list[AfterSalesCase]:
    """Cases of a shop or of a buyer (or all), newest first."""
    query = select(AfterSalesCase)
    if merchant_id is not None:
        query = query.where(AfterSalesCase.merchant_id == merchant_id)
    if buyer_id is not None:
        query = query.where(AfterSalesCase.buyer_id == buyer_id)
    if statuses is not None:
        query = query.where(AfterSalesCase.status.in_(list(statuses)))
    rows = await session.scalars(query.order_by(AfterSalesCase.id.desc()).limit(limit))
    return list(rows.all())


async def cases_ruled_against(session: AsyncSession, *, buyer_id: int, since: datetime) -> int:
    """The buyer's cases the platform ruled for the merchant since ``since`` (trust)."""
    found = await session.scalar(
        select(func.count(AfterSalesStep.id))
        .join(AfterSalesCase, AfterSalesCase.id == AfterSalesStep.case_id)
        .where(
            AfterSalesCase.buyer_id == buyer_id,
            AfterSalesStep.step == "rule_for_merchant",
            AfterSalesStep.at >= since,
        )
    )
    return int(found or 0)


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
