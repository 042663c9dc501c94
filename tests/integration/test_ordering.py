"""Ordering over real HTTPS on SQLite and PostgreSQL: carts, checkouts, idempotency, payment
through the sandbox provider, the order state machine, expiry, refunds and who sees what.

Merchants and products come from the services (with a random token), buyers from the sign-up
API, staff from ``accounts.service.create_user``. After every test the stock audit is clean.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from kuaidan.accounts import service as accounts
from kuaidan.accounts.domain import Role
from kuaidan.catalog import service as catalog
from kuaidan.catalog.domain import NewProduct, NewSku
from kuaidan.core import signing
from kuaidan.core.db import UnitOfWork
from kuaidan.inventory import service as inventory
from kuaidan.merchants import service as merchants
from kuaidan.ordering import service as ordering
from kuaidan.ordering.domain import parse_order_number, stock_holder
from kuaidan.ordering.service._common import order_number_key
from kuaidan.payments import service as payments
from kuaidan.payments.domain import PaymentStatus
from tests.conftest import LiveServer, PaySandbox

PASSWORD = "correct horse battery"
ADDRESS = {
    "recipient": "李四",
    "phone": "+86 139-1234-5678",
    "province": "浙江省",
    "city": "杭州市",
    "district": "西湖区",
    "line": "文三路 90 号 3 幢 501",
    "postcode": "310012",
}


# --- helpers ---------------------------------------------------------------------------------


@asynccontextmanager
async def opened(server: LiveServer) -> AsyncIterator[UnitOfWork]:
    uow = server.uow()
    try:
        yield uow
    finally:
        await uow.close()


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def eventually(check: Callable[[], Awaitable[Any]], *, timeout_s: float = 20) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        value = await check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("the condition did not come true in time")
        await asyncio.sleep(0.1)


@dataclass
class Market:
    token: str
    category: str
    shop_a: int
    shop_b: int


@dataclass
class Buyer:
    id: int
    token: str
    address_id: int

    @property
    def auth(self) -> dict[str, str]:
        return bearer(self.token)


@pytest.fixture(scope="module")
async def market(server: LiveServer) -> Market:
    token = uuid.uuid4().hex[:10]
    async with opened(server) as uow:
        a = await merchants.create_merchant(
            uow=uow, slug=f"a-{token}", name=f"甲店{token}", name_en=f"Shop A {token}"
        )
        b = await merchants.create_merchant(
            uow=uow, slug=f"b-{token}", name=f"乙店{token}", name_en=f"Shop B {token}"
        )
        await catalog.ensure_category(uow=uow, slug=f"goods-{token}", name="百货", name_en="Goods")
    return Market(token, f"goods-{token}", a.id, b.id)


async def new_sku(
    server: LiveServer, market: Market, merchant_id: int, price: int, stock: int
) -> int:
    """A fresh listed product with one SKU; returns the SKU's id."""
    code = uuid.uuid4().hex[:8]
    product = NewProduct(
        title=f"测试商品 Item {code} {market.token}",
        description="",
        category_slug=market.category,
        specs=[],
        images=[f"products/{code}/1.png"],
        skus=[NewSku(f"SKU-{code}", {"颜色 Colour": "黑色 Black"}, price, stock)],
    )
    async with opened(server) as uow:
        detail = await catalog.create_product(uow=uow, merchant_id=merchant_id, product=product)
    return detail.skus[0].id


async def available(server: LiveServer, sku_id: int) -> int:
    async with opened(server) as uow:
        return (await inventory.get_levels(uow=uow, sku_ids=[sku_id]))[sku_id].available


async def token_for(api: httpx.AsyncClient, email: str) -> str:
    response = await api.post("/api/v1/auth/tokens", json={"email": email, "password": PASSWORD})
    assert response.status_code == 201, response.text
    return str(response.json()["token"])


