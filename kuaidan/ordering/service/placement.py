"""Placing orders: one checkout → one order per merchant, stock reserved, one payment started,
all in one transaction, made idempotent by the buyer's ``Idempotency-Key``."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError

from kuaidan.accounts import service as accounts
from kuaidan.accounts.domain import AddressInfo, UserInfo
from kuaidan.catalog import service as catalog
from kuaidan.catalog.domain import SkuInfo
from kuaidan.core import logs
from kuaidan.core.db import UnitOfWork
from kuaidan.core.errors import Conflict, InvalidInput, NotFound
from kuaidan.core.outbox import publish_many
from kuaidan.inventory import service as inventory
from kuaidan.inventory.domain import FlashHold, OutOfStock, Shortage
from kuaidan.inventory.service import FlashSale
from kuaidan.merchants import service as merchants
from kuaidan.ordering import repository
from kuaidan.ordering.domain import (
    IDEMPOTENCY_TTL,
    Actor,
    IdempotencyKeyReuse,
    ItemUnavailable,
    Line,
    MerchantGroup,
    OrderingPolicy,
    OrderStatus,
    TimelineAction,
    UnknownItem,
    check_idempotency_key,
    check_quantities,
    clean_note,
    group_by_merchant,
    new_checkout_reference,
    payment_deadline,
    price_changed_error,
    price_changes,
    request_hash,
    stock_holder,
)
from kuaidan.ordering.events import OrderCreated, OrderLineFacts
from kuaidan.ordering.models import Checkout, IdempotencyKey, Order, OrderEvent, OrderLine
from kuaidan.ordering.readmodels import CheckoutResult, OrderView
from kuaidan.ordering.service import _common as common
from kuaidan.ordering.service.carts import is_orderable
from kuaidan.ordering.service.checkouts import checkout_result, result_of
from kuaidan.payments import service as payments
from kuaidan.risk.domain import RiskContext


@dataclass(frozen=True, slots=True)
class _Request:
    """A placement as asked: items, where to, the prices the buyer saw. From the cart,
    ``from_cart`` is set and ``cart_skus`` picks lines (None: all of them)."""

    items: tuple[tuple[int, int], ...]
    address_id: int
    seen_prices: Mapping[int, int]
    note: str | None
    from_cart: bool = False
    cart_skus: frozenset[int] | None = None
    cart_id: int | None = None
    context: RiskContext | None = None  # where it comes from, for payment risk


async def place_checkout(
    *,
    uow: UnitOfWork,
    buyer: UserInfo,
    items: Sequence[tuple[int, int]],
    address_id: int,
    idempotency_key: str,
    accepted_prices: Mapping[int, int] | None = None,
    note: str | None = None,
    policy: OrderingPolicy | None = None,
    context: RiskContext | None = None,
) -> CheckoutResult:
    """Place ``items`` (sku_id, quantity): one order per merchant, one payment for all.

    ``accepted_prices`` are the unit prices the buyer saw or confirmed; any that differs from
    today's price raises PriceChanged (409, nothing written). A retry with the same key and
    body returns the same result with ``created`` False; another body is refused.
    """
    check_idempotency_key(idempotency_key)
    wanted = tuple(sorted((int(sku), int(qty)) for sku, qty in items))
    _check_lines(wanted)
    seen = dict(accepted_prices or {})
    body = {
        "items": [list(pair) for pair in wanted],
        "address_id": address_id,
        "accepted_prices": sorted(seen.items()),
        "note": clean_note(note),
    }
    request = _Request(wanted, address_id, seen, clean_note(note), context=context)
    return await _idempotent(uow, buyer, idempotency_key, request_hash(body), request, policy)


async def checkout_cart(
    *,
    uow: UnitOfWork,
    buyer: UserInfo,
    address_id: int,
    idempotency_key: str,
    sku_ids: Sequence[int] | None = None,
    accepted_prices: Mapping[int, int] | None = None,
    note: str | None = None,
    policy: OrderingPolicy | None = None,
    context: RiskContext | None = None,
) -> CheckoutResult:
    """Place the buyer's cart (or only its ``sku_ids`` lines) at the prices they saw in it;
    the ordered lines leave the cart in the same transaction."""
    check_idempotency_key(idempotency_key)
    seen = dict(accepted_prices or {})
    body = {
        "cart": sorted(set(sku_ids)) if sku_ids is not None else "all",
        "address_id": address_id,
        "accepted_prices": sorted(seen.items()),
        "note": clean_note(note),
    }
    chosen = frozenset(sku_ids) if sku_ids is not None else None
    request = _Request((), address_id, seen, clean_note(note), True, chosen, context=context)
    return await _idempotent(uow, buyer, idempotency_key, request_hash(body), request, policy)


def known_sold_out(
    *, gate: FlashSale, items: Sequence[tuple[int, int]], idempotency_key: str
) -> OutOfStock | None:
    """The answer to a direct checkout of a SKU this process knows is sold out, before the
    buyer is known (who asks does not change a sold-out answer, and finding out costs more
    than the answer); it stands only if no checkout was ever placed with the key (a retry of a
    winner gets its order back), which the caller asks with :func:`placed_keys`. None when the
    whole path must answer: nothing is marked, or the request is not valid (its own error
    comes from there)."""
    try:
        check_idempotency_key(idempotency_key)
        wanted = tuple(sorted((int(sku), int(qty)) for sku, qty in items))
        _check_lines(wanted)
    except InvalidInput:
        return None
    sku_id = gate.first_marked([sku for sku, _ in wanted])
    if sku_id is None:
        return None
    return OutOfStock([Shortage(sku_id, dict(wanted)[sku_id], 0)])


async def placed_keys(*, uow: UnitOfWork, keys: Collection[str]) -> set[str]:
    """Those of the Idempotency-Keys some buyer placed a checkout with."""
    return await repository.placed_keys(uow.session, keys)


def _check_lines(items: Sequence[tuple[int, int]]) -> None:
    check_quantities([Line(sku, 0, 0, qty, 0) for sku, qty in items])


async def _idempotent(
    uow: UnitOfWork,
    buyer: UserInfo,
    key: str,
    digest: str,
    request: _Request,
    policy: OrderingPolicy | None,
) -> CheckoutResult:
    # A retry of a placed checkout is answered before any gate, hold or lock.
    stored = await repository.get_idempotency_key(uow.session, buyer.id, key)
    if stored is not None:
        return await _replay(uow, stored, digest)
    items = () if request.from_cart else request.items
    async with inventory.flash_admission(
        uow=uow, items=items, buyer_id=buyer.id, idempotency_key=key
    ) as hold:
        return await _in_transaction(uow, buyer, key, digest, request, policy, hold)


async def _in_transaction(
    uow: UnitOfWork,
    buyer: UserInfo,
    key: str,
    digest: str,
    request: _Request,
    policy: OrderingPolicy | None,
    hold: FlashHold | None,
) -> CheckoutResult:
    try:
        async with uow.atomic():
            # The key first: a duplicate placed since the read in _idempotent fails here on
            # the key's primary key and is answered with the stored result below.
            now = uow.now()
            await repository.insert_idempotency_key(
                uow.session,
                {
                    "buyer_id": buyer.id,
                    "key": key,
                    "request_hash": digest,
                    "created_at": now,
                    "expires_at": now + IDEMPOTENCY_TTL,
                },
            )
            if request.from_cart:
                request = await _from_cart(uow, buyer, request)
            placed = await _place(uow, buyer, request, policy or OrderingPolicy(), hold)
            await repository.set_idempotency_checkout(
                uow.session, buyer_id=buyer.id, key=key, checkout_id=placed.checkout.id
            )
            if request.cart_id is not None:
                skus = [sku for sku, _ in request.items]
                await repository.delete_cart_items(uow.session, request.cart_id, skus)
            # The answer is built from what was just written: nothing is read back.
            return result_of(uow, placed.checkout, placed.views(uow), created=True)
    except IntegrityError:
        # A concurrent request with this key committed first: answer with its result.
        stored = await repository.get_idempotency_key(uow.session, buyer.id, key)
        if stored is None:
            raise
        return await _replay(uow, stored, digest)


async def _replay(uow: UnitOfWork, stored: IdempotencyKey, digest: str) -> CheckoutResult:
    if stored.request_hash != digest:
        raise IdempotencyKeyReuse(
            "this Idempotency-Key was used for a different request; use a new key"
        )
    if stored.checkout_id is None:
        raise Conflict("this request is still being placed; try again in a moment")
    return await checkout_result(uow, stored.checkout_id, created=False)


async def _from_cart(uow: UnitOfWork, buyer: UserInfo, request: _Request) -> _Request:
    cart = await repository.find_cart(uow.session, buyer_id=buyer.id)
    items = await repository.cart_items(uow.session, cart.id) if cart else []
    chosen = request.cart_skus
    picked = [item for item in items if chosen is None or item.sku_id in chosen]
    wanted = tuple(sorted((item.sku_id, item.quantity) for item in picked))
    _check_lines(wanted)
    seen = {item.sku_id: item.price_seen_fen for item in picked} | dict(request.seen_prices)
    return _Request(
        wanted,
        request.address_id,
        seen,
        request.note,
        cart_id=cart.id if cart else None,
        context=request.context,
    )


async def _priced_lines(
    uow: UnitOfWork, request: _Request
) -> tuple[list[Line], dict[int, SkuInfo], dict[int, str]]:
    """Today's lines for the request, its SKUs and its shops' names; unknown, unsellable or
    repriced items refuse it."""
    skus = await catalog.get_skus(uow=uow, sku_ids=[sku for sku, _ in request.items])
    unknown = [sku for sku, _ in request.items if sku not in skus]
    if unknown:
        raise UnknownItem(
            "no such item: " + ", ".join(map(str, unknown)), details={"sku_ids": unknown}
        )
    shops = await merchants.get_merchants(uow=uow, ids={s.merchant_id for s in skus.values()})
    closed = [sku for sku, _ in request.items if not is_orderable(skus[sku], shops)]
    if closed:
        raise ItemUnavailable("some items are not for sale any more", details={"sku_ids": closed})
    lines = [
        Line(sku, skus[sku].product_id, skus[sku].merchant_id, qty, skus[sku].price_fen)
        for sku, qty in request.items
    ]
    changes = price_changes(request.seen_prices, lines)
    if changes:
        raise price_changed_error(changes)
    return lines, skus, {merchant_id: shop.name for merchant_id, shop in shops.items()}


async def _address(uow: UnitOfWork, buyer: UserInfo, address_id: int) -> AddressInfo:
    try:
        return await accounts.get_address(uow=uow, user_id=buyer.id, address_id=address_id)
    except NotFound:
        raise InvalidInput(
            "choose one of your delivery addresses", details={"address_id": address_id}
        ) from None


@dataclass(frozen=True, slots=True)
class _Placed:
    """What a placement wrote, enough to answer with (rows as written, shop names)."""

    checkout: Checkout
    orders: list[_NewOrder]
    shop_names: Mapping[int, str]

    def views(self, uow: UnitOfWork) -> list[OrderView]:
        return [
            common.view_of(
                uow.cipher,
                new.order,
                new.lines,
                self.shop_names.get(new.order.merchant_id, ""),
                [new.placed],
            )
            for new in self.orders
        ]


@dataclass(frozen=True, slots=True)
class _NewOrder:
    order: Order
    lines: list[OrderLine]
    placed: OrderEvent


async def _place(
    uow: UnitOfWork,
    buyer: UserInfo,
    request: _Request,
    policy: OrderingPolicy,
    hold: FlashHold | None = None,
) -> _Placed:
    lines, skus, shop_names = await _priced_lines(uow, request)
    address = await _address(uow, buyer, request.address_id)
    groups = group_by_merchant(lines)
    checkout = await _new_checkout(uow, buyer, groups, policy, uow.now())
    images = {line.product_id: skus[line.sku_id].product_image for line in lines}
    written = await _new_orders(uow, buyer, checkout, groups, address, request.note, skus, images)
    orders = [new.order for new in written]
    available = await _reserve(uow, buyer, orders, groups, hold)
    await common.refresh_products(
        uow, {skus[sku].product_id for sku, left in available.items() if left <= 0}
    )
    await _start_payment(uow, buyer, checkout, skus, lines, request.context)
    publish_many(
        uow,
        [
            (_created(uow, order, group), f"order:{order.id}")
            for order, group in zip(orders, groups, strict=True)
        ],
    )
    return _Placed(checkout, written, shop_names)


async def _new_checkout(
    uow: UnitOfWork,
    buyer: UserInfo,
    groups: Sequence[MerchantGroup],
    policy: OrderingPolicy,
    now: datetime,
) -> Checkout:
    """The checkout row, written with a Core INSERT; the object returned is the answer's, not
    the session's."""
    items_fen = sum(group.items_fen for group in groups)
    values: dict[str, Any] = {
        "reference": new_checkout_reference(now),
        "buyer_id": buyer.id,
        "items_fen": items_fen,
        "shipping_fen": 0,
        "total_fen": items_fen,
        "currency": policy.currency,
        "created_at": now,
        "payment_deadline": payment_deadline(now, policy.payment_ttl),
    }
    checkout_id = await repository.insert_checkout(uow.session, values)
    logs.bind(checkout=values["reference"])
    return Checkout(id=checkout_id, **values)


