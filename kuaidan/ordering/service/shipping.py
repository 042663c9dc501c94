"""Shipping an order through the logistics area: the carriers proposed for it, shipping with
the chosen (or best) carrier or with a tracking number the merchant booked itself, shipping
again after a carrier refused the booking, booking on payment for merchants who opted in,
and the merchant's ship-from settings and return address.

Shipping is one transaction: the order becomes shipped, its reserved stock is sold and the
shipment is recorded in logistics. The carrier itself is called after the commit, by
logistics' booking handler; ``shipment.booked`` then brings the tracking number back.
"""

from __future__ import annotations

from kuaidan.accounts.domain import UserInfo
from kuaidan.core.db import UnitOfWork
from kuaidan.core.errors import Conflict, DomainError, InvalidInput
from kuaidan.core.outbox import publish
from kuaidan.inventory import service as inventory
from kuaidan.logistics import service as logistics
from kuaidan.logistics.domain import Place, Recipient, ShipmentInfo, place_of
from kuaidan.merchants import service as merchants
from kuaidan.merchants.domain import ReturnAddress, ShippingSettings
from kuaidan.ordering import repository
from kuaidan.ordering.domain import (
    TRACKING_RE,
    Actor,
    IllegalTransition,
    OrderAction,
    OrderStatus,
    TimelineAction,
    stock_holder,
    transition,
)
from kuaidan.ordering.events import OrderShipped
from kuaidan.ordering.models import Order
from kuaidan.ordering.readmodels import CarrierOption, OrderView, carrier_options
from kuaidan.ordering.service import _common as common
from kuaidan.ordering.service.live import announce
from kuaidan.ordering.service.orders import get_order, require_merchant

# Catalog items carry no weight yet: a parcel is quoted and booked at 1 kg unless the
# merchant says otherwise.
DEFAULT_WEIGHT_G = 1000


class ShipFromMissing(Conflict):
    code = "ship_from_missing"


# --- the parcel's facts ----------------------------------------------------------------------


async def _origin(uow: UnitOfWork, merchant_id: int) -> Place:
    settings = await merchants.get_shipping_settings(uow=uow, merchant_id=merchant_id)
    if not settings.has_place or settings.province is None or settings.city is None:
        raise ShipFromMissing(
            "设置发货地后才能发货 Set your ship-from place (shipping settings) before shipping"
        )
    return Place(settings.province, settings.city)


# Where the shop's parcels leave from (after-sales ships replacements from there too).
ship_from = _origin


def _destination(row: Order) -> Place:
    return place_of(row.province, row.city)


def _recipient(uow: UnitOfWork, row: Order) -> Recipient:
    address = common.address_of(uow.cipher, row)
    return Recipient(address.recipient, address.phone, address.one_line())


def _check_tracking(carrier_code: str | None, tracking_number: str | None) -> str | None:
    if tracking_number is None:
        return None
    number = tracking_number.strip().upper()
    if not TRACKING_RE.match(number):
        raise InvalidInput(
            "a tracking number is 6 to 40 letters, digits or '-'",
            details={"field": "tracking_number"},
        )
    if not carrier_code:
        raise InvalidInput(
            "say which carrier the tracking number is of", details={"field": "carrier_code"}
        )
    return number


async def _record_shipment(
    uow: UnitOfWork,
    row: Order,
    *,
    carrier_code: str | None,
    tracking: str | None,
    weight_g: int,
) -> ShipmentInfo:
    """Record the parcel in logistics (booking requested, or the merchant's own number)."""
    origin, destination = await _origin(uow, row.merchant_id), _destination(row)
    number = common.number_of(uow.cipher, row)
    if tracking is None:
        return await logistics.request_shipment(
            uow=uow, merchant_id=row.merchant_id, origin=origin, destination=destination,
            weight_g=weight_g, recipient=_recipient(uow, row), order_id=row.id,
            order_number=number, buyer_id=row.buyer_id, carrier_code=carrier_code,
        )  # fmt: skip
    assert carrier_code is not None
    info = await logistics.track_shipment(
        uow=uow, merchant_id=row.merchant_id, carrier_code=carrier_code, tracking_number=tracking,
        origin=origin, destination=destination, weight_g=weight_g, order_id=row.id,
        order_number=number, buyer_id=row.buyer_id,
    )  # fmt: skip
    if info.order_id != row.id:
        raise Conflict(
            "this tracking number belongs to another parcel", details={"field": "tracking_number"}
        )
    return info


# --- what the merchant sees before shipping --------------------------------------------------


