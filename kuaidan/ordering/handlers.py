"""Ordering's reactions to other areas' events: a checkout's payment succeeded (orders become
paid, or a late payment is refunded), an order's refund reached the buyer (timeline)."""

from __future__ import annotations

from kuaidan.core.db import UnitOfWork
from kuaidan.core.outbox import EventRecord
from kuaidan.core.worker import Registry, Subscription
from kuaidan.ordering import service
from kuaidan.payments.events import PaymentSucceeded, RefundSucceeded


async def on_payment_succeeded(uow: UnitOfWork, record: EventRecord) -> None:
    event: PaymentSucceeded = record.load(PaymentSucceeded)
    await service.record_payment(uow=uow, reference=event.reference, paid_at=event.paid_at)


async def on_refund_succeeded(uow: UnitOfWork, record: EventRecord) -> None:
    event: RefundSucceeded = record.load(RefundSucceeded)
    await service.record_refund(uow=uow, request_no=event.request_no, amount_fen=event.amount_fen)


REGISTRY = Registry(
    subscriptions=[
        Subscription("ordering.mark_paid", PaymentSucceeded.topic, on_payment_succeeded),
        Subscription("ordering.note_refund", RefundSucceeded.topic, on_refund_succeeded),
    ]
)
