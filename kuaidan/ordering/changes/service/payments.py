"""The extra payment of a dearer change: when it succeeds the change is applied (the order
row locked, as for any change); a change whose order shipped or was cancelled meanwhile
fails and the extra payment goes back to the buyer. An extra payment not made within the
order payment window fails the change, releases the units reserved for it and closes the
payment at the provider; if the buyer pays in that race anyway, the money goes back."""

from __future__ import annotations

from datetime import timedelta

from kuaidan.core.db import UnitOfWork
from kuaidan.core.errors import DomainError
from kuaidan.inventory import service as inventory
from kuaidan.ordering.changes import repository
from kuaidan.ordering.changes.domain import (
    ChangeNotAllowed,
    ChangeStatus,
    change_extra_refund_no,
    change_stock_holder,
    payment_overdue,
)
from kuaidan.ordering.changes.models import OrderChange
from kuaidan.ordering.changes.service.requests import apply_change, note_change
from kuaidan.ordering.domain import Actor, OrderStatus
from kuaidan.ordering.service import order_rows
from kuaidan.ordering.service.order_rows import Order
from kuaidan.payments import service as payments


async def record_change_payment(*, uow: UnitOfWork, reference: str) -> bool:
    """A payment succeeded: if it is a change's extra payment, the change is applied (or
    fails and the payment is refunded). False when the payment is not a change's."""
    async with uow.atomic():
        found = await repository.change_by_payment(uow.session, reference)
        if found is None:
            return False
        row = await order_rows.lock_order(uow, found.order_id)
        change = await repository.get_change(uow.session, found.id)
        assert row is not None and change is not None
        if change.status == ChangeStatus.APPLIED.value:
            return True  # the same news again
        if change.status != ChangeStatus.AWAITING_PAYMENT.value:
            await _refund_extra(uow, row, change, "paid after the change had failed")
            return True
        await inventory.release(
            uow=uow, holder=change_stock_holder(change.id), reason="order change paid"
        )
        try:
            async with uow.session.begin_nested():
                if row.status != OrderStatus.PAID.value:
                    raise ChangeNotAllowed(f"the order is {row.status} now")
                await apply_change(uow, row, change, Actor.SYSTEM, None)
        except DomainError as exc:
            await uow.session.refresh(row)
            await _fail(uow, row, change, exc.message)
            await _refund_extra(uow, row, change, "the change could not be made")
        return True


async def expire_change_payments(*, uow: UnitOfWork, ttl: timedelta, limit: int = 100) -> int:
    """Fail the dearer changes whose extra payment was not made within ``ttl`` of asking (or
    of the shop's approval); how many."""
    now = uow.now()
    due = await repository.due_changes(
        uow.session, status=ChangeStatus.AWAITING_PAYMENT.value, before=now - ttl, limit=limit
    )
    done = 0
    for change_id, order_id in due:
        async with uow.atomic():
            row = await order_rows.lock_order(uow, order_id)
            change = await repository.get_change(uow.session, change_id)
            if row is None or change is None:
                continue
            if change.status != ChangeStatus.AWAITING_PAYMENT.value:
                continue
            if not payment_overdue(change.decided_at or change.requested_at, ttl, now=now):
                continue
            await inventory.release(
                uow=uow, holder=change_stock_holder(change.id), reason="order change not paid"
            )
            await _fail(uow, row, change, "the extra payment was not made in time")
            if change.payment_reference:
                await payments.close_payment(uow=uow, reference=change.payment_reference)
            done += 1
    return done


async def _fail(uow: UnitOfWork, row: Order, change: OrderChange, reason: str) -> None:
    values = {"status": ChangeStatus.FAILED.value, "reason": reason[:200]}
    await repository.set_change(uow.session, change.id, values)
    await uow.session.refresh(change)
    await note_change(uow, row, change, "change_failed", Actor.SYSTEM, None)


async def _refund_extra(uow: UnitOfWork, row: Order, change: OrderChange, why: str) -> None:
    """The extra payment goes back in full (idempotent per change)."""
    assert change.payment_reference is not None
    request_no = change_extra_refund_no(change.id)
    await payments.request_refund(
        uow=uow, reference=change.payment_reference, amount_fen=change.difference_fen,
        reason=f"order {order_rows.number_of(uow.cipher, row)}: {why}", request_no=request_no,
    )  # fmt: skip
    await repository.set_change(uow.session, change.id, {"refund_request_no": request_no})
