"""The payments area's reactions: the outside calls its use cases recorded as events, and
risk's decisions on held payments.

The refund and close handlers call the provider, so they are non-transactional and idempotent
by themselves: the provider's refund is idempotent per ``out_request_no``, a close of a closed
trade is a no-op, and the outcome is recorded with conditional updates. The hold handlers only
write (a payment leaves ``held`` once).
"""

from __future__ import annotations

from kuaidan.core.db import UnitOfWork
from kuaidan.core.outbox import EventRecord
from kuaidan.core.worker import Registry, Subscription
from kuaidan.payments import service
from kuaidan.payments.events import PaymentCloseRequested, RefundRequested
from kuaidan.risk.events import HoldApproved, HoldExpired, HoldRejected


async def refund_at_provider(uow: UnitOfWork, record: EventRecord) -> None:
    event: RefundRequested = record.load(RefundRequested)
    await service.perform_refund(uow=uow, refund_id=event.refund_id)


async def close_at_provider(uow: UnitOfWork, record: EventRecord) -> None:
    event: PaymentCloseRequested = record.load(PaymentCloseRequested)
    await service.perform_close(uow=uow, reference=event.reference)


async def release_approved_hold(uow: UnitOfWork, record: EventRecord) -> None:
    event: HoldApproved = record.load(HoldApproved)
    await service.release_hold(uow=uow, reference=event.reference)


async def block_rejected_hold(uow: UnitOfWork, record: EventRecord) -> None:
    event: HoldRejected = record.load(HoldRejected)
    await service.block_hold(
        uow=uow, reference=event.reference, reason=f"rejected by risk review: {event.note}"[:200]
    )


async def close_expired_hold(uow: UnitOfWork, record: EventRecord) -> None:
    event: HoldExpired = record.load(HoldExpired)
    await service.expire_hold(uow=uow, reference=event.reference)


REGISTRY = Registry(
    subscriptions=[
        Subscription(
            "payments.refund_at_provider",
            RefundRequested.topic,
            refund_at_provider,
            transactional=False,
        ),
        Subscription(
            "payments.close_at_provider",
            PaymentCloseRequested.topic,
            close_at_provider,
            transactional=False,
        ),
        Subscription("payments.release_hold", HoldApproved.topic, release_approved_hold),
        Subscription("payments.block_hold", HoldRejected.topic, block_rejected_hold),
        Subscription("payments.expire_hold", HoldExpired.topic, close_expired_hold),
    ]
)
