"""After-sales once an order is delivered: returns (no reason, or for a fault), exchanges for
another colour or size, and refunds for missing items.

A case is asked for by the buyer (or an agent on the buyer's behalf, audited), answered by the
merchant within the answer window or escalated to the platform, disputed by the buyer after a
rejection and then ruled on by the platform. Approved, the goods come back in a parcel the
platform books (a pickup) or the buyer sends, tracked by logistics like any parcel; when the
shop receives it the money goes back, or the replacement leaves. A trusted buyer is refunded
as soon as the goods are handed in.

Every step is one conditional update of the case from the status and version it read, one
entry on the case's own timeline and on the order's, one ``order.after_sales_changed`` event
in the outbox and a notice to open pages; a redelivered event or a double click changes
nothing twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from kuaidan.accounts.domain import Role, UserInfo
from kuaidan.catalog import service as catalog
from kuaidan.core.db import UnitOfWork
from kuaidan.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from kuaidan.core.outbox import publish
from kuaidan.inventory import service as inventory
from kuaidan.logistics import service as logistics
from kuaidan.logistics.domain import Recipient, ShipmentInfo, place_of
from kuaidan.merchants import service as merchants
from kuaidan.merchants.domain import ReturnAddress
from kuaidan.ordering import repository
from kuaidan.ordering.domain import Actor as OrderActor
from kuaidan.ordering.domain import check_request_id
from kuaidan.ordering.domain.aftersales import (
    FOR_PLATFORM,
    OPEN,
    SENDS_GOODS_BACK,
    AfterSalesNotAllowed,
    AfterSalesPolicy,
    Bearer,
    CaseItemView,
    CaseKind,
    CaseStatus,
    CaseStep,
    CaseStepView,
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
    next_status,
    refund_fen,
    return_bearer,
)
from kuaidan.ordering.domain.aftersales import Actor as CaseActor
from kuaidan.ordering.events import AfterSalesChanged
from kuaidan.ordering.models import AfterSalesCase, AfterSalesStep, Order, OrderLine
from kuaidan.ordering.service import _common as common
from kuaidan.ordering.service.carts import is_orderable
from kuaidan.ordering.service.live import announce
from kuaidan.ordering.service.shipping import DEFAULT_WEIGHT_G, ship_from
from kuaidan.payments import service as payments
from kuaidan.security import service as security

if TYPE_CHECKING:
    from kuaidan.config import Settings

CONTEXT = "after_sales_cases"  # encryption context of the shop's return address
_RETURN_FIELDS = ("recipient", "phone", "line")


def policy_from_settings(settings: Settings) -> AfterSalesPolicy:
    return AfterSalesPolicy(
        return_days=settings.after_sales_return_days,
        quality_days=settings.after_sales_quality_days,
        answer_hours=settings.after_sales_answer_hours,
        dispute_days=settings.after_sales_dispute_days,
        send_back_days=settings.after_sales_send_back_days,
        trusted_completed_orders=settings.after_sales_trusted_orders,
    )


def case_actor(user: UserInfo) -> CaseActor:
    """Buyers and merchants act for themselves; agents and admins are the platform."""
    if user.role is Role.BUYER:
        return CaseActor.BUYER
    if user.role is Role.MERCHANT:
        return CaseActor.MERCHANT
    if user.role in (Role.AGENT, Role.ADMIN):
        return CaseActor.PLATFORM
    raise NotFound("no such order")


def refund_request_no(case_id: int) -> str:
    return f"aftersales-{case_id}-refund"


def exchange_holder(case_id: int) -> str:
    """Who holds an exchange's replacement stock in the inventory area."""
    return f"aftersales:{case_id}"


