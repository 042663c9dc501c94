"""Asking for after-sales: a case opened on a delivered order, its items checked against what
was ordered and claimed, an exchange's new colour or size reserved."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from kuaidan.accounts.domain import UserInfo
from kuaidan.catalog import service as catalog
from kuaidan.core.db import UnitOfWork
from kuaidan.core.errors import Forbidden, InvalidInput
from kuaidan.inventory import service as inventory
from kuaidan.merchants import service as merchants
from kuaidan.ordering.aftersales import repository
from kuaidan.ordering.aftersales.domain import Actor as CaseActor
from kuaidan.ordering.aftersales.domain import (
    AfterSalesNotAllowed,
    AfterSalesPolicy,
    CaseKind,
    CaseStatus,
    CaseView,
    Claim,
    OrderedLine,
    check_items,
    check_order,
    check_window,
    claimed_units,
    clean_text,
    is_trusted,
    items_fen,
    return_bearer,
)
from kuaidan.ordering.aftersales.models import AfterSalesCase
from kuaidan.ordering.aftersales.service._case import (
    _tell,
    _view,
    case_actor,
    exchange_holder,
)
from kuaidan.ordering.domain import check_request_id
from kuaidan.ordering.service import order_rows
from kuaidan.ordering.service.carts import is_orderable
from kuaidan.ordering.service.order_rows import Order, OrderLine
from kuaidan.security import service as security

if TYPE_CHECKING:
    pass


@dataclass(frozen=True, slots=True)
class NewCase:
    kind: CaseKind
    items: Sequence[Claim]
    reason: str
    request_id: str
    exchange_sku_id: int | None = None


async def request_case(
    *, uow: UnitOfWork, number: str, by: UserInfo, case: NewCase, policy: AfterSalesPolicy
) -> CaseView:
    """Open a case on a delivered order (one transaction, the order row locked).

    409 ``after_sales_not_allowed`` outside the window, for an excluded category, for units
    already claimed or an order not delivered; 409 ``out_of_stock`` for an exchange whose new
    colour/size has none left; 422 for bad items or reason. The same ``request_id`` again
    answers the first case and changes nothing."""
    actor = case_actor(by)
    if actor not in (CaseActor.BUYER, CaseActor.PLATFORM):
        raise Forbidden("the buyer, or an agent for the buyer, asks for after-sales")
    request_id = check_request_id(case.request_id)
    reason = clean_text(case.reason, field="reason", low=2, high=500)
    if (case.kind is CaseKind.EXCHANGE) != (case.exchange_sku_id is not None):
        raise InvalidInput(
            "an exchange names the colour/size wanted; other requests name none",
            details={"field": "exchange_sku_id"},
        )
    async with uow.atomic():
        found = await order_rows.visible_order(uow, number, by)
        row = await order_rows.lock_order(uow, found.id)
        assert row is not None
        earlier = await repository.after_sales_by_request(uow.session, row.id, request_id)
        if earlier is not None:
            return await _view(uow, row, earlier)
        lines = (await order_rows.lines_of(uow, [row.id])).get(row.id, [])
        ordered = await _claimable(uow, row, lines, case, policy)
        exchange_label = await _exchange_label(uow, lines, case)
        trusted = await _trusted(uow, row.buyer_id, policy)
        by_sku = {line.sku_id: line for line in lines}
        now = uow.now()
        new = AfterSalesCase(
            order_id=row.id, buyer_id=row.buyer_id, merchant_id=row.merchant_id,
            request_id=request_id, kind=case.kind.value, status=CaseStatus.REQUESTED.value,
            reason=reason, items=[_item(by_sku[c.sku_id], c.quantity) for c in case.items],
            exchange_sku_id=case.exchange_sku_id, exchange_label=exchange_label,
            value_fen=items_fen(case.items, ordered), return_bearer=return_bearer(case.kind).value,
            currency=row.currency, requested_by="buyer" if actor is CaseActor.BUYER else "agent",
            requested_by_id=by.id, trusted=trusted,
            due_at=now + timedelta(hours=policy.answer_hours), requested_at=now, updated_at=now,
            version=1,
        )  # fmt: skip
        await repository.add(uow.session, new)
        if case.exchange_sku_id is not None:
            # The replacement is the buyer's as soon as asked: it is not sold to anyone else
            # while the shop answers and the goods travel back (no purchase limit: not a sale).
            await inventory.reserve(
                uow=uow, holder=exchange_holder(new.id),
                items={case.exchange_sku_id: case.items[0].quantity},
            )  # fmt: skip
        if actor is CaseActor.PLATFORM:
            await security.record(
                uow=uow, actor_id=by.id, action="ordering.after_sales_requested",
                subject=f"order:{row.id}",
                details={"case_id": new.id, "kind": new.kind, "on_behalf_of": row.buyer_id},
            )  # fmt: skip
        await _tell(uow, row, new, None, actor, by.id, note=reason)
        return await _view(uow, row, new)


async def _claimable(
    uow: UnitOfWork,
    row: Order,
    lines: Sequence[OrderLine],
    case: NewCase,
    policy: AfterSalesPolicy,
) -> dict[int, OrderedLine]:
    """The order's lines with what is still claimable on each, once the order, the items and
    every item's return window are checked for this case."""
    delivered_at = check_order(row.status, delivered_at=row.delivered_at or row.completed_at)
    ordered = _ordered(lines, await repository.after_sales_of(uow.session, row.id))
    check_items(case.kind, case.items, ordered)
    windows = await catalog.return_windows(
        uow=uow, product_ids={ordered[c.sku_id].product_id for c in case.items}
    )
    for claim in case.items:
        check_window(
            case.kind, delivered_at=delivered_at, now=uow.now(), policy=policy,
            category_days=windows.get(ordered[claim.sku_id].product_id),
        )  # fmt: skip
    return ordered


