"""Changes before shipping: a new delivery address, another colour/size of a line's product,
another quantity. Each is one transaction with the order row locked: the state is checked
again, new stock is reserved and the old released, lines and totals are updated, a partial
refund is recorded when the order got cheaper, and the timeline, the audit log (agents) and
the outbox (``order.changed``) hear of it. Shipping takes the same lock, so a change racing
the merchant's ship has one outcome. After the merchant started packing a change waits for
the merchant's approval (approved automatically after ``order_change_approval_hours``).
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from kuaidan.accounts import service as accounts
from kuaidan.accounts.domain import Role, UserInfo
from kuaidan.catalog import service as catalog
from kuaidan.core.db import UnitOfWork
from kuaidan.core.errors import DomainError, InvalidInput, NotFound
from kuaidan.core.outbox import publish
from kuaidan.inventory import service as inventory
from kuaidan.merchants import service as merchants
from kuaidan.ordering.changes import repository
from kuaidan.ordering.changes.domain import (
    OPEN_STATUSES,
    ChangeInfo,
    ChangeKind,
    ChangeNotAllowed,
    ChangeStatus,
    Difference,
    OrderFacts,
    change_payment_reference,
    change_refund_no,
    change_stock_holder,
    check_changeable,
    check_quantity,
    check_settlement,
    check_swap,
    needs_approval,
    needs_extra_payment,
)
from kuaidan.ordering.changes.events import OrderChanged
from kuaidan.ordering.changes.models import OrderChange
from kuaidan.ordering.domain import Actor, OrderStatus, check_request_id, stock_holder
from kuaidan.ordering.service import order_rows
from kuaidan.ordering.service.carts import is_orderable
from kuaidan.ordering.service.live import announce
from kuaidan.ordering.service.order_rows import Order, OrderLine
from kuaidan.ordering.service.orders import require_merchant
from kuaidan.payments import service as payments
from kuaidan.security import service as security

_ADDRESS_FIELDS = ("recipient_enc", "phone_enc", "district_enc", "line_enc", "province", "city")
ADDRESS_KEYS = (*_ADDRESS_FIELDS, "postcode")


@dataclass(frozen=True, slots=True)
class NewAddress:
    """An address typed on the change form (checked and cleaned by the address book)."""

    recipient: str
    phone: str
    province: str
    city: str
    district: str
    line: str


@dataclass(frozen=True, slots=True)
class _Plan:
    kind: ChangeKind
    line_id: int | None
    before: dict[str, Any]
    after: dict[str, Any]
    difference: Difference


def _requester(by: UserInfo) -> Actor:
    """Buyers change their own orders; agents change them on the buyer's behalf."""
    if by.role is Role.BUYER:
        return Actor.BUYER
    if by.role is Role.AGENT:
        return Actor.AGENT
    raise NotFound("no such order")


async def order_facts(uow: UnitOfWork, row: Order) -> OrderFacts:
    changes = await repository.changes_of(uow.session, row.id)
    done = (ChangeStatus.APPLIED.value,)
    return OrderFacts(
        status=OrderStatus(row.status),
        refund_in_progress=row.refund_request_no is not None,
        packing_started=row.packing_started_at is not None,
        address_changes=sum(1 for c in changes if c.kind == "address" and c.status in done),
        open_change=any(ChangeStatus(c.status) in OPEN_STATUSES for c in changes),
    )


# --- asking for a change --------------------------------------------------------------------


async def change_address(
    *, uow: UnitOfWork, number: str, by: UserInfo, address_id: int, request_id: str
) -> ChangeInfo:
    """Deliver to another address of the buyer's address book (at most 5 times)."""

    async def plan(row: Order) -> _Plan:
        try:
            address = await accounts.get_address(
                uow=uow, user_id=row.buyer_id, address_id=address_id
            )
        except NotFound:
            raise InvalidInput(
                "choose one of the buyer's delivery addresses", details={"field": "address_id"}
            ) from None
        before = {key: getattr(row, key) for key in ADDRESS_KEYS}
        after = order_rows.address_snapshot(uow.cipher, address)
        # Delivery is free to buyers (shipping_fen 0): a new address costs nothing more.
        same = Difference(row.total_fen, row.total_fen)
        return _Plan(ChangeKind.ADDRESS, None, before, after, same)

    return await _submit(uow, number, by, ChangeKind.ADDRESS, request_id, plan)


