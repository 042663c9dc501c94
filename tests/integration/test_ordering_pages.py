"""The ordering pages over real HTTPS with cookies, on SQLite and PostgreSQL: the guest cart
and its merge at log-in, price flags, checkout placing once, paying through the sandbox, the
merchant console and its role checks, a payment held by risk verified from the result page,
and friendly 4xx pages for bad input.

Merchants, products and staff come from the services; buyers sign up through the service and
then use the pages exactly as a browser does (session cookie, CSRF token from the page).
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from kuaidan.accounts import service as accounts
from kuaidan.accounts.domain import Role, UserInfo
from kuaidan.catalog import service as catalog
from kuaidan.core.db import UnitOfWork
from kuaidan.core.notify import dev_inbox
from kuaidan.logistics import service as logistics
from kuaidan.risk import service as risk
from tests.conftest import LiveServer, PaySandbox
from tests.factories import (
    PASSWORD,
    AddressFactory,
    CategoryFactory,
    MerchantFactory,
    ProductFactory,
    SkuFactory,
    UserFactory,
)

HTML = {"accept": "text/html,application/xhtml+xml"}
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
CODE_RE = re.compile(r"(?<![0-9])([0-9]{6})(?![0-9])")
BIG_PRICE = 388_800  # 3,888 yuan from a buyer with no payment history


# --- helpers ---------------------------------------------------------------------------------


@asynccontextmanager
async def opened(server: LiveServer) -> AsyncIterator[UnitOfWork]:
    uow = server.uow()
    try:
        yield uow
    finally:
        await uow.close()


@asynccontextmanager
async def browser_like(server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    """A client that keeps cookies and asks for HTML, as a browser does."""
    async with server.client(headers=HTML) as client:
        yield client


def found(pattern: str, html: str) -> list[str]:
    return re.findall(pattern, html)


async def csrf(client: httpx.AsyncClient, path: str = "/cart") -> str:
    """The session's CSRF token from a page's form (a guest's empty cart has none: /login)."""
    page = await client.get(path)
    match = CSRF_RE.search(page.text)
    if match is None and path == "/cart":
        page = await client.get("/login")
        match = CSRF_RE.search(page.text)
    assert match is not None, page.text[:500]
    return match.group(1)


async def eventually(check: Callable[[], Awaitable[Any]], *, timeout_s: float = 20) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not (value := await check()):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("the condition did not come true in time")
        await asyncio.sleep(0.1)
    return value


@dataclass
class Market:
    token: str
    category: str
    shop_a: int
    shop_b: int


@pytest.fixture(scope="module")
async def market(server: LiveServer) -> Market:
    token = uuid.uuid4().hex[:10]
    async with opened(server) as uow:
        a = await MerchantFactory.create(uow, slug=f"pa-{token}", ships_from=("上海", "上海"))
        b = await MerchantFactory.create(uow, slug=f"pb-{token}", ships_from=("上海", "上海"))
        category = await CategoryFactory.create(uow, slug=f"pg-{token}")
        await logistics.ensure_default_carriers(uow=uow)
    return Market(token, category.slug, a.id, b.id)


async def new_sku(server: LiveServer, market: Market, merchant_id: int, price: int) -> int:
    """A fresh listed product with one SKU and 20 in stock; returns the SKU's id."""
    async with opened(server) as uow:
        detail = await ProductFactory.create(
            uow,
            merchant_id=merchant_id,
            category_slug=market.category,
            skus=[SkuFactory.build(price_fen=price, stock=20)],
        )
    return detail.skus[0].id


async def new_user(
    server: LiveServer, role: Role = Role.BUYER, merchant_id: int | None = None
) -> UserInfo:
    """An account (a buyer has one delivery address)."""
    async with opened(server) as uow:
        user = await UserFactory.create(uow, role=role, merchant_id=merchant_id)
        if role is Role.BUYER:
            await AddressFactory.create(uow, user_id=user.id)
    return user


async def log_in(client: httpx.AsyncClient, user: UserInfo) -> None:
    form = {"email": user.email, "password": PASSWORD, "next": "/", "csrf_token": ""}
    form["csrf_token"] = await csrf(client, "/login")
    answer = await client.post("/login", data=form)
    assert answer.status_code == 303, answer.text


async def add_to_cart(
    client: httpx.AsyncClient, sku_id: int | str, quantity: int | str = 1
) -> httpx.Response:
    token = await csrf(client)
    form = {"sku_id": str(sku_id), "quantity": str(quantity), "csrf_token": token}
    return await client.post("/cart/items", data=form)


def cart_lines(html: str) -> list[int]:
    return [int(sku) for sku in found(r'data-testid="cart-line" data-sku-id="(\d+)"', html)]


def checkout_form(html: str) -> dict[str, Any]:
    """The fields the checkout page's form would send."""
    fields: dict[str, Any] = {
        "csrf_token": found(r'name="csrf_token" value="([^"]+)"', html)[0],
        "idempotency_key": found(r'name="idempotency_key" value="([^"]+)"', html)[0],
        "address_id": found(r'name="address_id" value="(\d+)" checked', html)[0],
        "line": found(r'name="line" value="([^"]+)"', html),
    }
    return fields


async def place(client: httpx.AsyncClient) -> str:
    """Check the whole cart out from the checkout page; the pay page's address."""
    page = await client.get("/checkout")
    assert page.status_code == 200, page.text
    placed = await client.post("/checkout", data=checkout_form(page.text))
    assert placed.status_code == 303, placed.text
    return placed.headers["location"]


async def pay(sandbox: PaySandbox, pay_url: str) -> str:
    """Press Pay on the sandbox's page; the address it sends the buyer back to."""
    async with sandbox.client() as client:
        page = await client.get(pay_url)
        token = re.search(r'name="token" value="([^"]+)"', page.text)
        assert token is not None, page.text
        paid = await client.post("/cashier/pay", data={"token": token.group(1)})
    assert paid.status_code == 303, paid.text
    return paid.headers["location"]


async def checkouts_of(server: LiveServer, buyer_id: int) -> int:
    async with opened(server) as uow:
        count = await uow.session.scalar(
            text("SELECT count(*) FROM checkouts WHERE buyer_id = :b"), {"b": buyer_id}
        )
    return int(count or 0)


# --- the cart --------------------------------------------------------------------------------


async def test_a_guest_cart_is_merged_into_the_buyers_at_log_in(server, market):
    mine = await new_sku(server, market, market.shop_a, 1200)
    guest_sku = await new_sku(server, market, market.shop_a, 1300)
    buyer = await new_user(server)
    async with browser_like(server) as client:
        await log_in(client, buyer)
        assert (await add_to_cart(client, mine)).status_code == 303
        await client.post("/logout", data={"csrf_token": await csrf(client)})

        added = await add_to_cart(client, guest_sku, 2)
        assert added.status_code == 303 and added.headers["location"] == "/cart?msg=added"
        cookie = added.headers["set-cookie"].lower()
        assert "kd_cart=" in cookie and "httponly" in cookie and "secure" in cookie
        assert "samesite=lax" in cookie and "max-age=" in cookie
        guest_cart = await client.get("/cart")
        assert cart_lines(guest_cart.text) == [guest_sku]
        assert 'data-testid="cart-count">2<' in guest_cart.text

        await log_in(client, buyer)
        merged = await client.get("/cart")
        assert merged.status_code == 200
        assert sorted(cart_lines(merged.text)) == sorted([mine, guest_sku])
        assert 'data-testid="cart-count">3<' in merged.text
        assert client.cookies.get("kd_cart") is None, "the guest cookie is dropped"


async def test_the_cart_flags_a_changed_price_and_updates_and_removes_lines(server, market):
    sku = await new_sku(server, market, market.shop_b, 5000)
    async with browser_like(server) as client:
        await log_in(client, await new_user(server))
        await add_to_cart(client, sku)
        async with opened(server) as uow:
            await catalog.set_sku_price(uow=uow, sku_id=sku, price_fen=5500)
        page = await client.get("/cart")
        assert 'data-testid="price-changed"' in page.text
        assert "was ¥50.00, now ¥55.00" in page.text

        form = {"quantity": "3", "csrf_token": await csrf(client)}
        updated = await client.post(f"/cart/items/{sku}", data=form)
        assert updated.status_code == 303
        page = await client.get("/cart")
        assert 'data-testid="cart-total">¥165.00<' in page.text

        gone = await client.post(
            f"/cart/items/{sku}/remove", data={"csrf_token": form["csrf_token"]}
        )
        assert gone.status_code == 303
        assert 'data-testid="cart-empty"' in (await client.get("/cart")).text


# --- checkout --------------------------------------------------------------------------------


async def test_the_checkout_form_places_once_when_posted_twice(server, market):
    sku = await new_sku(server, market, market.shop_a, 990)
    buyer = await new_user(server)
    async with browser_like(server) as client:
        await log_in(client, buyer)
        await add_to_cart(client, sku, 2)
        page = await client.get("/checkout")
        assert page.status_code == 200 and "¥19.80" in page.text
        form = checkout_form(page.text)
        first = await client.post("/checkout", data=form)
        second = await client.post("/checkout", data=form)
    assert first.status_code == second.status_code == 303, second.text
    assert first.headers["location"] == second.headers["location"]
    assert "/gateway.do?" in first.headers["location"]
    assert await checkouts_of(server, buyer.id) == 1


async def test_a_price_change_at_checkout_asks_the_buyer_to_confirm(server, market):
    sku = await new_sku(server, market, market.shop_b, 3000)
    buyer = await new_user(server)
    async with browser_like(server) as client:
        await log_in(client, buyer)
        await add_to_cart(client, sku)
        form = checkout_form((await client.get("/checkout")).text)
        async with opened(server) as uow:
            await catalog.set_sku_price(uow=uow, sku_id=sku, price_fen=3300)
        refused = await client.post("/checkout", data=form)
        assert refused.status_code == 409
        assert 'data-testid="confirm-prices"' in refused.text
        assert "was ¥30.00, now ¥33.00" in refused.text
        again = checkout_form(refused.text)
        assert again["line"] == [f"{sku}:3300"]
        assert again["idempotency_key"] != form["idempotency_key"]
        placed = await client.post("/checkout", data=again)
    assert placed.status_code == 303, placed.text
    assert await checkouts_of(server, buyer.id) == 1


async def test_a_buyer_without_an_address_is_sent_to_add_one(server, market):
    sku = await new_sku(server, market, market.shop_a, 100)
    staffless = await new_user(server)
    async with opened(server) as uow:
        [address] = await accounts.list_addresses(uow=uow, user_id=staffless.id)
        await accounts.delete_address(uow=uow, user_id=staffless.id, address_id=address.id)
    async with browser_like(server) as client:
        await log_in(client, staffless)
        await add_to_cart(client, sku)
        page = await client.get("/checkout")
    assert 'data-testid="no-address"' in page.text and 'href="/account#addresses"' in page.text


# --- paying, shipping, confirming ------------------------------------------------------------


async def test_the_merchant_console_ships_only_its_own_orders(server, market, pay_sandbox):
    tee, mug = (
        await new_sku(server, market, market.shop_a, 7900),
        await new_sku(server, market, market.shop_b, 2500),
    )
    buyer = await new_user(server)
    async with browser_like(server) as client:
        await log_in(client, buyer)
        await add_to_cart(client, tee)
        await add_to_cart(client, mug)
        back = await pay(pay_sandbox, await place(client))
        landed = await client.get(back, follow_redirects=True)
        assert landed.status_code == 200 and "/checkouts/KC" in str(landed.url)

        async def paid() -> bool:
            page = await client.get(landed.url.path)
            return 'data-state="paid"' in page.text

        await eventually(paid)
        numbers = found(r'data-testid="checkout-order" data-number="([^"]+)"', landed.text)
        assert len(numbers) == 2
    a_number, b_number = numbers  # orders come in merchant order: shop A's first

    async with browser_like(server) as staff:
        await log_in(staff, await new_user(server, Role.MERCHANT, market.shop_a))
        to_ship = await staff.get("/merchant/orders")
        listed = found(r'data-testid="order-row" data-number="([^"]+)"', to_ship.text)
        assert a_number in listed and b_number not in listed
        assert (await staff.get(f"/merchant/orders/{b_number}")).status_code == 404
        number = f"SF{uuid.uuid4().int % 10**12:012d}"
        form = {"carrier_code": "shunfeng", "tracking_number": number, "csrf_token": ""}
        form["csrf_token"] = await csrf(staff, f"/merchant/orders/{a_number}")
        shipped = await staff.post(f"/merchant/orders/{a_number}/ship", data=form)
        assert shipped.status_code == 303
        detail = await staff.get(shipped.headers["location"])
        assert 'data-status="shipped"' in detail.text and number in detail.text
        bad = await staff.post(f"/merchant/orders/{a_number}/ship", data=form)
        assert bad.status_code == 409 and 'data-testid="form-error"' in bad.text

    async with browser_like(server) as client:
        await log_in(client, buyer)
        token = await csrf(client, f"/orders/{a_number}")
        confirmed = await client.post(
            f"/orders/{a_number}/confirm-receipt", data={"csrf_token": token}
        )
        assert confirmed.status_code == 303
        page = await client.get(f"/orders/{a_number}")
        assert 'data-status="completed"' in page.text
        actions = found(r'data-testid="timeline-entry" data-action="([^"]+)"', page.text)
        assert actions == ["placed", "pay", "ship", "confirm_receipt"]


async def test_a_buyer_cancels_an_unpaid_order_from_its_page(server, market):
    sku = await new_sku(server, market, market.shop_a, 1500)
    async with browser_like(server) as client:
        await log_in(client, await new_user(server))
        await add_to_cart(client, sku)
        await place(client)
        listing = await client.get("/orders?status=pending_payment")
        [number] = found(r'data-testid="order-row" data-number="([^"]+)"', listing.text)
        token = await csrf(client, f"/orders/{number}")
        form = {"reason": "不想要了 No longer needed", "csrf_token": token}
        cancelled = await client.post(f"/orders/{number}/cancel", data=form)
        assert cancelled.status_code == 303
        page = await client.get(cancelled.headers["location"])
    assert 'data-status="cancelled"' in page.text and "No longer needed" in page.text


# --- who may open what, and bad input --------------------------------------------------------


async def test_buyers_cannot_open_merchant_pages_nor_merchants_the_cart(server, market):
    async with browser_like(server) as guest:
        asked = await guest.get("/merchant/orders")
        assert asked.status_code == 303
        assert asked.headers["location"] == "/login?next=/merchant/orders"
    async with browser_like(server) as client:
        await log_in(client, await new_user(server))
        refused = await client.get("/merchant/orders")
        assert refused.status_code == 403 and 'data-testid="problem"' in refused.text
        assert "merchant staff" in refused.text
        assert (await client.get("/orders/KD0000000000000000")).status_code == 404
    async with browser_like(server) as staff:
        await log_in(staff, await new_user(server, Role.MERCHANT, market.shop_b))
        assert (await staff.get("/cart")).status_code == 403
        assert (await staff.get("/orders")).status_code == 403


@pytest.mark.parametrize(
    ("sku", "quantity", "status"),
    [
        ("987654321", "1", 404),
        ("not-a-sku", "1", 404),
        ("", "1", 404),
        (None, "0", 422),
        (None, "100", 422),
        (None, "lots", 422),
    ],
)
async def test_bad_cart_input_gets_a_friendly_page(server, market, sku, quantity, status):
    real = await new_sku(server, market, market.shop_a, 100)
    async with browser_like(server) as client:
        answer = await add_to_cart(client, real if sku is None else sku, quantity)
    assert answer.status_code == status
    assert 'data-testid="form-error"' in answer.text and "<html" in answer.text


async def test_a_form_without_its_csrf_token_is_refused_with_a_friendly_403(server, market):
    sku = await new_sku(server, market, market.shop_a, 100)
    async with browser_like(server) as client:
        await csrf(client)
        answer = await client.post("/cart/items", data={"sku_id": str(sku), "quantity": "1"})
        assert answer.status_code == 403 and 'data-testid="problem"' in answer.text
        assert cart_lines((await client.get("/cart")).text) == []


async def test_a_tampered_checkout_form_rerenders_with_a_message(server, market):
    sku = await new_sku(server, market, market.shop_b, 100)
    async with browser_like(server) as client:
        await log_in(client, await new_user(server))
        await add_to_cart(client, sku)
        form = checkout_form((await client.get("/checkout")).text)
        changes: list[dict[str, Any]] = [
            {"line": ["x:y"]},
            {"address_id": "999999999"},
            {"line": []},
        ]
        for change in changes:
            answer = await client.post("/checkout", data={**form, **change})
            assert answer.status_code == 422, answer.text
            assert 'data-testid="form-error"' in answer.text


# --- a payment held by risk --------------------------------------------------------------------


async def held_checkout(server: LiveServer, market: Market, client: httpx.AsyncClient) -> str:
    """A new buyer on a new device: three small checkouts, then an unusual amount, which risk
    holds for a one-time code. The held checkout's result page."""
    small = await new_sku(server, market, market.shop_a, 1990)
    big = await new_sku(server, market, market.shop_a, BIG_PRICE)
    for _ in range(3):
        await add_to_cart(client, small)
        assert "/gateway.do?" in await place(client), "small early checkouts are allowed"
    await add_to_cart(client, big)
    landing = await place(client)
    assert landing.startswith("/checkouts/KC"), "a held checkout has no pay link"
    return landing


async def code_for(server: LiveServer, buyer: UserInfo) -> str:
    """The newest one-time code the dev inbox holds for the buyer (waits for the worker)."""

    async def newest() -> str | None:
        async with opened(server) as uow:
            messages = await dev_inbox(uow, user_id=buyer.id)
        match = CODE_RE.search(messages[0].body) if messages else None
        return match.group(1) if match else None

    code: str = await eventually(newest)
    return code


async def send_code(client: httpx.AsyncClient, landing: str, code: str) -> httpx.Response:
    token = await csrf(client, landing)
    return await client.post(f"{landing}/verify", data={"code": code, "csrf_token": token})


async def test_a_held_checkout_asks_for_the_code_and_pays_once_verified(server, market):
    buyer = await new_user(server)
    async with browser_like(server) as client:
        await log_in(client, buyer)
        landing = await held_checkout(server, market, client)
        reference = landing.rsplit("/", 1)[1]
        page = await client.get(landing)
        assert page.status_code == 200 and 'data-state="held"' in page.text
        for testid in ("held-notice", "verify-form", "verify-code", "verify-submit", "resend-code"):
            assert f'data-testid="{testid}"' in page.text
        assert 'data-testid="pay-now"' not in page.text
        async with opened(server) as uow:
            hold = await risk.get_hold(uow=uow, reference=reference)
        assert hold.device_id == client.cookies.get("kd_device"), "the page's device cookie"
        assert {"new_device", "device_burst"} <= {r["rule"] for r in hold.reasons}

        code = await code_for(server, buyer)
        wrong = await send_code(client, landing, f"{(int(code) + 1) % 1_000_000:06d}")
        assert wrong.status_code == 422 and 'data-testid="form-error"' in wrong.text
        assert 'data-testid="tries-left">还可以再试 4 次 4 tries left<' in wrong.text
        assert 'data-testid="verify-form"' in wrong.text
        malformed = await send_code(client, landing, "12ab56")
        assert malformed.status_code == 422 and 'data-testid="tries-left"' not in malformed.text

        verified = await send_code(client, landing, code)
        assert verified.status_code == 303, verified.text
        assert verified.headers["location"] == f"{landing}?msg=verified"

        async def pay_link_shown() -> bool:
            page = await client.get(verified.headers["location"])
            return 'data-testid="pay-now"' in page.text

        await eventually(pay_link_shown)
        shown = await client.get(landing)
        assert 'data-state="awaiting_payment"' in shown.text
        assert 'data-testid="verify-form"' not in shown.text


async def test_a_new_code_too_soon_is_refused_and_the_last_wrong_code_blocks(server, market):
    buyer = await new_user(server)
    async with browser_like(server) as client:
        await log_in(client, buyer)
        landing = await held_checkout(server, market, client)
        code = await code_for(server, buyer)
        token = await csrf(client, landing)
        too_soon = await client.post(f"{landing}/verification-code", data={"csrf_token": token})
        assert too_soon.status_code == 429 and 'data-testid="form-error"' in too_soon.text
        assert "wait a minute" in too_soon.text and 'data-testid="resend-code"' in too_soon.text

        wrong = f"{(int(code) + 1) % 1_000_000:06d}"
        for left in (4, 3, 2, 1):
            answer = await send_code(client, landing, wrong)
            assert answer.status_code == 422
            assert f'data-testid="tries-left">还可以再试 {left} 次' in answer.text
        blocked = await send_code(client, landing, wrong)
        assert blocked.status_code == 403 and 'data-testid="blocked-notice"' in blocked.text
        assert 'data-testid="verify-form"' not in blocked.text

        async def orders_cancelled() -> bool:
            page = await client.get(landing)
            states = found(r'data-testid="order-status" data-status="([a-z_]+)"', page.text)
            return 'data-testid="blocked-notice"' in page.text and states == ["cancelled"]

        await eventually(orders_cancelled)
