"""HTML routes of ordering: the cart (buyers and guests), checkout, a checkout's result page
(where the buyer enters the one-time code of a payment risk held), the buyer's orders and the
merchant's order console.

A guest's cart is found by the ``kd_cart`` cookie. The first ordering page a buyer opens after
logging in (the cart, checkout, orders, or adding an item) moves that guest cart into theirs
and drops the cookie. Every domain error on these pages becomes a friendly page, or the form
again with the message, with the error's 4xx status; signing in is asked for by a redirect.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Awaitable, Callable, Collection, Coroutine, Mapping
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute
from starlette.datastructures import FormData
from starlette.responses import Response

from kuaidan import deps
from kuaidan.accounts import service as accounts
from kuaidan.accounts.domain import Role, UserInfo
from kuaidan.catalog.domain import media_url
from kuaidan.core.db import UnitOfWork
from kuaidan.core.errors import DomainError, Forbidden, InvalidInput, NotFound, Unauthorized
from kuaidan.core.pagination import PageOf, PageRequest
from kuaidan.core.templating import render
from kuaidan.ordering import service
from kuaidan.ordering.domain import (
    GUEST_KEY_RE,
    MAX_LINE_QUANTITY,
    MAX_LINES,
    Actor,
    CartOwner,
    OrderStatus,
)
from kuaidan.ordering.readmodels import CartView, CheckoutResult, CheckoutView, OrderSummary
from kuaidan.ordering.web_context import risk_context_from
from kuaidan.payments import service as payments
from kuaidan.payments.domain import PAID_STATUSES, PaymentStatus

CART_COOKIE = "kd_cart"
CART_COOKIE_MAX_AGE_S = 90 * 24 * 3600
PAGE_SIZE = 10
MAX_ID = 2**31 - 1
FormText = Annotated[str, Form(max_length=200)]
NOTICES = {
    "added": "已加入购物车 Added to your cart",
    "updated": "数量已更新 Quantity updated",
    "removed": "已从购物车移除 Removed from your cart",
    "cancelled": "订单已取消 The order was cancelled",
    "confirmed": "已确认收货，订单完成 Receipt confirmed: the order is completed",
    "shipped": "已发货 Shipped",
    "verified": "验证成功，请付款 Verified: you can pay now",
    "code_sent": "新验证码已发送 A new code is on its way",
}
# Chinese for the errors a buyer or merchant meets on these pages (the message is English).
ERROR_ZH = {
    "price_changed": "价格已变，请确认新价格。",
    "out_of_stock": "库存不足。",
    "item_unavailable": "商品已下架或暂不可售。",
    "purchase_limit": "超过限购数量。",
    "unknown_item": "没有这个商品。",
    "idempotency_key_reuse": "请刷新页面后重试。",
    "illegal_transition": "订单状态已变，无法执行此操作。",
    "not_found": "没有找到。",
    "forbidden": "无权访问。",
    "invalid_input": "输入有误。",
    "verification_failed": "验证码无效。",
    "payment_blocked": "付款已被拦截。",
    "not_awaiting_verification": "此付款无需验证。",
    "rate_limited": "请稍后再试。",
}
CODE_RE = re.compile(r"^[0-9]{6}$")
BUYER_TABS = ("", "pending_payment", "paid", "shipped", "delivered", "completed", "cancelled")
MERCHANT_TABS = ("paid", "pending_payment", "shipped", "delivered", "completed", "cancelled", "all")


def message_of(exc: DomainError) -> str:
    """The error's message, led by its Chinese when the message has none of its own."""
    if any("\u4e00" <= char <= "\u9fff" for char in exc.message):
        return exc.message
    return f"{ERROR_ZH.get(exc.code, '')} {exc.message}".strip()


def problem_page(request: Request, exc: DomainError) -> Response:
    """The friendly answer to a domain error; a guest asked to sign in is sent to log in."""
    if isinstance(exc, Unauthorized):
        target = request.url.path if request.method == "GET" else "/cart"
        if request.method == "GET" and request.url.query:
            target = f"{target}?{request.url.query}"
        return RedirectResponse(f"/login?next={quote(target, safe='/')}", status_code=303)
    context = {"status": exc.status, "code": exc.code, "message": message_of(exc)}
    return render(request, "ordering/problem.html", context, status_code=exc.status)


