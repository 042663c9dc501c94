"""Flash sales: many buyers race for few units of one SKU; exactly the units are sold.

Concurrent placements go through the real service with the process's flash-sale gate (hot-SKU
batching, sold-out marks). Then a real server is SIGKILLed in the middle of a sale over HTTPS
and started again: nothing is oversold and every acknowledged order exists.
"""

from __future__ import annotations

import asyncio
import ssl
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import text

from kuaidan.accounts import service as accounts
from kuaidan.bench.spawn import SpawnedServer
from kuaidan.bootstrap import Container, build_container
from kuaidan.catalog import service as catalog
from kuaidan.catalog.domain import NewProduct, NewSku
from kuaidan.core.db import UnitOfWork
from kuaidan.core.errors import Conflict, DomainError
from kuaidan.inventory import service as inventory
from kuaidan.inventory.domain import FlashClaim, FlashHold
from kuaidan.inventory.flashsale import grant_batch
from kuaidan.merchants import service as merchants
from kuaidan.ordering import service as ordering
from kuaidan.ordering.domain import parse_order_number
from kuaidan.ordering.service._common import order_number_key
from tests.conftest import LiveServer, isolated_database

ADDRESS = accounts.BulkAddress("赵六", "13700137000", "广东省", "深圳市", "深南大道 1 号")


@dataclass
class Sale:
    sku_id: int
    buyers: list[accounts.BulkBuyer]


@asynccontextmanager
async def opened(container: Container) -> AsyncIterator[UnitOfWork]:
    """A unit of work of ``container``, given back when the block ends."""
    uow = container.unit_of_work()
    try:
        yield uow
    finally:
        await uow.close()


async def _count(uow: UnitOfWork, sql: str, **params: object) -> int:
    return int((await uow.session.execute(text(sql), params)).scalar() or 0)


async def open_sale(container: Container, *, units: int, buyers: int, tag: str) -> Sale:
    async with opened(container) as uow:
        shop = await merchants.create_merchant(
            uow=uow, slug=f"flash-{tag}", name="秒杀店", name_en="Flash Shop"
        )
        await catalog.ensure_category(uow=uow, slug="flash", name="秒杀", name_en="Flash")
        product = await catalog.create_product(
            uow=uow,
            merchant_id=shop.id,
            product=NewProduct(
                title="秒杀 Flash",
                description="",
                category_slug="flash",
                specs=[],
                images=[],
                skus=[NewSku(f"FL-{tag}", {"n": "1"}, 1990, units)],
            ),
        )
        sku_id = product.skus[0].id
        await inventory.set_purchase_limit(uow=uow, sku_id=sku_id, limit=1)
        people = await accounts.create_buyers_in_bulk(
            uow=uow,
            emails=[f"flash-{tag}-{i}@buyer.kuaidan.test" for i in range(buyers)],
            password="flash sale password",
            address=ADDRESS,
        )
        return Sale(sku_id, people)


async def _counts(container: Container, sku_id: int) -> tuple[int, int, int, list[str]]:
    """(orders with the SKU, units reserved, on hand, audit problems)."""
    async with opened(container) as uow:
        orders = await _count(
            uow, "SELECT count(DISTINCT order_id) FROM order_lines WHERE sku_id = :s", s=sku_id
        )
        level = (await inventory.get_levels(uow=uow, sku_ids=[sku_id]))[sku_id]
        return orders, level.reserved, level.on_hand, await inventory.audit(uow=uow)


async def _attempt(container: Container, sale: Sale, buyer: accounts.BulkBuyer) -> str:
    """One buyer tries once for one unit, through the service: "ok" or the error's code."""
    async with opened(container) as uow:
        try:
            who = await accounts.get_user(uow=uow, user_id=buyer.user_id)
            assert who is not None
            await ordering.place_checkout(
                uow=uow,
                buyer=who,
                items=[(sale.sku_id, 1)],
                address_id=buyer.address_id,
                idempotency_key=uuid.uuid4().hex,
            )
        except DomainError as exc:
            return exc.code
        return "ok"