async def change_line(
    *,
    uow: UnitOfWork,
    number: str,
    by: UserInfo,
    sku_id: int,
    request_id: str,
    new_sku_id: int | None = None,
    quantity: int | None = None,
) -> ChangeInfo:
    """Swap a line (found by its SKU) for another colour/size of the same product, or change
    its quantity (1–99), or both."""
    if new_sku_id is None and quantity is None:
        raise InvalidInput("say which colour/size or how many", details={"field": "new_sku_id"})
    if quantity is not None:
        check_quantity(quantity)
    kind = ChangeKind.SWAP if new_sku_id is not None else ChangeKind.QUANTITY

    async def plan(row: Order) -> _Plan:
        lines = (await order_rows.lines_of(uow, [row.id]))[row.id]
        line = next((x for x in lines if x.sku_id == sku_id), None)
        if line is None:
            raise InvalidInput("the order has no such item", details={"field": "sku_id"})
        return await _line_plan(uow, row, line, lines, new_sku_id, quantity or line.quantity)

    return await _submit(uow, number, by, kind, request_id, plan)


async def _line_plan(
    uow: UnitOfWork,
    row: Order,
    line: OrderLine,
    lines: list[OrderLine],
    new_sku_id: int | None,
    quantity: int,
) -> _Plan:
    before = _line_facts(line.sku_id, line.sku_label, line.quantity, line.unit_price_fen)
    target = new_sku_id if new_sku_id is not None else line.sku_id
    if new_sku_id is None and quantity == line.quantity:
        raise InvalidInput("that is the quantity already ordered", details={"field": "quantity"})
    skus = await catalog.get_skus(uow=uow, sku_ids=[target])
    sku = skus.get(target)
    if sku is None:
        raise InvalidInput("no such item", details={"field": "sku_id"})
    if new_sku_id is not None:
        check_swap(
            line_product_id=line.product_id,
            line_sku_id=line.sku_id,
            new_product_id=sku.product_id,
            new_sku_id=new_sku_id,
        )
        if any(x.sku_id == new_sku_id for x in lines):
            raise InvalidInput(
                "that colour/size is already in the order", details={"field": "sku_id"}
            )
        shops = await merchants.get_merchants(uow=uow, ids={sku.merchant_id})
        if not is_orderable(sku, shops):
            raise ChangeNotAllowed("that colour/size is not for sale any more")
    # A swap takes today's price of the new SKU; a quantity change keeps the line's price.
    unit = sku.price_fen if new_sku_id is not None else line.unit_price_fen
    after = _line_facts(target, sku.label, quantity, unit)
    after.update(attributes=dict(sku.attributes), title=sku.product_title[:200])
    difference = Difference(row.items_fen, row.items_fen - line.total_fen + unit * quantity)
    kind = ChangeKind.SWAP if new_sku_id is not None else ChangeKind.QUANTITY
    return _Plan(kind, line.id, before, after, difference)


def _line_facts(sku_id: int, label: str, quantity: int, unit_fen: int) -> dict[str, Any]:
    return {"sku_id": sku_id, "label": label, "quantity": quantity, "unit_price_fen": unit_fen}


async def _submit(
    uow: UnitOfWork,
    number: str,
    by: UserInfo,
    kind: ChangeKind,
    request_id: str,
    plan: Callable[[Order], Awaitable[_Plan]],
) -> ChangeInfo:
    """One transaction, the order row locked: a repeated request id returns the first change;
    otherwise the change is applied at once, or waits for the merchant after packing began."""
    actor, request_id = _requester(by), check_request_id(request_id)
    async with uow.atomic():
        found = await order_rows.visible_order(uow, number, by)
        row = await order_rows.lock_order(uow, found.id)
        assert row is not None
        earlier = await repository.change_by_request(uow.session, row.id, request_id)
        if earlier is not None:
            return _info(uow, row, earlier)
        facts = await order_facts(uow, row)
        check_changeable(facts, kind)
        planned = await plan(row)
        check_settlement(facts.status, planned.difference)
        change = OrderChange(
            order_id=row.id, request_id=request_id, kind=kind.value,
            status=ChangeStatus.PENDING_APPROVAL.value, line_id=planned.line_id,
            before=planned.before, after=planned.after, requested_by_role=actor.value,
            requested_by=by.id, difference_fen=planned.difference.amount_fen,
            requested_at=uow.now(),
        )  # fmt: skip
        await repository.add(uow.session, change)
        if actor is Actor.AGENT:
            await _audit(uow, row, change, by.id, "ordering.change_requested")
        if needs_approval(facts):
            await note_change(uow, row, change, "change_requested", actor, by.id)
        elif needs_extra_payment(facts.status, planned.difference):
            await _await_payment(uow, row, change, actor, by.id)
        else:
            await apply_change(uow, row, change, actor, by.id)
        return _info(uow, row, change)