async def new_buyer(api: httpx.AsyncClient) -> Buyer:
    name = uuid.uuid4().hex[:10]
    body = {"email": f"b-{name}@example.com", "password": PASSWORD, "display_name": name}
    user = await api.post("/api/v1/auth/register", json=body)
    assert user.status_code == 201, user.text
    token = await token_for(api, body["email"])
    address = await api.post("/api/v1/me/addresses", json=ADDRESS, headers=bearer(token))
    assert address.status_code == 201, address.text
    return Buyer(user.json()["id"], token, address.json()["id"])


async def staff(
    server: LiveServer, api: httpx.AsyncClient, role: Role, merchant_id: int | None = None
) -> dict[str, str]:
    email = f"{role.value}-{uuid.uuid4().hex[:10]}@example.com"
    async with opened(server) as uow:
        await accounts.create_user(
            uow=uow,
            email=email,
            password=PASSWORD,
            role=role,
            display_name=role.value,
            merchant_id=merchant_id,
        )
    return bearer(await token_for(api, email))


async def place(
    api: httpx.AsyncClient,
    buyer: Buyer,
    items: list[tuple[int, int]],
    *,
    key: str | None = None,
    expect: int = 201,
    **extra: Any,
) -> dict[str, Any]:
    body = {
        "items": [{"sku_id": sku, "quantity": qty} for sku, qty in items],
        "address_id": buyer.address_id,
        **extra,
    }
    headers = {**buyer.auth, "Idempotency-Key": key or uuid.uuid4().hex}
    response = await api.post("/api/v1/checkouts", json=body, headers=headers)
    assert response.status_code == expect, response.text
    result: dict[str, Any] = response.json()
    return result


async def order(api: httpx.AsyncClient, number: str, headers: dict[str, str]) -> dict[str, Any]:
    response = await api.get(f"/api/v1/orders/{number}", headers=headers)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


async def pay(sandbox: PaySandbox, pay_url: str) -> None:
    """The buyer pays on the sandbox's hosted page; the sandbox then notifies kuaidan."""
    async with sandbox.client() as client:
        page = await client.get(pay_url)
        assert page.status_code == 200, page.text
        match = re.search(r'name="token" value="([^"]+)"', page.text)
        assert match is not None
        paid = await client.post("/gateway/pay", data={"token": match.group(1)})
    assert paid.status_code == 303, paid.text


async def paid_checkout(
    api: httpx.AsyncClient, sandbox: PaySandbox, buyer: Buyer, items: list[tuple[int, int]]
) -> dict[str, Any]:
    placed = await place(api, buyer, items)
    await pay(sandbox, placed["checkout"]["pay_url"])
    for placed_order in placed["orders"]:

        async def is_paid(number: str = placed_order["number"]) -> bool:
            return bool((await order(api, number, buyer.auth))["status"] == "paid")

        await eventually(is_paid)
    return placed


async def reservations(server: LiveServer, number: str) -> list[str]:
    """Statuses of the order's stock reservations (the number parses back to the order id)."""
    order_id, _day = parse_order_number(number, key=order_number_key(server.container.cipher))
    async with opened(server) as uow:
        found = await inventory.reservations_of(uow=uow, holder=stock_holder(order_id))
    return [r.status.value for r in found]


@pytest.fixture(autouse=True)
async def stock_stays_consistent(server: LiveServer) -> AsyncIterator[None]:
    yield
    async with opened(server) as uow:
        assert await inventory.audit(uow=uow) == []


# --- placement -------------------------------------------------------------------------------


