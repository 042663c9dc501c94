"""JSON routes of ordering: the cart (buyers and guests), checkouts, orders for buyers,
merchants, agents and admins.

A guest's cart is found by the ``X-Cart-Key`` header. A guest who changes a cart without one
is given a fresh key in the response's ``X-Cart-Key`` header: keep it and send it back.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response, status
from sse_starlette import EventSourceResponse

from kuaidan import deps
from kuaidan.accounts.domain import Role, UserInfo
from kuaidan.core.errors import Forbidden, InvalidInput, NotFound
from kuaidan.core.fields import Id
from kuaidan.core.pagination import PageRequest
from kuaidan.core.templating import csrf_token
from kuaidan.ordering import service, stream
from kuaidan.ordering.domain import Actor, CartOwner, OrderingPolicy
from kuaidan.ordering.readmodels import CartView
from kuaidan.ordering.schemas import (
    CancelRequest,
    CarrierOptionRead,
    CarrierQuery,
    CartItemPut,
    CartRead,
    CheckoutCreate,
    CheckoutResultRead,
    OrderListParams,
    OrderPage,
    OrderRead,
    RatingCreate,
    ReturnAddressPut,
    ReturnAddressRead,
    ShippingSettingsPut,
    ShippingSettingsRead,
    ShipRequest,
    TrackingRead,
)
from kuaidan.ordering.service import shipping as shipping_service
from kuaidan.ordering.web_context import risk_context_from

router = APIRouter(tags=["ordering"], dependencies=[deps.CsrfProtected])

CART_KEY = "X-Cart-Key"
CartKeyHeader = Annotated[
    str | None, Header(alias=CART_KEY, max_length=100, description="A guest's cart key.")
]
IdempotencyKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=100,
        pattern=r"^[\x20-\x7e]+$",
        description="Any 1-100 printable characters, new for each order the buyer means to place.",
    ),
]


def _policy(request: Request) -> OrderingPolicy:
    return service.policy_from_settings(deps.container_of(request).settings)


def _actor(user: UserInfo) -> Actor:
    return service.actor_of(user)


# --- cart ----------------------------------------------------------------------------------


def _owner(user: UserInfo | None, key: str | None) -> CartOwner | None:
    """The caller's cart: a buyer's own, or a guest's by key (None: a guest with no key yet)."""
    if user is not None:
        if user.role is not Role.BUYER:
            raise Forbidden("only buyers and guests have a cart")
        return CartOwner.buyer(user.id)
    return None if key is None else CartOwner.guest(key)


async def _writing_owner(
    user: deps.OptionalUser, response: Response, x_cart_key: CartKeyHeader = None
) -> CartOwner:
    owner = _owner(user, x_cart_key)
    if owner is None:
        key = service.new_guest_key()
        response.headers[CART_KEY] = key
        owner = CartOwner.guest(key)
    return owner


WritingOwner = Annotated[CartOwner, Depends(_writing_owner)]


@router.get("/cart", summary="The caller's cart")
async def get_cart(
    uow: deps.Uow, user: deps.OptionalUser, x_cart_key: CartKeyHeader = None
) -> CartRead:
    """Buyers (signed in) or guests (``X-Cart-Key``). Current prices, price-changed, stock and
    delisted flags per line; lines grouped per merchant (one order each); totals in fen."""
    owner = _owner(user, x_cart_key)
    if owner is None:
        return CartRead.of(CartView(groups=()))
    return CartRead.of(await service.get_cart(uow=uow, owner=owner))


@router.put("/cart/items/{sku_id}", summary="Put a quantity of a SKU in the cart")
async def put_cart_item(
    uow: deps.Uow, sku_id: Id, body: CartItemPut, owner: WritingOwner
) -> CartRead:
    """Buyers or guests. Sets the line's quantity (1-99) at today's price; 404 for an unknown
    SKU, 409 ``item_unavailable`` for one not on sale."""
    return CartRead.of(
        await service.set_cart_item(uow=uow, owner=owner, sku_id=sku_id, quantity=body.quantity)
    )


@router.delete("/cart/items/{sku_id}", summary="Take a SKU out of the cart")
async def delete_cart_item(
    uow: deps.Uow, sku_id: Id, user: deps.OptionalUser, x_cart_key: CartKeyHeader = None
) -> CartRead:
    """Buyers or guests; 404 when the SKU is not in the cart."""
    owner = _owner(user, x_cart_key)
    if owner is None:
        raise NotFound("this item is not in your cart")
    return CartRead.of(await service.remove_cart_item(uow=uow, owner=owner, sku_id=sku_id))


