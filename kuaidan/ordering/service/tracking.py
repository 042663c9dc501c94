"""The order's side of its parcel: reactions to logistics' events (booked, refused, delivered,
exception opened and resolved), the buyer's tracking view and its live mark, the buyer's
rating of the delivery, and the proactive message when a parcel runs into trouble.

Every reaction is idempotent: it checks the order (its current shipment, its status, its
timeline) before it changes anything, so a redelivered event does nothing twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from kuaidan.accounts.domain import Role, UserInfo
from kuaidan.core.db import UnitOfWork
from kuaidan.core.errors import Forbidden, NotFound
from kuaidan.core.notify import NOTIFIER, DevInboxNotifier, Message, Notifier
from kuaidan.logistics import service as logistics
from kuaidan.logistics.domain import BookingState, ExceptionCaseInfo, Resolution, ShipmentInfo
from kuaidan.ordering import repository
from kuaidan.ordering.domain import Actor, OrderStatus, TimelineAction, refund_request_no
from kuaidan.ordering.models import Order
from kuaidan.ordering.readmodels import TrackingView
from kuaidan.ordering.service import _common as common
from kuaidan.ordering.service.live import announce
from kuaidan.ordering.service.orders import deliver_row, request_order_refund
from kuaidan.ordering.service.shipping import replace_shipment

# What a buyer is told about each kind of exception case, in plain words.
CASE_WORDS: Mapping[str, str] = {
    "no_pickup": "快递员还没有揽收包裹 The carrier has not picked the parcel up yet",
    "stale_in_transit": "包裹在途中长时间没有更新 The parcel has not moved for a while",
    "stale_at_destination": "包裹到达您所在城市后没有更新 The parcel is in your city but has "
    "not moved on",
    "problem": "快递公司报告包裹出现问题 The carrier reported a problem with the parcel",
    "returning": "包裹正在退回商家 The parcel is on its way back to the shop",
    "refused": "包裹被拒收 The parcel was refused at delivery",
    "lost": "快递公司报告包裹丢失 The carrier reported the parcel lost",
    "damaged": "快递公司报告包裹破损 The carrier reported the parcel damaged",
}
RESOLUTION_WORDS: Mapping[str, str] = {
    "chase": "已催促快递公司 We chased the carrier",
    "reship": "商家已重新发货 A new parcel is on its way",
    "refund": "已为您退款 Your money is being refunded",
    "claim": "已向快递公司索赔 We claimed compensation from the carrier",
}


async def _order(uow: UnitOfWork, order_id: int | None) -> Order | None:
    return None if order_id is None else await repository.get_order(uow.session, order_id)


async def _once(uow: UnitOfWork, row: Order, action: TimelineAction, key: str) -> bool:
    """True when no ``action`` entry for ``key`` is on the order's timeline yet."""
    return not await repository.has_timeline_entry(
        uow.session, row.id, action=action.value, note_prefix=f"{key} "
    )


def _note(uow: UnitOfWork, row: Order, action: TimelineAction, note: str) -> None:
    common.add_timeline(uow, row, action=action.value, actor=Actor.SYSTEM, actor_id=None, note=note)
    announce(uow, row.id, action.value)


# --- reactions to logistics' events ---------------------------------------------------------


async def note_booked(
    *, uow: UnitOfWork, order_id: int | None, reference: str, carrier_name: str, tracking: str
) -> bool:
    """The carrier booked the order's parcel: the order shows carrier and tracking number."""
    async with uow.atomic():
        row = await _order(uow, order_id)
        if row is None or row.shipment_reference != reference or row.tracking_number == tracking:
            return False
        values = {"carrier": carrier_name[:50], "tracking_number": tracking}
        await repository.set_order_fields(uow.session, row.id, values)
        _note(uow, row, TimelineAction.BOOKED, f"{reference} {carrier_name} {tracking}")
        return True


async def note_booking_failed(
    *, uow: UnitOfWork, order_id: int | None, reference: str, carrier_code: str, error: str
) -> bool:
    """The carrier refused the booking: the timeline says so; the merchant ships again."""
    async with uow.atomic():
        row = await _order(uow, order_id)
        if row is None or row.shipment_reference != reference:
            return False
        if not await _once(uow, row, TimelineAction.BOOKING_FAILED, reference):
            return False
        _note(uow, row, TimelineAction.BOOKING_FAILED, f"{reference} {carrier_code}: {error}")
        return True


async def deliver_from_carrier(*, uow: UnitOfWork, order_id: int | None, reference: str) -> bool:
    """The carrier delivered the parcel: a shipped order is delivered (by the platform)."""
    async with uow.atomic():
        row = await _order(uow, order_id)
        if row is None or row.status != OrderStatus.SHIPPED.value:
            return False
        await deliver_row(uow, row, actor=Actor.SYSTEM, actor_id=None, note=f"{reference}")
        return True


async def note_exception(
    *, uow: UnitOfWork, order_id: int | None, case_id: int, kind: str, reference: str
) -> bool:
    """A case opened on the order's parcel: the timeline says so in plain words."""
    async with uow.atomic():
        row = await _order(uow, order_id)
        if row is None or not await _once(uow, row, TimelineAction.EXCEPTION, f"#{case_id}"):
            return False
        words = CASE_WORDS.get(kind, kind)
        _note(uow, row, TimelineAction.EXCEPTION, f"#{case_id} {reference}: {words}")
        return True


