"""Ordering over real HTTPS on SQLite and PostgreSQL: checkouts, idempotency, stock and carts.

After every test the stock audit is clean (``stock_stays_consistent``).
"""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from sqlalchemy import text

from kuaidan.accounts.domain import Role
from kuaidan.catalog import service as catalog
from kuaidan.inventory import service as inventory
from kuaidan.payments import service as payments
from tests.conftest import LiveServer
from tests.integration import ordering_support as support
from tests.integration.ordering_support import (
    ADDRESS,
    available,
    new_buyer,
    new_sku,
    opened,
    order,
    place,
    staff,
)

# The shared fixtures, bound into this module.
market = support.market
stock_stays_consistent = support.stock_stays_consistent


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
        rows = (
            (await conn.execute(text("SELECT * FROM orders WHERE buyer_id = :b"), {"b": buyer.id}))
            .mappings()
            .all()
        )
    assert rows, "the buyer's order is in the table"
    at_rest = " ".join(str(v) for row in rows for v in row.values())
    for clear in ("李四", "文三路", "1234-5678", "12345678", "西湖区"):
        assert clear not in at_rest


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
