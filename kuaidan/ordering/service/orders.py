"""Orders after placement: reading them, and the people's changes (cancel, confirm receipt,
mark delivered; shipping is in ``shipping``). Every change is a checked transition with a
timeline entry and an event in the same transaction."""

from __future__ import annotations

from kuaidan.accounts.domain import UserInfo
from kuaidan.core.db import UnitOfWork
from kuaidan.core.errors import Forbidden
from kuaidan.core.outbox import publish
from kuaidan.core.pagination import PageOf, PageRequest
from kuaidan.inventory import service as inventory
from kuaidan.ordering import repository
from kuaidan.ordering.domain import (
    Actor,
    OrderAction,
    OrderStatus,
    TimelineAction,
    clean_reason,
    refund_request_no,
    requires_refund,
    stock_holder,
)
from kuaidan.ordering.events import OrderCancelled, OrderCompleted, OrderDelivered
from kuaidan.ordering.models import Order
from kuaidan.ordering.readmodels import OrderSummary, OrderView
from kuaidan.ordering.service import _common as common
from kuaidan.ordering.service.live import announce
from kuaidan.payments import service as payments
from kuaidan.payments.domain import PaymentStatus

# --- reading --------------------------------------------------------------------------------


async def get_order(*, uow: UnitOfWork, number: str, viewer: UserInfo) -> OrderView:
    """One order for its buyer, its merchant, agents and admins; anyone else gets 404."""
    return await common.order_view(uow, await common.visible_order(uow, number, viewer))


async def list_orders(
    *, uow: UnitOfWork, buyer_id: int, page: PageRequest, status: OrderStatus | None = None
) -> PageOf[OrderSummary]:
    """A buyer's own orders, newest first."""
    rows, total = await repository.list_orders(
        uow.session,
        buyer_id=buyer_id,
        statuses=[status.value] if status else [],
        offset=page.offset,
        limit=page.size,
    )
    return PageOf(await common.summaries(uow, rows), total=total, page=page.page, size=page.size)


async def list_merchant_orders(
    *, uow: UnitOfWork, merchant_id: int, page: PageRequest, status: OrderStatus | None = None
) -> PageOf[OrderSummary]:
    """A merchant's orders, newest first (``status=paid``: what is waiting to be shipped)."""
    rows, total = await repository.list_orders(
        uow.session,
        merchant_id=merchant_id,
        statuses=[status.value] if status else [],
        offset=page.offset,
        limit=page.size,
    )
    return PageOf(await common.summaries(uow, rows), total=total, page=page.page, size=page.size)


# --- cancelling (people and the expiry job) -------------------------------------------------


async def cancel_row(
    uow: UnitOfWork,
    row: Order,
    action: OrderAction,
    *,
    actor: Actor,
    actor_id: int | None,
    reason: str,
) -> None:
    """Cancel (or expire) ``row``: release its stock, refund it if it was paid, tell others."""
    was_paid = requires_refund(OrderStatus(row.status), action)
    await common.change_status(
        uow,
        row,
        action,
        actor=actor,
        actor_id=actor_id,
        note=reason,
        values={"cancelled_at": uow.now(), "cancel_reason": reason[:200]},
    )
    await inventory.release(uow=uow, holder=stock_holder(row.id), reason=action.value)
    lines = (await repository.lines_of(uow.session, [row.id]))[row.id]
    await common.refresh_products(uow, {line.product_id for line in lines})
    if was_paid:
        await request_order_refund(uow, row, cause="cancel", note=f"cancelled: {reason}")
    event = OrderCancelled(
        order_id=row.id,
        number=common.number_of(uow.cipher, row),
        buyer_id=row.buyer_id,
        merchant_id=row.merchant_id,
        total_fen=row.total_fen,
        currency=row.currency,
        cancelled_at=uow.now(),
        actor=actor.value,
        reason=reason,
        was_paid=was_paid,
        refund_fen=row.total_fen if was_paid else 0,
    )
    await publish(uow, event, key=f"order:{row.id}")


async def request_order_refund(uow: UnitOfWork, row: Order, *, cause: str, note: str) -> None:
    """Ask payments to give the order's total back (idempotent per order and cause)."""
    request_no = refund_request_no(row.id, cause)
    await payments.request_refund(
        uow=uow,
        reference=common.order_reference(uow.cipher, row),
        amount_fen=row.total_fen,
        reason=note[:200],
        request_no=request_no,
    )
    await repository.set_order_fields(uow.session, row.id, {"refund_request_no": request_no})
    common.add_timeline(
        uow,
        row,
        action=TimelineAction.REFUND_REQUESTED.value,
        actor=Actor.SYSTEM,
        actor_id=None,
        note=f"{row.total_fen} fen ({request_no}): {note}",
    )