async def test_a_two_merchant_checkout_places_two_orders_and_one_payment(server, api, market):
    tee = await new_sku(server, market, market.shop_a, 7900, 10)
    cap = await new_sku(server, market, market.shop_a, 3900, 10)
    mug = await new_sku(server, market, market.shop_b, 2500, 5)
    buyer = await new_buyer(api)
    placed = await place(api, buyer, [(tee, 2), (mug, 1), (cap, 1)], note="请周末送货")

    checkout, orders = placed["checkout"], placed["orders"]
    assert checkout["reference"].startswith("KC") and checkout["pay_url"]
    assert checkout["total_fen"] == 2 * 7900 + 3900 + 2500
    assert [o["merchant_id"] for o in orders] == sorted([market.shop_a, market.shop_b])
    assert [o["total_fen"] for o in orders] == [2 * 7900 + 3900, 2500]
    assert {o["status"] for o in orders} == {"pending_payment"}
    assert all(o["checkout_reference"] == checkout["reference"] for o in orders)
    first = orders[0]
    assert first["number"].startswith("KD") and len(first["number"]) == 20
    assert [line["quantity"] for line in first["lines"]] == [2, 1]
    assert first["address"]["recipient"] == "李四" and first["note"] == "请周末送货"
    assert [e["action"] for e in first["timeline"]] == ["placed"]
    assert first["allowed_actions"] == ["cancel"]
    assert (await available(server, tee), await available(server, mug)) == (8, 4)
    async with opened(server) as uow:
        info = await payments.get_payment(uow=uow, reference=checkout["reference"])
    assert info is not None and info.amount_fen == checkout["total_fen"]

    mine = (await api.get("/api/v1/orders", headers=buyer.auth)).json()
    assert {o["number"] for o in mine["items"]} == {o["number"] for o in orders}
    fetched = await api.get(f"/api/v1/checkouts/{checkout['reference']}", headers=buyer.auth)
    assert fetched.status_code == 200 and fetched.json()["checkout"] == checkout


async def test_an_order_keeps_its_address_encrypted_whatever_the_address_book_does(
    server, api, market
):
    sku = await new_sku(server, market, market.shop_a, 1000, 5)
    buyer = await new_buyer(api)
    [placed] = (await place(api, buyer, [(sku, 1)]))["orders"]
    changed = await api.patch(
        f"/api/v1/me/addresses/{buyer.address_id}", json={"line": "新地址 1 号"}, headers=buyer.auth
    )
    assert changed.status_code == 200, changed.text
    again = await order(api, placed["number"], buyer.auth)
    assert again["address"]["line"] == ADDRESS["line"]
    async with server.container.db.engine.connect() as conn:
        rows = (await conn.execute(text("SELECT * FROM orders"))).mappings().all()
    at_rest = " ".join(str(v) for row in rows for v in row.values())
    assert "李四" not in at_rest and "文三路" not in at_rest and "1234" not in at_rest


async def test_a_retry_returns_the_same_checkout_and_another_body_is_refused(server, api, market):
    sku = await new_sku(server, market, market.shop_b, 1500, 10)
    buyer = await new_buyer(api)
    key = f"retry-{uuid.uuid4().hex}"
    first = await place(api, buyer, [(sku, 2)], key=key)
    second = await place(api, buyer, [(sku, 2)], key=key, expect=200)
    assert second["checkout"] == first["checkout"]
    assert [o["number"] for o in second["orders"]] == [o["number"] for o in first["orders"]]
    refused = await place(api, buyer, [(sku, 3)], key=key, expect=409)
    assert refused["error"]["code"] == "idempotency_key_reuse"
    assert await available(server, sku) == 8, "the retry reserved nothing more"
    other = await new_buyer(api)
    await place(api, other, [(sku, 1)], key=key)  # keys belong to one buyer


async def test_ten_concurrent_identical_requests_place_one_checkout(
    server: LiveServer, api, market
):
    sku = await new_sku(server, market, market.shop_a, 990, 50)
    buyer = await new_buyer(api)
    key = f"burst-{uuid.uuid4().hex}"
    body = {"items": [{"sku_id": sku, "quantity": 1}], "address_id": buyer.address_id}
    headers = {**buyer.auth, "Idempotency-Key": key}

    async def post() -> httpx.Response:
        async with server.client() as client:
            return await client.post("/api/v1/checkouts", json=body, headers=headers)

    answers = await asyncio.gather(*(post() for _ in range(10)))
    assert sorted(a.status_code for a in answers) == [200] * 9 + [201], [a.text for a in answers]
    assert len({a.json()["checkout"]["reference"] for a in answers}) == 1
    assert await available(server, sku) == 49
    async with opened(server) as uow:
        count = await uow.session.scalar(
            text("SELECT count(*) FROM checkouts WHERE buyer_id = :b"), {"b": buyer.id}
        )
    assert count == 1