# --- applying -------------------------------------------------------------------------------


async def apply_change(
    uow: UnitOfWork, row: Order, change: OrderChange, actor: Actor, actor_id: int | None
) -> None:
    """Inside the transaction, the order row locked: the order takes the change; a short SKU
    or a purchase limit raises and the caller's transaction rolls back (nothing changes)."""
    values: dict[str, Any]
    if change.kind == ChangeKind.ADDRESS.value:
        values = {key: change.after[key] for key in ADDRESS_KEYS}
    else:
        values = await _apply_line(uow, row, change)
    changed = await order_rows.change_order(
        uow, order_id=row.id, status=row.status, version=row.version, values=values
    )
    if not changed:
        raise ChangeNotAllowed("the order changed meanwhile; reload it and try again")
    refund_fen = max(0, -change.difference_fen)
    settled: dict[str, Any] = {"status": ChangeStatus.APPLIED.value, "applied_at": uow.now()}
    if refund_fen and row.status == OrderStatus.PAID.value:
        request_no = change_refund_no(change.id)
        await payments.request_refund(
            uow=uow, reference=order_rows.order_reference(uow.cipher, row), amount_fen=refund_fen,
            reason=f"order {order_rows.number_of(uow.cipher, row)} changed", request_no=request_no,
        )  # fmt: skip
        settled["refund_request_no"] = request_no
    await repository.set_change(uow.session, change.id, settled)
    await uow.session.refresh(change)
    await uow.session.refresh(row)
    await note_change(uow, row, change, "changed", actor, actor_id)


async def _await_payment(
    uow: UnitOfWork, row: Order, change: OrderChange, actor: Actor, actor_id: int | None
) -> None:
    """A dearer change of a paid order: the units it needs beyond the order's are reserved
    now (under the change's own holder, the buyer's limits checked), and the buyer pays the
    difference on the provider's page; the change is applied when that payment succeeds, and
    fails (the units released) if it is not made within the order payment window."""
    before, after = change.before, change.after
    new_sku, new_quantity = int(after["sku_id"]), int(after["quantity"])
    extra = new_quantity - int(before["quantity"]) if new_sku == before["sku_id"] else new_quantity
    if extra > 0:
        await inventory.reserve(
            uow=uow, holder=change_stock_holder(change.id), items={new_sku: extra},
            buyer_id=row.buyer_id,
        )  # fmt: skip
    number = order_rows.number_of(uow.cipher, row)
    reference = change_payment_reference(change.id, secrets.token_hex(8))
    started = await payments.start_payment(
        uow=uow, reference=reference, amount_fen=change.difference_fen, currency=row.currency,
        subject=f"订单 {number} 补差价 Order change #{change.id}", buyer_id=row.buyer_id,
        return_path=f"/orders/{number}/changes",
    )  # fmt: skip
    if started.pay_url is None:
        raise ChangeNotAllowed("the extra payment could not be started; try again later")
    values = {
        "status": ChangeStatus.AWAITING_PAYMENT.value,
        "payment_reference": reference,
        "pay_url": started.pay_url,
    }
    await repository.set_change(uow.session, change.id, values)
    await uow.session.refresh(change)
    await note_change(uow, row, change, "change_awaiting_payment", actor, actor_id)