async def _trusted(uow: UnitOfWork, buyer_id: int, policy: AfterSalesPolicy) -> bool:
    """Whether the buyer's record earns a refund before the goods are back."""
    return is_trusted(
        completed_orders=await order_rows.completed_orders_of(uow, buyer_id=buyer_id),
        ruled_against=await repository.cases_ruled_against(
            uow.session,
            buyer_id=buyer_id,
            since=uow.now() - timedelta(days=policy.trusted_lookback_days),
        ),
        policy=policy,
    )


def _ordered(lines: Sequence[OrderLine], cases: Sequence[AfterSalesCase]) -> dict[int, OrderedLine]:
    claimed = claimed_units((case.status, case.items) for case in cases)
    return {
        line.sku_id: OrderedLine(
            line_id=line.id,
            sku_id=line.sku_id,
            product_id=line.product_id,
            quantity=line.quantity,
            unit_price_fen=line.unit_price_fen,
            claimed=claimed.get(line.sku_id, 0),
        )
        for line in lines
    }


def _item(line: OrderLine, quantity: int) -> dict[str, Any]:
    return {
        "line_id": line.id, "sku_id": line.sku_id, "product_id": line.product_id,
        "title": line.title, "sku_label": line.sku_label, "quantity": quantity,
        "unit_price_fen": line.unit_price_fen,
    }  # fmt: skip


async def _exchange_label(uow: UnitOfWork, lines: Sequence[OrderLine], case: NewCase) -> str | None:
    """The wanted colour/size's label for an exchange, checked; None for other kinds."""
    if case.exchange_sku_id is None:
        return None
    return await _check_exchange(uow, lines, case.items[0], case.exchange_sku_id)


async def _check_exchange(
    uow: UnitOfWork, lines: Sequence[OrderLine], claim: Claim, sku_id: int
) -> str:
    """Another colour/size of the line's product, on sale, not dearer than what was paid."""
    line = next(x for x in lines if x.sku_id == claim.sku_id)
    if sku_id == line.sku_id:
        raise InvalidInput(
            "choose another colour or size to exchange for", details={"field": "exchange_sku_id"}
        )
    sku = (await catalog.get_skus(uow=uow, sku_ids=[sku_id])).get(sku_id)
    if sku is None or sku.product_id != line.product_id:
        raise InvalidInput(
            "an exchange is for another colour or size of the same product",
            details={"field": "exchange_sku_id"},
        )
    shops = await merchants.get_merchants(uow=uow, ids={sku.merchant_id})
    if not is_orderable(sku, shops):
        raise AfterSalesNotAllowed("that colour/size is not for sale any more; return instead")
    if sku.price_fen > line.unit_price_fen:
        raise AfterSalesNotAllowed(
            "that colour/size costs more than you paid; return this one and order it instead",
            details={"price_fen": sku.price_fen, "paid_fen": line.unit_price_fen},
        )
    return sku.label[:200]