def _apply_cart_cookie(request: Request, response: Response) -> None:
    change = getattr(request.state, "cart_cookie", None)
    flags: dict[str, Any] = {"path": "/", "secure": True, "httponly": True, "samesite": "lax"}
    if change == "":
        response.delete_cookie(CART_COOKIE, **flags)
    elif change:
        response.set_cookie(CART_COOKIE, change, max_age=CART_COOKIE_MAX_AGE_S, **flags)


class PageRoute(APIRoute):
    """An ordering page: domain errors become friendly pages, and cart cookie changes (a new
    guest key, or the cookie dropped after a merge) reach the browser whatever the answer."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page(request: Request) -> Response:
            try:
                response = await handler(request)
            except DomainError as exc:
                response = problem_page(request, exc)
            _apply_cart_cookie(request, response)
            return response

        return page


# --- who is asking, and whose cart ----------------------------------------------------------


def guest_key(request: Request) -> str | None:
    """The guest cart key from the cookie; a malformed cookie is dropped."""
    key = request.cookies.get(CART_COOKIE)
    if key is None:
        return None
    if not GUEST_KEY_RE.match(key):
        request.state.cart_cookie = ""
        return None
    return key


async def merge_guest_cart_on_login(
    request: Request, uow: deps.Uow, user: deps.OptionalUser
) -> None:
    """A buyer who still carries a guest cart cookie gets that cart merged into theirs."""
    key = guest_key(request)
    if key is None or user is None or user.role is not Role.BUYER:
        return
    await service.merge_guest_cart(uow=uow, guest_key=key, buyer_id=user.id)
    request.state.cart_cookie = ""


router = APIRouter(
    include_in_schema=False,
    route_class=PageRoute,
    dependencies=[Depends(merge_guest_cart_on_login)],
)


async def _buyer(user: deps.CurrentUser) -> UserInfo:
    if user.role is not Role.BUYER:
        raise Forbidden("此页面仅限买家 This page is for buyers")
    return user


async def _merchant(user: deps.CurrentUser) -> UserInfo:
    if user.role is not Role.MERCHANT or user.merchant_id is None:
        raise Forbidden("此页面仅限商家员工 This page is for merchant staff")
    return user


BuyerPage = Annotated[UserInfo, Depends(_buyer)]
MerchantPage = Annotated[UserInfo, Depends(_merchant)]


def cart_owner(request: Request, user: UserInfo | None) -> CartOwner | None:
    """The visitor's cart: a buyer's own, a guest's by cookie, or None (a guest without one)."""
    if user is not None:
        if user.role is not Role.BUYER:
            raise Forbidden("购物车仅限买家 Only buyers have a cart")
        return CartOwner.buyer(user.id)
    key = guest_key(request)
    return CartOwner.guest(key) if key else None


def writing_owner(request: Request, user: UserInfo | None) -> CartOwner:
    """The cart to change; a guest without one is given a fresh key (set as the cookie)."""
    owner = cart_owner(request, user)
    if owner is None:
        key = service.new_guest_key()
        request.state.cart_cookie = key
        owner = CartOwner.guest(key)
    return owner


# --- rendering ------------------------------------------------------------------------------


async def page(
    request: Request,
    uow: UnitOfWork,
    template: str,
    context: Mapping[str, Any],
    *,
    status_code: int = 200,
) -> Response:
    """Render an ordering page with the header's cart count for buyers and guests."""
    ctx: dict[str, Any] = {"media": media_url, "notice": None, "error": None, **context}
    if "cart_count" not in ctx:
        user = getattr(request.state, "user", None)
        if user is None or user.role is Role.BUYER:
            owner = cart_owner(request, user)
            ctx["cart_count"] = await service.cart_count(uow=uow, owner=owner) if owner else 0
    return render(request, f"ordering/{template}", ctx, status_code=status_code)


def see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def whole(raw: str, *, low: int, high: int, error: DomainError) -> int:
    value = raw.strip()
    if not value.isdigit() or len(value) > 12 or not low <= int(value) <= high:
        raise error
    return int(value)


def sku_of(raw: str) -> int:
    return whole(raw, low=1, high=MAX_ID, error=NotFound("没有这个商品 No such item"))


def quantity_of(raw: str) -> int:
    message = f"数量应为 1 到 {MAX_LINE_QUANTITY} The quantity is 1 to {MAX_LINE_QUANTITY}"
    return whole(raw, low=1, high=MAX_LINE_QUANTITY, error=InvalidInput(message))