@router.post("/cart/merge", summary="Move a guest cart into the buyer's cart")
async def merge_cart(
    uow: deps.Uow, buyer: deps.Buyer, x_cart_key: CartKeyHeader = None
) -> CartRead:
    """Buyers, with the guest's ``X-Cart-Key``: quantities add up (capped at 99 per line)."""
    if x_cart_key is None:
        raise InvalidInput(f"send the guest cart's key in the {CART_KEY} header")
    CartOwner.guest(x_cart_key)
    return CartRead.of(
        await service.merge_guest_cart(uow=uow, guest_key=x_cart_key, buyer_id=buyer.id)
    )


# --- checkouts -----------------------------------------------------------------------------


@router.post(
    "/checkouts",
    status_code=status.HTTP_201_CREATED,
    summary="Place orders (one per merchant) and start their payment",
    responses={200: {"description": "A retry with the same Idempotency-Key and body."}},
)
async def create_checkout(
    request: Request,
    response: Response,
    uow: deps.Uow,
    buyer: deps.Buyer,
    body: CheckoutCreate,
    idempotency_key: IdempotencyKey,
) -> CheckoutResultRead:
    """Buyers. 201 with the checkout (reference, total, payment deadline, pay_url) and its
    orders; a retry with the same key and body answers 200 with the same; the same key with
    another body 409 ``idempotency_key_reuse``. 409 ``price_changed`` lists new prices: send
    them back in ``accepted_prices`` to confirm. 409 ``out_of_stock``/``purchase_limit``."""
    if body.from_cart:
        result = await service.checkout_cart(
            uow=uow,
            buyer=buyer,
            sku_ids=body.sku_ids,
            address_id=body.address_id,
            idempotency_key=idempotency_key,
            accepted_prices=body.accepted_prices,
            note=body.note,
            policy=_policy(request),
            context=risk_context_from(request),
        )
    else:
        result = await service.place_checkout(
            uow=uow,
            buyer=buyer,
            items=[(item.sku_id, item.quantity) for item in body.items or []],
            address_id=body.address_id,
            idempotency_key=idempotency_key,
            accepted_prices=body.accepted_prices,
            note=body.note,
            policy=_policy(request),
            context=risk_context_from(request),
        )
    if not result.created:
        response.status_code = status.HTTP_200_OK
    return CheckoutResultRead.of(result, actor=Actor.BUYER)


@router.get("/checkouts/{reference}", summary="One checkout with its orders")
async def get_checkout(uow: deps.Uow, user: deps.CurrentUser, reference: str) -> CheckoutResultRead:
    """The buyer who placed it, agents and admins; anyone else 404."""
    result = await service.get_checkout(uow=uow, reference=reference, viewer=user)
    return CheckoutResultRead.of(result, actor=_actor(user))


@router.post("/checkouts/{reference}/refresh", summary="Ask the provider about the payment")
async def refresh_checkout(
    uow: deps.Uow, user: deps.CurrentUser, reference: str
) -> CheckoutResultRead:
    """The buyer who placed it, agents and admins: ask the payment provider whether an
    unpaid checkout was paid (when its notification is late)."""
    result = await service.refresh_checkout_payment(uow=uow, reference=reference, viewer=user)
    return CheckoutResultRead.of(result, actor=_actor(user))


# --- orders --------------------------------------------------------------------------------


@router.get("/orders", summary="The buyer's orders")
async def list_orders(
    uow: deps.Uow, buyer: deps.Buyer, params: Annotated[OrderListParams, Query()]
) -> OrderPage:
    """Buyers: their own orders, newest first, optionally of one status."""
    page = await service.list_orders(
        uow=uow,
        buyer_id=buyer.id,
        status=params.status,
        page=PageRequest(params.page, params.page_size),
    )
    return OrderPage.of(page)


@router.get("/orders/{number}", summary="One order")
async def get_order(uow: deps.Uow, user: deps.CurrentUser, number: str) -> OrderRead:
    """Its buyer, its merchant's staff, agents and admins; anyone else 404 (never 403, so
    order numbers cannot be probed)."""
    view = await service.get_order(uow=uow, number=number, viewer=user)
    return OrderRead.of_view(view, actor=_actor(user))


