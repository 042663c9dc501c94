"""Pages of interception after shipping: the buyer asks to redirect (a new address) or cancel a
shipped order's parcel and follows each step with its fee; an agent does the same on the
buyer's behalf (audited); the merchant sees the case on its order."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

from fastapi import Query, Request
from starlette.responses import Response

from kuaidan import deps
from kuaidan.accounts.domain import Role, UserInfo
from kuaidan.core.db import UnitOfWork
from kuaidan.core.errors import DomainError, InvalidInput
from kuaidan.ordering import service
from kuaidan.ordering.interception import service as interception
from kuaidan.ordering.interception.domain import InterceptionCause, InterceptionKind
from kuaidan.ordering.pagekit import (
    AskerPage,
    ViewerPage,
    form_page,
    order_path,
    page_router,
    see_other,
)

router = page_router()

FIELDS = ("kind", "reason", "cause", "recipient", "phone", "province", "city", "district", "line")
DONE = "已提交拦截申请 Interception requested: follow each step below"


def _base(user: UserInfo, number: str) -> str:
    return order_path(user, number, "/interception")


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
    cases = await interception.list_interceptions(uow=uow, number=number, viewer=user)
    context = {
        "order": view,
        "cases": cases,
        "can_ask": user.role is not Role.MERCHANT
        and view.summary.status.value == "shipped"
        and not any(c.is_open for c in cases),
        "agent": user.role in (Role.AGENT, Role.ADMIN),
        "action": _base(user, number),
        "order_url": _base(user, number).removesuffix("/interception"),
    }
    return await form_page(
        request, uow, "interception.html", context, notice=notice, error=error, form=form
    )


@router.get("/orders/{number}/interception")
@router.get("/agent/orders/{number}/interception")
@router.get("/merchant/orders/{number}/interception")
async def interception_page(
    request: Request,
    uow: deps.Uow,
    user: ViewerPage,
    number: str,
    msg: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    """The order's interception cases: the buyer (or an agent) may ask for one, the shop's
    staff see them."""
    return await _page(request, uow, user, number, notice=DONE if msg == "asked" else None)


def _kind(text: str) -> InterceptionKind:
    if text not in set(InterceptionKind):
        raise InvalidInput("choose redirect or cancel", details={"field": "kind"})
    return InterceptionKind(text)


@router.post("/orders/{number}/interception", dependencies=[deps.CsrfProtected])
@router.post("/agent/orders/{number}/interception", dependencies=[deps.CsrfProtected])
async def ask_interception(
    request: Request, uow: deps.Uow, user: AskerPage, number: str
) -> Response:
    """Ask for an interception; a refused request shows the form again with the message."""
    posted = await request.form()
    form = {name: str(posted.get(name, ""))[:300] for name in FIELDS}
    try:
        kind = _kind(form["kind"])
        address = None
        if kind is InterceptionKind.REDIRECT:
            address = interception.NewAddress(
                recipient=form["recipient"], phone=form["phone"], province=form["province"],
                city=form["city"], district=form["district"], line=form["line"],
            )  # fmt: skip
        cause = (
            InterceptionCause(form["cause"]) if form["cause"] in set(InterceptionCause) else None
        )
        await interception.request_interception(
            uow=uow, number=number, by=user, kind=kind, reason=form["reason"] or kind.value,
            address=address, cause=cause,
        )  # fmt: skip
    except DomainError as exc:
        if exc.status == 404:
            raise
        return await _page(request, uow, user, number, error=exc, form=form)
    return see_other(f"{_base(user, number)}?msg=asked")
