"""The payments area's reactions: the outside calls its use cases recorded as events, and
risk's decisions on held payments.

The refund and close handlers call the provider, so they are non-transactional and idempotent
by themselves: the provider's refund is idempotent per ``out_request_no``, a close of a closed
trade is a no-op, and the outcome is recorded with conditional updates. The hold handlers only
write (a payment leaves ``held`` once).
"""

from __future__ import annotations

from kuaidan.core.db import UnitOfWork
from kuaidan.core.worker import Envelope, Registry, Subscription
from kuaidan.payments import service
from kuaidan.payments.events import PaymentCloseRequested, RefundRequested
from kuaidan.risk.events import HoldApproved, HoldExpired, HoldRejected


async def refund_at_provider(uow: UnitOfWork, envelope: Envelope[RefundRequested]) -> None:
    await service.perform_refund(uow=uow, refund_id=envelope.event.refund_id)


async def close_at_provider(uow: UnitOfWork, envelope: Envelope[PaymentCloseRequested]) -> None:
    await service.perform_close(uow=uow, reference=envelope.event.reference)


async def release_approved_hold(uow: UnitOfWork, envelope: Envelope[HoldApproved]) -> None:
    await service.release_hold(uow=uow, reference=envelope.event.reference)


async def block_rejected_hold(uow: UnitOfWork, envelope: Envelope[HoldRejected]) -> None:
    await service.block_hold(
        uow=uow,
        reference=envelope.event.reference,
        reason=f"rejected by risk review: {envelope.event.note}"[:200],
    )


async def close_expired_hold(uow: UnitOfWork, envelope: Envelope[HoldExpired]) -> None:
    await service.expire_hold(uow=uow, reference=envelope.event.reference)


REGISTRY = Registry(
    subscriptions=[
        Subscription(
            "payments.refund_at_provider",
            RefundRequested,
            refund_at_provider,
            transactional=False,
        ),
        Subscription(
            "payments.close_at_provider",
            PaymentCloseRequested,
            close_at_provider,
            transactional=False,
        ),
        Subscription("payments.release_hold", HoldApproved, release_approved_hold),
        Subscription("payments.block_hold", HoldRejected, block_rejected_hold),
        Subscription("payments.expire_hold", HoldExpired, close_expired_hold),
    ]
)