# --- asking ----------------------------------------------------------------------------------


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
        found = await common.visible_order(uow, number, by)
        row = await repository.lock_order(uow.session, found.id)
        assert row is not None
        earlier = await repository.after_sales_by_request(uow.session, row.id, request_id)
        if earlier is not None:
            return await _view(uow, row, earlier)
        delivered_at = check_order(row.status, delivered_at=row.delivered_at or row.completed_at)
        cases = await repository.after_sales_of(uow.session, row.id)
        lines = (await repository.lines_of(uow.session, [row.id])).get(row.id, [])
        ordered = _ordered(lines, cases)
        check_items(case.kind, case.items, ordered)
        windows = await catalog.return_windows(
            uow=uow, product_ids={ordered[c.sku_id].product_id for c in case.items}
        )
        for claim in case.items:
            check_window(
                case.kind, delivered_at=delivered_at, now=uow.now(), policy=policy,
                category_days=windows.get(ordered[claim.sku_id].product_id),
            )  # fmt: skip
        exchange_label = None
        if case.exchange_sku_id is not None:
            exchange_label = await _check_exchange(uow, lines, case.items[0], case.exchange_sku_id)
        trusted = is_trusted(
            completed_orders=await repository.completed_orders_of(
                uow.session, buyer_id=row.buyer_id
            ),
            ruled_against=await repository.cases_ruled_against(
                uow.session,
                buyer_id=row.buyer_id,
                since=uow.now() - timedelta(days=policy.trusted_lookback_days),
            ),
            policy=policy,
        )
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


# --- reading ---------------------------------------------------------------------------------


def _return_address(uow: UnitOfWork, case: AfterSalesCase) -> ReturnAddress | None:
    if case.return_recipient_enc is None or case.return_province is None:
        return None
    values = {
        name: uow.cipher.decrypt(
            getattr(case, f"return_{name}_enc") or "", context=f"{CONTEXT}.{name}"
        )
        for name in _RETURN_FIELDS
    }
    return ReturnAddress(province=case.return_province, city=case.return_city or "", **values)


async def _view(
    uow: UnitOfWork,
    row: Order,
    case: AfterSalesCase,
    steps: Sequence[AfterSalesStep] | None = None,
) -> CaseView:
    if steps is None:
        steps = (await repository.after_sales_steps(uow.session, [case.id]))[case.id]
    address = _return_address(uow, case)
    return CaseView(
        case_id=case.id, order_number=common.number_of(uow.cipher, row),
        kind=CaseKind(case.kind), status=CaseStatus(case.status), reason=case.reason,
        items=tuple(
            CaseItemView(
                line_id=i["line_id"], sku_id=i["sku_id"], title=i["title"],
                sku_label=i["sku_label"], quantity=i["quantity"],
                unit_price_fen=i["unit_price_fen"],
            )
            for i in case.items
        ),
        exchange_sku_id=case.exchange_sku_id, exchange_label=case.exchange_label,
        value_fen=case.value_fen, refund_fen=case.refund_fen,
        return_shipping_fen=case.return_shipping_fen, return_bearer=Bearer(case.return_bearer),
        currency=case.currency, return_shipment=case.return_shipment,
        return_tracking=case.return_tracking, replacement_shipment=case.replacement_shipment,
        return_to=None if address is None else f"{address.recipient} {address.phone} "
        f"{address.one_line()}",
        answer_by=case.due_at if case.status == CaseStatus.REQUESTED.value else None,
        decision_reason=case.decision_reason, requested_by=case.requested_by,
        trusted=case.trusted, refunded_at=case.refunded_at, requested_at=case.requested_at,
        updated_at=case.updated_at,
        steps=tuple(
            CaseStepView(at=s.at, actor=s.actor, step=s.step, status=s.status, note=s.note)
            for s in steps
        ),
    )  # fmt: skip


async def list_cases(*, uow: UnitOfWork, number: str, viewer: UserInfo) -> list[CaseView]:
    """The order's cases, newest first, for whoever may see the order."""
    row = await common.visible_order(uow, number, viewer)
    cases = await repository.after_sales_of(uow.session, row.id)
    steps = await repository.after_sales_steps(uow.session, [c.id for c in cases])
    return [await _view(uow, row, case, steps[case.id]) for case in reversed(cases)]


async def get_case(*, uow: UnitOfWork, number: str, case_id: int, viewer: UserInfo) -> CaseView:
    row, case = await _visible_case(uow, number, case_id, viewer)
    return await _view(uow, row, case)


