"""No acknowledged order is lost or duplicated when the server is killed or PostgreSQL restarts.

A client places a stream of checkouts, each with its own Idempotency-Key, and retries every
one until it gets an answer, the way a real app does. In the middle the server process is
killed with SIGKILL and started again (and, separately, PostgreSQL is restarted). Afterwards
the database must hold exactly one checkout per acknowledged key, nothing else, and stock and
reservations must agree.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from kuaidan.accounts import service as accounts
from kuaidan.bench.spawn import free_port
from kuaidan.bootstrap import build_container
from kuaidan.config import Settings
from kuaidan.inventory import service as inventory
from tests.conftest import isolated_database
from tests.factories import (
    AddressFactory,
    CategoryFactory,
    MerchantFactory,
    ProductFactory,
    SkuFactory,
    UserFactory,
)

pytestmark = pytest.mark.postgres

PLACEMENTS = 60
CONCURRENCY = 6
RETRY_DEADLINE_S = 90.0


class ServerProcess:
    """`kuaidan serve` as a real process that a test can kill and start again."""

    def __init__(self, settings: Settings, *, log: Path | None = None) -> None:
        self.port = free_port()
        self.log = log
        self.env = {
            **os.environ,
            "KUAIDAN_DATA_DIR": str(settings.data_dir),
            "KUAIDAN_DATABASE_URL": settings.effective_database_url,
            "KUAIDAN_HTTPS_PORT": str(self.port),
            "KUAIDAN_HTTP_PORT": "0",
            "KUAIDAN_LOG_LEVEL": "warning",
            "KUAIDAN_DB_POOL_SIZE": "8",
        }
        self.ca = settings.data_dir / "tls-cert.pem"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"https://localhost:{self.port}"

    def start(self) -> None:
        with (self.log or Path(os.devnull)).open("ab") as output:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "kuaidan", "serve"],
                env=self.env,
                stdout=output,
                stderr=output,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, "the server exited while starting"
            try:
                ctx = ssl.create_default_context(cafile=str(self.ca))
                if httpx.get(f"{self.base_url}/healthz", verify=ctx).status_code == 200:
                    return
            except (httpx.TransportError, FileNotFoundError, ssl.SSLError):
                pass
            time.sleep(0.2)
        raise AssertionError("the server did not start within 60 s")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@dataclass
class Shop:
    token: str
    address_id: int
    sku_ids: list[int]
    buyer_id: int


@dataclass
class Stream:
    """What the client saw: key → checkout reference for every acknowledged placement."""

    acknowledged: dict[str, str] = field(default_factory=dict)
    retries: int = 0


async def _open_shop(settings: Settings) -> Shop:
    container = build_container(settings)
    uow = container.unit_of_work()
    try:
        shop = await MerchantFactory.create(uow)
        category = await CategoryFactory.create(uow)
        product = await ProductFactory.create(
            uow,
            merchant_id=shop.id,
            category_slug=category.slug,
            skus=[SkuFactory.build(price_fen=990 + i, stock=1000) for i in range(3)],
        )
        buyer = await UserFactory.create(uow)
        address = await AddressFactory.create(uow, user_id=buyer.id)
        token, _info = await accounts.issue_api_token(uow=uow, user_id=buyer.id, name="durable")
        return Shop(token, address.id, [s.id for s in product.skus], buyer.id)
    finally:
        await uow.close()
        await container.aclose()


async def _place_until_answered(
    client: httpx.AsyncClient, shop: Shop, key: str, body: dict[str, object], stream: Stream
) -> None:
    """Retry one placement (same key, same body) through crashes until it is answered."""
    deadline = time.monotonic() + RETRY_DEADLINE_S
    while True:
        try:
            response = await client.post(
                "/api/v1/checkouts", json=body, headers={"Idempotency-Key": key}
            )
            if response.status_code in (200, 201):
                stream.acknowledged[key] = response.json()["checkout"]["reference"]
                return
            assert response.status_code >= 500, f"{key}: {response.status_code} {response.text}"
        except httpx.TransportError:
            pass
        stream.retries += 1
        assert time.monotonic() < deadline, f"{key} was never answered"
        await asyncio.sleep(0.2)


async def _run_stream(
    server: ServerProcess, shop: Shop, disrupt: Callable[[], Awaitable[None]]
) -> Stream:
    stream = Stream()
    rng = random.Random(42)
    bodies = {
        f"durable-{i:03d}": {
            "items": [{"sku_id": rng.choice(shop.sku_ids), "quantity": rng.randint(1, 3)}],
            "address_id": shop.address_id,
        }
        for i in range(PLACEMENTS)
    }
    gate = asyncio.Semaphore(CONCURRENCY)
    verify = ssl.create_default_context(cafile=str(server.ca))
    headers = {"Authorization": f"Bearer {shop.token}"}
    async with httpx.AsyncClient(
        base_url=server.base_url, verify=verify, headers=headers, timeout=10
    ) as client:

        async def one(key: str) -> None:
            async with gate:
                await _place_until_answered(client, shop, key, bodies[key], stream)

        async def disrupt_midway() -> None:
            while len(stream.acknowledged) < PLACEMENTS // 3:
                await asyncio.sleep(0.05)
            await disrupt()

        await asyncio.gather(disrupt_midway(), *(one(key) for key in bodies))
    assert len(stream.acknowledged) == PLACEMENTS
    return stream


async def _verify(settings: Settings, shop: Shop, stream: Stream) -> None:
    container = build_container(settings)
    uow = container.unit_of_work()
    try:
        refs = (await uow.session.execute(text("SELECT id FROM checkouts"))).scalars().all()
        assert len(refs) == PLACEMENTS, "exactly one checkout per acknowledged key, no more"
        keys = (await uow.session.execute(text("SELECT count(*) FROM idempotency_keys"))).scalar()
        assert keys == PLACEMENTS
        assert len(set(stream.acknowledged.values())) == PLACEMENTS
        for key, reference in stream.acknowledged.items():
            found = await uow.session.execute(
                text(
                    "SELECT count(*) FROM idempotency_keys k JOIN checkouts c"
                    " ON c.id = k.checkout_id WHERE k.key = :key"
                ),
                {"key": key},
            )
            assert found.scalar() == 1, f"{key} ({reference}) is missing"
        reserved = (
            await uow.session.execute(
                text(
                    "SELECT l.sku_id, sum(l.quantity) FROM order_lines l JOIN orders o"
                    " ON o.id = l.order_id WHERE o.status = 'pending_payment' GROUP BY l.sku_id"
                )
            )
        ).all()
        levels = await inventory.get_levels(uow=uow, sku_ids=shop.sku_ids)
        for sku_id, quantity in reserved:
            assert levels[sku_id].reserved == quantity
        assert await inventory.audit(uow=uow) == []
    finally:
        await uow.close()
        await container.aclose()


@pytest.fixture
async def durable(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[tuple[Settings, ServerProcess, Shop]]:
    async with isolated_database("postgres", tmp_path_factory) as settings:
        shop = await _open_shop(settings)
        server = ServerProcess(settings)
        server.start()
        try:
            yield settings, server, shop
        finally:
            server.stop()


async def test_sigkill_in_the_middle_of_a_stream_loses_and_duplicates_nothing(
    durable: tuple[Settings, ServerProcess, Shop],
) -> None:
    settings, server, shop = durable

    async def kill_and_restart() -> None:
        server.kill()
        await asyncio.sleep(0.5)
        await asyncio.to_thread(server.start)

    stream = await _run_stream(server, shop, kill_and_restart)
    assert stream.retries > 0, "the kill should have interrupted some requests"
    await _verify(settings, shop, stream)


def _postgres_cluster() -> tuple[str, str] | None:
    clusters = Path("/etc/postgresql")
    if not clusters.is_dir():
        return None
    for version in sorted(clusters.iterdir(), reverse=True):
        if (version / "main").is_dir():
            return version.name, "main"
    return None


async def test_postgres_restart_in_the_middle_of_a_stream_loses_and_duplicates_nothing(
    durable: tuple[Settings, ServerProcess, Shop],
) -> None:
    settings, server, shop = durable
    cluster = _postgres_cluster()
    if cluster is None or os.geteuid() != 0:
        pytest.skip("restarting PostgreSQL needs the local Debian cluster and root")

    async def restart_postgres() -> None:
        await asyncio.to_thread(
            subprocess.run,
            ["pg_ctlcluster", "--skip-systemctl-redirect", *cluster, "restart", "-m", "fast"],
            check=True,
            timeout=60,
        )

    stream = await _run_stream(server, shop, restart_postgres)
    await _verify(settings, shop, stream)