@pytest.fixture
async def gated(server: LiveServer) -> AsyncIterator[Container]:
    """A container over the test server's database with a flash-sale gate of its own."""
    settings = server.settings.model_copy(update={"db_pool_size": 8, "flash_hot_inflight": 4})
    container = build_container(settings)
    try:
        yield container
    finally:
        await container.aclose()


async def test_500_concurrent_attempts_for_50_units_place_exactly_50_orders(
    gated: Container,
) -> None:
    tag = uuid.uuid4().hex[:8]
    sale = await open_sale(gated, units=50, buyers=500, tag=tag)
    assert inventory.FLASH_SALE in gated.adapters

    outcomes = await asyncio.gather(*(_attempt(gated, sale, b) for b in sale.buyers))
    assert outcomes.count("ok") == 50
    assert set(outcomes) <= {"ok", "out_of_stock", "rate_limited"}
    orders, reserved, on_hand, problems = await _counts(gated, sale.sku_id)
    assert (orders, reserved, on_hand) == (50, 50, 50)
    assert problems == []


# --- a node dies in the middle of a sale ---------------------------------------------------

KILL_AFTER = 10
UNITS = 40
BUYERS = 300


async def _race(
    server: SpawnedServer, sale: Sale, buyers: list[accounts.BulkBuyer], acked: list[str]
) -> None:
    """Each buyer tries once over HTTPS; transport errors (the node died) count as no answer."""
    verify = ssl.create_default_context(cafile=str(server.ca))
    gate = asyncio.Semaphore(50)
    async with httpx.AsyncClient(base_url=server.base_url, verify=verify, timeout=20) as client:

        async def one(buyer: accounts.BulkBuyer) -> None:
            async with gate:
                try:
                    response = await client.post(
                        "/api/v1/checkouts",
                        json={
                            "items": [{"sku_id": sale.sku_id, "quantity": 1}],
                            "address_id": buyer.address_id,
                        },
                        headers={
                            "Authorization": f"Bearer {buyer.token}",
                            "Idempotency-Key": uuid.uuid4().hex,
                        },
                    )
                except httpx.TransportError:
                    return
                if response.status_code == 201:
                    acked.extend(o["number"] for o in response.json()["orders"])

        await asyncio.gather(*(one(b) for b in buyers), return_exceptions=True)