async def _visible_case(
    uow: UnitOfWork, number: str, case_id: int, viewer: UserInfo
) -> tuple[Order, AfterSalesCase]:
    row = await common.visible_order(uow, number, viewer)
    case = await repository.get_after_sales(uow.session, case_id)
    if case is None or case.order_id != row.id:
        raise NotFound("no such after-sales case")
    return row, case


async def queue(*, uow: UnitOfWork, by: UserInfo, open_only: bool = True) -> list[CaseView]:
    """Cases to look at: a shop's own, the platform's (escalated and disputed), a buyer's."""
    statuses: frozenset[CaseStatus] | None = OPEN if open_only else None
    match by.role:
        case Role.MERCHANT if by.merchant_id is not None:
            rows = await repository.list_after_sales(
                uow.session, merchant_id=by.merchant_id, statuses=_values(statuses)
            )
        case Role.AGENT | Role.ADMIN:
            rows = await repository.list_after_sales(
                uow.session, statuses=_values(FOR_PLATFORM if open_only else None)
            )
        case Role.BUYER:
            rows = await repository.list_after_sales(
                uow.session, buyer_id=by.id, statuses=_values(statuses)
            )
        case _:
            raise Forbidden("no after-sales queue for this account")
    steps = await repository.after_sales_steps(uow.session, [c.id for c in rows])
    orders = await repository.orders_by_id(uow.session, [c.order_id for c in rows])
    return [await _view(uow, orders[case.order_id], case, steps[case.id]) for case in rows]


def _values(statuses: frozenset[CaseStatus] | None) -> list[str] | None:
    return None if statuses is None else sorted(s.value for s in statuses)


# --- steps -----------------------------------------------------------------------------------


async def _tell(
    uow: UnitOfWork,
    row: Order,
    case: AfterSalesCase,
    what: CaseStep | None,
    actor: CaseActor,
    actor_id: int | None,
    *,
    note: str | None = None,
) -> None:
    """The step (None: the request itself) on the case's timeline and the order's, in the
    outbox and on open pages."""
    step_name = "request" if what is None else what.value
    uow.session.add(
        AfterSalesStep(
            case_id=case.id,
            at=uow.now(),
            actor=actor.value,
            actor_id=actor_id,
            step=step_name,
            status=case.status,
            note=note[:500] if note else None,
        )
    )
    order_actor = {
        CaseActor.BUYER: OrderActor.BUYER,
        CaseActor.MERCHANT: OrderActor.MERCHANT,
        CaseActor.PLATFORM: OrderActor.AGENT,
        CaseActor.SYSTEM: OrderActor.SYSTEM,
    }[actor]
    common.add_timeline(
        uow, row, action=f"after_sales_{case.status}", actor=order_actor, actor_id=actor_id,
        note=f"#{case.id} {case.kind}" + (f": {note}" if note else ""),
    )  # fmt: skip
    event = AfterSalesChanged(
        case_id=case.id, order_id=row.id, number=common.number_of(uow.cipher, row),
        buyer_id=row.buyer_id, merchant_id=row.merchant_id, kind=case.kind, step=step_name,
        status=case.status, actor=actor.value, value_fen=case.value_fen,
        refund_fen=case.refund_fen, return_shipping_fen=case.return_shipping_fen,
        return_bearer=case.return_bearer, at=uow.now(),
    )  # fmt: skip
    await publish(uow, event, key=f"order:{row.id}")
    announce(uow, row.id, f"after_sales_{case.status}")


async def _advance(
    uow: UnitOfWork,
    row: Order,
    case: AfterSalesCase,
    what: CaseStep,
    actor: CaseActor,
    actor_id: int | None,
    *,
    note: str | None = None,
    values: Mapping[str, Any] | None = None,
) -> CaseStatus:
    """Take one step: IllegalCaseStep when it does not apply, a Conflict when another step
    won the race; otherwise the case row, its timelines and the outbox move together."""
    before = CaseStatus(case.status)
    after = next_status(before, what, CaseKind(case.kind), actor=actor)
    now = uow.now()
    changes: dict[str, Any] = {"status": after.value, "updated_at": now, **(values or {})}
    if after not in OPEN:
        changes.update(finished_at=now, due_at=None)
    if not await repository.change_after_sales(
        uow.session, case_id=case.id, status=before.value, version=case.version, values=changes
    ):
        raise Conflict("the case changed meanwhile; reload it and try again")
    case.version += 1
    for name, value in changes.items():
        setattr(case, name, value)
    await _tell(uow, row, case, what, actor, actor_id, note=note)
    if after is CaseStatus.CLOSED and case.exchange_sku_id is not None:
        await inventory.release(uow=uow, holder=exchange_holder(case.id), reason="exchange closed")
    return after