async def _reserve(
    uow: UnitOfWork,
    buyer: UserInfo,
    orders: Sequence[Order],
    groups: Sequence[MerchantGroup],
    hold: FlashHold | None,
) -> dict[int, int]:
    """Reserve the orders' units; what is left of each SKU afterwards."""
    if hold is not None:
        # A hot SKU's units were granted by a batch already: the order adopts the hold.
        await inventory.adopt_hold(uow=uow, hold=hold, holder=stock_holder(orders[0].id))
        return {hold.sku_id: hold.available_after}
    # One ascending pass over every SKU of the checkout: two checkouts spanning the same
    # merchants can never lock each other's stock rows in opposite orders.
    return await inventory.reserve_many(
        uow=uow,
        holders={
            stock_holder(order.id): {line.sku_id: line.quantity for line in group.lines}
            for order, group in zip(orders, groups, strict=True)
        },
        buyer_id=buyer.id,
    )


async def _new_orders(
    uow: UnitOfWork,
    buyer: UserInfo,
    checkout: Checkout,
    groups: Sequence[MerchantGroup],
    address: AddressInfo,
    note: str | None,
    skus: Mapping[int, SkuInfo],
    images: Mapping[int, str | None],
) -> list[_NewOrder]:
    """One order per merchant group with its lines and its first timeline entry: three Core
    INSERTs however many orders. The objects returned build the answer; the session holds
    none of them."""
    snapshot = common.address_snapshot(uow.cipher, address)
    rows = [_order_row(buyer, checkout, group, snapshot, note) for group in groups]
    ids = await repository.insert_orders(uow.session, rows)
    orders = [Order(id=order_id, **row) for order_id, row in zip(ids, rows, strict=True)]
    lines = [
        [_order_line(order, line, skus, images) for line in group.lines]
        for order, group in zip(orders, groups, strict=True)
    ]
    placed = [_placed_event(order, buyer, checkout.created_at) for order in orders]
    await repository.insert_lines(uow.session, [line for per in lines for line in per])
    await repository.insert_timeline(uow.session, placed)
    return [
        _NewOrder(order, [OrderLine(**line) for line in per], OrderEvent(**event))
        for order, per, event in zip(orders, lines, placed, strict=True)
    ]


