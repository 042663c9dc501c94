"""The cart and checkout pages, and a checkout's result (with the held-payment code form)."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable
from typing import Annotated
from urllib.parse import quote

from fastapi import Query, Request
from starlette.datastructures import FormData
from starlette.responses import Response

from kuaidan import deps
from kuaidan.accounts import service as accounts
from kuaidan.accounts.domain import Role, UserInfo
from kuaidan.core.db import UnitOfWork
from kuaidan.core.errors import DomainError, InvalidInput, NotFound
from kuaidan.ordering import service
from kuaidan.ordering.domain import (
    MAX_LINE_QUANTITY,
    MAX_LINES,
    CartOwner,
    OrderStatus,
)
from kuaidan.ordering.pagekit import (
    CODE_RE,
    MAX_ID,
    NOTICES,
    BuyerPage,
    FormText,
    cart_owner,
    message_of,
    page,
    problem_skus,
    quantity_of,
    router,
    see_other,
    sku_of,
    whole,
    writing_owner,
)
from kuaidan.ordering.readmodels import CartView, CheckoutResult, CheckoutView
from kuaidan.ordering.web_context import risk_context_from
from kuaidan.payments import service as payments
from kuaidan.payments.domain import PAID_STATUSES, PaymentStatus

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
    code_asked = state == "held" and await service.hold_awaits_code(
        uow=uow, reference=checkout.reference
    )
    context = {
        "result": result,
        "checkout": checkout,
        "state": state,
        "payable": waiting and checkout.pay_url is not None,
        # Released from a hold: the pay link reaches the checkout a moment later.
        "preparing": waiting and checkout.pay_url is None and paid is PaymentStatus.CREATED,
        "can_verify": code_asked and user.role is Role.BUYER,
        "under_review": state == "held" and not code_asked,
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