async def _locked(
    uow: UnitOfWork, number: str, case_id: int, by: UserInfo
) -> tuple[Order, AfterSalesCase]:
    row, case = await _visible_case(uow, number, case_id, by)
    locked = await repository.lock_order(uow.session, row.id)
    assert locked is not None
    fresh = await repository.get_after_sales(uow.session, case.id)
    assert fresh is not None
    return locked, fresh


async def decide_case(
    *,
    uow: UnitOfWork,
    number: str,
    case_id: int,
    by: UserInfo,
    approve: bool,
    reason: str | None,
    policy: AfterSalesPolicy,
) -> CaseView:
    """The shop approves or rejects (a rejection says why); the platform rules on an escalated
    or disputed case the same way. An approved return tells the buyer where to send the goods
    (the shop's return address); approved missing items are refunded at once."""
    actor = case_actor(by)
    if actor not in (CaseActor.MERCHANT, CaseActor.PLATFORM):
        raise Forbidden("the shop or the platform decides a case")
    note = None
    if not approve or reason:
        note = clean_text(reason or "", field="reason", low=2, high=500)
    async with uow.atomic():
        row, case = await _locked(uow, number, case_id, by)
        status = CaseStatus(case.status)
        if actor is CaseActor.PLATFORM and status in FOR_PLATFORM:
            what = CaseStep.RULE_FOR_BUYER if approve else CaseStep.RULE_FOR_MERCHANT
        else:
            what = CaseStep.APPROVE if approve else CaseStep.REJECT
        values: dict[str, Any] = {
            "decided_by": actor.value, "decided_by_id": by.id, "decision_reason": note,
        }  # fmt: skip
        if what is CaseStep.REJECT:
            values["due_at"] = uow.now() + timedelta(days=policy.dispute_days)
        approving = what in (CaseStep.APPROVE, CaseStep.RULE_FOR_BUYER)
        if approving and CaseKind(case.kind) in SENDS_GOODS_BACK:
            values.update(await _return_to(uow, row.merchant_id))
            values["due_at"] = uow.now() + timedelta(days=policy.send_back_days)
        after = await _advance(uow, row, case, what, actor, by.id, note=note, values=values)
        if actor is CaseActor.PLATFORM:
            await security.record(
                uow=uow, actor_id=by.id, action=f"ordering.after_sales_{what.value}",
                subject=f"order:{row.id}", details={"case_id": case.id, "reason": note},
            )  # fmt: skip
        if after is CaseStatus.REFUNDING:
            await _refund(uow, row, case)
        return await _view(uow, row, case)


async def _return_to(uow: UnitOfWork, merchant_id: int) -> dict[str, Any]:
    address = await merchants.get_return_address(uow=uow, merchant_id=merchant_id)
    if address is None:
        raise ReturnAddressMissing(
            "设置退货地址后才能同意退货 The shop has no return address yet: set it in the "
            "shipping settings first"
        )
    values: dict[str, Any] = {
        f"return_{name}_enc": uow.cipher.encrypt(
            getattr(address, name), context=f"{CONTEXT}.{name}"
        )
        for name in _RETURN_FIELDS
    }
    values.update(return_province=address.province, return_city=address.city)
    return values


class ReturnAddressMissing(Conflict):
    code = "return_address_missing"


async def dispute_case(
    *, uow: UnitOfWork, number: str, case_id: int, by: UserInfo, reason: str
) -> CaseView:
    """The buyer (or an agent for them) asks the platform to arbitrate a rejection."""
    actor = case_actor(by)
    note = clean_text(reason, field="reason", low=2, high=500)
    async with uow.atomic():
        row, case = await _locked(uow, number, case_id, by)
        await _advance(
            uow, row, case, CaseStep.DISPUTE, actor, by.id, note=note, values={"due_at": None}
        )
        return await _view(uow, row, case)


