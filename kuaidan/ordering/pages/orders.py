"""The buyer's orders (with the parcel's tracking, live) and the merchant's order console
(shipping through a proposed carrier)."""

from __future__ import annotations

from collections.abc import Awaitable, Collection, Mapping
from typing import Annotated
from urllib.parse import quote

from fastapi import Query, Request
from starlette.responses import Response

from kuaidan import deps
from kuaidan.accounts.domain import Role, UserInfo
from kuaidan.core.db import UnitOfWork
from kuaidan.core.errors import DomainError, NotFound
from kuaidan.core.pagination import PageOf, PageRequest
from kuaidan.ordering import service
from kuaidan.ordering.domain import (
    Actor,
    OrderStatus,
)
from kuaidan.ordering.pagekit import (
    BUYER_TABS,
    MERCHANT_TABS,
    NOTICES,
    PAGE_SIZE,
    BuyerPage,
    FormText,
    MerchantPage,
    ViewerPage,
    message_of,
    page,
    page_of,
    router,
    see_other,
)
from kuaidan.ordering.readmodels import OrderSummary

# --- orders: the buyer's and the merchant's -------------------------------------------------


def _status(raw: str, allowed: Collection[str]) -> OrderStatus | None:
    return OrderStatus(raw) if raw in allowed and raw in set(OrderStatus) else None


async def _list(
    request: Request, uow: UnitOfWork, found: PageOf[OrderSummary], *, current: str, merchant: bool
) -> Response:
    template, base = (
        ("merchant_orders.html", "/merchant/orders") if merchant else ("orders.html", "/orders")
    )
    tabs = MERCHANT_TABS if merchant else BUYER_TABS
    context = {"orders": found, "tabs": tabs, "current": current, "base": base}
    return await page(request, uow, template, context)


@router.get("/orders")
async def my_orders(
    request: Request,
    uow: deps.Uow,
    buyer: BuyerPage,
    status: Annotated[str, Query(max_length=20)] = "",
    page_no: Annotated[str, Query(alias="page", max_length=12)] = "1",
) -> Response:
    """Buyers: their orders, newest first, with a tab per status."""
    chosen = _status(status, BUYER_TABS)
    found = await service.list_orders(
        uow=uow, buyer_id=buyer.id, status=chosen, page=PageRequest(page_of(page_no), PAGE_SIZE)
    )
    return await _list(request, uow, found, current=chosen or "", merchant=False)


@router.get("/merchant/orders")
async def merchant_orders(
    request: Request,
    uow: deps.Uow,
    staff: MerchantPage,
    status: Annotated[str, Query(max_length=20)] = "paid",
    page_no: Annotated[str, Query(alias="page", max_length=12)] = "1",
) -> Response:
    """Merchant staff: their shop's orders; the default tab is what waits to be shipped."""
    chosen = _status(status, MERCHANT_TABS)
    found = await service.list_merchant_orders(
        uow=uow,
        merchant_id=service.require_merchant(staff),
        status=chosen,
        page=PageRequest(page_of(page_no), PAGE_SIZE),
    )
    return await _list(request, uow, found, current=chosen or "all", merchant=True)


async def _order_page(
    request: Request,
    uow: UnitOfWork,
    user: UserInfo,
    number: str,
    *,
    notice: str | None = None,
    error: DomainError | None = None,
    form: Mapping[str, str] | None = None,
) -> Response:
    """One order as its buyer or its merchant sees it, with its parcel and the buttons they
    may press (the merchant's ship form lists the proposed carriers)."""
    view = await service.get_order(uow=uow, number=number, viewer=user)
    tracking = await service.get_tracking(uow=uow, number=number, viewer=user)
    merchant = user.role is Role.MERCHANT
    actions = [a.value for a in view.actions_for(Actor.MERCHANT if merchant else Actor.BUYER)]
    options, ship_from_missing = [], False
    if merchant and ("ship" in actions or tracking.booking_failed):
        try:
            options = await service.propose_carriers(uow=uow, number=number, by=user)
        except DomainError as exc:
            ship_from_missing = exc.code == "ship_from_missing"
    context = {
        "order": view,
        "tracking": tracking,
        "options": options,
        "ship_from_missing": ship_from_missing,
        "zone": deps.container_of(request).settings.timezone,
        "actions": actions,
        "base": "/merchant/orders" if merchant else "/orders",
        "notice": notice,
        "error": message_of(error) if error else None,
        "form": form or {},
    }
    template = "merchant_order.html" if merchant else "order.html"
    return await page(request, uow, template, context, status_code=error.status if error else 200)


