"""Pages of after-sales on delivered orders: the buyer (or an agent on the buyer's behalf,
audited) asks for a return, a return for a fault, an exchange or a refund of missing items,
follows each case step by step, withdraws or disputes it and sends the goods back; the shop
answers from its queue and confirms the goods came back; the platform rules on escalated and
disputed cases. The ask form carries a fresh request id, so a double submission is one case.
A refused step shows the page again with the message and the error's status."""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import Annotated

from fastapi import Query, Request
from starlette.datastructures import FormData
from starlette.responses import Response

from kuaidan import deps
from kuaidan.accounts.domain import Role, UserInfo
from kuaidan.core.db import UnitOfWork
from kuaidan.core.errors import DomainError, InvalidInput
from kuaidan.core.fields import Id
from kuaidan.ordering import service
from kuaidan.ordering.aftersales import service as aftersales
from kuaidan.ordering.aftersales.domain import (
    FOR_PLATFORM,
    AfterSalesPolicy,
    CaseKind,
    CaseStep,
    CaseView,
    Claim,
    may_take,
)
from kuaidan.ordering.aftersales.domain import Actor as CaseActor
from kuaidan.ordering.pagekit import (
    MAX_ID,
    PLATFORM,
    AskerPage,
    FormText,
    MerchantPage,
    PlatformPage,
    ViewerPage,
    form_page,
    order_path,
    page,
    page_router,
    quantity_of,
    step_or_page,
    whole,
)

router = page_router()

DONE = {
    "asked": "已提交售后申请 Request sent: follow it below",
    "withdrawn": "已撤销申请 Request withdrawn",
    "disputed": "已申请平台仲裁 Sent to the platform for arbitration",
    "sent": "已寄回 The goods are on their way back",
    "approved": "已同意 Approved",
    "rejected": "已拒绝 Rejected",
    "received": "已确认收到退货 Goods received",
    "ruled": "已裁决 Ruling recorded",
}


def _base(user: UserInfo, number: str) -> str:
    return order_path(user, number, "/after-sales")


def _policy(request: Request) -> AfterSalesPolicy:
    return aftersales.policy_from_settings(deps.container_of(request).settings)


# The forms a case may show, by who is looking: (form, step it takes).
_SHOP_FORMS: tuple[tuple[str, CaseStep], ...] = (
    ("decide", CaseStep.APPROVE),
    ("receive", CaseStep.RECEIVE),
)
_BUYER_FORMS: tuple[tuple[str, CaseStep], ...] = (
    ("withdraw", CaseStep.WITHDRAW),
    ("dispute", CaseStep.DISPUTE),
    ("send_back", CaseStep.SEND_BACK),
)


def _actions(case: CaseView, user: UserInfo) -> frozenset[str]:
    """The steps this viewer may take on the case now (the forms shown under it); an agent
    has the buyer's and, on an escalated or disputed case, the ruling."""
    if user.role is Role.MERCHANT:
        actor, forms = CaseActor.MERCHANT, _SHOP_FORMS
    else:
        actor = CaseActor.BUYER if user.role is Role.BUYER else CaseActor.PLATFORM
        forms = _BUYER_FORMS
    found = {name for name, step in forms if may_take(case.status, step, actor=actor)}
    if actor is CaseActor.PLATFORM and case.status in FOR_PLATFORM:
        found.add("rule")
    return frozenset(found)


async def _page(
    request: Request,
    uow: UnitOfWork,
    user: UserInfo,
    number: str,
    *,
    notice: str | None = None,
    error: DomainError | None = None,
    form: Mapping[str, str] | None = None,
) -> Response:
    view = await service.get_order(uow=uow, number=number, viewer=user)
    cases = await aftersales.list_cases(uow=uow, number=number, viewer=user)
    merchant = user.role is Role.MERCHANT
    base = _base(user, number)
    context = {
        "order": view,
        "cases": cases,
        "actions": {c.case_id: _actions(c, user) for c in cases},
        "panel": None if merchant else await aftersales.ask_panel(uow=uow, number=number, by=user),
        "merchant": merchant,
        "agent": user.role in PLATFORM,
        "action": base,
        "back_url": "/agent/after-sales"
        if user.role in PLATFORM
        else base.removesuffix("/after-sales"),
    }
    return await form_page(
        request, uow, "after_sales.html", context, notice=notice, error=error, form=form
    )


async def _act(
    request: Request,
    uow: UnitOfWork,
    user: UserInfo,
    number: str,
    work: Awaitable[str],
    *,
    form: Mapping[str, str] | None = None,
) -> Response:
    """Run the step; a refused one shows the page again with the message (404 stays 404)."""
    return await step_or_page(
        work,
        done_url=lambda done: f"{_base(user, number)}?msg={done}",
        again=lambda exc: _page(request, uow, user, number, error=exc, form=form),
    )