async def withdraw_case(*, uow: UnitOfWork, number: str, case_id: int, by: UserInfo) -> CaseView:
    """The buyer takes the request back before the goods leave; an exchange's stock is freed."""
    actor = case_actor(by)
    async with uow.atomic():
        row, case = await _locked(uow, number, case_id, by)
        await _advance(uow, row, case, CaseStep.WITHDRAW, actor, by.id, note="withdrawn")
        return await _view(uow, row, case)


# --- the parcel back ---------------------------------------------------------------------------


async def send_back(
    *,
    uow: UnitOfWork,
    number: str,
    case_id: int,
    by: UserInfo,
    carrier_code: str | None = None,
    tracking_number: str | None = None,
) -> CaseView:
    """The goods go back: the platform books a pickup from the delivery address to the shop's
    return address (the carrier chosen by score), or the buyer gives the tracking number of a
    parcel they sent. A trusted buyer's refund is asked for at once."""
    actor = case_actor(by)
    if (carrier_code is None) != (tracking_number is None):
        raise InvalidInput(
            "a parcel you sent needs both the carrier and the tracking number",
            details={"field": "tracking_number"},
        )
    async with uow.atomic():
        row, case = await _locked(uow, number, case_id, by)
        # Refused before anything is booked when the case is not waiting for the goods.
        next_status(CaseStatus(case.status), CaseStep.SEND_BACK, CaseKind(case.kind), actor=actor)
        address = _return_address(uow, case)
        assert address is not None
        origin, destination = (
            place_of(row.province, row.city),
            place_of(address.province, address.city),
        )
        if tracking_number is None:
            info = await logistics.request_shipment(
                uow=uow, merchant_id=row.merchant_id, origin=origin, destination=destination,
                weight_g=DEFAULT_WEIGHT_G,
                recipient=Recipient(address.recipient, address.phone, address.one_line()),
            )  # fmt: skip
            booked_by = "platform"
        else:
            assert carrier_code is not None
            info = await logistics.track_shipment(
                uow=uow, merchant_id=row.merchant_id, carrier_code=carrier_code,
                tracking_number=tracking_number, origin=origin, destination=destination,
                weight_g=DEFAULT_WEIGHT_G,
            )  # fmt: skip
            if info.order_id is not None or await repository.after_sales_by_shipment(
                uow.session, info.reference
            ):
                raise Conflict(
                    "this tracking number belongs to another parcel",
                    details={"field": "tracking_number"},
                )
            booked_by = "buyer"
        note = f"{info.carrier_name} {info.tracking_number or ''}".strip()
        await _advance(
            uow, row, case, CaseStep.SEND_BACK, actor, by.id, note=note,
            values={
                "return_shipment": info.reference, "return_tracking": info.tracking_number,
                "return_shipping_fen": info.price_fen, "return_booked_by": booked_by,
                "due_at": None,
            },
        )  # fmt: skip
        if case.trusted:
            await _refund(uow, row, case)
        return await _view(uow, row, case)


async def note_return_booked(*, uow: UnitOfWork, reference: str, tracking_number: str) -> bool:
    """The carrier booked the pickup: the case shows its tracking number."""
    async with uow.atomic():
        case = await repository.after_sales_by_shipment(uow.session, reference)
        if case is None or case.return_shipment != reference or case.return_tracking:
            return False
        await repository.change_after_sales(
            uow.session, case_id=case.id, status=case.status, version=case.version,
            values={"return_tracking": tracking_number, "updated_at": uow.now()},
        )  # fmt: skip
        announce(uow, case.order_id, "after_sales_tracking")
        return True


async def receive_return(*, uow: UnitOfWork, number: str, case_id: int, by: UserInfo) -> CaseView:
    """The shop says the goods are back (before the carrier's delivery scan reaches us)."""
    actor = case_actor(by)
    if actor is not CaseActor.MERCHANT:
        raise Forbidden("the shop confirms it received the goods")
    async with uow.atomic():
        row, case = await _locked(uow, number, case_id, by)
        await _received(uow, row, case, actor, by.id)
        return await _view(uow, row, case)


