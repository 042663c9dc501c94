"""What every ordering use case shares: number keys, row → read-model conversion, the
one way an order changes status (a checked transition + a timeline entry)."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from kuaidan.accounts.domain import AddressInfo, Role, UserInfo
from kuaidan.catalog import service as catalog
from kuaidan.core import logs
from kuaidan.core.crypto import Cipher
from kuaidan.core.db import UnitOfWork
from kuaidan.core.errors import InvalidInput, NotFound
from kuaidan.merchants import service as merchants
from kuaidan.ordering import repository
from kuaidan.ordering.domain import (
    NUMBER_ZONE,
    Actor,
    IllegalTransition,
    OrderAction,
    OrderStatus,
    checkout_reference,
    local_day,
    order_number,
    parse_checkout_reference,
    parse_order_number,
    transition,
)
from kuaidan.ordering.models import Checkout, Order, OrderEvent, OrderLine
from kuaidan.ordering.readmodels import (
    AddressSnapshot,
    OrderLineView,
    OrderSummary,
    OrderView,
    TimelineEntry,
)

# A probed number can parse to any id below 10¹⁰; ids are 32-bit integer columns.
MAX_ROW_ID = 2**31 - 1

ROLE_ACTORS = {
    Role.BUYER: Actor.BUYER,
    Role.MERCHANT: Actor.MERCHANT,
    Role.AGENT: Actor.AGENT,
    Role.ADMIN: Actor.ADMIN,
}


# --- keys and numbers -----------------------------------------------------------------------


def order_number_key(cipher: Cipher) -> bytes:
    """The order-number permutation key, derived from the (never rotated) blind-index key."""
    return bytes.fromhex(cipher.blind_index("order numbers", context="ordering.number_key"))


def checkout_key(cipher: Cipher) -> bytes:
    return bytes.fromhex(cipher.blind_index("checkout references", context="ordering.checkout_key"))


def number_of(cipher: Cipher, row: Order) -> str:
    return order_number(row.id, row.placed_at, key=order_number_key(cipher), zone=NUMBER_ZONE)


def reference_of(cipher: Cipher, checkout: Checkout) -> str:
    """The checkout's reference (and its payment's): the stored one, or for a checkout written
    before references were stored the one derived from its id."""
    if checkout.reference is not None:
        return checkout.reference
    return checkout_reference(checkout.id, checkout.created_at, key=checkout_key(cipher))


def order_reference(cipher: Cipher, row: Order) -> str:
    """The reference of the order's checkout (and payment): placed_at is the checkout's time."""
    if row.checkout_reference is not None:
        return row.checkout_reference
    return checkout_reference(row.checkout_id, row.placed_at, key=checkout_key(cipher))


async def order_by_number(uow: UnitOfWork, number: str) -> Order:
    """The order with this public number; a malformed or unknown number is NotFound alike."""
    try:
        order_id, day = parse_order_number(number, key=order_number_key(uow.cipher))
    except InvalidInput:
        raise NotFound("no such order") from None
    row = await repository.get_order(uow.session, order_id) if order_id <= MAX_ROW_ID else None
    if row is None or local_day(row.placed_at) != day:
        raise NotFound("no such order")
    logs.bind(order=number)
    return row


async def checkout_by_reference(uow: UnitOfWork, reference: str) -> Checkout:
    try:
        parsed = parse_checkout_reference(reference, key=checkout_key(uow.cipher))
    except InvalidInput:
        raise NotFound("no such checkout") from None
    row: Checkout | None = None
    if parsed.checkout_id is None:
        row = await repository.checkout_by_reference(uow.session, parsed.text)
    elif parsed.checkout_id <= MAX_ROW_ID:
        row = await repository.get_checkout(uow.session, parsed.checkout_id)
        if row is not None and row.reference is not None:
            row = None  # a checkout with a stored reference answers to that one only
    if row is None or local_day(row.created_at) != parsed.day:
        raise NotFound("no such checkout")
    return row


# --- who may see and do what ----------------------------------------------------------------


def actor_of(user: UserInfo) -> Actor:
    actor = ROLE_ACTORS.get(user.role)
    if actor is None:
        raise NotFound("no such order")
    return actor


def can_see(user: UserInfo, row: Order) -> bool:
    """Owner, the order's merchant, agents and admins; everyone else sees nothing (404)."""
    if user.role is Role.BUYER:
        return row.buyer_id == user.id
    if user.role is Role.MERCHANT:
        return user.merchant_id is not None and row.merchant_id == user.merchant_id
    return user.role in (Role.AGENT, Role.ADMIN)


async def visible_order(uow: UnitOfWork, number: str, user: UserInfo) -> Order:
    row = await order_by_number(uow, number)
    if not can_see(user, row):
        raise NotFound("no such order")
    return row


# --- changing an order ----------------------------------------------------------------------


def add_timeline(
    uow: UnitOfWork,
    row: Order,
    *,
    action: str,
    actor: Actor,
    actor_id: int | None,
    from_status: str | None = None,
    to_status: str | None = None,
    note: str | None = None,
) -> OrderEvent:
    event = OrderEvent(
        order_id=row.id,
        at=uow.now(),
        actor=actor.value,
        actor_id=actor_id,
        action=action,
        from_status=from_status,
        to_status=to_status,
        note=note[:500] if note else None,
    )
    uow.session.add(event)
    return event


