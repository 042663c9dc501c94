"""Reading checkouts: a placement's orders and its one payment, for the buyer who placed it."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from kuaidan.accounts.domain import Role, UserInfo
from kuaidan.core.db import UnitOfWork
from kuaidan.core.errors import DomainError, NotFound
from kuaidan.ordering import repository
from kuaidan.ordering.models import Checkout
from kuaidan.ordering.readmodels import CheckoutResult, CheckoutView, OrderSummary, OrderView
from kuaidan.ordering.service import _common as common
from kuaidan.payments import service as payments

log = logging.getLogger(__name__)


def _view(uow: UnitOfWork, row: Checkout, summaries: Sequence[OrderSummary]) -> CheckoutView:
    return CheckoutView(
        reference=common.reference_of(uow.cipher, row),
        buyer_id=row.buyer_id,
        items_fen=row.items_fen,
        shipping_fen=row.shipping_fen,
        total_fen=row.total_fen,
        currency=row.currency,
        created_at=row.created_at,
        payment_deadline=row.payment_deadline,
        payment_id=row.payment_id,
        pay_url=row.pay_url,
        orders=tuple(summaries),
    )


def result_of(
    uow: UnitOfWork, row: Checkout, views: Sequence[OrderView], *, created: bool
) -> CheckoutResult:
    """A checkout's result from its row and its orders' views (nothing read)."""
    checkout = _view(uow, row, [view.summary for view in views])
    return CheckoutResult(checkout=checkout, orders=tuple(views), created=created)


async def checkout_result(uow: UnitOfWork, checkout_id: int, *, created: bool) -> CheckoutResult:
    row = await repository.get_checkout(uow.session, checkout_id)
    if row is None:
        raise NotFound("no such checkout")
    orders = await repository.orders_of_checkout(uow.session, checkout_id)
    return result_of(uow, row, await common.order_views(uow, orders), created=created)


async def _visible_checkout(uow: UnitOfWork, reference: str, viewer: UserInfo) -> Checkout:
    row = await common.checkout_by_reference(uow, reference)
    if viewer.role is Role.BUYER and row.buyer_id != viewer.id:
        raise NotFound("no such checkout")
    if viewer.role not in (Role.BUYER, Role.AGENT, Role.ADMIN):
        raise NotFound("no such checkout")
    return row


async def get_checkout(*, uow: UnitOfWork, reference: str, viewer: UserInfo) -> CheckoutResult:
    """A checkout with its orders, for its buyer (and agents and admins); others get 404."""
    row = await _visible_checkout(uow, reference, viewer)
    return await checkout_result(uow, row.id, created=False)


async def refresh_checkout_payment(
    *, uow: UnitOfWork, reference: str, viewer: UserInfo
) -> CheckoutResult:
    """Ask the provider whether an unpaid checkout has been paid (the buyer came back from the
    pay page before the notification did); a paid one turns paid through the usual event.

    Calls the provider, so it runs with no transaction open.
    """
    row = await _visible_checkout(uow, reference, viewer)
    orders = await repository.orders_of_checkout(uow.session, row.id)
    view = _view(uow, row, await common.summaries(uow, orders))
    if view.awaiting_payment:
        try:
            await payments.sync_payment(uow=uow, reference=view.reference)
        except DomainError as exc:
            log.warning("could not ask the provider about %s: %s", view.reference, exc.message)
    return await checkout_result(uow, row.id, created=False)