async def parcel_delivered(*, uow: UnitOfWork, reference: str) -> bool:
    """Logistics delivered a parcel: a return parcel at the shop, or a replacement at the
    buyer's. Parcels that are no case's are left alone; a repeated event changes nothing."""
    async with uow.atomic():
        case = await repository.after_sales_by_shipment(uow.session, reference)
        if case is None:
            return False
        row = await repository.lock_order(uow.session, case.order_id)
        fresh = await repository.get_after_sales(uow.session, case.id)
        if row is None or fresh is None:
            return False
        status = CaseStatus(fresh.status)
        if reference == fresh.return_shipment and status is CaseStatus.RETURNING:
            await _received(uow, row, fresh, CaseActor.SYSTEM, None)
            return True
        if reference == fresh.replacement_shipment and status is CaseStatus.EXCHANGE_SHIPPING:
            await _advance(
                uow, row, fresh, CaseStep.REPLACEMENT_DELIVERED, CaseActor.SYSTEM, None,
                note=reference,
            )  # fmt: skip
            return True
        return False


async def _received(
    uow: UnitOfWork, row: Order, case: AfterSalesCase, actor: CaseActor, actor_id: int | None
) -> None:
    after = await _advance(uow, row, case, CaseStep.RECEIVE, actor, actor_id)
    if after is CaseStatus.EXCHANGE_SHIPPING:
        await _ship_replacement(uow, row, case)
    elif case.refund_request_no is None:
        await _refund(uow, row, case)
    elif case.refunded_at is not None:  # a trusted buyer's refund already arrived
        await _advance(uow, row, case, CaseStep.REFUND_DONE, CaseActor.SYSTEM, None)


async def _ship_replacement(uow: UnitOfWork, row: Order, case: AfterSalesCase) -> None:
    """Book the replacement from the shop to the order's address; its stock is consumed."""
    address = common.address_of(uow.cipher, row)
    info: ShipmentInfo = await logistics.request_shipment(
        uow=uow, merchant_id=row.merchant_id, origin=await ship_from(uow, row.merchant_id),
        destination=place_of(row.province, row.city), weight_g=DEFAULT_WEIGHT_G,
        recipient=Recipient(address.recipient, address.phone, address.one_line()),
        order_number=common.number_of(uow.cipher, row), buyer_id=row.buyer_id,
    )  # fmt: skip
    await inventory.consume(uow=uow, holder=exchange_holder(case.id))
    await repository.change_after_sales(
        uow.session, case_id=case.id, status=case.status, version=case.version,
        values={"replacement_shipment": info.reference},
    )  # fmt: skip
    case.version += 1
    case.replacement_shipment = info.reference
    common.add_timeline(
        uow, row, action="after_sales_replacement", actor=OrderActor.SYSTEM, actor_id=None,
        note=f"#{case.id} {info.carrier_name} {info.reference}",
    )  # fmt: skip


# --- money -----------------------------------------------------------------------------------


async def _refund(uow: UnitOfWork, row: Order, case: AfterSalesCase) -> None:
    """Ask payments for the case's refund (once: the request number is the case's)."""
    others = sum(
        c.refund_fen or 0
        for c in await repository.after_sales_of(uow.session, row.id)
        if c.id != case.id and c.refund_request_no is not None
    )
    amount = refund_fen(
        CaseKind(case.kind), value_fen=case.value_fen, shipping_fen=case.return_shipping_fen,
        bearer=Bearer(case.return_bearer), booked_by_platform=case.return_booked_by == "platform",
        refundable_fen=row.total_fen - others,
    )  # fmt: skip
    request_no = refund_request_no(case.id)
    if amount > 0 and row.paid_at is not None:
        await payments.request_refund(
            uow=uow, reference=common.order_reference(uow.cipher, row), amount_fen=amount,
            reason=f"after-sales #{case.id} ({case.kind})", request_no=request_no,
        )  # fmt: skip
    await repository.change_after_sales(
        uow.session, case_id=case.id, status=case.status, version=case.version,
        values={
            "refund_fen": amount, "refund_request_no": request_no,
            "refund_requested_at": uow.now(),
        },
    )  # fmt: skip
    case.version += 1
    case.refund_fen, case.refund_request_no = amount, request_no
    case.refund_requested_at = uow.now()
    common.add_timeline(
        uow, row, action="refund_requested", actor=OrderActor.SYSTEM, actor_id=None,
        note=f"{amount} fen ({request_no}): after-sales #{case.id}",
    )  # fmt: skip
    if amount == 0 and CaseStatus(case.status) is CaseStatus.REFUNDING:
        await _advance(uow, row, case, CaseStep.REFUND_DONE, CaseActor.SYSTEM, None)