async def test_a_changed_price_is_refused_until_the_buyer_accepts_it(server, api, market):
    sku = await new_sku(server, market, market.shop_a, 5000, 5)
    buyer = await new_buyer(api)
    async with opened(server) as uow:
        await catalog.set_sku_price(uow=uow, sku_id=sku, price_fen=5500)
    refused = await place(api, buyer, [(sku, 1)], accepted_prices={str(sku): 5000}, expect=409)
    assert refused["error"]["code"] == "price_changed"
    assert refused["error"]["details"]["changes"] == [
        {"sku_id": sku, "seen_fen": 5000, "now_fen": 5500}
    ]
    assert await available(server, sku) == 5, "nothing was reserved"
    assert (await api.get("/api/v1/orders", headers=buyer.auth)).json()["meta"]["total"] == 0
    placed = await place(api, buyer, [(sku, 1)], accepted_prices={str(sku): 5500})
    assert placed["checkout"]["total_fen"] == 5500


async def test_out_of_stock_is_a_409_and_leaves_nothing_reserved(server, api, market):
    plenty = await new_sku(server, market, market.shop_a, 1000, 10)
    scarce = await new_sku(server, market, market.shop_b, 1000, 1)
    buyer = await new_buyer(api)
    refused = await place(api, buyer, [(plenty, 3), (scarce, 2)], expect=409)
    assert refused["error"]["code"] == "out_of_stock"
    assert refused["error"]["details"]["skus"][0]["sku_id"] == scarce
    assert (await available(server, plenty), await available(server, scarce)) == (10, 1)
    async with opened(server) as uow:
        count = await uow.session.scalar(
            text("SELECT count(*) FROM checkouts WHERE buyer_id = :b"), {"b": buyer.id}
        )
    assert count == 0


async def test_a_purchase_limit_holds_across_checkouts(server, api, market):
    sku = await new_sku(server, market, market.shop_b, 1990, 50)
    async with opened(server) as uow:
        await inventory.set_purchase_limit(uow=uow, sku_id=sku, limit=2)
    buyer = await new_buyer(api)
    assert (await place(api, buyer, [(sku, 3)], expect=409))["error"]["code"] == "purchase_limit"
    await place(api, buyer, [(sku, 2)])
    again = await place(api, buyer, [(sku, 1)], expect=409)
    assert again["error"]["code"] == "purchase_limit"


@pytest.mark.parametrize(
    ("items", "code"),
    [
        ([(987654321, 1)], "unknown_item"),
        ([(0, 1)], "invalid_input"),
        ([("sku", 0)], "invalid_input"),
        ([("sku", 100)], "invalid_input"),
        ([], "invalid_input"),
    ],
)
async def test_bad_checkout_input_is_a_clear_4xx(server, api, market, items, code):
    sku = await new_sku(server, market, market.shop_a, 1000, 3)
    buyer = await new_buyer(api)
    concrete = [(sku if s == "sku" else s, q) for s, q in items]
    answer = await place(api, buyer, concrete, expect=422)
    assert answer["error"]["code"] == code
    assert await available(server, sku) == 3


async def test_checkout_needs_a_key_an_own_address_and_a_buyer(server, api, market):
    sku = await new_sku(server, market, market.shop_a, 1000, 3)
    buyer, other = await new_buyer(api), await new_buyer(api)
    body = {"items": [{"sku_id": sku, "quantity": 1}], "address_id": buyer.address_id}
    no_key = await api.post("/api/v1/checkouts", json=body, headers=buyer.auth)
    assert no_key.status_code == 422
    theirs = await place(api, other, [(sku, 1)], address_id=buyer.address_id, expect=422)
    assert theirs["error"]["details"] == {"address_id": buyer.address_id}
    merchant = await staff(server, api, Role.MERCHANT, market.shop_a)
    headers = {**merchant, "Idempotency-Key": "k1"}
    assert (await api.post("/api/v1/checkouts", json=body, headers=headers)).status_code == 403
    assert await available(server, sku) == 3


