"""Pages of changes before shipping: the buyer (or an agent on the buyer's behalf, audited)
changes the delivery address, swaps a line's colour/size or changes its quantity, and follows
each change (applied, waiting for the shop, rejected with the reason); the shop marks packing
started and approves or rejects what is asked after it. Every form carries a fresh request id,
so a double submission is one change. A refused change shows the page again with the message
and the error's status."""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import Annotated

from fastapi import Query, Request
from starlette.responses import Response

from kuaidan import deps
from kuaidan.accounts.domain import Role, UserInfo
from kuaidan.core.db import UnitOfWork
from kuaidan.core.errors import DomainError, InvalidInput
from kuaidan.core.fields import Id
from kuaidan.ordering import service
from kuaidan.ordering.changes import service as changes
from kuaidan.ordering.changes.domain import ChangeInfo, ChangeStatus
from kuaidan.ordering.pagekit import (
    MAX_ID,
    AskerPage,
    FormText,
    MerchantPage,
    ViewerPage,
    form_page,
    order_path,
    page_router,
    quantity_of,
    step_or_page,
    whole,
)

router = page_router()

NEW_ADDRESS_FIELDS = ("recipient", "phone", "province", "city", "district", "line")
DONE = {
    "changed": "订单已修改 The order was changed",
    "requested": "已提交，等待商家确认 Sent: the shop decides, as it started packing",
    "to_pay": "请支付差价以完成修改 Pay the difference to complete the change",
    "packing": "已标记开始打包 Packing started",
    "approved": "已同意修改 Change approved",
    "rejected": "已拒绝修改 Change rejected",
}


def _base(user: UserInfo, number: str) -> str:
    return order_path(user, number, "")


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
    panel = await changes.change_panel(uow=uow, number=number, by=user)
    base = _base(user, number)
    context = {
        "order": view,
        "panel": panel,
        "merchant": user.role is Role.MERCHANT,
        "agent": user.role is Role.AGENT,
        "action": f"{base}/changes",
        # The buyer's own order page; agents have this page only.
        "order_url": base if user.role is not Role.AGENT else f"{base}/changes",
    }
    return await form_page(
        request, uow, "changes.html", context, notice=notice, error=error, form=form
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
    """Run the change; a refused one shows the page again with the message (404 stays 404)."""
    return await step_or_page(
        work,
        done_url=lambda done: f"{_base(user, number)}/changes?msg={done}",
        again=lambda exc: _page(request, uow, user, number, error=exc, form=form),
    )


def _outcome(info: ChangeInfo) -> str:
    if info.status is ChangeStatus.AWAITING_PAYMENT:
        return "to_pay"
    return "requested" if info.status is ChangeStatus.PENDING_APPROVAL else "changed"


@router.get("/orders/{number}/changes")
@router.get("/agent/orders/{number}/changes")
@router.get("/merchant/orders/{number}/changes")
async def changes_page(
    request: Request,
    uow: deps.Uow,
    user: ViewerPage,
    number: str,
    msg: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    """The order's changes: the buyer (or an agent) asks for one, the shop's staff decide the
    pending ones."""
    return await _page(request, uow, user, number, notice=DONE.get(msg))


def _id(raw: str, field: str) -> int:
    return whole(raw, low=1, high=MAX_ID, error=InvalidInput(f"choose a {field}"))


@router.post("/orders/{number}/changes/address", dependencies=[deps.CsrfProtected])
@router.post("/agent/orders/{number}/changes/address", dependencies=[deps.CsrfProtected])
async def change_address(request: Request, uow: deps.Uow, user: AskerPage, number: str) -> Response:
    """Another address from the buyer's address book, or a new one (``address_id=new``)."""
    posted = await request.form()
    names = ("address_id", "request_id", *NEW_ADDRESS_FIELDS)
    form = {name: str(posted.get(name, ""))[:200] for name in names}

    async def work() -> str:
        if form["address_id"] == "new":
            typed = changes.NewAddress(**{name: form[name] for name in NEW_ADDRESS_FIELDS})
            info = await changes.change_to_new_address(
                uow=uow, number=number, by=user, address=typed, request_id=form["request_id"]
            )
        else:
            info = await changes.change_address(
                uow=uow, number=number, by=user, address_id=_id(form["address_id"], "address"),
                request_id=form["request_id"],
            )  # fmt: skip
        return _outcome(info)

    return await _act(request, uow, user, number, work(), form=form)


@router.post("/orders/{number}/changes/line", dependencies=[deps.CsrfProtected])
@router.post("/agent/orders/{number}/changes/line", dependencies=[deps.CsrfProtected])
async def change_line(
    request: Request,
    uow: deps.Uow,
    user: AskerPage,
    number: str,
    sku_id: FormText = "",
    new_sku_id: FormText = "",
    quantity: FormText = "",
    request_id: FormText = "",
) -> Response:
    """Another colour/size of the line's product and/or another quantity."""
    form = {"sku_id": sku_id, "new_sku_id": new_sku_id, "quantity": quantity}

    async def work() -> str:
        line = _id(sku_id, "item")
        new = _id(new_sku_id, "colour/size") if new_sku_id.strip() else None
        count = quantity_of(quantity) if quantity.strip() else None
        if new == line:
            new = None  # the same colour/size: only the quantity changes
        info = await changes.change_line(
            uow=uow, number=number, by=user, sku_id=line, new_sku_id=new, quantity=count,
            request_id=request_id,
        )  # fmt: skip
        return _outcome(info)

    return await _act(request, uow, user, number, work(), form=form)


@router.post("/merchant/orders/{number}/packing", dependencies=[deps.CsrfProtected])
async def start_packing(
    request: Request, uow: deps.Uow, staff: MerchantPage, number: str
) -> Response:
    """Packing started: from now on a change waits for the shop's approval."""

    async def work() -> str:
        await changes.start_packing(uow=uow, number=number, by=staff)
        return "packing"

    return await _act(request, uow, staff, number, work())


@router.post(
    "/merchant/orders/{number}/changes/{change_id}/decision", dependencies=[deps.CsrfProtected]
)
async def decide_change(
    request: Request,
    uow: deps.Uow,
    staff: MerchantPage,
    number: str,
    change_id: Id,
    decision: FormText = "",
    reason: FormText = "",
) -> Response:
    """Approve (the change is applied now, or fails with its reason) or reject with a reason."""
    form = {"decision": decision, "reason": reason}

    async def work() -> str:
        if decision not in ("approve", "reject"):
            raise InvalidInput("approve or reject", details={"field": "decision"})
        if decision == "reject" and not reason.strip():
            raise InvalidInput("say why the change is rejected", details={"field": "reason"})
        await changes.decide_change(
            uow=uow, number=number, change_id=change_id, by=staff,
            approve=decision == "approve", reason=reason,
        )  # fmt: skip
        return "approved" if decision == "approve" else "rejected"

    return await _act(request, uow, staff, number, work(), form=form)
