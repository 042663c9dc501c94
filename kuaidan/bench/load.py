"""The HTTP load: virtual buyers placing checkouts over HTTPS, each attempt timed and classified.

Every loop is bounded in count and in time. Answers are classified as ``ok`` (201),
``sold_out`` (409 out_of_stock), ``busy`` (429), ``limit`` (409 purchase_limit),
``http_<status>`` for anything else, or the transport error's name. The hot loops use the lean
client of :mod:`kuaidan.bench.wire`, one keep-alive connection per buyer; httpx serves the rest.
"""

from __future__ import annotations

import asyncio
import random
import ssl
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx

from kuaidan.bench.prepare import BenchBuyer, Fixture
from kuaidan.bench.stats import Recorder
from kuaidan.bench.wire import REQUEST_TIMEOUT_S, Connection, Endpoint, TransportError

CHECKOUTS_PATH = "/api/v1/checkouts"
LINES_PER_ORDER = 3
ERROR_CODES = {"out_of_stock": "sold_out", "purchase_limit": "limit", "rate_limited": "busy"}


def no_cpu() -> float:
    return 0.0


@dataclass(frozen=True, slots=True)
class Target:
    base_url: str
    verify: ssl.SSLContext | bool
    cpu_seconds: Callable[[], float] = no_cpu

    def endpoint(self) -> Endpoint:
        """Where the buyers' lean connections go (the TLS context is made once, here)."""
        return Endpoint.of(self.base_url, self.verify)

    def client(self, concurrency: int = 1) -> httpx.AsyncClient:
        """A general client with ``concurrency`` connections, for what is not timed."""
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        return httpx.AsyncClient(
            base_url=self.base_url, verify=self.verify, timeout=REQUEST_TIMEOUT_S, limits=limits
        )


@dataclass
class Acknowledged:
    """Orders the server acknowledged (201): buyer token → order numbers."""

    orders: list[tuple[str, str]] = field(default_factory=list)


def classify(status: int, body: Any) -> str:
    """The outcome name of one answer."""
    if status in (200, 201):
        return "ok"
    code = body.get("error", {}).get("code") if isinstance(body, dict) else None
    if status == 429:
        return "busy"
    return ERROR_CODES.get(str(code), f"http_{status}")


def spread_items(rng: random.Random, skus: list[tuple[int, int]]) -> list[dict[str, int]]:
    """``LINES_PER_ORDER`` neighbouring SKUs (one product, so one merchant), one unit each."""
    width = min(LINES_PER_ORDER, len(skus))
    start = rng.randrange(len(skus) - width + 1)
    return [{"sku_id": sku, "quantity": 1} for sku, _price in skus[start : start + width]]


async def place(
    conn: Connection,
    buyer: BenchBuyer,
    items: list[dict[str, int]],
    recorder: Recorder,
    acknowledged: Acknowledged | None = None,
) -> str:
    """One checkout attempt, recorded; its outcome."""
    body = {"items": items, "address_id": buyer.address_id}
    headers = {"Authorization": f"Bearer {buyer.token}", "Idempotency-Key": uuid.uuid4().hex}
    started = time.perf_counter()
    try:
        status, answer = await conn.request("POST", CHECKOUTS_PATH, headers, body)
        outcome = classify(status, answer)
    except (TransportError, ValueError) as exc:
        outcome, answer = type(exc).__name__, None
    done = time.perf_counter()
    recorder.record(outcome, done - started, at=done)
    if outcome == "ok" and acknowledged is not None and isinstance(answer, dict):
        for order in answer.get("orders", []):
            acknowledged.orders.append((buyer.token, str(order["number"])))
    return outcome


async def checkout_load(
    target: Target,
    fixture: Fixture,
    *,
    concurrency: int,
    duration_s: float,
    recorder: Recorder,
    tick: Callable[[], None] = lambda: None,
    seed: int = 7,
) -> float:
    """``concurrency`` buyers place orders over the spread SKUs for ``duration_s``; elapsed s."""
    endpoint = target.endpoint()
    started = time.perf_counter()
    deadline = started + duration_s

    async def buyer_loop(index: int) -> None:
        rng = random.Random(seed * 1000 + index)
        turn = 0
        async with Connection(endpoint) as conn:
            while time.perf_counter() < deadline:
                buyer = fixture.buyers[(index + turn * concurrency) % len(fixture.buyers)]
                turn += 1
                await place(conn, buyer, spread_items(rng, fixture.skus), recorder)
                tick()

    await asyncio.gather(*(buyer_loop(i) for i in range(concurrency)))
    return time.perf_counter() - started


async def flash_load(
    target: Target,
    buyers: Iterable[BenchBuyer],
    *,
    sku_id: int,
    concurrency: int,
    max_duration_s: float,
    recorder: Recorder,
    tick: Callable[[], None] = lambda: None,
) -> tuple[float, Acknowledged]:
    """Each buyer tries once for one unit of ``sku_id``, ``concurrency`` at a time, until the
    buyers or ``max_duration_s`` run out."""
    endpoint = target.endpoint()
    acknowledged = Acknowledged()
    queue = iter(buyers)
    items = [{"sku_id": sku_id, "quantity": 1}]
    started = time.perf_counter()
    deadline = started + max_duration_s

    async def racer() -> None:
        async with Connection(endpoint) as conn:
            for buyer in queue:
                if time.perf_counter() >= deadline:
                    return
                await place(conn, buyer, items, recorder, acknowledged)
                tick()

    await asyncio.gather(*(racer() for _ in range(concurrency)))
    return time.perf_counter() - started, acknowledged


async def orders_exist(target: Target, acknowledged: Acknowledged) -> list[str]:
    """Acknowledged order numbers the API cannot find (empty when every one exists)."""
    missing: list[str] = []
    async with target.client(8) as client:
        for token, number in acknowledged.orders:
            response = await client.get(
                f"/api/v1/orders/{number}", headers={"Authorization": f"Bearer {token}"}
            )
            if response.status_code != 200:
                missing.append(number)
    return missing
