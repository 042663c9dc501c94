"""Ordering's reactions to events: a checkout's payment succeeded (orders become paid, or a
late payment is refunded), an order's refund reached the buyer (timeline), a payment held by
risk (the orders wait, get their pay link, or are cancelled), an order paid (booked at once
for merchants who opted in), and the order's parcel in logistics (booked, refused,
delivered, in trouble and out of it, and every move, told to open tracking pages). The
after-order cases react in their own sub-areas' handlers."""

from __future__ import annotations

from kuaidan.core.db import UnitOfWork
from kuaidan.core.outbox import EventRecord
from kuaidan.core.worker import Registry, Subscription
from kuaidan.logistics.events import (
    ShipmentBooked,
    ShipmentBookingFailed,
    ShipmentDelivered,
    ShipmentExceptionOpened,
    ShipmentExceptionResolved,
    ShipmentStatusChanged,
)
from kuaidan.ordering import service
from kuaidan.ordering.events import OrderPaid
from kuaidan.ordering.service import holds, live
from kuaidan.payments.events import (
    PaymentBlocked,
    PaymentHeld,
    PaymentHoldExpired,
    PaymentReleased,
    PaymentSucceeded,
    RefundSucceeded,
)


async def on_payment_succeeded(uow: UnitOfWork, record: EventRecord) -> None:
    event: PaymentSucceeded = record.load(PaymentSucceeded)
    await service.record_payment(uow=uow, reference=event.reference, paid_at=event.paid_at)


async def on_refund_succeeded(uow: UnitOfWork, record: EventRecord) -> None:
    event: RefundSucceeded = record.load(RefundSucceeded)
    await service.record_refund(uow=uow, request_no=event.request_no, amount_fen=event.amount_fen)


async def on_payment_held(uow: UnitOfWork, record: EventRecord) -> None:
    event: PaymentHeld = record.load(PaymentHeld)
    await holds.note_payment_held(uow=uow, reference=event.reference, held_until=event.held_until)


async def on_payment_released(uow: UnitOfWork, record: EventRecord) -> None:
    event: PaymentReleased = record.load(PaymentReleased)
    await holds.note_payment_released(
        uow=uow, reference=event.reference, pay_url=event.pay_url, pay_deadline=event.pay_deadline
    )


async def on_payment_blocked(uow: UnitOfWork, record: EventRecord) -> None:
    event: PaymentBlocked = record.load(PaymentBlocked)
    await holds.cancel_for_payment(
        uow=uow, reference=event.reference, reason=f"payment blocked: {event.reason}"
    )


async def on_payment_hold_expired(uow: UnitOfWork, record: EventRecord) -> None:
    event: PaymentHoldExpired = record.load(PaymentHoldExpired)
    await holds.cancel_for_payment(
        uow=uow, reference=event.reference, reason="payment not verified in time"
    )


async def on_order_paid(uow: UnitOfWork, record: EventRecord) -> None:
    event: OrderPaid = record.load(OrderPaid)
    await service.auto_book(uow=uow, order_id=event.order_id)


async def on_shipment_booked(uow: UnitOfWork, record: EventRecord) -> None:
    event: ShipmentBooked = record.load(ShipmentBooked)
    await service.note_booked(
        uow=uow,
        order_id=event.order_id,
        reference=event.reference,
        carrier_name=event.carrier_name,
        tracking=event.tracking_number,
    )


async def on_booking_failed(uow: UnitOfWork, record: EventRecord) -> None:
    event: ShipmentBookingFailed = record.load(ShipmentBookingFailed)
    await service.note_booking_failed(
        uow=uow,
        order_id=event.order_id,
        reference=event.reference,
        carrier_code=event.carrier_code,
        error=event.error,
    )


async def on_shipment_delivered(uow: UnitOfWork, record: EventRecord) -> None:
    event: ShipmentDelivered = record.load(ShipmentDelivered)
    await service.deliver_from_carrier(uow=uow, order_id=event.order_id, reference=event.reference)


async def on_shipment_exception(uow: UnitOfWork, record: EventRecord) -> None:
    event: ShipmentExceptionOpened = record.load(ShipmentExceptionOpened)
    await service.note_exception(
        uow=uow,
        order_id=event.order_id,
        case_id=event.case_id,
        kind=event.kind,
        reference=event.reference,
    )


async def tell_buyer_of_exception(uow: UnitOfWork, record: EventRecord) -> None:
    event: ShipmentExceptionOpened = record.load(ShipmentExceptionOpened)
    await service.tell_buyer_of_exception(
        uow=uow, order_id=event.order_id, case_id=event.case_id, kind=event.kind
    )


async def on_exception_resolved(uow: UnitOfWork, record: EventRecord) -> None:
    event: ShipmentExceptionResolved = record.load(ShipmentExceptionResolved)
    await service.resolve_from_case(
        uow=uow,
        order_id=event.order_id,
        case_id=event.case_id,
        resolution=event.resolution,
        reference=event.reference,
    )


async def tell_tracking_pages(uow: UnitOfWork, record: EventRecord) -> None:
    event: ShipmentStatusChanged = record.load(ShipmentStatusChanged)
    if event.order_id is not None:
        await live.publish_change(uow, event.order_id, event.status)


REGISTRY = Registry(
    subscriptions=[
        Subscription("ordering.mark_paid", PaymentSucceeded.topic, on_payment_succeeded),
        Subscription("ordering.note_refund", RefundSucceeded.topic, on_refund_succeeded),
        Subscription("ordering.payment_held", PaymentHeld.topic, on_payment_held),
        Subscription("ordering.payment_released", PaymentReleased.topic, on_payment_released),
        Subscription("ordering.payment_blocked", PaymentBlocked.topic, on_payment_blocked),
        Subscription("ordering.hold_expired", PaymentHoldExpired.topic, on_payment_hold_expired),
        Subscription("ordering.auto_book", OrderPaid.topic, on_order_paid),
        Subscription("ordering.shipment_booked", ShipmentBooked.topic, on_shipment_booked),
        Subscription("ordering.booking_failed", ShipmentBookingFailed.topic, on_booking_failed),
        Subscription("ordering.delivered", ShipmentDelivered.topic, on_shipment_delivered),
        Subscription(
            "ordering.shipment_exception", ShipmentExceptionOpened.topic, on_shipment_exception
        ),
        # The notifier may call out (SMS): no transaction open; it dedupes per case.
        Subscription(
            "ordering.tell_buyer_of_exception",
            ShipmentExceptionOpened.topic,
            tell_buyer_of_exception,
            transactional=False,
        ),
        Subscription(
            "ordering.exception_resolved", ShipmentExceptionResolved.topic, on_exception_resolved
        ),
        # A notice to open pages is not a change: nothing to commit, losing one is harmless.
        Subscription(
            "ordering.tracking_live",
            ShipmentStatusChanged.topic,
            tell_tracking_pages,
            transactional=False,
        ),
    ]
)
