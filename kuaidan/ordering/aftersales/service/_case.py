"""What every after-sales use case shares: who acts, the case's view, one step of a case
(a conditional update, its timelines, the outbox) and the case's refund."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from kuaidan.accounts.domain import Role, UserInfo
from kuaidan.core.db import UnitOfWork
from kuaidan.core.errors import Conflict, NotFound
from kuaidan.core.outbox import publish
from kuaidan.inventory import service as inventory
from kuaidan.merchants.domain import ReturnAddress
from kuaidan.ordering.aftersales import repository
from kuaidan.ordering.aftersales.domain import (
    OPEN,
    AfterSalesPolicy,
    Bearer,
    CaseItemView,
    CaseKind,
    CaseStatus,
    CaseStep,
    CaseStepView,
    CaseView,
    next_status,
    refund_fen,
)
from kuaidan.ordering.aftersales.domain import Actor as CaseActor
from kuaidan.ordering.aftersales.events import AfterSalesChanged
from kuaidan.ordering.aftersales.models import AfterSalesCase, AfterSalesStep
from kuaidan.ordering.domain import Actor as OrderActor
from kuaidan.ordering.service import order_rows
from kuaidan.ordering.service.live import announce
from kuaidan.ordering.service.order_rows import Order
from kuaidan.payments import service as payments

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
        case_id=case.id, order_number=order_rows.number_of(uow.cipher, row),
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


async def _visible_case(
    uow: UnitOfWork, number: str, case_id: int, viewer: UserInfo
) -> tuple[Order, AfterSalesCase]:
    row = await order_rows.visible_order(uow, number, viewer)
    case = await repository.get_after_sales(uow.session, case_id)
    if case is None or case.order_id != row.id:
        raise NotFound("no such after-sales case")
    return row, case


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
    order_rows.add_timeline(
        uow, row, action=f"after_sales_{case.status}", actor=order_actor, actor_id=actor_id,
        note=f"#{case.id} {case.kind}" + (f": {note}" if note else ""),
    )  # fmt: skip
    event = AfterSalesChanged(
        case_id=case.id, order_id=row.id, number=order_rows.number_of(uow.cipher, row),
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
    locked = await order_rows.lock_order(uow, row.id)
    assert locked is not None
    fresh = await repository.get_after_sales(uow.session, case.id)
    assert fresh is not None
    return locked, fresh


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
            uow=uow, reference=order_rows.order_reference(uow.cipher, row), amount_fen=amount,
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
    order_rows.add_timeline(
        uow, row, action="refund_requested", actor=OrderActor.SYSTEM, actor_id=None,
        note=f"{amount} fen ({request_no}): after-sales #{case.id}",
    )  # fmt: skip
    if amount == 0 and CaseStatus(case.status) is CaseStatus.REFUNDING:
        await _advance(uow, row, case, CaseStep.REFUND_DONE, CaseActor.SYSTEM, None)