async def propose_carriers(
    *, uow: UnitOfWork, number: str, by: UserInfo, weight_g: int = DEFAULT_WEIGHT_G
) -> list[CarrierOption]:
    """Carriers that can take the order's parcel, best first, with score, price, promise and
    the reasons for their rank (``logistics.quote_carriers``)."""
    row = await common.visible_order(uow, number, by)
    quotes = await logistics.quote_carriers(
        uow=uow,
        origin=await _origin(uow, row.merchant_id),
        destination=_destination(row),
        weight_g=weight_g,
    )
    return carrier_options(quotes)


# --- shipping -------------------------------------------------------------------------------


async def ship_order(
    *,
    uow: UnitOfWork,
    number: str,
    by: UserInfo,
    carrier_code: str | None = None,
    tracking_number: str | None = None,
    weight_g: int = DEFAULT_WEIGHT_G,
) -> OrderView:
    """Ship a paid order: with the best carrier (``carrier_code`` None), the named one, or a
    parcel the merchant booked itself (``tracking_number``). A shipped order whose booking
    the carrier refused ships again the same way; any other shipped order is a 409."""
    tracking = _check_tracking(carrier_code, tracking_number)
    actor = common.actor_of(by)
    async with uow.atomic():
        row = await common.visible_order(uow, number, by)
        # The row lock a change before shipping also takes: of the two, one goes first.
        row = await repository.lock_order(uow.session, row.id) or row
        if row.status == OrderStatus.SHIPPED.value and await _booking_failed(uow, row):
            await _ship_again(uow, row, actor, by.id, carrier_code, tracking, weight_g)
        else:
            await ship_row(
                uow, row, actor=actor, actor_id=by.id, carrier_code=carrier_code,
                tracking=tracking, weight_g=weight_g,
            )  # fmt: skip
    return await get_order(uow=uow, number=number, viewer=by)


async def ship_row(
    uow: UnitOfWork,
    row: Order,
    *,
    actor: Actor,
    actor_id: int | None,
    carrier_code: str | None,
    tracking: str | None,
    weight_g: int,
) -> ShipmentInfo:
    """Inside a transaction: shipment recorded, order shipped, stock sold, event published."""
    transition(OrderStatus(row.status), OrderAction.SHIP, actor=actor)  # a clear 409 first
    info = await _record_shipment(
        uow, row, carrier_code=carrier_code, tracking=tracking, weight_g=weight_g
    )
    now = uow.now()
    await common.change_status(
        uow,
        row,
        OrderAction.SHIP,
        actor=actor,
        actor_id=actor_id,
        note=" ".join(filter(None, [info.carrier_name, info.tracking_number])),
        values={
            "shipped_at": now,
            "carrier": info.carrier_name[:50],
            "tracking_number": info.tracking_number,
            "shipment_reference": info.reference,
        },
    )
    await inventory.consume(uow=uow, holder=stock_holder(row.id))
    event = OrderShipped(
        order_id=row.id,
        number=common.number_of(uow.cipher, row),
        buyer_id=row.buyer_id,
        merchant_id=row.merchant_id,
        carrier=info.carrier_name,
        tracking_number=info.tracking_number,
        shipped_at=now,
        shipment_reference=info.reference,
    )
    await publish(uow, event, key=f"order:{row.id}")
    announce(uow, row.id, "shipped")
    return info


async def _booking_failed(uow: UnitOfWork, row: Order) -> bool:
    if row.shipment_reference is None:
        return False
    current = await logistics.get_shipment(
        uow=uow, reference=row.shipment_reference, with_scans=False
    )
    return current.booking == "failed"


async def _ship_again(
    uow: UnitOfWork,
    row: Order,
    actor: Actor,
    actor_id: int | None,
    carrier_code: str | None,
    tracking: str | None,
    weight_g: int,
) -> None:
    """The carrier refused the booking: a new shipment (another carrier, or the merchant's
    own parcel) replaces it. The order stays shipped; its stock is sold already."""
    transition(OrderStatus.PAID, OrderAction.SHIP, actor=actor)  # who may ship at all
    assert row.shipment_reference is not None
    if tracking is None:
        info = await logistics.reship_shipment(
            uow=uow, reference=row.shipment_reference, carrier_code=carrier_code
        )
    else:
        info = await _record_shipment(
            uow, row, carrier_code=carrier_code, tracking=tracking, weight_g=weight_g
        )
    await replace_shipment(uow, row, info, action=TimelineAction.REBOOKED, actor=actor, by=actor_id)


