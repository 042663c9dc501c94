"""Shared data and helpers of the ordering integration tests (markets, buyers, payment)."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from PIL import Image

from kuaidan.accounts.domain import Role
from kuaidan.core.db import UnitOfWork
from kuaidan.inventory import service as inventory
from kuaidan.logistics import service as logistics
from kuaidan.ordering.domain import parse_order_number, stock_holder
from kuaidan.ordering.service._common import order_number_key
from tests.conftest import LiveServer, PaySandbox, eventually
from tests.factories import PASSWORD as PASSWORD  # the ordering tests' users' password
from tests.factories import (
    AddressFactory,
    CategoryFactory,
    MerchantFactory,
    ProductFactory,
    SkuFactory,
    UserFactory,
)

# The buyers' delivery address (Hangzhou), as their client posts it.
ADDRESS = AddressFactory.body()


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
    return await open_market(server)


async def open_market(server: LiveServer) -> Market:
    """Two shops shipping from places the carriers serve, and a category of their goods."""
    token = uuid.uuid4().hex[:10]
    async with opened(server) as uow:
        # Both shops ship from a place the carriers serve; orders go out through logistics.
        a = await MerchantFactory.create(uow, slug=f"a-{token}", ships_from=("上海", "上海"))
        b = await MerchantFactory.create(uow, slug=f"b-{token}", ships_from=("江苏", "南京"))
        category = await CategoryFactory.create(uow, slug=f"goods-{token}")
        await logistics.ensure_default_carriers(uow=uow)
    return Market(token, category.slug, a.id, b.id)


async def new_sku(
    server: LiveServer, market: Market, merchant_id: int, price: int, stock: int
) -> int:
    """A fresh listed product with one SKU and a real picture; returns the SKU's id."""
    code = uuid.uuid4().hex[:8]
    picture = server.settings.data_dir / "media" / "products" / code / "1.png"
    picture.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8), (200, 60, 40)).save(picture)
    async with opened(server) as uow:
        detail = await ProductFactory.create(
            uow,
            merchant_id=merchant_id,
            category_slug=market.category,
            images=[f"products/{code}/1.png"],
            skus=[SkuFactory.build(price_fen=price, stock=stock)],
        )
    return detail.skus[0].id


async def available(server: LiveServer, sku_id: int) -> int:
    async with opened(server) as uow:
        return (await inventory.get_levels(uow=uow, sku_ids=[sku_id]))[sku_id].available


async def token_for(api: httpx.AsyncClient, email: str) -> str:
    response = await api.post("/api/v1/auth/tokens", json={"email": email, "password": PASSWORD})
    assert response.status_code == 201, response.text
    return str(response.json()["token"])


async def new_buyer(api: httpx.AsyncClient) -> Buyer:
    new = UserFactory.build()
    body = {"email": new.email, "password": new.password, "display_name": new.display_name}
    user = await api.post("/api/v1/auth/register", json=body)
    assert user.status_code == 201, user.text
    token = await token_for(api, new.email)
    address = await api.post("/api/v1/me/addresses", json=ADDRESS, headers=bearer(token))
    assert address.status_code == 201, address.text
    return Buyer(user.json()["id"], token, address.json()["id"])


async def staff(
    server: LiveServer, api: httpx.AsyncClient, role: Role, merchant_id: int | None = None
) -> dict[str, str]:
    async with opened(server) as uow:
        user = await UserFactory.create(uow, role=role, merchant_id=merchant_id)
    return bearer(await token_for(api, user.email))


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
        paid = await client.post("/cashier/pay", data={"token": match.group(1)})
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
