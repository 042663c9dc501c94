"""What every ordering page shares, the sub-areas' pages too: the router, the cart cookie, error
pages, rendering with the header's cart count, parsing of form fields."""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute
from starlette.responses import Response

from kuaidan import deps
from kuaidan.accounts.domain import Role, UserInfo
from kuaidan.catalog.domain import media_url
from kuaidan.core.db import UnitOfWork
from kuaidan.core.errors import DomainError, Forbidden, InvalidInput, NotFound, Unauthorized
from kuaidan.core.templating import render
from kuaidan.ordering import service
from kuaidan.ordering.domain import (
    GUEST_KEY_RE,
    MAX_LINE_QUANTITY,
    CartOwner,
)

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
    "rated": "感谢您的评价 Thank you for rating the delivery",
    "settings": "发货设置已保存 Shipping settings saved",
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
    "no_carrier_available": "没有快递可以承运。",
    "ship_from_missing": "请先设置发货地。",
    "booking_refused": "快递公司未接单。",
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


def page_router() -> APIRouter:
    """A router of ordering pages: friendly error pages, the cart cookie, a guest cart merged
    on the first page after logging in. The core's pages and each sub-area's have one."""
    return APIRouter(
        include_in_schema=False,
        route_class=PageRoute,
        dependencies=[Depends(merge_guest_cart_on_login)],
    )


router = page_router()


async def _buyer(user: deps.CurrentUser) -> UserInfo:
    if user.role is not Role.BUYER:
        raise Forbidden("此页面仅限买家 This page is for buyers")
    return user


async def _merchant(user: deps.CurrentUser) -> UserInfo:
    if user.role is not Role.MERCHANT or user.merchant_id is None:
        raise Forbidden("此页面仅限商家员工 This page is for merchant staff")
    return user


PLATFORM = (Role.AGENT, Role.ADMIN)


async def _platform(user: deps.CurrentUser) -> UserInfo:
    if user.role not in PLATFORM:
        raise Forbidden("此页面仅限客服 This page is for agents")
    return user


async def _asker(request: Request, user: deps.CurrentUser) -> UserInfo:
    """Who asks on an order's behalf, by the path: an agent or admin (for the buyer) on
    ``/agent/…``, the buyer everywhere else."""
    if request.url.path.startswith("/agent/"):
        return await _platform(user)
    return await _buyer(user)


async def _viewer(request: Request, user: deps.CurrentUser) -> UserInfo:
    """Who sees an order's page, by the path: the shop's staff on ``/merchant/…``, otherwise
    the asker (the buyer, or an agent on ``/agent/…``)."""
    if request.url.path.startswith("/merchant/"):
        return await _merchant(user)
    return await _asker(request, user)


BuyerPage = Annotated[UserInfo, Depends(_buyer)]
MerchantPage = Annotated[UserInfo, Depends(_merchant)]
PlatformPage = Annotated[UserInfo, Depends(_platform)]
AskerPage = Annotated[UserInfo, Depends(_asker)]
ViewerPage = Annotated[UserInfo, Depends(_viewer)]


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


def order_path(user: UserInfo, number: str, suffix: str = "") -> str:
    """The order's page (plus ``suffix``) as this viewer reaches it: the buyer's, the shop's
    or the agents'."""
    prefix = {Role.MERCHANT: "/merchant/orders", Role.BUYER: "/orders"}.get(
        user.role, "/agent/orders"
    )
    return f"{prefix}/{quote(number)}{suffix}"


async def form_page(
    request: Request,
    uow: UnitOfWork,
    template: str,
    context: Mapping[str, Any],
    *,
    notice: str | None,
    error: DomainError | None,
    form: Mapping[str, str] | None,
) -> Response:
    """A page of forms: a fresh request id (a double submission is one request), the notice
    or the refusal's message, what was typed, and the refusal's status."""
    full = {
        **context,
        "request_id": uuid.uuid4().hex,
        "notice": notice,
        "error": message_of(error) if error else None,
        "form": form or {},
    }
    return await page(request, uow, template, full, status_code=error.status if error else 200)


def see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


async def step_or_page(
    work: Awaitable[str],
    *,
    done_url: Callable[[str], str],
    again: Callable[[DomainError], Awaitable[Response]],
) -> Response:
    """Run a form's step: done, redirect to ``done_url(notice)``; refused, show the page
    ``again`` with the error (a 404 stays a 404)."""
    try:
        done = await work
    except DomainError as exc:
        if exc.status == 404:
            raise
        return await again(exc)
    return see_other(done_url(done))


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
