"""Ordering's reactions to other areas' events: a checkout's payment succeeded (orders become
paid, or a late payment is refunded), an order's refund reached the buyer (timeline), and a
payment held by risk (the orders wait, get their pay link, or are cancelled)."""

from __future__ import annotations

from kuaidan.core.db import UnitOfWork
from kuaidan.core.outbox import EventRecord
from kuaidan.core.worker import Registry, Subscription
from kuaidan.ordering import service
from kuaidan.ordering.service import holds
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


REGISTRY = Registry(
    subscriptions=[
        Subscription("ordering.mark_paid", PaymentSucceeded.topic, on_payment_succeeded),
        Subscription("ordering.note_refund", RefundSucceeded.topic, on_refund_succeeded),
        Subscription("ordering.payment_held", PaymentHeld.topic, on_payment_held),
        Subscription("ordering.payment_released", PaymentReleased.topic, on_payment_released),
        Subscription("ordering.payment_blocked", PaymentBlocked.topic, on_payment_blocked),
        Subscription("ordering.hold_expired", PaymentHoldExpired.topic, on_payment_hold_expired),
    ]
)
