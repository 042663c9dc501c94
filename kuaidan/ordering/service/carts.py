"""Cart use cases: a buyer's or a guest's cart, its view with live prices and stock, merging
a guest's cart into the buyer's at log-in."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Collection, Mapping, Sequence

from kuaidan.catalog import service as catalog
from kuaidan.catalog.domain import ProductStatus, SkuInfo
from kuaidan.core.db import UnitOfWork
from kuaidan.core.errors import InvalidInput, NotFound
from kuaidan.merchants import service as merchants
from kuaidan.merchants.domain import MerchantInfo
from kuaidan.ordering import repository
from kuaidan.ordering.domain import (
    MAX_LINE_QUANTITY,
    MAX_LINES,
    CartOwner,
    ItemUnavailable,
    hash_guest_key,
)
from kuaidan.ordering.models import Cart, CartItem
from kuaidan.ordering.readmodels import CartLine, CartView, group_cart_lines, line_problem


def new_guest_key() -> str:
    """A fresh random guest cart key (the client keeps it; we store only its hash)."""
    return secrets.token_urlsafe(32)


def is_orderable(sku: SkuInfo, shops: Mapping[int, MerchantInfo]) -> bool:
    shop = shops.get(sku.merchant_id)
    return (
        sku.is_active
        and sku.product_status is ProductStatus.LISTED
        and shop is not None
        and shop.is_active
    )


async def product_images(uow: UnitOfWork, product_ids: Collection[int]) -> dict[int, str | None]:
    """The first picture of each product (None when it has none)."""
    images: dict[int, str | None] = {}
    for product_id in sorted(set(product_ids)):
        try:
            product = await catalog.get_product(
                uow=uow, product_id=product_id, include_unlisted=True
            )
        except NotFound:
            images[product_id] = None
            continue
        images[product_id] = product.images[0] if product.images else None
    return images


async def _find(uow: UnitOfWork, owner: CartOwner) -> Cart | None:
    if owner.buyer_id is not None:
        return await repository.find_cart(uow.session, buyer_id=owner.buyer_id)
    assert owner.guest_key is not None
    return await repository.find_cart(uow.session, guest_key_hash=hash_guest_key(owner.guest_key))


async def _find_or_create(uow: UnitOfWork, owner: CartOwner) -> Cart:
    cart = await _find(uow, owner)
    if cart is not None:
        return cart
    return await repository.create_cart(
        uow.session,
        buyer_id=owner.buyer_id,
        guest_key_hash=hash_guest_key(owner.guest_key) if owner.guest_key else None,
        now=uow.now(),
    )


def _cart_line(
    item: CartItem,
    sku: SkuInfo | None,
    shops: Mapping[int, MerchantInfo],
    images: Mapping[int, str | None],
) -> CartLine:
    problem = line_problem(
        quantity=item.quantity,
        available=None if sku is None else sku.available,
        orderable=sku is not None and is_orderable(sku, shops),
    )
    return CartLine(
        sku_id=item.sku_id,
        product_id=sku.product_id if sku else None,
        merchant_id=sku.merchant_id if sku else None,
        title=sku.product_title if sku else "",
        sku_label=sku.label if sku else "",
        attributes=dict(sku.attributes) if sku else {},
        image=images.get(sku.product_id) if sku else None,
        quantity=item.quantity,
        price_seen_fen=item.price_seen_fen,
        price_fen=sku.price_fen if sku else item.price_seen_fen,
        available=sku.available if sku else 0,
        problem=problem,
        added_at=item.added_at,
    )


async def view_of(uow: UnitOfWork, items: Sequence[CartItem]) -> CartView:
    """The cart as a page shows it: current prices, flags, per-merchant groups and totals."""
    skus = await catalog.get_skus(uow=uow, sku_ids=[item.sku_id for item in items])
    shops = await merchants.get_merchants(uow=uow, ids={s.merchant_id for s in skus.values()})
    images = await product_images(uow, {s.product_id for s in skus.values()})
    lines = [_cart_line(item, skus.get(item.sku_id), shops, images) for item in items]
    names = {merchant_id: shop.name for merchant_id, shop in shops.items()}
    return CartView(group_cart_lines(lines, names))


async def get_cart(*, uow: UnitOfWork, owner: CartOwner) -> CartView:
    """The owner's cart (empty when they have none yet)."""
    cart = await _find(uow, owner)
    items = await repository.cart_items(uow.session, cart.id) if cart else []
    return await view_of(uow, items)