async def change_status(
    uow: UnitOfWork,
    row: Order,
    action: OrderAction,
    *,
    actor: Actor,
    actor_id: int | None,
    note: str | None = None,
    values: Mapping[str, Any] | None = None,
) -> OrderStatus:
    """Move the order through the state machine: one conditional update, one timeline entry.

    Of two racing changes exactly one matches the (status, version) it read; the other gets
    IllegalTransition, as if it had seen the new status. The ORM update keeps ``row`` in step.
    """
    before = OrderStatus(row.status)
    after = transition(before, action, actor=actor)
    changed = await repository.change_order(
        uow.session,
        order_id=row.id,
        status=before.value,
        version=row.version,
        values={**(values or {}), "status": after.value},
    )
    if not changed:
        raise IllegalTransition(
            "the order changed meanwhile; reload it and try again",
            details={"status": before.value, "action": action.value},
        )
    add_timeline(
        uow,
        row,
        action=action.value,
        actor=actor,
        actor_id=actor_id,
        from_status=before.value,
        to_status=after.value,
        note=note,
    )
    return after


async def refresh_products(uow: UnitOfWork, product_ids: Collection[int]) -> None:
    """Recompute the catalog's in-stock flags, products locked in id order."""
    for product_id in sorted(set(product_ids)):
        await catalog.refresh_availability(uow=uow, product_id=product_id)


# --- read models ----------------------------------------------------------------------------


def address_snapshot(cipher: Cipher, address: AddressInfo) -> dict[str, Any]:
    """The order's copy of the address: personal parts encrypted, province and city clear."""
    return {
        "recipient_enc": cipher.encrypt(address.recipient, context="orders.recipient"),
        "phone_enc": cipher.encrypt(address.phone, context="orders.phone"),
        "district_enc": cipher.encrypt(address.district, context="orders.district"),
        "line_enc": cipher.encrypt(address.line, context="orders.line"),
        "province": address.province,
        "city": address.city,
        "postcode": address.postcode,
    }


def address_of(cipher: Cipher, row: Order) -> AddressSnapshot:
    return AddressSnapshot(
        recipient=cipher.decrypt(row.recipient_enc, context="orders.recipient"),
        phone=cipher.decrypt(row.phone_enc, context="orders.phone"),
        province=row.province,
        city=row.city,
        district=cipher.decrypt(row.district_enc, context="orders.district"),
        line=cipher.decrypt(row.line_enc, context="orders.line"),
        postcode=row.postcode,
    )


def line_view(row: OrderLine) -> OrderLineView:
    return OrderLineView(
        sku_id=row.sku_id,
        product_id=row.product_id,
        title=row.title,
        sku_label=row.sku_label,
        attributes={str(k): str(v) for k, v in row.attributes.items()},
        image=row.image,
        quantity=row.quantity,
        unit_price_fen=row.unit_price_fen,
        total_fen=row.total_fen,
    )


def summary_of(
    cipher: Cipher, row: Order, lines: Sequence[OrderLine], merchant_name: str
) -> OrderSummary:
    first = lines[0] if lines else None
    return OrderSummary(
        id=row.id,
        number=number_of(cipher, row),
        checkout_reference=order_reference(cipher, row),
        buyer_id=row.buyer_id,
        merchant_id=row.merchant_id,
        merchant_name=merchant_name,
        status=OrderStatus(row.status),
        total_fen=row.total_fen,
        currency=row.currency,
        placed_at=row.placed_at,
        payment_deadline=row.payment_deadline,
        item_count=sum(line.quantity for line in lines),
        first_title=first.title if first else "",
        first_image=first.image if first else None,
    )


async def summaries(uow: UnitOfWork, rows: Sequence[Order]) -> list[OrderSummary]:
    lines = await repository.lines_of(uow.session, [row.id for row in rows])
    names = await merchant_names(uow, {row.merchant_id for row in rows})
    return [
        summary_of(uow.cipher, row, lines[row.id], names.get(row.merchant_id, "")) for row in rows
    ]


async def merchant_names(uow: UnitOfWork, ids: Collection[int]) -> dict[int, str]:
    found = await merchants.get_merchants(uow=uow, ids=set(ids))
    return {merchant_id: info.name for merchant_id, info in found.items()}


def _entry(row: OrderEvent) -> TimelineEntry:
    return TimelineEntry(
        at=row.at,
        actor=row.actor,
        actor_id=row.actor_id,
        action=row.action,
        from_status=row.from_status,
        to_status=row.to_status,
        note=row.note,
    )


async def order_view(uow: UnitOfWork, row: Order) -> OrderView:
    return (await order_views(uow, [row]))[0]


async def order_views(uow: UnitOfWork, rows: Sequence[Order]) -> list[OrderView]:
    """The full views of ``rows``: three reads (lines, shops, timelines) whatever their number."""
    ids = [row.id for row in rows]
    lines = await repository.lines_of(uow.session, ids)
    names = await merchant_names(uow, {row.merchant_id for row in rows})
    timelines = await repository.timelines_of(uow.session, ids)
    return [
        view_of(uow.cipher, row, lines[row.id], names.get(row.merchant_id, ""), timelines[row.id])
        for row in rows
    ]


def view_of(
    cipher: Cipher,
    row: Order,
    lines: Sequence[OrderLine],
    merchant_name: str,
    timeline: Sequence[OrderEvent],
) -> OrderView:
    return OrderView(
        summary=summary_of(cipher, row, lines, merchant_name),
        items_fen=row.items_fen,
        shipping_fen=row.shipping_fen,
        paid_at=row.paid_at,
        shipped_at=row.shipped_at,
        delivered_at=row.delivered_at,
        completed_at=row.completed_at,
        cancelled_at=row.cancelled_at,
        cancel_reason=row.cancel_reason,
        carrier=row.carrier,
        tracking_number=row.tracking_number,
        note=row.note,
        refund_request_no=row.refund_request_no,
        refunded_at=row.refunded_at,
        shipment_reference=row.shipment_reference,
        address=address_of(cipher, row),
        lines=tuple(line_view(line) for line in lines),
        timeline=tuple(_entry(event) for event in timeline),
    )