@router.get("/orders/{number}")
@router.get("/merchant/orders/{number}")
async def order_page(
    request: Request,
    uow: deps.Uow,
    user: ViewerPage,
    number: str,
    msg: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    """One order: the buyer's own, or one of the shop's for its staff (any other is 404)."""
    return await _order_page(request, uow, user, number, notice=NOTICES.get(msg))


async def _act(
    request: Request,
    uow: UnitOfWork,
    user: UserInfo,
    number: str,
    change: Awaitable[object],
    *,
    done: str,
    form: Mapping[str, str] | None = None,
) -> Response:
    """Run a change of the order; a refused one shows the order again with the message."""
    try:
        await change
    except NotFound:
        raise
    except DomainError as exc:
        return await _order_page(request, uow, user, number, error=exc, form=form)
    base = "/merchant/orders" if user.role is Role.MERCHANT else "/orders"
    return see_other(f"{base}/{quote(number)}?msg={done}")


async def _cancel(request: Request, uow: UnitOfWork, user: UserInfo, number: str) -> Response:
    reason = str((await request.form()).get("reason", ""))[:300]
    change = service.cancel_order(uow=uow, number=number, by=user, reason=reason)
    return await _act(request, uow, user, number, change, done="cancelled", form={"reason": reason})


@router.post("/orders/{number}/cancel", dependencies=[deps.CsrfProtected])
async def my_order_cancel(
    request: Request, uow: deps.Uow, buyer: BuyerPage, number: str
) -> Response:
    """The buyer cancels before shipping (a paid order is refunded in full)."""
    return await _cancel(request, uow, buyer, number)


@router.post("/merchant/orders/{number}/cancel", dependencies=[deps.CsrfProtected])
async def merchant_order_cancel(
    request: Request, uow: deps.Uow, staff: MerchantPage, number: str
) -> Response:
    return await _cancel(request, uow, staff, number)


@router.post("/orders/{number}/confirm-receipt", dependencies=[deps.CsrfProtected])
async def my_order_confirm(
    request: Request, uow: deps.Uow, buyer: BuyerPage, number: str
) -> Response:
    change = service.confirm_receipt(uow=uow, number=number, by=buyer)
    return await _act(request, uow, buyer, number, change, done="confirmed")


@router.post("/merchant/orders/{number}/ship", dependencies=[deps.CsrfProtected])
async def merchant_order_ship(
    request: Request,
    uow: deps.Uow,
    staff: MerchantPage,
    number: str,
    carrier_code: FormText = "",
    tracking_number: FormText = "",
    weight_g: FormText = "",
) -> Response:
    """Ship with the chosen carrier (the best one is preselected), or a parcel the shop booked
    itself (its tracking number, with the chosen carrier)."""
    typed = {
        "carrier_code": carrier_code[:30],
        "tracking_number": tracking_number[:40],
        "weight_g": weight_g[:6],
    }
    try:
        weight = int(weight_g) if weight_g.strip() else service.DEFAULT_WEIGHT_G
    except ValueError:
        weight = 0  # refused below as a weight, with the form shown again
    change = service.ship_order(
        uow=uow,
        number=number,
        by=staff,
        carrier_code=carrier_code.strip() or None,
        tracking_number=tracking_number.strip() or None,
        weight_g=weight,
    )
    return await _act(request, uow, staff, number, change, done="shipped", form=typed)


@router.post("/orders/{number}/delivery-rating", dependencies=[deps.CsrfProtected])
async def my_order_rate(
    request: Request,
    uow: deps.Uow,
    buyer: BuyerPage,
    number: str,
    stars: FormText = "",
    comment: FormText = "",
) -> Response:
    """The buyer rates the delivery of a delivered parcel (1-5 stars, once)."""
    count = int(stars) if stars.strip().isdigit() else 0
    change = service.rate_delivery(uow=uow, number=number, by=buyer, stars=count, comment=comment)
    return await _act(request, uow, buyer, number, change, done="rated")