# --- carts -----------------------------------------------------------------------------------


async def test_a_guest_cart_merges_into_the_buyers_cart(server, api, market):
    sku = await new_sku(server, market, market.shop_a, 1200, 9)
    other = await new_sku(server, market, market.shop_b, 800, 9)
    put = await api.put(f"/api/v1/cart/items/{sku}", json={"quantity": 2})
    assert put.status_code == 200, put.text
    key = put.headers["x-cart-key"]
    guest = {"X-Cart-Key": key}
    await api.put(f"/api/v1/cart/items/{other}", json={"quantity": 1}, headers=guest)
    cart = (await api.get("/api/v1/cart", headers=guest)).json()
    assert [len(g["lines"]) for g in cart["groups"]] == [1, 1]
    assert cart["total_fen"] == 2 * 1200 + 800 and cart["quantity"] == 3

    buyer = await new_buyer(api)
    await api.put(f"/api/v1/cart/items/{sku}", json={"quantity": 98}, headers=buyer.auth)
    merged = await api.post("/api/v1/cart/merge", headers={**buyer.auth, **guest})
    assert merged.status_code == 200, merged.text
    lines = {
        line["sku_id"]: line["quantity"] for g in merged.json()["groups"] for line in g["lines"]
    }
    assert lines == {sku: 99, other: 1}, "quantities add up, capped at 99"
    emptied = (await api.get("/api/v1/cart", headers=guest)).json()
    assert emptied["groups"] == []


async def test_the_cart_shows_price_changes_and_checks_out_at_the_seen_price(server, api, market):
    sku = await new_sku(server, market, market.shop_a, 3000, 4)
    keep = await new_sku(server, market, market.shop_b, 500, 4)
    buyer = await new_buyer(api)
    for item in (sku, keep):
        answer = await api.put(
            f"/api/v1/cart/items/{item}", json={"quantity": 1}, headers=buyer.auth
        )
        assert answer.status_code == 200, answer.text
    async with opened(server) as uow:
        await catalog.set_sku_price(uow=uow, sku_id=sku, price_fen=3300)
    cart = (await api.get("/api/v1/cart", headers=buyer.auth)).json()
    line = next(line for g in cart["groups"] for line in g["lines"] if line["sku_id"] == sku)
    assert (line["price_changed"], line["price_seen_fen"], line["price_fen"]) == (True, 3000, 3300)

    body = {"from_cart": True, "sku_ids": [sku], "address_id": buyer.address_id}
    headers = {**buyer.auth, "Idempotency-Key": uuid.uuid4().hex}
    refused = await api.post("/api/v1/checkouts", json=body, headers=headers)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "price_changed"
    body["accepted_prices"] = {str(sku): 3300}
    placed = await api.post("/api/v1/checkouts", json=body, headers=headers)
    assert placed.status_code == 201, placed.text
    left = (await api.get("/api/v1/cart", headers=buyer.auth)).json()
    assert [line["sku_id"] for g in left["groups"] for line in g["lines"]] == [keep]


async def test_cart_input_is_checked(server, api, market):
    sku = await new_sku(server, market, market.shop_a, 100, 1)
    assert (await api.put("/api/v1/cart/items/987654321", json={"quantity": 1})).status_code == 404
    assert (await api.put(f"/api/v1/cart/items/{sku}", json={"quantity": 0})).status_code == 422
    bad_key = {"X-Cart-Key": "short"}
    assert (await api.get("/api/v1/cart", headers=bad_key)).status_code == 422
    admin = await staff(server, api, Role.ADMIN)
    assert (await api.get("/api/v1/cart", headers=admin)).status_code == 403


# --- paying and the order's life --------------------------------------------------------------