def _order_row(
    buyer: UserInfo,
    checkout: Checkout,
    group: MerchantGroup,
    snapshot: Mapping[str, Any],
    note: str | None,
) -> dict[str, Any]:
    return {
        "checkout_id": checkout.id,
        "checkout_reference": checkout.reference,
        "buyer_id": buyer.id,
        "merchant_id": group.merchant_id,
        "status": OrderStatus.PENDING_PAYMENT.value,
        "items_fen": group.items_fen,
        "shipping_fen": 0,
        "total_fen": group.items_fen,
        "currency": checkout.currency,
        **snapshot,
        "note": note,
        "placed_at": checkout.created_at,
        "payment_deadline": checkout.payment_deadline,
        "version": 1,
    }


def _order_line(
    order: Order, line: Line, skus: Mapping[int, SkuInfo], images: Mapping[int, str | None]
) -> dict[str, Any]:
    sku = skus[line.sku_id]
    return {
        "order_id": order.id,
        "sku_id": line.sku_id,
        "product_id": line.product_id,
        "title": sku.product_title[:200],
        "sku_label": sku.label[:200],
        "attributes": dict(sku.attributes),
        "image": images.get(line.product_id),
        "quantity": line.quantity,
        "unit_price_fen": line.unit_price_fen,
        "total_fen": line.total_fen,
    }


