"""While PostgreSQL is stopped and started again under a running server, no request is
answered 500: the API answers 503 with Retry-After in the error shape, and once the database
is back every request is served again, with nothing lost (retries carry their
Idempotency-Key). The server's log shows no connection used by two operations at once.

The PostgreSQL here is a cluster of the test's own, on a port of its own, so stopping it
disturbs nobody else's tests.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import ssl
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from kuaidan.bench.spawn import free_port
from kuaidan.config import Settings
from kuaidan.core.migrate import upgrade
from tests.conftest import make_settings
from tests.integration.test_durability import ServerProcess, Shop, _open_shop

PG_BIN = Path("/usr/lib/postgresql/15/bin")
PLACEMENTS = 40
CONCURRENCY = 6
OUTAGE_S = 3.0


class PrivatePostgres:
    """A throwaway PostgreSQL cluster (initdb) on loopback and a free port."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "data"
        self.port = free_port()

    def _as_postgres(self, *args: str) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *args],
            check=True,
            timeout=60,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def init(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        shutil.chown(self.root, "postgres", "postgres")
        self._as_postgres(
            str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust"
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
        log = str(self.root / "postgres.log")
        self._as_postgres(
            str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", log, "-w", "start"
        )

    def stop(self) -> None:
        self._as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def url(self, database: str) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    if os.geteuid() != 0 or not (PG_BIN / "initdb").exists():
        pytest.skip("a private PostgreSQL cluster needs PostgreSQL 15's binaries and root")
    # Not under pytest's temporary directory: the postgres user must be able to reach it.
    cluster = PrivatePostgres(Path(tempfile.mkdtemp(prefix="kuaidan-outage-")))
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        pg_ctl = [str(PG_BIN / "pg_ctl"), "-D", str(cluster.data), "-m", "immediate", "stop"]
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *pg_ctl],
            check=False,
            timeout=60,
            capture_output=True,
        )
        shutil.rmtree(cluster.root, ignore_errors=True)


@pytest.fixture
async def outage_server(
    private_postgres: PrivatePostgres, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[PrivatePostgres, ServerProcess, Shop]]:
    admin = create_async_engine(
        private_postgres.url("postgres"), isolation_level="AUTOCOMMIT", poolclass=NullPool
    )
    async with admin.connect() as conn:
        await conn.execute(text('CREATE DATABASE "kuaidan"'))
    await admin.dispose()
    data_dir = tmp_path_factory.mktemp("outage-data")
    settings: Settings = make_settings(data_dir, private_postgres.url("kuaidan"), run_worker=True)
    await upgrade(settings.effective_database_url)
    shop = await _open_shop(settings)
    server = ServerProcess(settings, log=data_dir / "server.log")
    server.start()
    try:
        yield private_postgres, server, shop
    finally:
        server.stop()


@dataclass
class Seen:
    """Every answer the clients got, by status, and the connections that failed."""

    statuses: Counter[int] = field(default_factory=Counter)
    unavailable: list[httpx.Response] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    acknowledged: set[str] = field(default_factory=set)

    def record(self, response: httpx.Response) -> None:
        self.statuses[response.status_code] += 1
        if response.status_code == 503:
            self.unavailable.append(response)


async def _place(client: httpx.AsyncClient, shop: Shop, key: str, seen: Seen) -> None:
    """Place one checkout (and read the listing beside it), retrying until it is placed."""
    body = {"items": [{"sku_id": shop.sku_ids[0], "quantity": 1}], "address_id": shop.address_id}
    deadline = time.monotonic() + 60
    while True:
        try:
            checkout = await client.post(
                "/api/v1/checkouts", json=body, headers={"Idempotency-Key": key}
            )
            seen.record(checkout)
            seen.record(await client.get("/api/v1/products"))
        except httpx.TransportError as exc:
            seen.dropped.append(repr(exc))
        else:
            if checkout.status_code in (200, 201):
                seen.acknowledged.add(key)
                return
        assert time.monotonic() < deadline, f"{key} was never placed"
        await asyncio.sleep(0.1)


async def test_a_postgres_outage_is_answered_503_and_the_service_recovers(
    outage_server: tuple[PrivatePostgres, ServerProcess, Shop],
) -> None:
    postgres, server, shop = outage_server
    seen = Seen()
    verify = ssl.create_default_context(cafile=str(server.ca))
    headers = {"Authorization": f"Bearer {shop.token}"}
    # An idle connection is let go before the server's 5 s keep-alive ends, as a careful
    # client does: otherwise a request sent as the server closes it would be lost in transit,
    # which says nothing about the outage.
    limits = httpx.Limits(keepalive_expiry=2.0)
    async with httpx.AsyncClient(
        base_url=server.base_url, verify=verify, headers=headers, timeout=20, limits=limits
    ) as client:

        async def outage() -> None:
            while len(seen.acknowledged) < PLACEMENTS // 4:
                await asyncio.sleep(0.05)
            await asyncio.to_thread(postgres.stop)
            await asyncio.sleep(OUTAGE_S)
            await asyncio.to_thread(postgres.start)

        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(key: str) -> None:
            async with gate:
                await _place(client, shop, key, seen)

        await asyncio.gather(outage(), *(one(f"outage-{i:03d}") for i in range(PLACEMENTS)))

    assert seen.statuses[500] == 0, f"answers by status: {dict(seen.statuses)}"
    assert seen.dropped == [], f"every answer is a complete response: {seen.dropped}"
    assert seen.unavailable, "the outage should have been met by some requests"
    for response in seen.unavailable:
        assert int(response.headers["retry-after"]) > 0
        assert response.json()["error"]["code"] == "service_unavailable"
    assert len(seen.acknowledged) == PLACEMENTS
    assert server.log is not None
    log = server.log.read_text(errors="replace")
    assert "unhandled error" not in log, "every failure of the outage was known for what it is"