async def refund_arrived(*, uow: UnitOfWork, request_no: str) -> bool:
    """Payments says the refund succeeded: the case is refunded (a trusted buyer's early
    refund is noted and the case finishes when the goods arrive)."""
    async with uow.atomic():
        case = await repository.after_sales_by_refund(uow.session, request_no)
        if case is None or case.refunded_at is not None:
            return False
        row = await repository.lock_order(uow.session, case.order_id)
        fresh = await repository.get_after_sales(uow.session, case.id)
        if row is None or fresh is None:
            return False
        now = uow.now()
        if CaseStatus(fresh.status) is CaseStatus.REFUNDING:
            await _advance(
                uow, row, fresh, CaseStep.REFUND_DONE, CaseActor.SYSTEM, None,
                note=f"{fresh.refund_fen} fen", values={"refunded_at": now},
            )  # fmt: skip
        else:
            await repository.change_after_sales(
                uow.session, case_id=fresh.id, status=fresh.status, version=fresh.version,
                values={"refunded_at": now, "updated_at": now},
            )  # fmt: skip
            common.add_timeline(
                uow, row, action="refunded", actor=OrderActor.SYSTEM, actor_id=None,
                note=f"{fresh.refund_fen} fen: after-sales #{fresh.id} (before the goods arrived)",
            )  # fmt: skip
            announce(uow, row.id, "after_sales_refunded")
        return True


# --- timers ----------------------------------------------------------------------------------

_TIMERS: Mapping[CaseStatus, tuple[CaseStep, str]] = {
    CaseStatus.REQUESTED: (CaseStep.ESCALATE, "the shop did not answer in time"),
    CaseStatus.REJECTED: (CaseStep.EXPIRE, "the rejection was not disputed in time"),
    CaseStatus.AWAITING_RETURN: (CaseStep.EXPIRE, "the goods were not sent back in time"),
}


async def run_timers(*, uow: UnitOfWork, limit: int = 100, now: datetime | None = None) -> int:
    """Escalate unanswered requests, close undisputed rejections and returns never sent; each
    case in its own transaction, skipped if someone acted on it meanwhile. ``now`` defaults to
    the clock's (tests look ahead)."""
    now = now or uow.now()
    ids = await repository.due_after_sales(
        uow.session, statuses=[s.value for s in _TIMERS], now=now, limit=limit
    )
    await uow.end_reads()
    done = 0
    for case_id in ids:
        async with uow.atomic():
            case = await repository.get_after_sales(uow.session, case_id)
            if case is None or case.due_at is None or case.due_at > now:
                continue
            timer = _TIMERS.get(CaseStatus(case.status))
            row = await repository.lock_order(uow.session, case.order_id)
            if timer is None or row is None:
                continue
            what, note = timer
            try:
                await _advance(
                    uow, row, case, what, CaseActor.SYSTEM, None, note=note,
                    values={"due_at": None},
                )  # fmt: skip
            except Conflict:
                continue
            done += 1
    return done


__all__ = [
    "NewCase",
    "ReturnAddressMissing",
    "case_actor",
    "decide_case",
    "dispute_case",
    "get_case",
    "list_cases",
    "note_return_booked",
    "parcel_delivered",
    "policy_from_settings",
    "queue",
    "receive_return",
    "refund_arrived",
    "request_case",
    "run_timers",
    "send_back",
    "withdraw_case",
]