# --- reading ---------------------------------------------------------------------------------


@router.get("/orders/{number}/after-sales")
@router.get("/agent/orders/{number}/after-sales")
@router.get("/merchant/orders/{number}/after-sales")
async def after_sales_page(
    request: Request,
    uow: deps.Uow,
    user: ViewerPage,
    number: str,
    msg: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    """The order's cases and the steps open to the viewer: the buyer (or an agent) may ask,
    the shop's staff answer."""
    return await _page(request, uow, user, number, notice=DONE.get(msg))


async def _queue(request: Request, uow: UnitOfWork, user: UserInfo) -> Response:
    entries = await aftersales.queue(uow=uow, by=user)
    cases = sorted(entries, key=lambda c: c.requested_at, reverse=True)
    context = {
        "cases": cases,
        "merchant": user.role is Role.MERCHANT,
        "link": "/merchant/orders" if user.role is Role.MERCHANT else "/agent/orders",
    }
    return await page(request, uow, "after_sales_queue.html", context)


@router.get("/merchant/after-sales")
async def merchant_after_sales_queue(
    request: Request, uow: deps.Uow, staff: MerchantPage
) -> Response:
    """Merchant staff: the shop's open cases, newest first, each with its answer-by time."""
    return await _queue(request, uow, staff)


@router.get("/agent/after-sales")
async def platform_after_sales_queue(
    request: Request, uow: deps.Uow, agent: PlatformPage
) -> Response:
    """Agents: the escalated and disputed cases waiting for the platform's ruling."""
    return await _queue(request, uow, agent)


# --- the buyer's steps (or an agent's for the buyer) -------------------------------------------


def _id(raw: str, field: str) -> int:
    return whole(raw, low=1, high=MAX_ID, error=InvalidInput(f"choose {field}"))


def _kind(text: str) -> CaseKind:
    if text not in set(CaseKind):
        raise InvalidInput(
            "请选择售后类型 Choose return, fault, exchange or missing items",
            details={"field": "kind"},
        )
    return CaseKind(text)


def _ask_form(posted: FormData) -> dict[str, str]:
    """The posted fields, each cut short (the lines ticked, by SKU, as ``line_<sku id>``)."""
    form = {name: str(posted.get(name, ""))[:500] for name in ("kind", "reason", "request_id")}
    for name, value in posted.multi_items():
        if name.startswith(("qty_", "exchange_")) and len(name) < 30:
            form[name] = str(value)[:12]
    for value in posted.getlist("line")[:50]:
        form[f"line_{str(value)[:12]}"] = "on"
    return form


def _new_case(form: Mapping[str, str]) -> aftersales.NewCase:
    kind = _kind(form["kind"])
    skus = [int(name[5:]) for name in form if name.startswith("line_") and name[5:].isdigit()]
    if not skus:
        raise InvalidInput("请选择商品 Choose at least one item", details={"field": "items"})
    items = [Claim(sku, quantity_of(form.get(f"qty_{sku}", "") or "1")) for sku in skus]
    exchange = None
    if kind is CaseKind.EXCHANGE:
        if len(items) != 1:
            raise InvalidInput("换货一次一件 An exchange is for one item at a time")
        exchange = _id(form.get(f"exchange_{skus[0]}", ""), "the colour/size you want instead")
    return aftersales.NewCase(
        kind=kind, items=items, reason=form["reason"], request_id=form["request_id"],
        exchange_sku_id=exchange,
    )  # fmt: skip


@router.post("/orders/{number}/after-sales", dependencies=[deps.CsrfProtected])
@router.post("/agent/orders/{number}/after-sales", dependencies=[deps.CsrfProtected])
async def ask_after_sales(
    request: Request, uow: deps.Uow, user: AskerPage, number: str
) -> Response:
    """Ask for a return, a return for a fault, an exchange or a refund of missing items."""
    form = _ask_form(await request.form())

    async def work() -> str:
        await aftersales.request_case(
            uow=uow, number=number, by=user, case=_new_case(form), policy=_policy(request)
        )
        return "asked"

    return await _act(request, uow, user, number, work(), form=form)


CASE = "/orders/{number}/after-sales/{case_id}"


@router.post(f"{CASE}/withdraw", dependencies=[deps.CsrfProtected])
@router.post(f"/agent{CASE}/withdraw", dependencies=[deps.CsrfProtected])
async def withdraw_after_sales(
    request: Request, uow: deps.Uow, user: AskerPage, number: str, case_id: Id
) -> Response:
    """Take the request back (before the goods leave)."""

    async def work() -> str:
        await aftersales.withdraw_case(uow=uow, number=number, case_id=case_id, by=user)
        return "withdrawn"

    return await _act(request, uow, user, number, work())


@router.post(f"{CASE}/dispute", dependencies=[deps.CsrfProtected])
@router.post(f"/agent{CASE}/dispute", dependencies=[deps.CsrfProtected])
async def dispute_after_sales(
    request: Request,
    uow: deps.Uow,
    user: AskerPage,
    number: str,
    case_id: Id,
    reason: FormText = "",
) -> Response:
    """Ask the platform to arbitrate the shop's rejection."""

    async def work() -> str:
        await aftersales.dispute_case(
            uow=uow, number=number, case_id=case_id, by=user, reason=reason
        )
        return "disputed"

    return await _act(request, uow, user, number, work(), form={"reason": reason})


@router.post(f"{CASE}/send-back", dependencies=[deps.CsrfProtected])
@router.post(f"/agent{CASE}/send-back", dependencies=[deps.CsrfProtected])
async def send_back_after_sales(
    request: Request,
    uow: deps.Uow,
    user: AskerPage,
    number: str,
    case_id: Id,
    how: FormText = "pickup",
    carrier_code: FormText = "",
    tracking_number: FormText = "",
) -> Response:
    """A pickup the platform books (``how=pickup``), or a parcel the buyer sent (``how=own``
    with its carrier and tracking number)."""
    form = {"how": how, "carrier_code": carrier_code, "tracking_number": tracking_number}

    async def work() -> str:
        own = how == "own"
        if own and not (carrier_code.strip() and tracking_number.strip()):
            raise InvalidInput(
                "请填写快递公司和运单号 Give the carrier and the tracking number",
                details={"field": "tracking_number"},
            )
        await aftersales.send_back(
            uow=uow, number=number, case_id=case_id, by=user,
            carrier_code=carrier_code.strip() if own else None,
            tracking_number=tracking_number.strip() if own else None,
        )  # fmt: skip
        return "sent"

    return await _act(request, uow, user, number, work(), form=form)


# --- the shop's answers and the platform's rulings -------------------------------------------


@router.post(
    "/merchant/orders/{number}/after-sales/{case_id}/decision", dependencies=[deps.CsrfProtected]
)
async def decide_after_sales(
    request: Request,
    uow: deps.Uow,
    staff: MerchantPage,
    number: str,
    case_id: Id,
    decision: FormText = "",
    reason: FormText = "",
) -> Response:
    """Approve (a return tells the buyer the shop's return address) or reject with a reason."""
    form = {"decision": decision, "reason": reason}

    async def work() -> str:
        if decision not in ("approve", "reject"):
            raise InvalidInput("approve or reject", details={"field": "decision"})
        if decision == "reject" and not reason.strip():
            raise InvalidInput(
                "请说明拒绝原因 Say why the request is rejected", details={"field": "reason"}
            )
        await aftersales.decide_case(
            uow=uow, number=number, case_id=case_id, by=staff, approve=decision == "approve",
            reason=reason.strip() or None, policy=_policy(request),
        )  # fmt: skip
        return "approved" if decision == "approve" else "rejected"

    return await _act(request, uow, staff, number, work(), form=form)


@router.post(
    "/merchant/orders/{number}/after-sales/{case_id}/received", dependencies=[deps.CsrfProtected]
)
async def receive_after_sales(
    request: Request, uow: deps.Uow, staff: MerchantPage, number: str, case_id: Id
) -> Response:
    """The goods are back at the shop: the refund is asked for, or the replacement leaves."""

    async def work() -> str:
        await aftersales.receive_return(uow=uow, number=number, case_id=case_id, by=staff)
        return "received"

    return await _act(request, uow, staff, number, work())


@router.post(
    "/agent/orders/{number}/after-sales/{case_id}/ruling", dependencies=[deps.CsrfProtected]
)
async def rule_after_sales(
    request: Request,
    uow: deps.Uow,
    agent: PlatformPage,
    number: str,
    case_id: Id,
    ruling: FormText = "",
    reason: FormText = "",
) -> Response:
    """The platform rules on an escalated or disputed case, for the buyer or the shop, and
    says why (audited)."""
    form = {"ruling": ruling, "reason": reason}

    async def work() -> str:
        if ruling not in ("buyer", "merchant"):
            raise InvalidInput("rule for the buyer or for the shop", details={"field": "ruling"})
        if not reason.strip():
            raise InvalidInput("请说明裁决理由 Say why", details={"field": "reason"})
        await aftersales.decide_case(
            uow=uow, number=number, case_id=case_id, by=agent, approve=ruling == "buyer",
            reason=reason, policy=_policy(request),
        )  # fmt: skip
        return "ruled"

    return await _act(request, uow, agent, number, work(), form=form)