async def cancel_order(*, uow: UnitOfWork, number: str, by: UserInfo, reason: str) -> OrderView:
    """Cancel before shipping, as the buyer, the order's merchant, an agent or an admin.

    A paid order is refunded in full; its stock goes back on sale at once. Once no order of
    the checkout is left to pay, its trade is closed at the provider.
    """
    reason = clean_reason(reason)
    async with uow.atomic():
        row = await common.visible_order(uow, number, by)
        await cancel_row(
            uow, row, OrderAction.CANCEL, actor=common.actor_of(by), actor_id=by.id, reason=reason
        )
        await close_unpaid_checkout(uow, row.checkout_id)
    return await get_order(uow=uow, number=number, viewer=by)


async def close_unpaid_checkout(uow: UnitOfWork, checkout_id: int) -> None:
    """Inside the cancelling transaction: when every order of the checkout is cancelled and
    none was paid, its payment is closed (the outbox closes the trade at the provider, retried
    while the provider cannot be reached), so the buyer can no longer pay for what was
    cancelled; one held by risk is closed before it gets a pay link. A payment arriving all
    the same is refunded in full: the last line of defence."""
    checkout = await repository.get_checkout(uow.session, checkout_id)
    if checkout is None or checkout.payment_id is None:
        return
    orders = await repository.orders_of_checkout(uow.session, checkout_id)
    if not all(r.status == OrderStatus.CANCELLED.value and r.paid_at is None for r in orders):
        return
    reference = common.reference_of(uow.cipher, checkout)
    closed = await payments.close_payment(uow=uow, reference=reference)
    if closed.status is PaymentStatus.HELD:  # no pay link yet: no code may release one now
        await payments.close_held_payment(uow=uow, reference=reference)


# --- shipping, delivery, completion ---------------------------------------------------------


async def complete_row(
    uow: UnitOfWork, row: Order, action: OrderAction, *, actor: Actor, actor_id: int | None
) -> None:
    """Confirm receipt or auto-complete ``row``."""
    now = uow.now()
    await common.change_status(
        uow, row, action, actor=actor, actor_id=actor_id, values={"completed_at": now}
    )
    event = OrderCompleted(
        order_id=row.id,
        number=common.number_of(uow.cipher, row),
        buyer_id=row.buyer_id,
        merchant_id=row.merchant_id,
        total_fen=row.total_fen,
        currency=row.currency,
        completed_at=now,
        actor=actor.value,
    )
    await publish(uow, event, key=f"order:{row.id}")


async def confirm_receipt(*, uow: UnitOfWork, number: str, by: UserInfo) -> OrderView:
    """The buyer (or an agent for them) says the parcel arrived: the order is completed."""
    async with uow.atomic():
        row = await common.visible_order(uow, number, by)
        actor = common.actor_of(by)
        await complete_row(uow, row, OrderAction.CONFIRM_RECEIPT, actor=actor, actor_id=by.id)
    return await get_order(uow=uow, number=number, viewer=by)


async def deliver_row(
    uow: UnitOfWork, row: Order, *, actor: Actor, actor_id: int | None, note: str | None
) -> None:
    """``row`` reached the buyer: delivered, with its event."""
    now = uow.now()
    await common.change_status(
        uow,
        row,
        OrderAction.DELIVER,
        actor=actor,
        actor_id=actor_id,
        note=note,
        values={"delivered_at": now},
    )
    event = OrderDelivered(
        order_id=row.id,
        number=common.number_of(uow.cipher, row),
        buyer_id=row.buyer_id,
        merchant_id=row.merchant_id,
        delivered_at=now,
    )
    await publish(uow, event, key=f"order:{row.id}")
    announce(uow, row.id, "delivered")


async def mark_delivered(
    *, uow: UnitOfWork, number: str, by: UserInfo | None = None, note: str | None = None
) -> OrderView | None:
    """The parcel was delivered: an admin's word (``by``) or the platform's (``by`` None).

    Returns the order as the admin sees it; None for the platform, which needs no view.
    """
    async with uow.atomic():
        if by is None:
            row, actor, actor_id = await common.order_by_number(uow, number), Actor.SYSTEM, None
        else:
            row = await common.visible_order(uow, number, by)
            actor, actor_id = common.actor_of(by), by.id
        await deliver_row(uow, row, actor=actor, actor_id=actor_id, note=note)
    return None if by is None else await get_order(uow=uow, number=number, viewer=by)


def require_merchant(user: UserInfo) -> int:
    if user.merchant_id is None:
        raise Forbidden("this account is not attached to a merchant")
    return user.merchant_id