async def _apply_line(uow: UnitOfWork, row: Order, change: OrderChange) -> dict[str, Any]:
    assert change.line_id is not None
    lines = (await order_rows.lines_of(uow, [row.id]))[row.id]
    line = next((x for x in lines if x.id == change.line_id), None)
    before = change.before
    if line is None or (line.sku_id, line.quantity) != (before["sku_id"], before["quantity"]):
        raise ChangeNotAllowed("the item changed meanwhile; reload the order and try again")
    after = change.after
    wanted = {x.sku_id: x.quantity for x in lines if x.id != line.id}
    wanted[int(after["sku_id"])] = int(after["quantity"])
    holder = stock_holder(row.id)
    # Released and reserved under the one holder in this transaction, the order row locked.
    await inventory.release(uow=uow, holder=holder, reason="order changed before shipping")
    await inventory.reserve(uow=uow, holder=holder, items=wanted, buyer_id=row.buyer_id)
    unit, quantity = int(after["unit_price_fen"]), int(after["quantity"])
    items = row.items_fen - line.total_fen + unit * quantity
    await order_rows.set_line(uow, line.id,
        {"sku_id": int(after["sku_id"]), "sku_label": str(after["label"])[:200],
         "attributes": dict(after.get("attributes", line.attributes)), "quantity": quantity,
         "unit_price_fen": unit, "total_fen": unit * quantity},
    )  # fmt: skip
    await order_rows.refresh_products(uow, {line.product_id})
    return {"items_fen": items, "total_fen": items + row.shipping_fen}


# --- the timeline, the audit log, the outbox -------------------------------------------------


def _summary(uow: UnitOfWork, change: OrderChange) -> str:
    before, after = change.before, change.after
    if change.kind == ChangeKind.ADDRESS.value:
        district = uow.cipher.decrypt(after["district_enc"], context="orders.district")
        return f"地址 Address → {after['province']} {after['city']} {district}"
    if change.kind == ChangeKind.SWAP.value:
        text = f"{before['label']} → {after['label']}"
        if before["quantity"] != after["quantity"]:
            text += f" ×{after['quantity']}"
        return text
    return f"{before['label']}: {before['quantity']} → {after['quantity']}"


async def note_change(
    uow: UnitOfWork,
    row: Order,
    change: OrderChange,
    action: str,
    actor: Actor,
    actor_id: int | None,
) -> None:
    on_behalf = " (on the buyer's behalf)" if change.requested_by_role == Actor.AGENT.value else ""
    difference = f"; {change.difference_fen:+d} fen" if change.difference_fen else ""
    note = f"{change.kind} #{change.id}: {_summary(uow, change)}{difference}{on_behalf}"
    order_rows.add_timeline(uow, row, action=action, actor=actor, actor_id=actor_id, note=note)
    event = OrderChanged(
        order_id=row.id, number=order_rows.number_of(uow.cipher, row), buyer_id=row.buyer_id,
        merchant_id=row.merchant_id, change_id=change.id, kind=change.kind,
        status=change.status, requested_by_role=change.requested_by_role,
        difference_fen=change.difference_fen, total_fen=row.total_fen,
    )  # fmt: skip
    await publish(uow, event, key=f"order:{row.id}")
    announce(uow, row.id, action)


async def _audit(
    uow: UnitOfWork, row: Order, change: OrderChange, actor_id: int, action: str
) -> None:
    await security.record(
        uow=uow,
        actor_id=actor_id,
        action=action,
        subject=f"order:{row.id}",
        details={
            "change_id": change.id,
            "kind": change.kind,
            "on_behalf_of": row.buyer_id,
            "difference_fen": change.difference_fen,
        },
    )


def _info(uow: UnitOfWork, row: Order, change: OrderChange) -> ChangeInfo:
    return ChangeInfo(
        id=change.id,
        order_number=order_rows.number_of(uow.cipher, row),
        kind=ChangeKind(change.kind),
        status=ChangeStatus(change.status),
        summary=_summary(uow, change),
        requested_by_role=change.requested_by_role,
        requested_by=change.requested_by,
        difference_fen=change.difference_fen,
        refund_request_no=change.refund_request_no,
        reason=change.reason,
        requested_at=change.requested_at,
        decided_at=change.decided_at,
        applied_at=change.applied_at,
        payment_reference=change.payment_reference,
        pay_url=change.pay_url if change.status == ChangeStatus.AWAITING_PAYMENT.value else None,
    )


async def list_changes(*, uow: UnitOfWork, number: str, by: UserInfo) -> list[ChangeInfo]:
    """The order's changes, oldest first (buyer, its shop, agents and admins)."""
    row = await order_rows.visible_order(uow, number, by)
    return [_info(uow, row, c) for c in await repository.changes_of(uow.session, row.id)]


# --- packing and the merchant's approval ------------------------------------------------------


