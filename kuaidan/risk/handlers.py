"""Risk's reactions: send an issued one-time code, and learn the amounts buyers pay (a
successful payment joins the buyer's 90-day history)."""

from __future__ import annotations

from kuaidan.core.db import UnitOfWork
from kuaidan.core.outbox import EventRecord
from kuaidan.core.worker import Registry, Subscription
from kuaidan.payments.events import PaymentSucceeded
from kuaidan.risk import service
from kuaidan.risk.events import VerificationCodeIssued


async def send_code(uow: UnitOfWork, record: EventRecord) -> None:
    event: VerificationCodeIssued = record.load(VerificationCodeIssued)
    await service.send_code(uow=uow, event=event, event_id=record.id)


async def learn_paid_amount(uow: UnitOfWork, record: EventRecord) -> None:
    event: PaymentSucceeded = record.load(PaymentSucceeded)
    await service.record_paid(
        uow=uow, reference=event.reference, amount_fen=event.amount_fen, paid_at=event.paid_at
    )


REGISTRY = Registry(
    subscriptions=[
        # The notifier may call out (SMS), so no transaction is open; it dedupes per event.
        Subscription(
            "risk.send_code", VerificationCodeIssued.topic, send_code, transactional=False
        ),
        Subscription("risk.learn_paid_amount", PaymentSucceeded.topic, learn_paid_amount),
    ]
)