async def test_an_order_is_paid_shipped_delivered_and_completed(server, api, market, pay_sandbox):
    sku_a = await new_sku(server, market, market.shop_a, 2000, 5)
    sku_b = await new_sku(server, market, market.shop_b, 1000, 5)
    buyer = await new_buyer(api)
    placed = await paid_checkout(api, pay_sandbox, buyer, [(sku_a, 1), (sku_b, 1)])
    number = placed["orders"][0]["number"]
    seller, rival = (
        await staff(server, api, Role.MERCHANT, market.shop_a),
        await staff(server, api, Role.MERCHANT, market.shop_b),
    )
    to_ship = (await api.get("/api/v1/merchant/orders?status=paid", headers=seller)).json()
    assert number in {o["number"] for o in to_ship["items"]}
    ship = {"carrier": "顺丰速运 SF Express", "tracking_number": "SF1234567890"}
    path = f"/api/v1/merchant/orders/{number}/ship"
    assert (await api.post(path, json=ship, headers=rival)).status_code == 404
    bad = await api.post(path, json={**ship, "tracking_number": "no spaces!"}, headers=seller)
    assert bad.status_code == 422
    shipped = await api.post(path, json=ship, headers=seller)
    assert shipped.status_code == 200, shipped.text
    assert shipped.json()["status"] == "shipped"
    assert await reservations(server, number) == ["consumed"]
    assert await available(server, sku_a) == 4

    late = await api.post(
        f"/api/v1/orders/{number}/cancel", json={"reason": "x"}, headers=buyer.auth
    )
    assert late.status_code == 409 and late.json()["error"]["code"] == "illegal_transition"
    admin = await staff(server, api, Role.ADMIN)
    delivered = await api.post(f"/api/v1/orders/{number}/deliver", headers=admin)
    assert delivered.status_code == 200 and delivered.json()["status"] == "delivered"
    done = await api.post(f"/api/v1/orders/{number}/confirm-receipt", headers=buyer.auth)
    assert done.status_code == 200 and done.json()["status"] == "completed"
    actions = [e["action"] for e in done.json()["timeline"]]
    assert actions == ["placed", "pay", "ship", "deliver", "confirm_receipt"]
    again = await api.post(f"/api/v1/orders/{number}/confirm-receipt", headers=buyer.auth)
    assert again.status_code == 409


async def test_cancelling_a_paid_order_refunds_it_and_releases_its_stock(
    server, api, market, pay_sandbox
):
    sku = await new_sku(server, market, market.shop_a, 4200, 3)
    buyer = await new_buyer(api)
    placed = await paid_checkout(api, pay_sandbox, buyer, [(sku, 2)])
    number = placed["orders"][0]["number"]
    assert await available(server, sku) == 1
    cancelled = await api.post(
        f"/api/v1/orders/{number}/cancel", json={"reason": "不想要了"}, headers=buyer.auth
    )
    assert cancelled.status_code == 200, cancelled.text
    body = cancelled.json()
    assert body["status"] == "cancelled" and body["refund_requested"]
    assert [e["action"] for e in body["timeline"]][-2:] == ["cancel", "refund_requested"]
    assert await available(server, sku) == 3

    async def refunded() -> bool:
        return (await order(api, number, buyer.auth))["refunded_at"] is not None

    await eventually(refunded)
    timeline = (await order(api, number, buyer.auth))["timeline"]
    assert timeline[-1]["action"] == "refunded"
    async with opened(server) as uow:
        info = await payments.get_payment(uow=uow, reference=placed["checkout"]["reference"])
    assert info is not None and info.refunded_fen == 2 * 4200