async def resolve_from_case(
    *, uow: UnitOfWork, order_id: int | None, case_id: int, resolution: str, reference: str
) -> bool:
    """A case on the order's parcel was resolved: a refund gives the buyer's money back
    (the order refund path), a reship sends a new parcel; chase and claim are noted."""
    async with uow.atomic():
        row = await _order(uow, order_id)
        if row is None or not await _once(
            uow, row, TimelineAction.EXCEPTION_RESOLVED, f"#{case_id}"
        ):
            return False
        words = RESOLUTION_WORDS.get(resolution, resolution)
        _note(uow, row, TimelineAction.EXCEPTION_RESOLVED, f"#{case_id} {resolution}: {words}")
        if resolution == Resolution.REFUND and row.paid_at is not None:
            if row.refund_request_no != refund_request_no(row.id, "exception"):
                await request_order_refund(
                    uow, row, cause="exception", note=f"parcel exception #{case_id}"
                )
        elif resolution == Resolution.RESHIP and row.shipment_reference == reference:
            await _reship(uow, row, reference)
        return True


async def _reship(uow: UnitOfWork, row: Order, reference: str) -> None:
    current = await logistics.get_shipment(uow=uow, reference=reference, with_scans=False)
    if current.booking == BookingState.PENDING:
        return  # nothing to replace yet; the case is noted
    info = await logistics.reship_shipment(uow=uow, reference=reference, stalled=True)
    row = await repository.get_order(uow.session, row.id) or row
    await replace_shipment(
        uow, row, info, action=TimelineAction.RESHIPPED, actor=Actor.SYSTEM, by=None
    )


# --- telling the buyer ----------------------------------------------------------------------


def notifier_of(uow: UnitOfWork) -> Notifier:
    found = uow.adapters.get(NOTIFIER)
    return DevInboxNotifier() if found is None else found


async def tell_buyer_of_exception(
    *, uow: UnitOfWork, order_id: int | None, case_id: int, kind: str
) -> bool:
    """Message the buyer when a case opens on their parcel (no transaction open; once per
    case through the notifier's dedupe key)."""
    row = await _order(uow, order_id)
    if row is None:
        return False
    number = common.number_of(uow.cipher, row)
    await uow.end_reads()
    message = Message(
        user_id=row.buyer_id,
        channel="sms",
        subject=f"包裹异常 Your parcel for order {number}",
        body=(
            f"【快单】您的订单 {number} 的包裹：{CASE_WORDS.get(kind, kind)}。"
            "我们已通知商家处理，结果会显示在订单页。"
            f" kuaidan: about your order {number}: we have asked the shop to act and will "
            "show the outcome on your order page."
        ),
        dedupe_key=f"ordering.parcel_exception:{case_id}",
    )
    await notifier_of(uow).send(uow, message)
    return True


# --- the tracking view ----------------------------------------------------------------------


async def _shipments(uow: UnitOfWork, row: Order) -> tuple[ShipmentInfo | None, list[str]]:
    references = [
        s.reference for s in await logistics.shipments_for_order(uow=uow, order_id=row.id)
    ]
    current = None
    if row.shipment_reference is not None:
        current = await logistics.get_shipment(uow=uow, reference=row.shipment_reference)
    return current, references


async def tracking_mark(*, uow: UnitOfWork, number: str, viewer: UserInfo) -> str:
    """A short value that changes whenever the order's tracking view would (cheap to read:
    live pages compare it at each notice and at a slow interval)."""
    row = await common.visible_order(uow, number, viewer)
    return await _mark(uow, row)


async def _mark(uow: UnitOfWork, row: Order) -> str:
    shipments = await logistics.shipments_for_order(uow=uow, order_id=row.id)
    marks = await logistics.tracking_mark(uow=uow, references=[s.reference for s in shipments])
    last = await repository.last_timeline_id(uow.session, row.id)
    text = repr((row.version, row.status, row.shipment_reference, row.tracking_number, last, marks))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


async def get_tracking(*, uow: UnitOfWork, number: str, viewer: UserInfo) -> TrackingView:
    """The parcel of an order as its buyer (or merchant, agent, admin) sees it."""
    row = await common.visible_order(uow, number, viewer)
    current, references = await _shipments(uow, row)
    earlier = []
    cases: list[ExceptionCaseInfo] = []
    for reference in references:
        cases.extend(await logistics.list_exception_cases(uow=uow, reference=reference))
        if reference != row.shipment_reference:
            earlier.append(await logistics.get_shipment(uow=uow, reference=reference))
    rating = None
    if current is not None and current.status.value == "delivered":
        rating = await logistics.delivery_rating(uow=uow, reference=current.reference)
    return TrackingView(
        shipment=current,
        earlier=tuple(earlier),
        cases=tuple(sorted(cases, key=lambda c: c.opened_at, reverse=True)),
        rating=rating,
        mark=await _mark(uow, row),
    )


async def rate_delivery(
    *, uow: UnitOfWork, number: str, by: UserInfo, stars: int, comment: str = ""
) -> None:
    """The buyer rates the delivery of the order's (delivered) parcel, once."""
    if by.role is not Role.BUYER:
        raise Forbidden("only the buyer rates a delivery")
    row = await common.visible_order(uow, number, by)
    if row.shipment_reference is None:
        raise NotFound("this order has no parcel to rate")
    await logistics.rate_delivery(
        uow=uow, reference=row.shipment_reference, buyer_id=by.id, stars=stars, comment=comment
    )
