"""Ordering's reactions to events: a checkout's payment succeeded (orders become paid, or a
late payment is refunded), an order's refund reached the buyer (timeline), a payment held by
risk (the orders wait, get their pay link, or are cancelled), an order paid (booked at once
for merchants who opted in), and the order's parcel in logistics (booked, refused,
delivered, in trouble and out of it, and every move, told to open tracking pages). The
after-order cases react in their own sub-areas' handlers."""

from __future__ import annotations

from kuaidan.core.db import UnitOfWork
from kuaidan.core.worker import Envelope, Registry, Subscription
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


async def on_payment_succeeded(uow: UnitOfWork, envelope: Envelope[PaymentSucceeded]) -> None:
    await service.record_payment(
        uow=uow, reference=envelope.event.reference, paid_at=envelope.event.paid_at
    )


async def on_refund_succeeded(uow: UnitOfWork, envelope: Envelope[RefundSucceeded]) -> None:
    await service.record_refund(
        uow=uow, request_no=envelope.event.request_no, amount_fen=envelope.event.amount_fen
    )


async def on_payment_held(uow: UnitOfWork, envelope: Envelope[PaymentHeld]) -> None:
    await holds.note_payment_held(
        uow=uow, reference=envelope.event.reference, held_until=envelope.event.held_until
    )


async def on_payment_released(uow: UnitOfWork, envelope: Envelope[PaymentReleased]) -> None:
    event = envelope.event
    await holds.note_payment_released(
        uow=uow, reference=event.reference, pay_url=event.pay_url, pay_deadline=event.pay_deadline
    )


async def on_payment_blocked(uow: UnitOfWork, envelope: Envelope[PaymentBlocked]) -> None:
    await holds.cancel_for_payment(
        uow=uow,
        reference=envelope.event.reference,
        reason=f"payment blocked: {envelope.event.reason}",
    )


async def on_payment_hold_expired(uow: UnitOfWork, envelope: Envelope[PaymentHoldExpired]) -> None:
    await holds.cancel_for_payment(
        uow=uow, reference=envelope.event.reference, reason="payment not verified in time"
    )


async def on_order_paid(uow: UnitOfWork, envelope: Envelope[OrderPaid]) -> None:
    await service.auto_book(uow=uow, order_id=envelope.event.order_id)


async def on_shipment_booked(uow: UnitOfWork, envelope: Envelope[ShipmentBooked]) -> None:
    event = envelope.event
    await service.note_booked(
        uow=uow,
        order_id=event.order_id,
        reference=event.reference,
        carrier_name=event.carrier_name,
        tracking=event.tracking_number,
    )


async def on_booking_failed(uow: UnitOfWork, envelope: Envelope[ShipmentBookingFailed]) -> None:
    event = envelope.event
    await service.note_booking_failed(
        uow=uow,
        order_id=event.order_id,
        reference=event.reference,
        carrier_code=event.carrier_code,
        error=event.error,
    )


async def on_shipment_delivered(uow: UnitOfWork, envelope: Envelope[ShipmentDelivered]) -> None:
    await service.deliver_from_carrier(
        uow=uow, order_id=envelope.event.order_id, reference=envelope.event.reference
    )


async def on_shipment_exception(
    uow: UnitOfWork, envelope: Envelope[ShipmentExceptionOpened]
) -> None:
    event = envelope.event
    await service.note_exception(
        uow=uow,
        order_id=event.order_id,
        case_id=event.case_id,
        kind=event.kind,
        reference=event.reference,
    )


async def tell_buyer_of_exception(
    uow: UnitOfWork, envelope: Envelope[ShipmentExceptionOpened]
) -> None:
    event = envelope.event
    await service.tell_buyer_of_exception(
        uow=uow, order_id=event.order_id, case_id=event.case_id, kind=event.kind
    )


async def on_exception_resolved(
    uow: UnitOfWork, envelope: Envelope[ShipmentExceptionResolved]
) -> None:
    event = envelope.event
    await service.resolve_from_case(
        uow=uow,
        order_id=event.order_id,
        case_id=event.case_id,
        resolution=event.resolution,
        reference=event.reference,
    )


async def tell_tracking_pages(uow: UnitOfWork, envelope: Envelope[ShipmentStatusChanged]) -> None:
    event = envelope.event
    if event.order_id is not None:
        await live.publish_change(uow, event.order_id, event.status)


REGISTRY = Registry(
    subscriptions=[
        Subscription("ordering.mark_paid", PaymentSucceeded, on_payment_succeeded),
        Subscription("ordering.note_refund", RefundSucceeded, on_refund_succeeded),
        Subscription("ordering.payment_held", PaymentHeld, on_payment_held),
        Subscription("ordering.payment_released", PaymentReleased, on_payment_released),
        Subscription("ordering.payment_blocked", PaymentBlocked, on_payment_blocked),
        Subscription("ordering.hold_expired", PaymentHoldExpired, on_payment_hold_expired),
        Subscription("ordering.auto_book", OrderPaid, on_order_paid),
        Subscription("ordering.shipment_booked", ShipmentBooked, on_shipment_booked),
        Subscription("ordering.booking_failed", ShipmentBookingFailed, on_booking_failed),
        Subscription("ordering.delivered", ShipmentDelivered, on_shipment_delivered),
        Subscription("ordering.shipment_exception", ShipmentExceptionOpened, on_shipment_exception),
        # The notifier may call out (SMS): no transaction open; it dedupes per case.
        Subscription(
            "ordering.tell_buyer_of_exception",
            ShipmentExceptionOpened,
            tell_buyer_of_exception,
            transactional=False,
        ),
        Subscription(
            "ordering.exception_resolved", ShipmentExceptionResolved, on_exception_resolved
        ),
        # A notice to open pages is not a change: nothing to commit, losing one is harmless.
        Subscription(
            "ordering.tracking_live",
            ShipmentStatusChanged,
            tell_tracking_pages,
            transactional=False,
        ),
    ]
)
