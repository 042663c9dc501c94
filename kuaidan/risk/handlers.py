"""Risk's reactions: send an issued one-time code, and learn the amounts buyers pay (a
successful payment joins the buyer's 90-day history)."""

from __future__ import annotations

from kuaidan.core.db import UnitOfWork
from kuaidan.core.worker import Envelope, Registry, Subscription
from kuaidan.payments.events import PaymentSucceeded
from kuaidan.risk import service
from kuaidan.risk.events import VerificationCodeIssued


async def send_code(uow: UnitOfWork, envelope: Envelope[VerificationCodeIssued]) -> None:
    await service.send_code(uow=uow, event=envelope.event, event_id=envelope.event_id)


async def learn_paid_amount(uow: UnitOfWork, envelope: Envelope[PaymentSucceeded]) -> None:
    event = envelope.event
    await service.record_paid(
        uow=uow, reference=event.reference, amount_fen=event.amount_fen, paid_at=event.paid_at
    )


REGISTRY = Registry(
    subscriptions=[
        # The notifier may call out (SMS), so no transaction is open; it dedupes per event.
        Subscription("risk.send_code", VerificationCodeIssued, send_code, transactional=False),
        Subscription("risk.learn_paid_amount", PaymentSucceeded, learn_paid_amount),
    ]
)
