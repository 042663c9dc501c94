"""A flash sale with a node killed mid-way: two ``kuaidan serve`` nodes on one PostgreSQL
database sell a fresh SKU to buyers limited per head; one node is SIGKILLed while it holds
units granted to checkouts it never finished. Its buyers retry on the other node with their
Idempotency-Keys, the others keep trying until they are served or the sale is over.

The figures say how many holds the kill stranded, how soon they came back on sale, whether
every unit sold exactly once, and which refusals the buyers heard (``kuaidan bench
flash-kill``, and the kill test in tests/integration).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import ssl
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import text

from kuaidan.accounts import service as accounts
from kuaidan.bench import prepare as prep
from kuaidan.bench.spawn import SpawnedServer
from kuaidan.bootstrap import Container, build_container
from kuaidan.catalog import service as catalog
from kuaidan.config import Settings
from kuaidan.inventory import service as inventory
from kuaidan.merchants import service as merchants

PLACED = (200, 201)
# Batches from 2 single-item checkouts in flight, and a release job that starts at once.
NODE_ENV = {"KUAIDAN_FLASH_HOT_INFLIGHT": "2", "KUAIDAN_WORKER_START_DELAY_S": "0"}


@dataclass(frozen=True)
class KillPlan:
    units: int = 100
    buyers: int = 260
    per_buyer: int = 1
    concurrency: int = 40
    # The kill comes once this many orders are acknowledged and the node holds open units.
    kill_after_orders: int = 30
    # After the kill, buyers not served yet keep trying for at most this long.
    settle_s: float = 30.0
    poll_s: float = 0.05


@dataclass
class Attempt:
    """One answer (status None: no answer, the node is gone) and when (the loop's clock)."""

    at: float
    status: int | None
    code: str | None


@dataclass
class Shopper:
    buyer: accounts.BulkBuyer
    key: str = field(default_factory=lambda: uuid.uuid4().hex)
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def served(self) -> bool:
        return bool(self.attempts) and self.attempts[-1].status in PLACED


@dataclass(frozen=True)
class KillFigures:
    units: int
    orders: int
    units_ordered: int
    reserved: int
    on_hand: int
    most_units_one_buyer: int
    stranded: int  # open holds of the killed node just after the kill
    handed_back: int  # ... taken over by a retry of their placement, now its order's
    released: int  # ... released (the lease expired first), back on sale for anyone
    orphaned: list[int]  # the buyers those holds were granted to
    orphaned_served: int  # ... who then bought
    holds_returned_s: float | None  # from the kill until none of the stranded holds is open
    sold_out_s: float | None  # from the kill until every unit is ordered
    refusals: dict[str, int]  # every refused attempt, by error code
    limit_after_return: int  # purchase_limit answers to orphaned buyers once holds were back
    limit_before_return: int  # ... while their stranded hold still stood
    problems: list[str]  # the stock audit's findings

    def lines(self) -> list[str]:
        def secs(value: float | None) -> str:
            return "never" if value is None else f"{value:.1f} s"

        return [
            f"units sold: {self.units_ordered} of {self.units} ({self.orders} orders, "
            f"reserved {self.reserved}, most units to one buyer {self.most_units_one_buyer})",
            f"holds stranded by the kill: {self.stranded}: {self.handed_back} taken over by "
            f"their placement's retry, {self.released} released",
            f"their buyers who bought on the survivor: {self.orphaned_served} of "
            f"{len(self.orphaned)}",
            f"from the kill to no hold stranded: {secs(self.holds_returned_s)}",
            f"from the kill to every unit sold: {secs(self.sold_out_s)}",
            "refusals by code: "
            + (", ".join(f"{c} {n}" for c, n in sorted(self.refusals.items())) or "none"),
            f"purchase_limit to orphaned buyers: {self.limit_before_return} before their holds "
            f"were back, {self.limit_after_return} after",
            f"stock audit: {'; '.join(self.problems) or 'clean'}",
        ]


async def open_sale(container: Container, plan: KillPlan) -> tuple[int, list[accounts.BulkBuyer]]:
    """A fresh merchant and flash SKU with ``plan.units`` units, and the buyers."""
    tag = secrets.token_hex(3)
    uow = container.unit_of_work()
    try:
        await catalog.ensure_category(uow=uow, slug=prep.CATEGORY, name="压测", name_en="Bench")
        shop = await merchants.create_merchant(
            uow=uow, slug=f"flash-kill-{tag}", name="秒杀店", name_en="Flash Shop"
        )
        buyers: list[accounts.BulkBuyer] = []
        for start in range(0, plan.buyers, prep.BULK):
            emails = [
                f"flash-kill-{tag}-{i}@buyer.kuaidan.test"
                for i in range(start, min(plan.buyers, start + prep.BULK))
            ]
            buyers += await accounts.create_buyers_in_bulk(
                uow=uow, emails=emails, password=secrets.token_urlsafe(12), address=prep.ADDRESS
            )
    finally:
        await uow.close()
    sku_id = await prep.flash_sku(
        container, merchant_id=shop.id, units=plan.units, limit=plan.per_buyer
    )
    return sku_id, buyers


class Sale:
    """The sale as the buyers and the database see it."""

    def __init__(self, container: Container, sku_id: int, buyers: list[accounts.BulkBuyer]):
        self.container, self.sku_id = container, sku_id
        self.shoppers = {b.user_id: Shopper(b) for b in buyers}
        self.loop = asyncio.get_running_loop()
        self.killed_at: float | None = None
        self.dead: list[int] = []  # the killed node's processes

    def now_s(self) -> float:
        """Seconds after the kill (0 before it)."""
        return self.loop.time() - (self.killed_at or self.loop.time())

    async def buy(self, client: httpx.AsyncClient, shopper: Shopper) -> None:
        body = {
            "items": [{"sku_id": self.sku_id, "quantity": 1}],
            "address_id": shopper.buyer.address_id,
        }
        headers = {"Authorization": f"Bearer {shopper.buyer.token}", "Idempotency-Key": shopper.key}
        try:
            response = await client.post("/api/v1/checkouts", json=body, headers=headers)
        except httpx.TransportError:
            shopper.attempts.append(Attempt(self.loop.time(), None, None))
            return
        code = None if response.status_code < 400 else response.json()["error"]["code"]
        shopper.attempts.append(Attempt(self.loop.time(), response.status_code, code))

    def acknowledged(self) -> int:
        return sum(s.served for s in self.shoppers.values())

    async def scalar(self, sql: str, **params: object) -> int:
        uow = self.container.unit_of_work()
        try:
            return int((await uow.session.execute(text(sql), params)).scalar() or 0)
        finally:
            await uow.close()

    async def rows(self, sql: str, **params: object) -> list[tuple[int, int]]:
        uow = self.container.unit_of_work()
        try:
            found = await uow.session.execute(text(sql), params)
            return [(int(a), int(b)) for a, b in found.all()]
        finally:
            await uow.close()

    async def open_holds_of(self, pids: list[int]) -> list[tuple[int, int]]:
        """(hold id, buyer id) of the SKU's open flash holds granted by processes ``pids``."""
        return await self.rows(
            "SELECT r.id, r.buyer_id FROM reservations r JOIN hold_leases l ON l.id = r.lease_id"
            " WHERE r.sku_id = :s AND r.status = 'open' AND l.pid = ANY(:pids)",
            s=self.sku_id,
            pids=pids,
        )

    async def still_stranded(self, hold_ids: list[int]) -> int:
        """How many of ``hold_ids`` are still open under the dead node's lease (neither
        released nor taken over by a retry of their placement)."""
        return await self.scalar(
            "SELECT count(*) FROM reservations r JOIN hold_leases l ON l.id = r.lease_id"
            " WHERE r.id = ANY(:ids) AND r.status = 'open' AND l.pid = ANY(:pids)",
            ids=hold_ids,
            pids=self.dead,
        )

    async def ends_of(self, hold_ids: list[int]) -> tuple[int, int]:
        """Of ``hold_ids``: how many were released, how many became an order's reservation."""
        found = await self.rows(
            "SELECT count(*) FILTER (WHERE status = 'released'),"
            " count(*) FILTER (WHERE holder NOT LIKE 'flash:%')"
            " FROM reservations WHERE id = ANY(:ids)",
            ids=hold_ids,
        )
        return found[0]

    async def units_ordered(self) -> int:
        return await self.scalar(
            "SELECT coalesce(sum(quantity), 0) FROM order_lines WHERE sku_id = :s", s=self.sku_id
        )


def process_tree(node: SpawnedServer) -> list[int]:
    """The node's master process and its workers."""
    assert node.proc is not None
    pid = node.proc.pid
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        children = []
    return [pid, *map(int, children)]


def client_of(node: SpawnedServer) -> httpx.AsyncClient:
    verify = ssl.create_default_context(cafile=str(node.ca))
    return httpx.AsyncClient(base_url=node.base_url, verify=verify, timeout=20)


@contextlib.asynccontextmanager
async def two_nodes(settings: Settings) -> AsyncIterator[tuple[SpawnedServer, SpawnedServer]]:
    nodes = [SpawnedServer(settings, workers=1, extra_env=NODE_ENV) for _ in range(2)]
    try:
        for node in nodes:  # one after the other: the first makes the data dir's keys
            await asyncio.to_thread(node.start)
        yield nodes[0], nodes[1]
    finally:
        await asyncio.gather(*(asyncio.to_thread(node.stop) for node in nodes))


async def watch_return(sale: Sale, hold_ids: list[int], plan: KillPlan) -> float | None:
    """Seconds from the kill until none of ``hold_ids`` is stranded any more (None: not within
    the plan)."""
    while sale.now_s() < plan.settle_s:
        if not hold_ids or await sale.still_stranded(hold_ids) == 0:
            return sale.now_s()
        await asyncio.sleep(plan.poll_s)
    return None


async def run_kill_sale(settings: Settings, plan: KillPlan) -> KillFigures:
    """The whole run on the migrated PostgreSQL database of ``settings``."""
    container = build_container(settings)
    try:
        sku_id, buyers = await open_sale(container, plan)
        sale = Sale(container, sku_id, buyers)
        async with (
            two_nodes(settings) as (doomed, survivor),
            client_of(doomed) as to_doomed,
            client_of(survivor) as to_survivor,
        ):
            stranded = await _burst_and_kill(sale, doomed, to_doomed, to_survivor, plan)
            holds_returned_s, sold_out_s = await asyncio.gather(
                watch_return(sale, [hold for hold, _ in stranded], plan),
                _settle(sale, to_survivor, plan),
            )
        return await _figures(sale, plan, stranded, holds_returned_s, sold_out_s)
    finally:
        await container.aclose()


async def _burst_and_kill(
    sale: Sale,
    doomed: SpawnedServer,
    to_doomed: httpx.AsyncClient,
    to_survivor: httpx.AsyncClient,
    plan: KillPlan,
) -> list[tuple[int, int]]:
    """Buyers rush both nodes (most the doomed one); SIGKILL it once enough orders are in and
    it holds units for checkouts in flight; the holds it left open."""
    gate = asyncio.Semaphore(plan.concurrency)
    shoppers = list(sale.shoppers.values())
    half = len(shoppers) // 2

    async def on(client: httpx.AsyncClient, shopper: Shopper) -> None:
        async with gate:
            await sale.buy(client, shopper)

    burst = asyncio.gather(
        *(on(to_doomed, s) for s in shoppers[:half]),
        *(on(to_survivor, s) for s in shoppers[half : half + plan.concurrency]),
    )
    sale.dead = pids = process_tree(doomed)
    while not burst.done():
        if sale.acknowledged() >= plan.kill_after_orders and await sale.open_holds_of(pids):
            break
        await asyncio.sleep(plan.poll_s / 5)
    await asyncio.to_thread(doomed.kill)
    sale.killed_at = sale.loop.time()
    await burst
    return await sale.open_holds_of(pids)


async def _settle(sale: Sale, to_survivor: httpx.AsyncClient, plan: KillPlan) -> float | None:
    """Everyone not served tries again on the survivor, round after round, until every unit
    is ordered (seconds after the kill) or the plan's time is up (None)."""
    gate = asyncio.Semaphore(plan.concurrency)

    async def again(shopper: Shopper) -> None:
        async with gate:
            await sale.buy(to_survivor, shopper)

    while sale.now_s() < plan.settle_s:
        waiting = [s for s in sale.shoppers.values() if not s.served]
        await asyncio.gather(*(again(s) for s in waiting))
        if await sale.units_ordered() >= plan.units:
            return sale.now_s()
        await asyncio.sleep(0.5)
    return None


async def _figures(
    sale: Sale,
    plan: KillPlan,
    stranded: list[tuple[int, int]],
    holds_returned_s: float | None,
    sold_out_s: float | None,
) -> KillFigures:
    uow = sale.container.unit_of_work()
    try:
        level = (await inventory.get_levels(uow=uow, sku_ids=[sale.sku_id]))[sale.sku_id]
        problems = await inventory.audit(uow=uow, sku_ids=[sale.sku_id])
    finally:
        await uow.close()
    per_buyer = await sale.rows(
        "SELECT o.buyer_id, sum(l.quantity) FROM order_lines l JOIN orders o ON o.id = l.order_id"
        " WHERE l.sku_id = :s GROUP BY o.buyer_id",
        s=sale.sku_id,
    )
    orders = await sale.scalar(
        "SELECT count(DISTINCT order_id) FROM order_lines WHERE sku_id = :s", s=sale.sku_id
    )
    orphaned = sorted({buyer for _, buyer in stranded})
    released, handed_back = await sale.ends_of([hold for hold, _ in stranded])
    assert sale.killed_at is not None
    returned = sale.killed_at + (holds_returned_s if holds_returned_s is not None else 1e9)
    refusals: Counter[str] = Counter()
    before, after = 0, 0
    for shopper in sale.shoppers.values():
        for attempt in shopper.attempts:
            if attempt.code is None:
                continue
            refusals[attempt.code] += 1
            if attempt.code == "purchase_limit" and shopper.buyer.user_id in orphaned:
                if attempt.at < returned:
                    before += 1
                else:
                    after += 1
    return KillFigures(
        units=plan.units,
        orders=orders,
        units_ordered=sum(units for _, units in per_buyer),
        reserved=level.reserved,
        on_hand=level.on_hand,
        most_units_one_buyer=max((units for _, units in per_buyer), default=0),
        stranded=len(stranded),
        handed_back=handed_back,
        released=released,
        orphaned=orphaned,
        orphaned_served=sum(sale.shoppers[b].served for b in orphaned),
        holds_returned_s=holds_returned_s,
        sold_out_s=sold_out_s,
        refusals=dict(refusals),
        limit_after_return=after,
        limit_before_return=before,
        problems=problems,
    )