@router.post("/orders/{number}/cancel", summary="Cancel an order before it ships")
async def cancel_order(
    uow: deps.Uow, user: deps.CurrentUser, number: str, body: CancelRequest
) -> OrderRead:
    """Its buyer, its merchant, agents and admins, while pending payment or paid. Stock goes
    back on sale; a paid order is refunded in full. 409 ``illegal_transition`` otherwise."""
    view = await service.cancel_order(uow=uow, number=number, by=user, reason=body.reason)
    return OrderRead.of_view(view, actor=_actor(user))


@router.post("/orders/{number}/confirm-receipt", summary="Confirm the parcel arrived")
async def confirm_receipt(uow: deps.Uow, user: deps.CurrentUser, number: str) -> OrderRead:
    """Its buyer (or an agent for them), once shipped or delivered: the order is completed."""
    view = await service.confirm_receipt(uow=uow, number=number, by=user)
    return OrderRead.of_view(view, actor=_actor(user))


@router.post("/orders/{number}/deliver", summary="Mark an order delivered")
async def deliver_order(uow: deps.Uow, admin: deps.Admin, number: str) -> OrderRead:
    """Admins: record delivery when the carrier's scan is missing."""
    view = await service.mark_delivered(uow=uow, number=number, by=admin)
    assert view is not None
    return OrderRead.of_view(view, actor=Actor.ADMIN)


@router.get("/merchant/orders", summary="The merchant's orders")
async def list_merchant_orders(
    uow: deps.Uow, staff: deps.Merchant, params: Annotated[OrderListParams, Query()]
) -> OrderPage:
    """Merchant staff: their shop's orders, newest first; ``status=paid`` is the to-ship list."""
    page = await service.list_merchant_orders(
        uow=uow,
        merchant_id=service.require_merchant(staff),
        status=params.status,
        page=PageRequest(params.page, params.page_size),
    )
    return OrderPage.of(page)


@router.get("/merchant/orders/{number}/carriers", summary="Carriers proposed for an order")
async def propose_carriers(
    uow: deps.Uow, staff: deps.Merchant, number: str, params: Annotated[CarrierQuery, Query()]
) -> list[CarrierOptionRead]:
    """Merchant staff of the order's shop: the carriers that take this parcel from the shop's
    ship-from place to the buyer, best first, with score, price (fen), promised days and the
    reasons for the rank. 409 ``ship_from_missing`` until the shop has a ship-from place."""
    options = await service.propose_carriers(
        uow=uow, number=number, by=staff, weight_g=params.weight_g
    )
    return [CarrierOptionRead.of(option) for option in options]


@router.post("/merchant/orders/{number}/ship", summary="Ship a paid order")
async def ship_order(
    uow: deps.Uow, staff: deps.Merchant, number: str, body: ShipRequest
) -> OrderRead:
    """Merchant staff of the order's shop. ``{}`` books the best carrier, ``carrier_code``
    the chosen one (the booking follows after the answer; the tracking number appears on the
    order then); ``carrier_code`` + ``tracking_number`` tracks a parcel the shop booked
    itself. In one transaction the order is shipped, its stock sold and the shipment
    recorded. 409 unless the order is paid, or shipped with a booking the carrier refused
    (then it ships again); 422 ``no_carrier_available`` for a carrier that cannot take it."""
    view = await service.ship_order(
        uow=uow,
        number=number,
        by=staff,
        carrier_code=body.carrier_code,
        tracking_number=body.tracking_number,
        weight_g=body.weight_g,
    )
    return OrderRead.of_view(view, actor=Actor.MERCHANT)


@router.get("/merchant/shipping-settings", summary="The shop's ship-from place and auto-booking")
async def get_shipping_settings(uow: deps.Uow, staff: deps.Merchant) -> ShippingSettingsRead:
    """Merchant staff."""
    return ShippingSettingsRead.of(await service.get_shipping_settings(uow=uow, by=staff))


