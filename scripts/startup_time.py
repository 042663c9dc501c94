"""Time from starting ``kuaidan serve --workers N`` to its answers, idle and under load
(docs/benchmarks.md, "Start-up").

    python scripts/startup_time.py postgresql://postgres@127.0.0.1:5432/scratch var/startup

Idle: one client asks ``/healthz`` and then a database read until each is answered.
Under load: CLIENTS buyers are already sending checkouts (and catalogue reads) at the port
when the server starts, as after a restart in a flash sale, and BACKLOG checkouts placed
just before (by a server without a worker) wait with their events undelivered; the figures
are the time to the first answer, to the moment every client has had one, and to the first
LOAD_ANSWERS answers.
Each figure is the median of RUNS starts, in seconds from the process's start.
"""

from __future__ import annotations

import argparse
import asyncio
import ssl
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from kuaidan.bench import wire
from kuaidan.bench.prepare import BenchBuyer, prepare
from kuaidan.bench.spawn import SpawnedServer
from kuaidan.bootstrap import build_container
from kuaidan.config import Settings
from kuaidan.core.migrate import upgrade

LOAD_ANSWERS = 1000


@dataclass
class Start:
    """When (seconds after the spawn) the answers came."""

    first: float = 0.0
    every_client: float = 0.0
    answers: float = 0.0
    seen: set[int] = field(default_factory=set)
    count: int = 0


def spawn(server: SpawnedServer) -> float:
    server.proc = subprocess.Popen(  # noqa: S603 (our own interpreter and arguments)
        [sys.executable, "-m", "kuaidan", "serve", "--workers", str(server.workers)],
        env=server.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.monotonic()


async def _until_answered(end: wire.Endpoint, path: str, deadline: float) -> None:
    async with wire.Connection(end, timeout_s=30) as conn:
        while time.monotonic() < deadline:
            try:
                status, _ = await conn.request("GET", path)
                if status == 200:
                    return
            except wire.TransportError:
                pass
            await asyncio.sleep(0.005)
    raise RuntimeError(f"{path} was not answered in time")


async def idle_start(server: SpawnedServer, end: wire.Endpoint) -> tuple[float, float]:
    began = spawn(server)
    try:
        await _until_answered(end, "/healthz", began + 60)
        health = time.monotonic() - began
        await _until_answered(end, "/api/v1/products", began + 60)
        return health, time.monotonic() - began
    finally:
        server.stop()


async def _buyer(
    end: wire.Endpoint,
    index: int,
    buyer: BenchBuyer,
    sku: int,
    start: Start,
    stop: asyncio.Event,
    answers: int,
) -> None:
    body = {"items": [{"sku_id": sku, "quantity": 1}], "address_id": buyer.address_id}
    auth = {"Authorization": f"Bearer {buyer.token}"}
    async with wire.Connection(end, timeout_s=30) as conn:
        while not stop.is_set():
            headers = {**auth, "Idempotency-Key": uuid.uuid4().hex}
            try:
                status, _ = await conn.request("POST", "/api/v1/checkouts", headers, body)
                if status < 500:
                    await conn.request("GET", "/api/v1/products")
            except wire.TransportError:
                await asyncio.sleep(0.01)
                continue
            if status >= 500:
                continue
            now = time.monotonic()
            start.count += 1
            start.first = start.first or now
            start.seen.add(index)
            if start.count >= answers:
                stop.set()


async def loaded_start(
    server: SpawnedServer,
    end: wire.Endpoint,
    buyers: list[BenchBuyer],
    sku: int,
    answers: int = LOAD_ANSWERS,
) -> Start:
    start, stop = Start(), asyncio.Event()
    tasks = [
        asyncio.create_task(_buyer(end, i, buyer, sku, start, stop, answers))
        for i, buyer in enumerate(buyers)
    ]
    await asyncio.sleep(0.2)  # the clients are knocking before the server starts
    began = spawn(server)
    try:
        while not stop.is_set():
            if not start.every_client and len(start.seen) == len(buyers):
                start.every_client = time.monotonic()
            if time.monotonic() - began > 120:
                raise RuntimeError("the load was not answered within 120 s")
            await asyncio.sleep(0.005)
        start.answers = time.monotonic()
        start.every_client = start.every_client or start.answers
        start.first -= began
        start.every_client -= began
        start.answers -= began
        return start
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        server.stop()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("database_url")
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--loaded-only", action="store_true", help="skip the idle starts")
    parser.add_argument("--backlog", type=int, default=2000, help="checkouts left undelivered")
    args = parser.parse_args()
    settings = Settings(database_url=args.database_url, data_dir=args.data_dir)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    await upgrade(settings.effective_database_url)
    container = build_container(settings)
    try:
        fixture = await prepare(container, buyers=args.clients, skus=8, merchants_count=1)
    finally:
        await container.aclose()
    server = SpawnedServer(settings, workers=args.workers, extra_env={})
    server.start()  # the first start makes the certificate; the runs reuse it
    server.stop()
    end = wire.Endpoint.of(server.base_url, ssl.create_default_context(cafile=str(server.ca)))
    idle = [] if args.loaded_only else [await idle_start(server, end) for _ in range(args.runs)]
    workerless = SpawnedServer(
        settings, workers=args.workers, extra_env={"KUAIDAN_RUN_WORKER_IN_PROCESS": "false"}
    )
    backlog_end = wire.Endpoint.of(workerless.base_url, end.context or False)
    sku = fixture.skus[0][0]
    loaded = []
    for _ in range(args.runs):
        if args.backlog:
            await loaded_start(workerless, backlog_end, fixture.buyers, sku, args.backlog)
        loaded.append(await loaded_start(server, end, fixture.buyers, sku))

    def median(values: list[float]) -> str:
        return f"{statistics.median(values):.2f}" if values else "-"

    sys.stdout.write(
        f"serve --workers {args.workers}, {args.runs} starts each (median seconds from spawn)\n"
        f"idle:   /healthz {median([h for h, _ in idle])}, "
        f"first database read {median([r for _, r in idle])}\n"
        f"loaded ({args.clients} buyers, {args.backlog} checkouts' events waiting): "
        f"first answer {median([s.first for s in loaded])}, "
        f"every buyer answered {median([s.every_client for s in loaded])}, "
        f"{LOAD_ANSWERS} answers {median([s.answers for s in loaded])}\n"
    )


if __name__ == "__main__":
    asyncio.run(main())
