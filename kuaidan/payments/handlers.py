"""The payments area's own reactions: the outside calls its use cases recorded as events.

Both handlers call the provider, so they are non-transactional and idempotent by themselves:
the provider's refund is idempotent per ``out_request_no``, a close of a closed trade is a no-op,
and the outcome is recorded with conditional updates.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kuaidan.core.db import UnitOfWork
from kuaidan.core.outbox import EventRecord
from kuaidan.core.worker import Registry, Subscription
from kuaidan.payments import service
from kuaidan.payments.events import PaymentCloseRequested, RefundRequested

if TYPE_CHECKING:
    pass


async def refund_at_provider(uow: UnitOfWork, record: EventRecord) -> None:
    event: RefundRequested = record.load(RefundRequested)
    await service.perform_refund(uow=uow, refund_id=event.refund_id)


async def close_at_provider(uow: UnitOfWork, record: EventRecord) -> None:
    event: PaymentCloseRequested = record.load(PaymentCloseRequested)
    await service.perform_close(uow=uow, reference=event.reference)


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
    ]
)