@router.put("/merchant/shipping-settings", summary="Change the ship-from place and auto-booking")
async def put_shipping_settings(
    uow: deps.Uow, staff: deps.Merchant, body: ShippingSettingsPut
) -> ShippingSettingsRead:
    """Merchant staff. A province and a city of mainland China (浙江省/Zhejiang, 杭州市), kept
    as the carriers' tables name them; ``auto_book_carrier`` books the best carrier as soon
    as an order is paid (it needs a place). 422 for a place that is not one."""
    settings = await service.set_shipping_settings(
        uow=uow,
        by=staff,
        province=body.province,
        city=body.city,
        auto_book_carrier=body.auto_book_carrier,
    )
    return ShippingSettingsRead.of(settings)


@router.get("/merchant/return-address", summary="Where the shop wants returned parcels sent")
async def get_return_address(uow: deps.Uow, staff: deps.Merchant) -> ReturnAddressRead | None:
    """Merchant staff. ``null`` until the shop sets one."""
    address = await shipping_service.get_return_address(uow=uow, by=staff)
    return None if address is None else ReturnAddressRead.of(address)


@router.put("/merchant/return-address", summary="Change the shop's return address")
async def put_return_address(
    uow: deps.Uow, staff: deps.Merchant, body: ReturnAddressPut
) -> ReturnAddressRead:
    """Merchant staff. The place is a province and a city of mainland China (浙江省/Zhejiang,
    杭州市), kept as the carriers' tables name them; recipient 1-50 characters, phone 5-20
    with at least 5 digits, street line 4-200. 422 naming the field that is wrong."""
    address = await shipping_service.set_return_address(
        uow=uow,
        by=staff,
        recipient=body.recipient,
        phone=body.phone,
        province=body.province,
        city=body.city,
        line=body.line,
    )
    return ReturnAddressRead.of(address)


# --- tracking ------------------------------------------------------------------------------


@router.get("/orders/{number}/tracking", summary="The order's parcel")
async def get_tracking(uow: deps.Uow, user: deps.CurrentUser, number: str) -> TrackingRead:
    """Its buyer, its merchant's staff, agents and admins (anyone else 404): the current
    shipment with status, ETA range and scans (newest first), earlier shipments, exception
    cases and the buyer's rating."""
    return TrackingRead.of(await service.get_tracking(uow=uow, number=number, viewer=user))


@router.post(
    "/orders/{number}/delivery-rating",
    status_code=status.HTTP_201_CREATED,
    summary="Rate the delivery",
)
async def rate_delivery(
    uow: deps.Uow, buyer: deps.Buyer, number: str, body: RatingCreate
) -> TrackingRead:
    """The buyer, once the parcel is delivered: 1-5 stars, once (409 after)."""
    await service.rate_delivery(
        uow=uow, number=number, by=buyer, stars=body.stars, comment=body.comment
    )
    return TrackingRead.of(await service.get_tracking(uow=uow, number=number, viewer=buyer))


def stream_limits(request: Request) -> stream.StreamLimits:
    settings = deps.container_of(request).settings
    return stream.StreamLimits(
        recheck_s=settings.tracking_stream_recheck_s,
        heartbeat_s=settings.tracking_stream_heartbeat_s,
        max_s=settings.tracking_stream_max_s,
        max_streams=settings.tracking_stream_max_clients,
        zone=settings.timezone,
    )


@router.get(
    "/orders/{number}/tracking/events",
    summary="Live tracking of an order (server-sent events)",
    response_class=EventSourceResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "An event stream."}},
)
async def tracking_events(
    request: Request, uow: deps.Uow, user: deps.CurrentUser, number: str
) -> EventSourceResponse:
    """Its buyer, its merchant's staff, agents and admins (anyone else 404). Events named
    ``tracking`` carry the order's tracking (``mark``, ``order_status``, ``shipment_status``
    and the order page's changing parts as HTML): one at once, then one per change. Comment
    lines keep the connection alive; the stream ends after a few minutes (``bye``; an
    EventSource reconnects by itself) or when the order can no longer be seen (``gone``)."""
    limits = stream_limits(request)
    token = csrf_token(request)
    first = await stream.read_snapshot(uow, number, user, zone=limits.zone, csrf_token=token)
    await uow.end_reads()
    container = deps.container_of(request)
    events = await stream.tracking_events(
        container.unit_of_work,
        container.adapters,
        number=number,
        user=user,
        first=first,
        limits=limits,
        csrf_token=token,
    )
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return EventSourceResponse(events, ping=limits.heartbeat_s, sep="\n", headers=headers)
