"""Ordering's side of a payment that risk holds: the orders wait (pending payment, so they
cannot ship) while the buyer verifies; a released payment gets its pay link and a fresh
payment window; a blocked or expired one cancels the orders and releases their stock."""

from __future__ import annotations

from datetime import datetime

from kuaidan.core.db import UnitOfWork
from kuaidan.core.errors import NotFound
from kuaidan.ordering import repository
from kuaidan.ordering.domain import Actor, OrderAction, OrderStatus
from kuaidan.ordering.models import Checkout, Order
from kuaidan.ordering.service import _common as common
from kuaidan.ordering.service.orders import cancel_row

HELD_NOTE = "付款待验证 payment awaiting verification"


async def _pending(uow: UnitOfWork, reference: str) -> tuple[Checkout | None, list[Order]]:
    try:
        checkout = await common.checkout_by_reference(uow, reference)
    except NotFound:
        return None, []  # a payment of something other than a checkout
    orders = await repository.orders_of_checkout(uow.session, checkout.id)
    return checkout, [o for o in orders if o.status == OrderStatus.PENDING_PAYMENT.value]


async def _set_deadline(
    uow: UnitOfWork, checkout: Checkout, orders: list[Order], at: datetime, *, later_only: bool
) -> None:
    """Move the payment deadline to ``at`` (with ``later_only``, never earlier)."""
    checkout.payment_deadline = max(checkout.payment_deadline, at) if later_only else at
    for row in orders:
        deadline = max(row.payment_deadline, at) if later_only else at
        await repository.set_order_fields(uow.session, row.id, {"payment_deadline": deadline})


async def note_payment_held(*, uow: UnitOfWork, reference: str, held_until: datetime) -> int:
    """The orders wait for the hold (their deadline moves to its end); the timeline, which
    the merchant sees too, says they await verification. How many orders."""
    async with uow.atomic():
        checkout, orders = await _pending(uow, reference)
        if checkout is None:
            return 0
        await _set_deadline(uow, checkout, orders, held_until, later_only=True)
        for row in orders:
            common.add_timeline(
                uow, row, action="payment_held", actor=Actor.SYSTEM, actor_id=None, note=HELD_NOTE
            )
        await uow.session.flush()
        return len(orders)


async def note_payment_released(
    *, uow: UnitOfWork, reference: str, pay_url: str, pay_deadline: datetime
) -> int:
    """The hold ended well: the checkout shows the pay link; the orders may be paid until
    ``pay_deadline`` (the hold's time is over, so that is their deadline now). How many."""
    async with uow.atomic():
        checkout, orders = await _pending(uow, reference)
        if checkout is None:
            return 0
        checkout.pay_url = pay_url
        await _set_deadline(uow, checkout, orders, pay_deadline, later_only=False)
        for row in orders:
            common.add_timeline(
                uow, row, action="payment_released", actor=Actor.SYSTEM, actor_id=None
            )
        await uow.session.flush()
        return len(orders)


async def cancel_for_payment(*, uow: UnitOfWork, reference: str, reason: str) -> int:
    """The payment was blocked or its hold expired: its pending orders are cancelled and
    their stock goes back on sale. How many orders (0 when already done)."""
    async with uow.atomic():
        _checkout, orders = await _pending(uow, reference)
        for row in orders:
            await cancel_row(
                uow, row, OrderAction.CANCEL, actor=Actor.SYSTEM, actor_id=None, reason=reason
            )
        return len(orders)