async def test_a_cancel_racing_a_ship_has_exactly_one_winner(
    server: LiveServer, api, market, pay_sandbox
):
    sku = await new_sku(server, market, market.shop_b, 1500, 3)
    buyer = await new_buyer(api)
    placed = await paid_checkout(api, pay_sandbox, buyer, [(sku, 1)])
    number = placed["orders"][0]["number"]
    seller = await staff(server, api, Role.MERCHANT, market.shop_b)

    async def cancel() -> httpx.Response:
        async with server.client() as client:
            return await client.post(
                f"/api/v1/orders/{number}/cancel", json={"reason": "race"}, headers=buyer.auth
            )

    async def ship() -> httpx.Response:
        async with server.client() as client:
            body = {"carrier": "中通快递", "tracking_number": "ZT0000000001"}
            return await client.post(
                f"/api/v1/merchant/orders/{number}/ship", json=body, headers=seller
            )

    answers = await asyncio.gather(cancel(), ship())
    assert sorted(a.status_code for a in answers) == [200, 409], [a.text for a in answers]
    final = await order(api, number, buyer.auth)
    assert final["status"] in ("cancelled", "shipped")
    assert await available(server, sku) == (3 if final["status"] == "cancelled" else 2)


async def test_unpaid_orders_expire_release_their_stock_and_close_the_payment(server, api, market):
    sku_a = await new_sku(server, market, market.shop_a, 700, 4)
    sku_b = await new_sku(server, market, market.shop_b, 300, 4)
    buyer = await new_buyer(api)
    placed = await place(api, buyer, [(sku_a, 4), (sku_b, 1)])
    assert (await available(server, sku_a), await available(server, sku_b)) == (0, 3)
    async with opened(server) as uow:
        early = await ordering.expire_overdue_orders(uow=uow)
        later = uow.now() + timedelta(seconds=server.settings.order_payment_ttl_s + 1)
        expired = await ordering.expire_overdue_orders(uow=uow, now=later)
    assert early == 0 and expired >= 2
    for placed_order in placed["orders"]:
        found = await order(api, placed_order["number"], buyer.auth)
        assert found["status"] == "cancelled" and found["cancel_reason"] == "not paid in time"
        assert found["timeline"][-1]["action"] == "expire"
        assert found["timeline"][-1]["actor"] == "system"
    assert (await available(server, sku_a), await available(server, sku_b)) == (4, 4)
    async with opened(server) as uow:
        info = await payments.get_payment(uow=uow, reference=placed["checkout"]["reference"])
    assert info is not None and info.status == PaymentStatus.CLOSED


async def expire_later(server: LiveServer) -> int:
    """Run the expiry as if the payment window had passed."""
    async with opened(server) as uow:
        later = uow.now() + timedelta(seconds=server.settings.order_payment_ttl_s + 1)
        return await ordering.expire_overdue_orders(uow=uow, now=later)


async def sandbox_hook(sandbox: PaySandbox, path: str, **body: Any) -> None:
    async with sandbox.client() as client:
        answer = await client.post(f"/sandbox/{path}", json=body)
    assert answer.status_code == 200, answer.text


async def test_a_checkout_paid_but_not_yet_notified_is_not_expired(
    server, api, market, pay_sandbox
):
    sku = await new_sku(server, market, market.shop_b, 600, 2)
    buyer = await new_buyer(api)
    placed = await place(api, buyer, [(sku, 1)])
    number, reference = placed["orders"][0]["number"], placed["checkout"]["reference"]
    async with pay_sandbox.client() as client:
        assert (await client.get(placed["checkout"]["pay_url"])).status_code == 200
    await sandbox_hook(pay_sandbox, "hooks", suppress_next=1)
    await sandbox_hook(pay_sandbox, "pay", out_trade_no=reference)
    await expire_later(server)

    async def is_paid() -> bool:
        return bool((await order(api, number, buyer.auth))["status"] == "paid")

    await eventually(is_paid)
    assert await available(server, sku) == 1