def _placed_event(order: Order, buyer: UserInfo, at: datetime) -> dict[str, Any]:
    """The timeline's first entry, as ``common.add_timeline`` writes it for a placement."""
    return {
        "order_id": order.id,
        "at": at,
        "actor": Actor.BUYER.value,
        "actor_id": buyer.id,
        "action": TimelineAction.PLACED.value,
        "from_status": None,
        "to_status": OrderStatus.PENDING_PAYMENT.value,
        "note": None,
    }


async def _start_payment(
    uow: UnitOfWork,
    buyer: UserInfo,
    checkout: Checkout,
    skus: Mapping[int, SkuInfo],
    lines: Sequence[Line],
    context: RiskContext | None = None,
) -> None:
    reference = common.reference_of(uow.cipher, checkout)
    first = skus[lines[0].sku_id].product_title
    subject = first if len(lines) == 1 else f"{first} 等 {len(lines)} 件商品"
    started = await payments.start_payment(
        uow=uow,
        reference=reference,
        amount_fen=checkout.total_fen,
        currency=checkout.currency,
        subject=subject,
        buyer_id=buyer.id,
        return_path=f"/checkouts/{reference}",
        context=context,
        new_reference=True,
    )
    await repository.set_checkout_payment(
        uow.session, checkout.id, payment_id=started.payment_id, pay_url=started.pay_url
    )
    checkout.payment_id, checkout.pay_url = started.payment_id, started.pay_url


def _created(uow: UnitOfWork, order: Order, group: MerchantGroup) -> OrderCreated:
    return OrderCreated(
        order_id=order.id,
        number=common.number_of(uow.cipher, order),
        checkout_reference=common.order_reference(uow.cipher, order),
        buyer_id=order.buyer_id,
        merchant_id=order.merchant_id,
        total_fen=order.total_fen,
        currency=order.currency,
        placed_at=order.placed_at,
        payment_deadline=order.payment_deadline,
        lines=tuple(
            OrderLineFacts(line.sku_id, line.product_id, line.quantity, line.unit_price_fen)
            for line in group.lines
        ),
    )