async def replace_shipment(
    uow: UnitOfWork,
    row: Order,
    info: ShipmentInfo,
    *,
    action: TimelineAction,
    actor: Actor,
    by: int | None,
) -> None:
    """The order's current shipment is now ``info`` (a rebooking or a reship)."""
    changed = await repository.change_order(
        uow.session,
        order_id=row.id,
        status=row.status,
        version=row.version,
        values={
            "carrier": info.carrier_name[:50],
            "tracking_number": info.tracking_number,
            "shipment_reference": info.reference,
        },
    )
    if not changed:
        raise IllegalTransition("the order changed meanwhile; reload it and try again")
    common.add_timeline(
        uow,
        row,
        action=action.value,
        actor=actor,
        actor_id=by,
        note=f"{info.carrier_name} ({info.reference})",
    )
    announce(uow, row.id, action.value)


# --- booking on payment ---------------------------------------------------------------------


async def auto_book(*, uow: UnitOfWork, order_id: int) -> bool:
    """An order was paid: ship it with the best carrier if its merchant opted in (once).

    When nothing can be booked (no place, no carrier for the lane) the order stays paid with a
    timeline note, for the merchant to ship by hand."""
    async with uow.atomic():
        row = await repository.get_order(uow.session, order_id)
        if row is None or row.status != OrderStatus.PAID.value:
            return False
        settings = await merchants.get_shipping_settings(uow=uow, merchant_id=row.merchant_id)
        if not settings.auto_book_carrier:
            return False
        try:  # every check that can refuse runs before anything is written
            options = await _options_for(uow, row, settings)
        except DomainError as exc:
            options, problem = [], exc.message
        else:
            problem = "no carrier under contract takes this parcel"
        if not options:
            common.add_timeline(
                uow,
                row,
                action=TimelineAction.AUTO_BOOK_FAILED.value,
                actor=Actor.SYSTEM,
                actor_id=None,
                note=problem,
            )
            return False
        await ship_row(
            uow, row, actor=Actor.SYSTEM, actor_id=None, carrier_code=options[0].quote.code,
            tracking=None, weight_g=DEFAULT_WEIGHT_G,
        )  # fmt: skip
        return True


async def _options_for(
    uow: UnitOfWork, row: Order, settings: ShippingSettings
) -> list[CarrierOption]:
    if settings.province is None or settings.city is None:
        return []
    recipient = _recipient(uow, row)
    if not (recipient.name.strip() and recipient.phone.strip()):
        return []
    quotes = await logistics.quote_carriers(
        uow=uow,
        origin=Place(settings.province, settings.city),
        destination=_destination(row),
        weight_g=DEFAULT_WEIGHT_G,
    )
    return carrier_options(quotes)


# --- the merchant's settings ----------------------------------------------------------------


async def get_shipping_settings(*, uow: UnitOfWork, by: UserInfo) -> ShippingSettings:
    return await merchants.get_shipping_settings(uow=uow, merchant_id=require_merchant(by))


async def set_shipping_settings(
    *, uow: UnitOfWork, by: UserInfo, province: str, city: str, auto_book_carrier: bool
) -> ShippingSettings:
    """Where the merchant ships from (named as logistics names places: 浙江省 → 浙江,
    杭州市 → 杭州) and whether paid orders book the best carrier at once."""
    merchant_id = require_merchant(by)
    place: Place | None = None
    if province.strip() or city.strip():
        place = place_of(province, city)
    wanted = ShippingSettings(
        place.province if place else None, place.city if place else None, auto_book_carrier
    )
    return await merchants.set_shipping_settings(uow=uow, merchant_id=merchant_id, settings=wanted)


async def get_return_address(*, uow: UnitOfWork, by: UserInfo) -> ReturnAddress | None:
    """Where the shop wants returned parcels sent; None until it sets one."""
    return await merchants.get_return_address(uow=uow, merchant_id=require_merchant(by))


async def set_return_address(
    *,
    uow: UnitOfWork,
    by: UserInfo,
    recipient: str,
    phone: str,
    province: str,
    city: str,
    line: str,
) -> ReturnAddress:
    """Where the shop wants returned parcels sent, the place named as logistics names places
    (浙江省 → 浙江, 杭州市 → 杭州), as for the ship-from place."""
    merchant_id = require_merchant(by)
    for field, value in (("province", province), ("city", city)):
        if not value.strip():
            raise InvalidInput(f"a return address needs a {field}", details={"field": field})
    place = place_of(province, city)
    address = ReturnAddress(recipient, phone, place.province, place.city, line)
    return await merchants.set_return_address(uow=uow, merchant_id=merchant_id, address=address)