async def test_a_payment_after_expiry_is_refunded(server, api, market, pay_sandbox):
    sku = await new_sku(server, market, market.shop_a, 1234, 2)
    buyer = await new_buyer(api)
    placed = await place(api, buyer, [(sku, 1)])
    number, reference = placed["orders"][0]["number"], placed["checkout"]["reference"]
    assert await expire_later(server) >= 1
    late = provider_notification(pay_sandbox, reference, "12.34")
    async with server.client() as client:
        answer = await client.post("/api/v1/payments/notify/sandbox", data=late)
    assert answer.status_code == 200 and answer.text == "success", answer.text

    async def refund_requested() -> dict[str, Any] | None:
        found = await order(api, number, buyer.auth)
        return found if found["refund_requested"] else None

    found = await eventually(refund_requested)
    assert found["status"] == "cancelled"
    assert found["timeline"][-1]["action"] == "refund_requested"
    assert "paid after the order was cancelled" in found["timeline"][-1]["note"]
    assert await available(server, sku) == 2


def provider_notification(sandbox: PaySandbox, reference: str, yuan: str) -> dict[str, str]:
    """A payment notification signed with the provider's key, as the provider sends it."""
    now = signing.format_protocol_time(datetime.now(UTC))
    params = {
        "notify_id": f"late-{reference}",
        "notify_time": now,
        "notify_type": "trade_status_sync",
        "trade_status": "TRADE_SUCCESS",
        "trade_no": f"T{reference}",
        "out_trade_no": reference,
        "total_amount": yuan,
        "app_id": "kuaidan-demo-app",
        "gmt_payment": now,
        "sign_type": "RSA2",
    }
    key = sandbox.handle.config.private_key_file.read_bytes()
    params["sign"] = signing.sign_params(params, key, exclude=signing.NOTIFY_EXCLUDE)
    return params


async def test_auto_complete_finishes_orders_nobody_confirmed(server, api, market, pay_sandbox):
    sku = await new_sku(server, market, market.shop_a, 1100, 2)
    buyer = await new_buyer(api)
    placed = await paid_checkout(api, pay_sandbox, buyer, [(sku, 1)])
    number = placed["orders"][0]["number"]
    seller = await staff(server, api, Role.MERCHANT, market.shop_a)
    body = {"carrier": "韵达快递", "tracking_number": "YD0000000002"}
    shipped = await api.post(f"/api/v1/merchant/orders/{number}/ship", json=body, headers=seller)
    assert shipped.status_code == 200, shipped.text
    async with opened(server) as uow:
        after = timedelta(days=server.settings.order_auto_complete_days)
        later = uow.now() + after + timedelta(minutes=1)
        await ordering.auto_complete_orders(uow=uow, after=after, now=later)
    found = await order(api, number, buyer.auth)
    assert found["status"] == "completed"
    assert found["timeline"][-1]["action"] == "auto_complete"


# --- who sees what ---------------------------------------------------------------------------


async def test_only_the_buyer_its_merchant_and_staff_see_an_order(server, api, market):
    sku = await new_sku(server, market, market.shop_a, 900, 2)
    buyer, other = await new_buyer(api), await new_buyer(api)
    placed = await place(api, buyer, [(sku, 1)])
    number, reference = placed["orders"][0]["number"], placed["checkout"]["reference"]
    seller = await staff(server, api, Role.MERCHANT, market.shop_a)
    rival = await staff(server, api, Role.MERCHANT, market.shop_b)
    agent = await staff(server, api, Role.AGENT)
    for headers in (other.auth, rival):
        answer = await api.get(f"/api/v1/orders/{number}", headers=headers)
        assert answer.status_code == 404 and answer.json()["error"]["code"] == "not_found"
    for headers in (buyer.auth, seller, agent):
        assert (await api.get(f"/api/v1/orders/{number}", headers=headers)).status_code == 200
    stolen = await api.post(
        f"/api/v1/orders/{number}/cancel", json={"reason": "mine now"}, headers=other.auth
    )
    assert stolen.status_code == 404
    assert (await api.get(f"/api/v1/checkouts/{reference}", headers=other.auth)).status_code == 404
    probe = number[:-1] + str((int(number[-1]) + 1) % 10)
    assert (await api.get(f"/api/v1/orders/{probe}", headers=buyer.auth)).status_code == 404
    assert (await api.get("/api/v1/orders/KD123", headers=buyer.auth)).status_code == 404
    assert (await api.get(f"/api/v1/orders/{number}")).status_code == 401