async def start_packing(*, uow: UnitOfWork, number: str, by: UserInfo) -> None:
    """The merchant started packing a paid order: changes now wait for the merchant's word."""
    merchant_id = require_merchant(by)
    async with uow.atomic():
        found = await order_rows.visible_order(uow, number, by)
        row = await order_rows.lock_order(uow, found.id)
        assert row is not None and row.merchant_id == merchant_id
        if row.status != OrderStatus.PAID.value:
            raise ChangeNotAllowed(f"an order that is {row.status} cannot start packing")
        if row.packing_started_at is not None:
            return
        await order_rows.set_order_fields(uow, row.id, {"packing_started_at": uow.now()})
        order_rows.add_timeline(
            uow, row, action="packing_started", actor=Actor.MERCHANT, actor_id=by.id
        )


async def decide_change(
    *, uow: UnitOfWork, number: str, change_id: int, by: UserInfo, approve: bool, reason: str = ""
) -> ChangeInfo:
    """The merchant approves (the change is applied now, or fails with the reason) or rejects
    a pending change. Deciding a change that is no longer pending is a 409."""
    require_merchant(by)
    async with uow.atomic():
        found = await order_rows.visible_order(uow, number, by)
        row = await order_rows.lock_order(uow, found.id)
        change = await repository.get_change(uow.session, change_id)
        if row is None or change is None or change.order_id != row.id:
            raise NotFound("no such change")
        await _decide(uow, row, change, approve, Actor.MERCHANT, by.id, reason)
        return _info(uow, row, change)


async def _decide(
    uow: UnitOfWork,
    row: Order,
    change: OrderChange,
    approve: bool,
    actor: Actor,
    actor_id: int | None,
    reason: str,
) -> None:
    if change.status != ChangeStatus.PENDING_APPROVAL.value:
        raise ChangeNotAllowed(f"this change is {change.status} already")
    decided = {"decided_at": uow.now(), "decided_by": actor_id}
    if not approve:
        text = " ".join(reason.split())[:200] or None
        values = {**decided, "status": ChangeStatus.REJECTED.value, "reason": text}
        await repository.set_change(uow.session, change.id, values)
        await uow.session.refresh(change)
        await note_change(uow, row, change, "change_rejected", actor, actor_id)
        return
    await repository.set_change(uow.session, change.id, decided)
    try:
        async with uow.session.begin_nested():
            if OrderStatus(row.status) not in (OrderStatus.PENDING_PAYMENT, OrderStatus.PAID):
                raise ChangeNotAllowed(f"the order is {row.status} now")
            if change.difference_fen > 0:
                await _await_payment(uow, row, change, actor, actor_id)
            else:
                await apply_change(uow, row, change, actor, actor_id)
    except DomainError as exc:
        values = {"status": ChangeStatus.FAILED.value, "reason": exc.message[:200]}
        await repository.set_change(uow.session, change.id, values)
        await uow.session.refresh(change)
        await uow.session.refresh(row)
        await note_change(uow, row, change, "change_failed", actor, actor_id)


async def auto_approve_changes(*, uow: UnitOfWork, wait: timedelta, limit: int = 100) -> int:
    """Approve the changes the merchant left unanswered for ``wait``; how many were decided."""
    cutoff = uow.now() - wait
    due = await repository.due_changes(
        uow.session, status=ChangeStatus.PENDING_APPROVAL.value, before=cutoff, limit=limit
    )
    done = 0
    for change_id, order_id in due:
        async with uow.atomic():
            row = await order_rows.lock_order(uow, order_id)
            change = await repository.get_change(uow.session, change_id)
            if row is None or change is None:
                continue
            if change.status != ChangeStatus.PENDING_APPROVAL.value:
                continue
            await _decide(uow, row, change, True, Actor.SYSTEM, None, "")
            done += 1
    return done


async def change_to_new_address(
    *, uow: UnitOfWork, number: str, by: UserInfo, address: NewAddress, request_id: str
) -> ChangeInfo:
    """Deliver to an address typed in just now: it joins the buyer's address book and the
    order takes it, in one transaction (a refused change leaves the book as it was)."""
    _requester(by)
    request_id = check_request_id(request_id)
    async with uow.atomic():
        row = await order_rows.visible_order(uow, number, by)
        earlier = await repository.change_by_request(uow.session, row.id, request_id)
        if earlier is not None:
            return _info(uow, row, earlier)
        added = await accounts.add_address(
            uow=uow, user_id=row.buyer_id, recipient=address.recipient, phone=address.phone,
            province=address.province, city=address.city, district=address.district,
            line=address.line,
        )  # fmt: skip
        return await change_address(
            uow=uow, number=number, by=by, address_id=added.id, request_id=request_id
        )