@pytest.mark.postgres
async def test_a_node_killed_mid_sale_oversells_nothing_and_loses_no_acknowledged_order(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    async with isolated_database("postgres", tmp_path_factory) as settings:
        container = build_container(settings)
        try:
            sale = await open_sale(container, units=UNITS, buyers=BUYERS, tag="node")
            node = SpawnedServer(settings, workers=2, extra_env={"KUAIDAN_FLASH_HOT_INFLIGHT": "2"})
            await asyncio.to_thread(node.start)
            acked: list[str] = []
            try:
                first = asyncio.create_task(_race(node, sale, sale.buyers[:200], acked))
                while len(acked) < KILL_AFTER and not first.done():
                    await asyncio.sleep(0.01)
                node.kill()
                await first
                await asyncio.to_thread(node.start)
                await _race(node, sale, sale.buyers[200:], acked)
            finally:
                node.stop()
            await _check_after_crash(container, sale, acked)
        finally:
            await container.aclose()


async def _check_after_crash(container: Container, sale: Sale, acked: list[str]) -> None:
    orders, reserved, on_hand, problems = await _counts(container, sale.sku_id)
    assert problems == []
    assert orders <= UNITS and reserved <= on_hand == UNITS
    assert KILL_AFTER <= len(acked) <= orders
    async with opened(container) as uow:
        numbers = await _count(
            uow,
            "SELECT count(*) FROM orders o JOIN order_lines l ON l.order_id = o.id"
            " WHERE l.sku_id = :s",
            s=sale.sku_id,
        )
        assert numbers == orders
        # Holds orphaned by the kill go back on sale once they are older than the hold time.
        await inventory.release_stale_holds(uow=uow, older_than=timedelta(0))
    orders, reserved, _on_hand, problems = await _counts(container, sale.sku_id)
    assert reserved == orders and problems == []
    await _acked_orders_exist(container, acked)


async def _acked_orders_exist(container: Container, acked: list[str]) -> None:
    async with opened(container) as uow:
        key = order_number_key(uow.cipher)
        for number in acked:
            order_id, _day = parse_order_number(number, key=key)
            found = await _count(uow, "SELECT count(*) FROM orders WHERE id = :id", id=order_id)
            assert found == 1, f"acknowledged order {number} is missing"


async def test_stock_returned_on_another_node_is_sold_after_one_lapse_of_the_mark(
    gated: Container, server: LiveServer
) -> None:
    """A restock made elsewhere does not clear this node's mark; when the mark lapses, one
    buyer asks the database, gets the unit, and clears the mark for everyone."""
    gate = gated.adapters[inventory.FLASH_SALE]
    gate.marks.ttl_s = 0.3
    sale = await open_sale(gated, units=1, buyers=3, tag=uuid.uuid4().hex[:8])

    assert await _attempt(gated, sale, sale.buyers[0]) == "ok"
    assert await _attempt(gated, sale, sale.buyers[1]) == "out_of_stock"
    assert gate.marks.has(sale.sku_id)
    # Another node (the server's own container) puts a unit back: this gate is not told.
    async with opened(server.container) as uow:
        await inventory.restock(uow=uow, sku_id=sale.sku_id, quantity=1, reason="found one")
    assert await _attempt(gated, sale, sale.buyers[1]) == "out_of_stock"  # the mark stands
    await asyncio.sleep(0.35)
    assert await _attempt(gated, sale, sale.buyers[1]) == "ok"  # who asks again gets it
    assert not gate.marks.has(sale.sku_id)
    assert await _attempt(gated, sale, sale.buyers[2]) == "out_of_stock"  # the database's


async def test_holds_of_an_expired_lease_go_back_on_sale_at_the_next_batch(
    gated: Container,
) -> None:
    """A process stops renewing its lease (it died, or stalled): the next batch of the SKU
    releases its holds under the stock row lock, the buyer's own orphaned hold no longer
    counts against the per-buyer limit, and the stalled process can no longer adopt it."""
    sale = await open_sale(gated, units=1, buyers=1, tag=uuid.uuid4().hex[:8])
    gate = gated.adapters[inventory.FLASH_SALE]
    buyer = sale.buyers[0].user_id
    lease_id = await gate.lease.current(gated.unit_of_work)

    async def grant() -> FlashHold | Exception:
        async with opened(gated) as uow:
            lease = await gate.lease.current(gated.unit_of_work)
            results, _left = await grant_batch(
                uow, sale.sku_id, [FlashClaim(buyer, 1)], lease_id=lease
            )
            return results[0]

    orphan = await grant()
    assert isinstance(orphan, FlashHold)
    assert isinstance(await grant(), Exception)  # held: nothing left, the limit reached
    async with opened(gated) as uow, uow.atomic():
        await uow.session.execute(
            text("UPDATE hold_leases SET expires_at = :t WHERE id = :id"),
            {"t": uow.now() - timedelta(seconds=1), "id": lease_id},
        )
    gate.lease._renewed = 0.0  # the stalled process notices at its next grant

    again = await grant()
    assert isinstance(again, FlashHold), again
    assert again.reservation_id != orphan.reservation_id
    async with opened(gated) as uow:
        with pytest.raises(Conflict):
            async with uow.atomic():
                await inventory.adopt_hold(uow=uow, hold=orphan, holder="order:stalled")
    _orders, reserved, on_hand, problems = await _counts(gated, sale.sku_id)
    assert (reserved, on_hand, problems) == (1, 1, [])
    assert gate.lease.lease_id != lease_id