async def _put_item(
    uow: UnitOfWork, owner: CartOwner, sku_id: int, quantity_of: Callable[[int], int]
) -> CartView:
    """Set a line's quantity to ``quantity_of(current)`` (0 when absent) at today's price."""
    async with uow.atomic():
        sku = (await catalog.get_skus(uow=uow, sku_ids=[sku_id])).get(sku_id)
        if sku is None:
            raise NotFound(f"no SKU {sku_id}")
        shops = await merchants.get_merchants(uow=uow, ids=[sku.merchant_id])
        if not is_orderable(sku, shops):
            raise ItemUnavailable("this item is not for sale now", details={"sku_id": sku_id})
        cart = await _find_or_create(uow, owner)
        items = await repository.cart_items(uow.session, cart.id)
        existing = next((item for item in items if item.sku_id == sku_id), None)
        quantity = quantity_of(existing.quantity if existing else 0)
        if existing is not None:
            existing.quantity, existing.price_seen_fen = quantity, sku.price_fen
        elif len(items) >= MAX_LINES:
            raise InvalidInput(f"a cart holds at most {MAX_LINES} different items")
        else:
            row = CartItem(
                cart_id=cart.id,
                sku_id=sku_id,
                quantity=quantity,
                price_seen_fen=sku.price_fen,
                added_at=uow.now(),
            )
            await repository.add_cart_item(uow.session, row)
        await repository.touch_cart(uow.session, cart.id, uow.now())
    return await get_cart(uow=uow, owner=owner)


def _check_quantity(quantity: int) -> int:
    if isinstance(quantity, bool) or not 1 <= quantity <= MAX_LINE_QUANTITY:
        raise InvalidInput(
            f"quantity must be between 1 and {MAX_LINE_QUANTITY}",
            details={"quantity": quantity},
        )
    return quantity


async def set_cart_item(
    *, uow: UnitOfWork, owner: CartOwner, sku_id: int, quantity: int
) -> CartView:
    """Put ``quantity`` of the SKU in the cart (replacing the line's quantity)."""
    _check_quantity(quantity)
    return await _put_item(uow, owner, sku_id, lambda _current: quantity)


async def add_cart_item(
    *, uow: UnitOfWork, owner: CartOwner, sku_id: int, quantity: int = 1
) -> CartView:
    """Add ``quantity`` more of the SKU (the line is capped at the per-line limit)."""
    _check_quantity(quantity)
    return await _put_item(
        uow, owner, sku_id, lambda current: min(current + quantity, MAX_LINE_QUANTITY)
    )


async def remove_cart_item(*, uow: UnitOfWork, owner: CartOwner, sku_id: int) -> CartView:
    """Take the SKU out of the cart; NotFound when it is not in it."""
    async with uow.atomic():
        cart = await _find(uow, owner)
        if cart is None or not await repository.delete_cart_items(uow.session, cart.id, [sku_id]):
            raise NotFound("this item is not in your cart")
        await repository.touch_cart(uow.session, cart.id, uow.now())
    return await get_cart(uow=uow, owner=owner)


async def merge_guest_cart(*, uow: UnitOfWork, guest_key: str, buyer_id: int) -> CartView:
    """At log-in: the guest's lines join the buyer's cart (quantities add up, capped at the
    line limit; past the cart's line limit the rest is dropped) and the guest cart is gone."""
    buyer = CartOwner.buyer(buyer_id)
    async with uow.atomic():
        guest = await _find(uow, CartOwner.guest(guest_key))
        if guest is not None:
            cart = await _find_or_create(uow, buyer)
            mine = {item.sku_id: item for item in await repository.cart_items(uow.session, cart.id)}
            for item in await repository.cart_items(uow.session, guest.id):
                if item.sku_id in mine:
                    line = mine[item.sku_id]
                    line.quantity = min(line.quantity + item.quantity, MAX_LINE_QUANTITY)
                    line.price_seen_fen = item.price_seen_fen
                elif len(mine) < MAX_LINES:
                    mine[item.sku_id] = CartItem(
                        cart_id=cart.id,
                        sku_id=item.sku_id,
                        quantity=item.quantity,
                        price_seen_fen=item.price_seen_fen,
                        added_at=item.added_at,
                    )
                    uow.session.add(mine[item.sku_id])
            await repository.delete_cart(uow.session, guest.id)
            await repository.touch_cart(uow.session, cart.id, uow.now())
    return await get_cart(uow=uow, owner=buyer)
