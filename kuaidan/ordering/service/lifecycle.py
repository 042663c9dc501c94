"""The platform's changes of orders: payment and refund results from the payments area, the
expiry of unpaid orders, auto-completion, and the pruning of old idempotency keys and carts."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from kuaidan.core.db import UnitOfWork
from kuaidan.core.errors import DomainError, NotFound
from kuaidan.core.outbox import publish
from kuaidan.ordering import repository
from kuaidan.ordering.domain import (
    Actor,
    IllegalTransition,
    OrderAction,
    OrderStatus,
    TimelineAction,
    is_overdue,
    order_id_of_refund,
)
from kuaidan.ordering.events import OrderPaid
from kuaidan.ordering.models import Order
from kuaidan.ordering.service import _common as common
from kuaidan.ordering.service.orders import (
    cancel_row,
    close_unpaid_checkout,
    complete_row,
    request_order_refund,
)
from kuaidan.payments import service as payments
from kuaidan.payments.domain import PAID_STATUSES

log = logging.getLogger(__name__)

GUEST_CART_IDLE = timedelta(days=30)
EXPIRED_REASON = "not paid in time"


async def record_payment(*, uow: UnitOfWork, reference: str, paid_at: datetime) -> int:
    """The checkout's payment succeeded: its pending orders are paid (how many); an order that
    was cancelled or expired meanwhile gets its money back instead (a late payment)."""
    async with uow.atomic():
        try:
            checkout = await common.checkout_by_reference(uow, reference)
        except NotFound:
            return 0  # a payment of something other than a checkout
        paid = 0
        for row in await repository.orders_of_checkout(uow.session, checkout.id):
            if row.status == OrderStatus.PENDING_PAYMENT.value:
                await _mark_paid(uow, row, paid_at)
                paid += 1
            elif row.status == OrderStatus.CANCELLED.value and row.paid_at is None:
                await request_order_refund(
                    uow, row, cause="late", note="paid after the order was cancelled"
                )
        return paid


async def _mark_paid(uow: UnitOfWork, row: Order, paid_at: datetime) -> None:
    await common.change_status(
        uow, row, OrderAction.PAY, actor=Actor.SYSTEM, actor_id=None, values={"paid_at": paid_at}
    )
    event = OrderPaid(
        order_id=row.id,
        number=common.number_of(uow.cipher, row),
        buyer_id=row.buyer_id,
        merchant_id=row.merchant_id,
        total_fen=row.total_fen,
        currency=row.currency,
        paid_at=paid_at,
    )
    await publish(uow, event, key=f"order:{row.id}")


async def record_refund(*, uow: UnitOfWork, request_no: str, amount_fen: int) -> bool:
    """A refund of an order reached the buyer: the timeline says so (once)."""
    order_id = order_id_of_refund(request_no)
    if order_id is None:
        return False
    async with uow.atomic():
        row = await repository.get_order(uow.session, order_id)
        if row is None or row.refunded_at is not None:
            return False
        await repository.set_order_fields(uow.session, row.id, {"refunded_at": uow.now()})
        common.add_timeline(
            uow,
            row,
            action=TimelineAction.REFUNDED.value,
            actor=Actor.SYSTEM,
            actor_id=None,
            note=f"{amount_fen} fen returned ({request_no})",
        )
        return True


# --- expiry of unpaid orders ----------------------------------------------------------------


async def expire_overdue_orders(
    *, uow: UnitOfWork, now: datetime | None = None, limit: int = 100
) -> int:
    """Cancel orders unpaid past their deadline (releasing their stock); how many.

    Each checkout is first checked with the provider (no transaction open): one paid there is
    left for its payment event; the others expire, each in a transaction of its own. When all
    of a checkout's orders are cancelled its payment is closed.
    """
    moment = now or uow.now()
    expired = 0
    for checkout_id in await repository.overdue_checkouts(uow.session, now=moment, limit=limit):
        try:
            expired += await _expire_checkout(uow, checkout_id, moment)
        except IllegalTransition:
            log.info("checkout %s changed while expiring; the next run looks again", checkout_id)
    return expired


async def _paid_at_provider(uow: UnitOfWork, reference: str) -> bool:
    """Whether the provider says the checkout was paid (then the payment event is on its way
    and marks the orders paid; expiring them now would only cause a refund)."""
    try:
        info = await payments.sync_payment(uow=uow, reference=reference)
    except DomainError as exc:
        log.warning("could not ask the provider about %s: %s", reference, exc.message)
        return False
    return info.status in PAID_STATUSES


async def _expire_checkout(uow: UnitOfWork, checkout_id: int, now: datetime) -> int:
    checkout = await repository.get_checkout(uow.session, checkout_id)
    if checkout is None:
        return 0
    reference = common.reference_of(uow.cipher, checkout)
    if checkout.payment_id is not None and await _paid_at_provider(uow, reference):
        return 0
    async with uow.atomic():
        expired = 0
        orders = await repository.orders_of_checkout(uow.session, checkout_id)
        for row in orders:
            deadline, status = row.payment_deadline, OrderStatus(row.status)
            if is_overdue(status=status, deadline=deadline, now=now):
                await cancel_row(
                    uow,
                    row,
                    OrderAction.EXPIRE,
                    actor=Actor.SYSTEM,
                    actor_id=None,
                    reason=EXPIRED_REASON,
                )
                expired += 1
        if expired:
            await close_unpaid_checkout(uow, checkout_id)
        return expired


# --- completion and housekeeping ------------------------------------------------------------


async def auto_complete_orders(
    *, uow: UnitOfWork, after: timedelta, now: datetime | None = None, limit: int = 200
) -> int:
    """Complete shipped or delivered orders nobody confirmed within ``after``; how many."""
    cutoff = (now or uow.now()) - after
    done = 0
    for order_id in await repository.due_for_auto_complete(uow.session, cutoff=cutoff, limit=limit):
        try:
            async with uow.atomic():
                row = await repository.get_order(uow.session, order_id)
                if row is not None:
                    await complete_row(
                        uow, row, OrderAction.AUTO_COMPLETE, actor=Actor.SYSTEM, actor_id=None
                    )
                    done += 1
        except IllegalTransition:
            continue  # the buyer confirmed it meanwhile
    return done


async def prune(*, uow: UnitOfWork, now: datetime | None = None) -> tuple[int, int]:
    """Delete expired idempotency keys and guest carts idle for 30 days: (keys, carts)."""
    moment = now or uow.now()
    async with uow.atomic():
        keys = await repository.prune_idempotency_keys(uow.session, now=moment)
        carts = await repository.prune_guest_carts(uow.session, idle_since=moment - GUEST_CART_IDLE)
    return keys, carts
