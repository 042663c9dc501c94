"""Deciding after-sales cases: the shop's answer or the platform's ruling, the buyer's dispute
of a rejection, the buyer withdrawing the request."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from kuaidan.accounts.domain import UserInfo
from kuaidan.core.db import UnitOfWork
from kuaidan.core.errors import Conflict, Forbidden
from kuaidan.merchants import service as merchants
from kuaidan.ordering.aftersales.domain import (
    FOR_PLATFORM,
    SENDS_GOODS_BACK,
    AfterSalesPolicy,
    CaseKind,
    CaseStatus,
    CaseStep,
    CaseView,
    clean_text,
)
from kuaidan.ordering.aftersales.domain import Actor as CaseActor
from kuaidan.ordering.aftersales.service._case import (
    _RETURN_FIELDS,
    CONTEXT,
    _advance,
    _locked,
    _refund,
    _view,
    case_actor,
)
from kuaidan.security import service as security

if TYPE_CHECKING:
    pass


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