def page_of(raw: str) -> int:
    value = raw.strip()
    return int(value) if value.isdigit() and 1 <= int(value) <= 10_000 else 1


def problem_skus(exc: DomainError) -> set[int]:
    """The SKUs a placement error names (out of stock, unavailable, repriced, limited)."""
    details = exc.details
    found = {int(s) for s in details.get("sku_ids", []) if isinstance(s, int)}
    for key in ("skus", "changes"):
        found |= {int(e["sku_id"]) for e in details.get(key, []) if isinstance(e, dict)}
    if isinstance(details.get("sku_id"), int):
        found.add(details["sku_id"])
    return found


# --- the cart -------------------------------------------------------------------------------


async def _cart_page(
    request: Request,
    uow: UnitOfWork,
    owner: CartOwner | None,
    *,
    notice: str | None = None,
    error: DomainError | None = None,
) -> Response:
    view = await service.get_cart(uow=uow, owner=owner) if owner else CartView(groups=())
    context = {
        "cart": view,
        "cart_count": view.quantity,
        "notice": notice,
        "error": message_of(error) if error else None,
        "max_quantity": MAX_LINE_QUANTITY,
    }
    return await page(
        request, uow, "cart.html", context, status_code=error.status if error else 200
    )


@router.get("/cart")
async def cart(
    request: Request,
    uow: deps.Uow,
    user: deps.OptionalUser,
    msg: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    """Buyers and guests: lines per merchant with price, stock and delisting flags."""
    return await _cart_page(request, uow, cart_owner(request, user), notice=NOTICES.get(msg))


@router.post("/cart/items", dependencies=[deps.CsrfProtected])
async def cart_add(
    request: Request,
    uow: deps.Uow,
    user: deps.OptionalUser,
    sku_id: FormText = "",
    quantity: FormText = "1",
) -> Response:
    """The product page's "add to cart": adds the quantity to the SKU's line."""
    owner = writing_owner(request, user)
    try:
        await service.add_cart_item(
            uow=uow, owner=owner, sku_id=sku_of(sku_id), quantity=quantity_of(quantity)
        )
    except DomainError as exc:
        return await _cart_page(request, uow, owner, error=exc)
    return see_other("/cart?msg=added")


async def _change_line(
    request: Request, uow: UnitOfWork, user: UserInfo | None, sku_id: str, quantity: str | None
) -> Response:
    """Set a cart line's quantity, or remove the line (``quantity`` None)."""
    owner = cart_owner(request, user)
    try:
        if owner is None:
            raise NotFound("购物车是空的 Your cart is empty")
        if quantity is None:
            await service.remove_cart_item(uow=uow, owner=owner, sku_id=sku_of(sku_id))
        else:
            await service.set_cart_item(
                uow=uow, owner=owner, sku_id=sku_of(sku_id), quantity=quantity_of(quantity)
            )
    except DomainError as exc:
        return await _cart_page(request, uow, owner, error=exc)
    return see_other(f"/cart?msg={'removed' if quantity is None else 'updated'}")


@router.post("/cart/items/{sku_id}", dependencies=[deps.CsrfProtected])
async def cart_update(
    request: Request, uow: deps.Uow, user: deps.OptionalUser, sku_id: str, quantity: FormText = ""
) -> Response:
    return await _change_line(request, uow, user, sku_id, quantity)


@router.post("/cart/items/{sku_id}/remove", dependencies=[deps.CsrfProtected])
async def cart_remove(
    request: Request, uow: deps.Uow, user: deps.OptionalUser, sku_id: str
) -> Response:
    return await _change_line(request, uow, user, sku_id, None)


# --- checkout -------------------------------------------------------------------------------


async def _checkout_page(
    request: Request,
    uow: UnitOfWork,
    buyer: UserInfo,
    *,
    error: DomainError | None = None,
    address_id: int | None = None,
    note: str = "",
) -> Response:
    """The checkout form; every rendering carries a fresh idempotency key, so a double
    submit (or a resubmit on refresh) of one rendering places the orders once."""
    view = await service.get_cart(uow=uow, owner=CartOwner.buyer(buyer.id))
    addresses = await accounts.list_addresses(uow=uow, user_id=buyer.id)
    known = {a.id for a in addresses}
    default = next((a.id for a in addresses if a.is_default), addresses[0].id if addresses else 0)
    context = {
        "cart": view,
        "cart_count": view.quantity,
        "addresses": addresses,
        "chosen_address": address_id if address_id in known else default,
        "note": note,
        "idempotency_key": secrets.token_urlsafe(24),
        "error": message_of(error) if error else None,
        "error_code": error.code if error else None,
        "problem_skus": problem_skus(error) if error else set(),
    }
    status = error.status if error else 200
    return await page(request, uow, "checkout.html", context, status_code=status)


@router.get("/checkout")
async def checkout(request: Request, uow: deps.Uow, buyer: BuyerPage) -> Response:
    """Buyers: address, the orders-to-be per merchant, the total, and "place the order"."""
    return await _checkout_page(request, uow, buyer)


def _accepted(form: FormData) -> tuple[list[int], dict[int, int]]:
    """The lines the form places, as ``sku:price`` pairs: the prices the buyer was shown."""
    raw = [str(v) for v in form.getlist("line")][:MAX_LINES]
    bad = InvalidInput("请刷新页面后重试 The form is out of date: reload the page")
    prices: dict[int, int] = {}
    for pair in raw:
        sku, _, price = pair.partition(":")
        prices[whole(sku, low=1, high=MAX_ID, error=bad)] = whole(
            price, low=0, high=10**12, error=bad
        )
    if not prices:
        raise InvalidInput("没有可下单的商品 There is nothing in your cart to order")
    return sorted(prices), prices


@router.post("/checkout", dependencies=[deps.CsrfProtected])
async def checkout_submit(request: Request, uow: deps.Uow, buyer: BuyerPage) -> Response:
    """Place the cart's orderable lines at the prices shown; 303 to the pay page."""
    form = await request.form()
    note = str(form.get("note", ""))[:500]
    address_id: int | None = None
    try:
        sku_ids, prices = _accepted(form)
        address_id = whole(
            str(form.get("address_id", "")),
            low=1,
            high=MAX_ID,
            error=InvalidInput("请选择收货地址 Choose a delivery address"),
        )
        result = await service.checkout_cart(
            uow=uow,
            buyer=buyer,
            address_id=address_id,
            idempotency_key=str(form.get("idempotency_key", ""))[:200],
            sku_ids=sku_ids,
            accepted_prices=prices,
            note=note or None,
            policy=service.policy_from_settings(deps.container_of(request).settings),
            context=risk_context_from(request),
        )
    except DomainError as exc:
        return await _checkout_page(
            request, uow, buyer, error=exc, address_id=address_id, note=note[:200]
        )
    return see_other(_after_placing(result))


def _after_placing(result: CheckoutResult) -> str:
    checkout = result.checkout
    if checkout.pay_url and checkout.awaiting_payment:
        return checkout.pay_url
    return f"/checkouts/{checkout.reference}"


def _result_state(checkout: CheckoutView, paid: PaymentStatus | None) -> str:
    """What the result page shows: awaiting payment, held for verification, being confirmed,
    paid, blocked by risk, or cancelled."""
    if paid is PaymentStatus.BLOCKED:
        return "blocked"
    if checkout.awaiting_payment:
        if paid is PaymentStatus.HELD:
            return "held"
        return "confirming" if paid in PAID_STATUSES else "awaiting_payment"
    statuses = {o.status for o in checkout.orders}
    return "cancelled" if statuses == {OrderStatus.CANCELLED} else "paid"


async def _result_page(
    request: Request,
    uow: UnitOfWork,
    user: UserInfo,
    reference: str,
    *,
    notice: str | None = None,
    error: DomainError | None = None,
) -> Response:
    result = await service.get_checkout(uow=uow, reference=reference, viewer=user)
    checkout = result.checkout
    paid = await service.checkout_payment_status(uow=uow, reference=checkout.reference)
    state = _result_state(checkout, paid)
    waiting = state == "awaiting_payment" and uow.now() < checkout.payment_deadline
    context = {
        "result": result,
        "checkout": checkout,
        "state": state,
        "payable": waiting and checkout.pay_url is not None,
        # Released from a hold: the pay link reaches the checkout a moment later.
        "preparing": waiting and checkout.pay_url is None and paid is PaymentStatus.CREATED,
        "can_verify": user.role is Role.BUYER,
        "tries_left": error.details.get("tries_left") if error else None,
        "notice": notice,
        "error": message_of(error) if error else None,
    }
    status = error.status if error else 200
    return await page(request, uow, "checkout_result.html", context, status_code=status)


@router.get("/checkouts/{reference}")
async def checkout_result(
    request: Request,
    uow: deps.Uow,
    user: deps.CurrentUser,
    reference: str,
    msg: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    """Where the buyer lands after placing or paying: awaiting payment, held until the buyer
    enters a one-time code, being confirmed, paid, blocked or cancelled."""
    return await _result_page(request, uow, user, reference, notice=NOTICES.get(msg))


async def _refusal_of(change: Awaitable[object]) -> DomainError | None:
    """Run a change of a held payment; a refusal (other than 404) is returned, not raised."""
    try:
        await change
    except NotFound:
        raise
    except DomainError as exc:
        return exc
    return None


@router.post("/checkouts/{reference}/verify", dependencies=[deps.CsrfProtected])
async def checkout_verify(
    request: Request, uow: deps.Uow, buyer: BuyerPage, reference: str, code: FormText = ""
) -> Response:
    """The one-time code of a held payment: right, back to the result page with the pay link;
    wrong, the page again with the tries left (the last wrong one blocks the payment and its
    orders are cancelled). A code that is not six digits costs no try."""
    typed = code.strip()
    if not CODE_RE.match(typed):
        wrong = InvalidInput("请输入 6 位数字验证码 Enter the 6-digit code")
        return await _result_page(request, uow, buyer, reference, error=wrong)
    change = payments.verify_payment(uow=uow, reference=reference, buyer_id=buyer.id, code=typed)
    error = await _refusal_of(change)
    if error is not None:
        return await _result_page(request, uow, buyer, reference, error=error)
    return see_other(f"/checkouts/{quote(reference)}?msg=verified")


@router.post("/checkouts/{reference}/verification-code", dependencies=[deps.CsrfProtected])
async def checkout_resend_code(
    request: Request, uow: deps.Uow, buyer: BuyerPage, reference: str
) -> Response:
    """A new one-time code for a held payment (at most five, one a minute)."""
    change = payments.resend_code(uow=uow, reference=reference, buyer_id=buyer.id)
    error = await _refusal_of(change)
    if error is not None:
        return await _result_page(request, uow, buyer, reference, error=error)
    return see_other(f"/checkouts/{quote(reference)}?msg=code_sent")


@router.post("/checkouts/{reference}/refresh", dependencies=[deps.CsrfProtected])
async def checkout_refresh(uow: deps.Uow, user: deps.CurrentUser, reference: str) -> Response:
    """Ask the provider whether the buyer paid (when its notification is late)."""
    result = await service.refresh_checkout_payment(uow=uow, reference=reference, viewer=user)
    return see_other(f"/checkouts/{result.checkout.reference}")


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
    """One order as its buyer or its merchant sees it, with the buttons they may press."""
    view = await service.get_order(uow=uow, number=number, viewer=user)
    merchant = user.role is Role.MERCHANT
    context = {
        "order": view,
        "actions": [a.value for a in view.actions_for(Actor.MERCHANT if merchant else Actor.BUYER)],
        "base": "/merchant/orders" if merchant else "/orders",
        "notice": notice,
        "error": message_of(error) if error else None,
        "form": form or {},
    }
    template = "merchant_order.html" if merchant else "order.html"
    return await page(request, uow, template, context, status_code=error.status if error else 200)


@router.get("/orders/{number}")
async def my_order(
    request: Request,
    uow: deps.Uow,
    buyer: BuyerPage,
    number: str,
    msg: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    """Buyers: one of their orders (anyone else's is 404)."""
    return await _order_page(request, uow, buyer, number, notice=NOTICES.get(msg))


@router.get("/merchant/orders/{number}")
async def merchant_order(
    request: Request,
    uow: deps.Uow,
    staff: MerchantPage,
    number: str,
    msg: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    """Merchant staff: one of their shop's orders (another shop's is 404)."""
    return await _order_page(request, uow, staff, number, notice=NOTICES.get(msg))


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
    carrier: FormText = "",
    tracking_number: FormText = "",
) -> Response:
    """Hand the parcel to a carrier: its name and the tracking number."""
    change = service.ship_order(
        uow=uow, number=number, by=staff, carrier=carrier, tracking_number=tracking_number
    )
    typed = {"carrier": carrier[:50], "tracking_number": tracking_number[:40]}
    return await _act(request, uow, staff, number, change, done="shipped", form=typed)
